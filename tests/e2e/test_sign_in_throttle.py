"""Guessing an activity's sign-in code through the running stack: a volunteer's wrong codes are
limited, then 429 with Retry-After (the right code too, for them only), like failed logins."""
from datetime import timedelta

from tests.e2e.test_sign_in_and_sheets import activity, error_code

WRONG_CODES_PER_VOLUNTEER = 5  # the production default (services/volunteer/throttle.py)


def test_a_volunteers_wrong_codes_end_in_429_and_others_still_sign_in(api, center):
    activity_id = activity(api, center, timedelta(minutes=-30))
    url = f"/api/v1/activities/{activity_id}"
    code = api.get(f"{url}/sign-in-code", token=center["staff"]).json()["code"]
    guesser = center["volunteer"]
    for n in range(WRONG_CODES_PER_VOLUNTEER):
        wrong = api.post(f"{url}/check-in", {"code": f"WRONG{n}"}, token=guesser)
        assert (wrong.status_code, error_code(wrong)) == (422, "wrong_code")

    # The right code too, and again under the same key: a moment's answer is never replayed.
    for attempt, key in (({"code": "WRONG9"}, "in-wrong"), ({"code": code}, "in-right"),
                         ({"code": code}, "in-right")):
        locked = api.post(f"{url}/check-in", attempt, token=guesser, key=key)
        assert (locked.status_code, error_code(locked)) == (429, "too_many_attempts"), locked.text
        assert 0 < int(locked.headers["Retry-After"]) <= 300
        assert "Idempotent-Replay" not in locked.headers

    neighbour = api.created("/api/v1/volunteers", {
        "community_id": center["community_id"], "name": "王芳", "phone": "13900000000",
        "username": f"wang{center['suffix']}", "password": "wang-pass-123"}, center["staff"])
    checked_in = api.post(f"{url}/check-in", {"code": code},
                          token=api.login(f"wang{center['suffix']}", "wang-pass-123"))
    assert checked_in.status_code == 201, checked_in.text
    assert checked_in.json()["volunteer_id"] == neighbour["id"]
