"""PointsService entrypoints with worker_factory: a real Ledger on the in-memory store."""
import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest
from nameko.testing.services import worker_factory

from services.points.ledger import Ledger
from services.points.scheme import scheme_for_activity
from services.points.scheme_store import SchemeStore, scheme_store_of
from services.points.service import PointsService
from services.shared import contracts
from services.shared.errors import (Forbidden, InsufficientPoints, InvalidInput, NotFound,
                                    RuleViolation)

# "other" on a working Tuesday: 10 points an hour, as before the scheme's multipliers.
APPROVED = {
    "event_id": "evt_1", "record_id": "hrs_1", "volunteer_id": "vol_1", "community_id": "com_1",
    "center_id": "ctr_1", "activity_id": "act_1", "category": "other", "minutes": 150,
    "activity_starts_at": "2024-05-07T09:00:00+08:00",
    "approved_at": "2024-05-07T12:00:00+08:00", "approved_by": "usr_1",
}
REVOKED = {
    "event_id": "evt_2", "record_id": "hrs_1", "volunteer_id": "vol_1", "community_id": "com_1",
    "minutes": 150, "reason": "did not attend", "revoked_at": "2024-05-06T10:00:00+08:00",
    "revoked_by": "usr_1",
}


def movement(points, key):
    return {"account": "vol_1", "points": points, "key": key, "kind": "redeem",
            "reason": "a gift", "ref_type": "redemption", "ref_id": key, "by": "usr_9"}


@pytest.fixture
def ledger(db):
    ledger = Ledger(db)
    ledger.ensure_indexes()  # MongoStore.start does this in a running service
    return ledger


@pytest.fixture
def service(ledger):
    scheme_store_of(ledger).ensure_indexes()  # SchemeLogIndexes does this in a container
    return worker_factory(PointsService, ledger=ledger)


@pytest.mark.parametrize("minutes, points", [(150, 25), (59, 9), (5, 0)])
def test_approved_hours_are_credited_once(service, ledger, minutes, points):
    service.on_hours_approved(dict(APPROVED, minutes=minutes))
    service.on_hours_approved(dict(APPROVED, minutes=minutes))  # redelivered
    assert ledger.balance("vol_1") == points
    (entry,) = ledger.statement("vol_1")
    assert (entry["kind"], entry["delta"], entry["key"]) == ("earn", points, "hours:hrs_1:credit")
    assert entry["rule"]["version"] == "default"
    assert entry["rule"]["arithmetic"].endswith(f"→ {points}")


def test_an_invalid_event_is_parked_not_credited(service, ledger):
    service.on_hours_approved(dict(APPROVED, minutes=1.5))
    assert ledger.balance("vol_1") == 0
    parked = ledger.parked.find_one({"type": "hours_approved"})
    assert parked["payload"]["minutes"] == 1.5
    assert "minutes" in parked["errors"]
    service.metrics.count.assert_called_once_with("events_parked")


def test_debit_takes_points_and_returns_the_entry(service, ledger):
    service.on_hours_approved(APPROVED)
    out = service.debit(movement(10, "redemption:rdm_1"))
    assert (out["points"], out["balance_after"], out["kind"]) == (-10, 15, "redeem")
    assert out["ref"] == {"type": "redemption", "id": "redemption:rdm_1"}
    assert contracts.LedgerEntrySchema().load(out)  # what the statement contract promises
    service.debit(movement(10, "redemption:rdm_1"))  # a retried call
    assert ledger.balance("vol_1") == 15


def test_debit_refuses_an_overdraft(service, ledger):
    service.on_hours_approved(APPROVED)
    with pytest.raises(InsufficientPoints) as caught:
        service.debit(movement(26, "redemption:rdm_1"))
    assert caught.value.code == "insufficient_points"
    assert ledger.balance("vol_1") == 25
    assert ledger.find("redemption:rdm_1") is None


def test_a_revocation_before_its_credit_waits_and_the_credit_applies_it(service, ledger):
    service.on_hours_revoked(REVOKED)  # acknowledged, not requeued in a loop
    service.on_hours_revoked(REVOKED)  # redelivered
    assert ledger.balance("vol_1") == 0 and ledger.find("hours:hrs_1:reversal") is None
    service.on_hours_approved(APPROVED)
    assert ledger.balance("vol_1") == 0
    assert ledger.find("hours:hrs_1:credit")["delta"] == 25
    assert ledger.find("hours:hrs_1:reversal")["delta"] == -25
    service.on_hours_approved(APPROVED)  # redelivered: nothing more
    assert len(ledger.statement("vol_1")) == 2


def test_a_waiting_revocation_costs_id_lookups_only(service, ledger):
    seen = []
    for collection in (ledger.accounts.entries, ledger.accounts.keys,
                       ledger.waiting_revocations):
        original = collection.find_one

        def spy(query=None, projection=None, _original=original):
            seen.append(query)
            return _original(query, projection)
        collection.find_one = spy
    service.on_hours_revoked(REVOKED)
    assert seen and all(set(q) == {"_id"} for q in seen)


def test_revocation_reverses_the_whole_credit(service, ledger):
    service.on_hours_approved(APPROVED)
    service.on_hours_revoked(REVOKED)
    service.on_hours_revoked(REVOKED)  # redelivered
    assert ledger.balance("vol_1") == 0
    reversal = ledger.find("hours:hrs_1:reversal")
    assert (reversal["kind"], reversal["delta"]) == ("reversal", -25)
    assert len(ledger.statement("vol_1")) == 2


def test_revocation_after_spending_reverses_only_what_is_left(service, ledger):
    service.on_hours_approved(APPROVED)
    service.debit(movement(10, "redemption:rdm_1"))
    service.on_hours_revoked(REVOKED)
    assert ledger.balance("vol_1") == 0
    reversal = ledger.find("hours:hrs_1:reversal")
    assert reversal["delta"] == -15
    assert "10 of 25 points were already spent and are owed" in reversal["reason"]
    assert (reversal["owed"], reversal["owed_after"]) == (10, 10)
    assert ledger.accounts.verify("vol_1")


def test_an_approval_the_ledger_refuses_for_good_is_parked_not_requeued(service, ledger):
    """The same record's credit key arriving with another amount (KeyReused) can never
    succeed: requeued, it would come back for ever."""
    service.on_hours_approved(APPROVED)
    service.on_hours_approved(dict(APPROVED, minutes=300))  # must not raise: parked
    [parked] = list(ledger.parked.find({}))
    assert parked["type"] == "hours_approved"
    assert parked["errors"]["_refused"][0] == "idempotency_key_reused"
    assert ledger.balance("vol_1") == 25


# --- credits under the community's scheme ---------------------------------------------------

def approved(record_id="hrs_1", **fields):
    return dict(APPROVED, record_id=record_id, event_id=f"evt_{record_id}", **fields)


def revoked(record_id):
    return dict(REVOKED, record_id=record_id, event_id=f"evt_r_{record_id}")


def credit_of(ledger, record_id="hrs_1"):
    return ledger.find(f"hours:{record_id}:credit")


@pytest.mark.parametrize("category, starts_at, minutes, points, rest_day", [
    ("elder_care", "2024-05-07T09:00:00+08:00", 90, 22, False),     # 22.5 → 22
    ("elder_care", "2024-10-01T09:00:00+08:00", 90, 27, True),      # National Day, a Tuesday
    ("elder_care", "2024-10-12T09:00:00+08:00", 90, 22, False),     # a make-up working Saturday
    ("professional", "2024-06-15T09:00:00+08:00", 60, 24, True),    # a plain Saturday
    ("culture_sports", "2024-05-07T09:00:00+08:00", 60, 8, False),
    # 23:30 UTC on the 7th (a holiday) is the 8th in Shanghai, a working day: the local date
    # decides.
    ("other", "2024-10-07T23:30:00+00:00", 60, 10, False),
])
def test_a_credit_applies_the_category_and_the_official_calendar(
        service, ledger, category, starts_at, minutes, points, rest_day):
    service.on_hours_approved(approved(category=category, activity_starts_at=starts_at,
                                       minutes=minutes))
    entry = credit_of(ledger)
    assert entry["delta"] == points
    rule = entry["rule"]
    assert (rule["version"], rule["category"], rule["minutes"], rule["creditable_minutes"],
            rule["uncredited_minutes"], rule["rest_day"], rule["rest_day_source"]) == \
        ("default", category, minutes, minutes, 0, rest_day, "calendar")
    assert rule["arithmetic"].endswith(f"→ {points}")
    assert rule["local_date"] in entry["reason"] and str(minutes) in entry["reason"]


def test_the_issues_arithmetic_is_recorded_word_for_word(service, ledger):
    service.on_hours_approved(approved(category="elder_care", minutes=90))
    entry = credit_of(ledger)
    assert entry["rule"]["arithmetic"] == "90 min × 10/h × 1.5 = 22.5 → 22"
    assert entry["rule"]["local_date"] == "2024-05-07"
    assert entry["reason"] == ("service hours approved: 90 min of elder care on 2024-05-07, "
                               "scheme default")


def test_a_date_the_calendar_does_not_cover_falls_back_to_the_weekend_and_says_so(
        service, ledger, caplog):
    caplog.set_level(logging.WARNING)
    service.on_hours_approved(approved(activity_starts_at="2099-06-06T09:00:00+08:00",
                                       minutes=60))  # a Saturday the package knows nothing of
    rule = credit_of(ledger)["rule"]
    assert (rule["rest_day"], rule["rest_day_source"]) == (True, "weekend_fallback")
    assert credit_of(ledger)["delta"] == 12
    service.metrics.count.assert_any_call("rest_day_calendar_fallback")
    assert "2099-06-06" in caplog.text and "chinese-calendar" in caplog.text


def test_the_daily_cap_applies_across_records_in_the_order_they_are_approved(service, ledger):
    for record_id, minutes in (("hrs_1", 300), ("hrs_2", 240), ("hrs_3", 60)):
        service.on_hours_approved(approved(record_id, minutes=minutes))
    service.on_hours_approved(approved("hrs_2", minutes=240))  # redelivered: same share
    rules = [credit_of(ledger, r)["rule"] for r in ("hrs_1", "hrs_2", "hrs_3")]
    assert [(r["creditable_minutes"], r["uncredited_minutes"]) for r in rules] == \
        [(300, 0), (180, 60), (0, 60)]
    assert [credit_of(ledger, r)["delta"] for r in ("hrs_1", "hrs_2", "hrs_3")] == [50, 30, 0]
    assert "60 min beyond the daily cap of 480 min earn nothing" in \
        credit_of(ledger, "hrs_2")["reason"]
    assert ledger.balance("vol_1") == 80


def test_the_cap_is_per_volunteer_and_local_day(service, ledger):
    service.on_hours_approved(approved("hrs_1", minutes=480))
    service.on_hours_approved(approved("hrs_2", minutes=60,
                                       activity_starts_at="2024-05-08T09:00:00+08:00"))
    service.on_hours_approved(approved("hrs_3", minutes=60, volunteer_id="vol_2"))
    assert credit_of(ledger, "hrs_2")["delta"] == credit_of(ledger, "hrs_3")["delta"] == 10


def test_a_revocation_frees_its_room_for_later_approvals_and_rewrites_no_credit(
        service, ledger):
    service.on_hours_approved(approved("hrs_1", minutes=300))
    service.on_hours_approved(approved("hrs_2", minutes=240))    # 180 of 240
    service.on_hours_revoked(revoked("hrs_1"))
    service.on_hours_revoked(revoked("hrs_1"))                   # redelivered: freed once
    service.on_hours_approved(approved("hrs_3", minutes=400))    # 300 of 400
    assert credit_of(ledger, "hrs_2")["rule"]["creditable_minutes"] == 180
    assert credit_of(ledger, "hrs_3")["rule"]["creditable_minutes"] == 300
    assert service.schemes.daily.total("vol_1/2024-05-07") == 480


def test_a_revocation_before_its_credit_frees_the_room_when_the_credit_lands(service, ledger):
    service.on_hours_revoked(revoked("hrs_1"))
    service.on_hours_approved(approved("hrs_1", minutes=300))
    service.on_hours_approved(approved("hrs_2", minutes=480))
    assert credit_of(ledger, "hrs_2")["rule"]["creditable_minutes"] == 480


def test_a_credit_lost_after_its_share_was_taken_is_finished_by_the_redelivery(
        service, ledger, monkeypatch):
    service.on_hours_approved(approved("hrs_1", minutes=300))
    real_credit = ledger.credit
    monkeypatch.setattr(ledger, "credit", lambda *a, **k: (_ for _ in ()).throw(
        ConnectionError("store gone")))
    with pytest.raises(ConnectionError):  # requeued by the broker
        service.on_hours_approved(approved("hrs_2", minutes=300))
    monkeypatch.setattr(ledger, "credit", real_credit)
    service.on_hours_approved(approved("hrs_2", minutes=300))
    assert credit_of(ledger, "hrs_2")["rule"]["creditable_minutes"] == 180
    assert service.schemes.daily.head("vol_1/2024-05-07") == (2, 480)  # one share each


def test_the_version_in_force_on_the_activitys_date_is_used(service, ledger):
    store = service.schemes
    store.publish("com_1", scheme_in("2024-06-01", base_points_per_hour=20), by="admin",
                  now=shanghai(2024, 5, 20))
    service.on_hours_approved(approved("hrs_1", minutes=60,
                                       activity_starts_at="2024-05-31T09:00:00+08:00"))
    service.on_hours_approved(approved("hrs_2", minutes=60,
                                       activity_starts_at="2024-06-03T09:00:00+08:00"))
    service.on_hours_approved(approved("hrs_3", minutes=60, community_id="com_2",
                                       activity_starts_at="2024-06-03T09:00:00+08:00"))
    assert [(credit_of(ledger, r)["rule"]["version"], credit_of(ledger, r)["delta"])
            for r in ("hrs_1", "hrs_2", "hrs_3")] == [("default", 10), ("v1", 20),
                                                      ("default", 10)]


def test_a_version_published_for_a_date_leaves_earlier_credits_and_shares_alone(
        service, ledger):
    """Record 1 is credited, record 2 crashes after taking its share of the cap; then a version
    is published for that very date. Record 3 earns by it; record 2's redelivery still earns
    by the version its share was decided under, and record 1 is untouched."""
    day = "2024-05-07T09:00:00+08:00"
    service.on_hours_approved(approved("hrs_1", minutes=60))
    store = service.schemes
    in_force = store.versions("com_1")
    store.allocate("vol_1", dt.date(2024, 5, 7), "hrs_2", 60,
                   scheme_for_activity(in_force, dt.datetime.fromisoformat(day)))
    store.publish("com_1", scheme_in("2024-05-07", base_points_per_hour=30), by="admin",
                  now=shanghai(2024, 5, 7))
    service.on_hours_approved(approved("hrs_2", minutes=60))
    service.on_hours_approved(approved("hrs_3", minutes=60))
    assert [(credit_of(ledger, r)["rule"]["version"], credit_of(ledger, r)["delta"])
            for r in ("hrs_1", "hrs_2", "hrs_3")] == [("default", 10), ("default", 10),
                                                      ("v1", 30)]


def test_versions_are_cached_while_one_id_lookup_says_nothing_was_published(service, ledger):
    service.schemes.publish("com_1", scheme_in("2024-05-01", base_points_per_hour=20),
                            by="admin", now=shanghai(2024, 5, 1))
    service.on_hours_approved(approved("hrs_1", minutes=60))
    lookups = spy_find_one(service.schemes.versions_log.entries)
    service.on_hours_approved(approved("hrs_2", minutes=60))
    assert lookups == [{"_id": "com_1:2"}]  # v1 from the cache; is there a v2?
    # Another consumer process publishes: the next credit sees it.
    SchemeStore(ledger.accounts.entries.database).publish(
        "com_1", scheme_in("2024-05-07", base_points_per_hour=60), by="admin",
        now=shanghai(2024, 5, 7))
    service.on_hours_approved(approved("hrs_3", minutes=60))
    assert [(credit_of(ledger, r)["rule"]["version"], credit_of(ledger, r)["delta"])
            for r in ("hrs_1", "hrs_2", "hrs_3")] == [("v1", 20), ("v1", 20), ("v2", 60)]


# --- points.get_scheme / points.publish_scheme -----------------------------------------------

ADMIN = {"user_id": "admin", "role": "admin"}
STAFF = {"user_id": "wang", "role": "center_staff", "center_id": "ctr_1",
         "community_id": "com_1"}
VOLUNTEER = {"user_id": "li", "role": "volunteer", "subject_id": "vol_1",
             "community_id": "com_1"}


def shanghai(*date_parts, hour=10):
    return dt.datetime(*date_parts, hour, tzinfo=ZoneInfo("Asia/Shanghai"))


def local_today(days=0):
    return (dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=days))


def scheme_body(effective_from, **overrides):
    body = {"effective_from": effective_from, "base_points_per_hour": 10,
            "category_multipliers": {"elder_care": 1.5, "professional": 2},
            "weekend_holiday_multiplier": 1.2, "daily_cap_minutes": 480}
    body.update(overrides)
    return body


def scheme_in(effective_from, **overrides):
    """A version as the points service hands it to the store: through the contract."""
    return contracts.load(contracts.SchemeIn(), scheme_body(effective_from, **overrides))


def spy_find_one(collection):
    seen = []
    original = collection.find_one

    def spy(query=None, projection=None):
        seen.append(query)
        return original(query, projection)
    collection.find_one = spy
    return seen


def test_a_community_without_a_scheme_answers_domain_md_defaults(service):
    answer = service.get_scheme(VOLUNTEER, "com_1")
    assert answer["versions"] == []
    current = answer["current"]
    assert (current["version"], current["effective_from"], current["base_points_per_hour"],
            current["weekend_holiday_multiplier"], current["daily_cap_minutes"]) == \
        ("default", None, 10, 1.2, 480)
    assert current["category_multipliers"]["elder_care"] == 1.5
    assert current["category_multipliers"]["culture_sports"] == 0.8


def test_an_admin_publishes_versions_and_everyone_of_the_community_reads_them(service):
    today, tomorrow = local_today().isoformat(), local_today(1).isoformat()
    first = service.publish_scheme(ADMIN, "com_1", scheme_body(today), "key-1")
    assert (first["version"], first["effective_from"]) == ("v1", today)
    assert first["category_multipliers"] == {
        "elder_care": 1.5, "disability_care": 1.5, "professional": 2, "environment": 1,
        "culture_sports": 0.8, "other": 1}
    assert service.publish_scheme(ADMIN, "com_1", scheme_body(today), "key-1") == first
    second = service.publish_scheme(
        ADMIN, "com_1", scheme_body(tomorrow, base_points_per_hour=12, timezone="Asia/Urumqi"))
    assert second["version"] == "v2" and second["timezone"] == "Asia/Urumqi"
    for reader in (ADMIN, STAFF, VOLUNTEER):
        answer = service.get_scheme(reader, "com_1")
        assert answer["current"]["version"] == "v1"
        assert [v["version"] for v in answer["versions"]] == ["v1", "v2"]
        assert answer["versions"][0]["published_by"] == "admin"


def test_a_version_cannot_start_in_the_past_nor_replace_one_in_force(service):
    with pytest.raises(RuleViolation) as past:
        service.publish_scheme(ADMIN, "com_1", scheme_body(local_today(-1).isoformat()))
    assert past.value.code == "effective_from_in_past" and "effective_from" in past.value.fields
    service.publish_scheme(ADMIN, "com_1", scheme_body(local_today().isoformat()))
    with pytest.raises(RuleViolation) as in_force:
        service.publish_scheme(ADMIN, "com_1", scheme_body(local_today().isoformat()))
    assert in_force.value.code == "version_in_force"
    # A version not yet in force may be superseded for its date: the later one wins.
    later = local_today(3).isoformat()
    service.publish_scheme(ADMIN, "com_1", scheme_body(later))
    assert service.publish_scheme(ADMIN, "com_1", scheme_body(later))["version"] == "v3"
    assert [v["version"] for v in service.get_scheme(ADMIN, "com_1")["versions"]] == \
        ["v1", "v2", "v3"]


def test_bad_scheme_fields_are_named(service):
    with pytest.raises(InvalidInput) as caught:
        service.publish_scheme(ADMIN, "com_1", scheme_body(
            "2026-02-30", base_points_per_hour=-1, weekend_holiday_multiplier="lots",
            category_multipliers={"knitting": 1, "other": 11}, daily_cap_minutes=0,
            timezone="Mars/Olympus"))
    assert set(caught.value.fields) == {
        "effective_from", "base_points_per_hour", "weekend_holiday_multiplier",
        "category_multipliers", "daily_cap_minutes", "timezone"}


def test_only_an_admin_publishes_and_another_community_is_unknown(service):
    with pytest.raises(Forbidden):
        service.publish_scheme(STAFF, "com_1", scheme_body(local_today().isoformat()))
    with pytest.raises(NotFound):
        service.get_scheme(VOLUNTEER, "com_2")
    with pytest.raises(NotFound):
        service.publish_scheme(STAFF, "com_2", scheme_body(local_today().isoformat()))
    service.volunteer.get_community.side_effect = NotFound("community com_9 not found")
    with pytest.raises(NotFound):
        service.get_scheme(ADMIN, "com_9")


def test_the_scheme_store_lives_as_long_as_its_ledger(ledger):
    assert scheme_store_of(ledger) is scheme_store_of(ledger)
