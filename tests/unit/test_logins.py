"""Logins (issue 5, items 9, 12, 14): throttles, long passwords, usernames without regard to case,
names without control characters, password changes and disabled logins, on the in-memory store."""
import datetime as dt
from types import SimpleNamespace
from unittest.mock import MagicMock

import eventlet
import pytest
from nameko.testing.services import worker_factory

from services.shared import contracts
from services.shared.clock import now
from services.shared.contracts import load
from services.shared.errors import (Conflict, Forbidden, InvalidInput, TooManyAttempts,
                                    Unauthenticated)
from services.shared.sequence import insert_next, last_number
from services.volunteer import domain, throttle
from services.volunteer import service as volunteer_service
from services.volunteer.service import VolunteerService
from services.volunteer.storage import VolunteerStore
from tests.support import fresh_phone
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
        "community_id": "com_1", "name": "李伟", "phone": fresh_phone(), "username": username,
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


def race(call, attempts):
    """``call`` ``attempts`` times at once in greenthreads; the status each answered."""
    def status(_):
        try:
            call()
            return 200
        except (Unauthenticated, TooManyAttempts) as error:
            return error.status
    return list(eventlet.GreenPool(attempts).imap(status, range(attempts)))


@pytest.fixture
def yielding_bcrypt(monkeypatch):
    """bcrypt checks that yield as the real ones do in a thread, so racing attempts interleave:
    every attempt runs up to its check before any check answers. Returns the checks made."""
    checks = []

    def execute(function, *args):
        if function is domain.password_matches:
            checks.append(args[0])
        eventlet.sleep(0)
        return function(*args)
    monkeypatch.setattr(volunteer_service, "tpool", SimpleNamespace(execute=execute))
    return checks


def test_racing_wrong_passwords_check_at_most_the_budget(service, yielding_bcrypt):
    register(service)
    del yielding_bcrypt[:]
    statuses = race(lambda: service.authenticate("liwei", "wrong-password", "10.0.0.2"), 40)
    # Before places were taken ahead of bcrypt, all 40 passed the lock check and were 401.
    assert statuses.count(401) == 5 and statuses.count(429) == 35
    assert len(yielding_bcrypt) == 5
    refused(lambda: service.authenticate("liwei", "li-pass-123", "10.0.0.3"), TooManyAttempts)


def test_racing_right_passwords_are_never_counted(service, yielding_bcrypt):
    register(service)
    for _ in range(4):
        refused(lambda: service.authenticate("liwei", "wrong-password"))
    for _ in range(10):  # one place is left: one check at a time, and each gives it back
        statuses = race(lambda: service.authenticate("liwei", "li-pass-123"), 3)
        assert sorted(statuses) == [200, 429, 429]
    assert service.authenticate("liwei", "li-pass-123")["user_id"] == "liwei"
    held = [key for key in service.store.login_attempts.docs
            if key.startswith("check:account:liwei:")]
    assert len(held) == 4  # the four failures' places, and no more


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


def test_a_create_user_rerun_under_its_request_key_finds_its_login(service):
    # The gateway lost the answer; once the claim is stale it runs the request again under the
    # same request_key: that must find the login it made, not a clash it then keeps for good.
    body = {"username": "Wang", "password": "staff-pass-1", "role": "admin"}
    first = service.create_user(ADMIN, body, "req-1")
    assert service.create_user(ADMIN, body, "req-1") == first
    assert first["username"] == "wang" and set(first).isdisjoint({"request_key", "password_hash"})
    assert refused(lambda: service.create_user(ADMIN, dict(body, username="WANG"), "req-2"),
                   Conflict).code == "username_taken"
    refused(lambda: service.create_user(ADMIN, body), Conflict)


def test_racing_runs_of_one_create_user_both_answer_its_login(service, yielding_bcrypt):
    body = {"username": "zhao", "password": "staff-pass-1", "role": "admin"}
    pool = eventlet.GreenPool(2)  # both look the name up, then hash: the second insert clashes
    first, second = pool.imap(lambda _: service.create_user(ADMIN, body, "req-1"), range(2))
    assert first == second and first["username"] == "zhao"


@pytest.mark.parametrize("actor", [
    {"user_id": "li", "role": "volunteer", "subject_id": "vol_1", "community_id": "com_1"},
    {"user_id": "shop", "role": "merchant", "subject_id": "mer_1", "merchant_id": "mer_1",
     "community_id": "com_1"}])
@pytest.mark.parametrize("community", ["com_1", "com_2"])
def test_a_volunteer_or_merchant_registers_no_volunteer(service, actor, community):
    service.store.communities.insert_one({"_id": "com_2", "name": "y", "code": "y"})
    error = refused(lambda: service.register_volunteer(actor, {
        "community_id": community, "name": "王芳", "phone": fresh_phone(), "username": "fang",
        "password": "li-pass-123"}, None, "10.0.0.1"), Forbidden)
    assert (error.status, error.code) == (403, "forbidden")
    assert service.store.find_user("fang") is None


def test_community_codes_are_unique_regardless_of_case(service):
    assert service.create_community(ADMIN, {"name": "新华", "code": "XinHua"})["code"] == "xinhua"
    assert refused(lambda: service.create_community(ADMIN, {"name": "新华", "code": "xinHUA"}),
                   Conflict).code == "code_taken"


# --- item 12: names refuse control characters --------------------------------------------------

@pytest.mark.parametrize("bad", [
    "a\x00b", "a\x07b", "line\nbreak", "a\x85b", "a\u202eb", "a\u2066b", "a\u2069", "a\u2028b",
    # Invisible format characters (Cf): zero-width space, direction marks, the Arabic letter
    # mark, the byte-order mark, the soft hyphen, the word joiner.
    "\u200b\u200b", "a\u200eb", "a\u200fb", "a\u061cb", "\ufeffab", "a\u00adb", "a\u2060b",
    # Names that show nothing: blanks, joiners alone, a Hangul filler, a lone combining mark.
    " ", "\u3000\u00a0", "\u200d", "\u200c\u200d", "\u3164", "\u0301"])
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


@pytest.mark.parametrize("name", ["李伟", "Zoë O'Brien", "👩\u200d👩\u200d👧 family", "مرحبا",
                                  "می\u200cخواهم", "❤\ufe0f\u200d🔥", " 李 伟 "])
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
        "community_id": "com_1", "name": "n", "phone": fresh_phone(), "username": "bystaff",
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
