"""Logins (issue 5, items 9, 12, 14): throttles, long passwords, usernames without regard to case,
names without control characters, password changes and disabled logins, on the in-memory store."""
import datetime as dt
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory

from services.shared import contracts
from services.shared.clock import now
from services.shared.contracts import load
from services.shared.errors import (Conflict, Forbidden, InvalidInput, TooManyAttempts,
                                    Unauthenticated)
from services.shared.sequence import insert_next, last_number
from services.volunteer import domain, throttle
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.unit.fakes import FakeCollection, FakeDatabase

ADMIN = {"user_id": "admin", "role": "admin"}
LONG_PASSWORD = "p" * 73  # one byte more than bcrypt reads


class Clock:
    def __init__(self):
        self.at = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.at

    def advance(self, **delta):
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def service(clock):
    store = VolunteerStore(FakeDatabase())
    store.ensure_indexes()
    service = worker_factory(VolunteerService, store=store, outbox=MagicMock(),
                             config={"BCRYPT_ROUNDS": 4, "LOGIN_FAILURES_PER_ADDRESS": 8,
                                     "SELF_REGISTRATIONS_PER_ADDRESS": 3})
    service.clock = clock
    store.communities.insert_one({"_id": "com_1", "name": "x", "code": "x"})
    return service


def register(service, username="liwei", password="li-pass-123", address="10.0.0.1", **extra):
    return service.register_volunteer(None, dict({
        "community_id": "com_1", "name": "李伟", "phone": "13800000000", "username": username,
        "password": password}, **extra), None, address)


def refused(call, error=Unauthenticated):
    with pytest.raises(error) as caught:
        call()
    return caught.value


# --- counting with numbered inserts ----------------------------------------------------------

def test_numbers_are_taken_in_order_and_found_again():
    collection = FakeCollection()
    assert last_number(collection, "k") == 0
    assert [insert_next(collection, "k", {}) for _ in range(37)] == list(range(1, 38))
    assert last_number(collection, "k") == 37
    assert last_number(collection, "k", start=20) == 37
    assert last_number(collection, "other") == 0


# --- item 12: failed logins are throttled --------------------------------------------------

def test_five_failures_lock_the_account_and_the_right_password_waits(service, clock):
    register(service)
    for _ in range(5):
        refused(lambda: service.authenticate("liwei", "wrong-password", "10.0.0.2"))
    locked = refused(lambda: service.authenticate("liwei", "li-pass-123", "10.0.0.2"),
                     TooManyAttempts)
    assert locked.status == 429 and locked.retry_after == 15 * 60
    # From another address too: the lock is the account's.
    refused(lambda: service.authenticate("LIWEI", "li-pass-123", "10.0.0.3"), TooManyAttempts)
    clock.advance(minutes=14)
    assert refused(lambda: service.authenticate("liwei", "li-pass-123"),
                   TooManyAttempts).retry_after == 60
    clock.advance(minutes=1)
    assert service.authenticate("liwei", "li-pass-123", "10.0.0.2")["user_id"] == "liwei"


def test_each_lock_soon_after_the_last_lasts_twice_as_long(service, clock):
    register(service)
    waits = []
    for _ in range(3):
        for _ in range(5):
            refused(lambda: service.authenticate("liwei", "wrong-password"))
        waits.append(refused(lambda: service.authenticate("liwei", "li-pass-123"),
                             TooManyAttempts).retry_after)
        clock.advance(seconds=waits[-1])
    assert waits == [900, 1800, 3600]
    clock.advance(days=2)  # a day after the last lock, the next one is short again
    for _ in range(5):
        refused(lambda: service.authenticate("liwei", "wrong-password"))
    assert refused(lambda: service.authenticate("liwei", "li-pass-123"),
                   TooManyAttempts).retry_after == 900


def test_failures_in_an_earlier_window_do_not_add_up(service, clock):
    register(service)
    for _ in range(4):
        refused(lambda: service.authenticate("liwei", "wrong-password"))
    clock.advance(minutes=15)
    for _ in range(4):
        refused(lambda: service.authenticate("liwei", "wrong-password"))
    assert service.authenticate("liwei", "li-pass-123")["user_id"] == "liwei"


def test_an_unknown_username_locks_like_a_known_one(service):
    for _ in range(5):
        refused(lambda: service.authenticate("nobody", "wrong-password"))
    refused(lambda: service.authenticate("nobody", "wrong-password"), TooManyAttempts)


def test_an_address_failing_on_many_accounts_is_locked(service):
    register(service)
    for n in range(8):  # LOGIN_FAILURES_PER_ADDRESS in this config
        refused(lambda: service.authenticate(f"guess{n}", "wrong-password", "10.0.0.9"))
    refused(lambda: service.authenticate("liwei", "li-pass-123", "10.0.0.9"), TooManyAttempts)
    assert service.authenticate("liwei", "li-pass-123", "10.0.0.10")["user_id"] == "liwei"


def test_successful_logins_are_not_counted(service):
    register(service)
    for _ in range(20):
        service.authenticate("liwei", "li-pass-123", "10.0.0.2")
    assert service.store.login_attempts.docs == {
        key: doc for key, doc in service.store.login_attempts.docs.items()
        if key.startswith("slot:")}


def test_an_unknown_user_costs_a_bcrypt_check_too(service, monkeypatch):
    checks = []
    real = domain.password_matches
    monkeypatch.setattr(domain, "password_matches",
                        lambda password, hashed: checks.append(hashed) or real(password, hashed))
    refused(lambda: service.authenticate("nobody", "some-password"))
    assert len(checks) == 1 and checks[0].startswith("$2b$04$")


# --- item 9: passwords bcrypt cannot take -----------------------------------------------------

def test_a_password_over_72_bytes_is_refused_at_registration(service):
    error = refused(lambda: register(service, password=LONG_PASSWORD), InvalidInput)
    assert "password" in error.fields
    # 24 Chinese characters are 72 bytes: accepted; one more is not.
    register(service, username="wang", password="时" * 24)
    assert "password" in refused(lambda: register(service, username="zhao", password="时" * 25),
                                 InvalidInput).fields
    assert "password" in refused(lambda: service.create_user(ADMIN, {
        "username": "boss", "password": LONG_PASSWORD, "role": "admin"}), InvalidInput).fields


def test_a_long_password_at_login_is_the_same_401_for_known_and_unknown(service):
    register(service)
    known = refused(lambda: service.authenticate("liwei", LONG_PASSWORD))
    unknown = refused(lambda: service.authenticate("nobody", LONG_PASSWORD))
    assert (known.status, known.code, known.message) == \
        (unknown.status, unknown.code, unknown.message) == \
        (401, "invalid_credentials", "wrong username or password")


@pytest.mark.parametrize("password", [LONG_PASSWORD, "\ud800", "a\x00b", "时" * 40])
def test_password_matches_never_raises(password):
    hashed = domain.hash_password("li-pass-123", 4)
    assert domain.password_matches(password, hashed) is False


# --- item 12: usernames and community codes regardless of case --------------------------------

def test_usernames_are_unique_regardless_of_case_and_log_in_in_any_case(service):
    volunteer = register(service, username="Li.Wei")
    assert volunteer["username"] == "li.wei"
    assert refused(lambda: register(service, username="LI.WEI"), Conflict).code == \
        "username_taken"
    assert refused(lambda: service.create_user(ADMIN, {
        "username": "li.WEI", "password": "staff-pass-1", "role": "admin"}),
        Conflict).code == "username_taken"
    assert service.authenticate("LI.wei", "li-pass-123")["subject_id"] == volunteer["id"]


def test_a_login_stored_before_casefolding_still_signs_in(service):
    service.store.users.insert_one({"_id": "Wang", "role": "admin", "created_at": now(),
                                    "password_hash": domain.hash_password("wang-pass-1", 4)})
    assert service.authenticate("Wang", "wang-pass-1")["user_id"] == "Wang"
    assert refused(lambda: service.create_user(ADMIN, {
        "username": "Wang", "password": "staff-pass-1", "role": "admin"}), Conflict)


def test_community_codes_are_unique_regardless_of_case(service):
    assert service.create_community(ADMIN, {"name": "新华", "code": "XinHua"})["code"] == "xinhua"
    assert refused(lambda: service.create_community(ADMIN, {"name": "新华", "code": "xinHUA"}),
                   Conflict).code == "code_taken"


# --- item 12: names refuse control characters --------------------------------------------------

@pytest.mark.parametrize("bad", ["a\x00b", "a\x07b", "line\nbreak", "a\x85b", "a\u202eb",
                                 "a\u2066b", "a\u2069", "a\u2028b"])
@pytest.mark.parametrize("schema,field,body", [
    (contracts.VolunteerIn, "name", {"community_id": "c", "phone": "13800000000",
                                     "username": "li1", "password": "li-pass-123"}),
    (contracts.CommunityIn, "name", {"code": "x"}),
    (contracts.CenterIn, "name", {"community_id": "c"}),
    (contracts.MerchantIn, "name", {"community_id": "c"}),
    (contracts.ActivityIn, "title", {"center_id": "c", "category": "other",
                                     "starts_at": "2026-11-21T09:00:00+08:00",
                                     "ends_at": "2026-11-21T10:00:00+08:00"}),
    (contracts.RewardIn, "title", {"kind": "gift", "cost_points": 1}),
])
def test_names_refuse_control_and_bidi_characters(schema, field, body, bad):
    with pytest.raises(InvalidInput) as caught:
        load(schema(), dict(body, **{field: bad}))
    assert list(caught.value.fields) == [field]


@pytest.mark.parametrize("name", ["李伟", "Zoë O'Brien", "👩‍👩‍👧 family", "مرحبا"])
def test_ordinary_names_pass(name):
    load(contracts.CommunityIn(), {"name": name, "code": "x"})


@pytest.mark.parametrize("schema,field,value", [
    (contracts.UserIn, "username", "liwei\n"), (contracts.CommunityIn, "code", "xh\n"),
    (contracts.VolunteerIn, "phone", "13800000000\n")])
def test_a_trailing_line_break_does_not_pass_a_pattern(schema, field, value):
    body = {"UserIn": {"username": "liwei", "password": "staff-pass-1", "role": "admin"},
            "CommunityIn": {"name": "x", "code": "x"},
            "VolunteerIn": {"community_id": "c", "name": "n", "phone": "13800000000",
                            "username": "li1", "password": "li-pass-123"}}[schema.__name__]
    with pytest.raises(InvalidInput) as caught:
        load(schema(), dict(body, **{field: value}))
    assert field in caught.value.fields


# --- item 12: self-registration is throttled per address ---------------------------------------

def test_self_registration_is_throttled_per_address(service, clock):
    for n in range(3):  # SELF_REGISTRATIONS_PER_ADDRESS in this config
        register(service, username=f"self{n}", address="10.0.0.5")
    error = refused(lambda: register(service, username="self3", address="10.0.0.5"),
                    TooManyAttempts)
    assert 0 < error.retry_after <= 3600
    register(service, username="other", address="10.0.0.6")  # another address
    service.register_volunteer({"user_id": "admin", "role": "admin"}, {  # staff: not counted
        "community_id": "com_1", "name": "n", "phone": "13800000000", "username": "bystaff",
        "password": "li-pass-123"}, None, "10.0.0.5")
    clock.advance(hours=1)
    register(service, username="self4", address="10.0.0.5")


def test_budgets_come_from_the_config_with_production_defaults():
    assert throttle.budgets({}) == {
        "account": throttle.Budget(5, 900, 900), "address": throttle.Budget(50, 900, 900),
        "registration": throttle.Budget(20, 3600)}
    assert throttle.budgets({"SELF_REGISTRATIONS_PER_ADDRESS": "7"})["registration"].limit == 7


# --- item 14: password changes and disabled logins ---------------------------------------------

def test_changing_the_password_needs_the_old_one(service):
    register(service)
    actor = service.authenticate("liwei", "li-pass-123")
    error = refused(lambda: service.change_password(
        actor, {"old_password": "wrong-password", "new_password": "new-pass-456"}), InvalidInput)
    assert "old_password" in error.fields
    principal = service.change_password(
        actor, {"old_password": "li-pass-123", "new_password": "new-pass-456"})
    assert principal["user_id"] == "liwei"
    refused(lambda: service.authenticate("liwei", "li-pass-123"))
    assert service.authenticate("liwei", "new-pass-456")["user_id"] == "liwei"
    assert "new_password" in refused(lambda: service.change_password(
        actor, {"old_password": "new-pass-456", "new_password": LONG_PASSWORD}),
        InvalidInput).fields


def test_guessing_the_old_password_is_throttled_like_a_login(service):
    register(service)
    actor = service.authenticate("liwei", "li-pass-123")
    for _ in range(5):
        refused(lambda: service.change_password(
            actor, {"old_password": "wrong-password", "new_password": "new-pass-456"}),
            InvalidInput)
    refused(lambda: service.change_password(
        actor, {"old_password": "li-pass-123", "new_password": "new-pass-456"}), TooManyAttempts)


def test_a_disabled_login_cannot_sign_in(service):
    register(service)
    assert service.disable_user(ADMIN, "LiWei")["disabled"] is True
    assert refused(lambda: service.authenticate("liwei", "li-pass-123"),
                   Forbidden).code == "account_disabled"
    refused(lambda: service.disable_user({"user_id": "liwei", "role": "volunteer",
                                          "subject_id": "vol_1"}, "liwei"), Forbidden)
    refused(lambda: service.disable_user(ADMIN, "nobody"), Exception)


def test_the_wait_of_a_429_crosses_the_bus():
    from nameko.exceptions import deserialize, serialize
    arrived = deserialize(serialize(TooManyAttempts("locked", retry_after=600)))
    assert isinstance(arrived, TooManyAttempts)
    assert (arrived.status, arrived.code, arrived.retry_after) == (429, "too_many_attempts", 600)
