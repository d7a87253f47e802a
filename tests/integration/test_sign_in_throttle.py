"""Wrong sign-in codes on the real broker and store, many at once: the places taken by unique
inserts (services/volunteer/throttle.py) let no more codes be compared than each volunteer's and
the activity's budget, however many guesses race; the rest are refused with 429 unchecked."""
from datetime import timedelta

import eventlet

from services.shared.clock import now
from services.shared.errors import RuleViolation, TooManyAttempts
from services.volunteer.service import VolunteerService
from tests.integration.races import outcomes
from tests.integration.test_hours_sheets import setup_center

GUESSERS, GUESSES_EACH, PER_VOLUNTEER, PER_ACTIVITY = 4, 10, 5, 12


def test_a_crowd_guessing_one_code_gets_no_more_than_the_budgets_of_tries(start, rpc,
                                                                         monkeypatch):
    moment = [now()]  # the service's clock, moved past the activity's lock at the end
    monkeypatch.setattr(VolunteerService, "clock", staticmethod(lambda: moment[0]))
    start(VolunteerService, SIGN_IN_FAILURES_PER_VOLUNTEER=PER_VOLUNTEER,
          SIGN_IN_FAILURES_PER_ACTIVITY=PER_ACTIVITY, SIGN_IN_ACTIVITY_LOCK_SECONDS=60)
    community_id, _, staff = setup_center(rpc)
    starts = now() - timedelta(hours=1)
    activity_id = rpc.volunteer.create_activity(staff, {
        "center_id": staff["center_id"], "title": "探访独居老人", "category": "elder_care",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat()})["id"]
    code = rpc.volunteer.sign_in_code(staff, activity_id)["code"]
    volunteers = [{"user_id": f"usr_{n}", "role": "volunteer", "subject_id": f"vol_{n}",
                   "community_id": community_id} for n in range(GUESSERS + 1)]
    *guessers, latecomer = volunteers

    guesses = [(guesser, rpc.volunteer.check_in.call_async(guesser, activity_id, {
        "code": "WRONG" + str(n)})) for guesser in guessers for n in range(GUESSES_EACH)]
    with eventlet.Timeout(60):
        results = outcomes([reply for _, reply in guesses], (RuleViolation, TooManyAttempts))

    compared = [guesser["subject_id"] for (guesser, _), result in zip(guesses, results)
                if isinstance(result, RuleViolation) and result.code == "wrong_code"]
    assert len(compared) == PER_ACTIVITY, results
    assert max(compared.count(g["subject_id"]) for g in guessers) <= PER_VOLUNTEER
    assert sum(isinstance(r, TooManyAttempts) for r in results) == len(guesses) - PER_ACTIVITY
    # The activity is locked for a minute: the right code too, or it would tell a guess apart.
    try:
        rpc.volunteer.check_in(latecomer, activity_id, {"code": code})
        raise AssertionError("the activity's lock let a code be compared")
    except TooManyAttempts as locked:
        assert 0 < locked.retry_after <= 60
    moment[0] = now() + timedelta(seconds=61)
    assert rpc.volunteer.check_in(latecomer, activity_id, {"code": code})["volunteer_id"] == \
        latecomer["subject_id"]
