"""The web app's check of a paper sheet before it is written: POST /activities/{id}/hours.csv
?dry_run=true answers every row and every bad line's reason, and writes nothing."""
from datetime import timedelta

from tests.e2e.test_sign_in_and_sheets import activity, error_code, upload


def logged(api, center, activity_id):
    """The activity's hours records as the API lists them: [(volunteer, minutes)], sorted."""
    answer = api.get(f"/api/v1/activities/{activity_id}/hours?limit=200", token=center["staff"])
    assert answer.status_code == 200, answer.text
    return sorted((r["volunteer_id"], r["minutes"]) for r in answer.json()["items"])


def sheet(*lines):
    return ("volunteer_id,phone,minutes\n" + "\n".join(lines) + "\n").encode("utf-8")


def check(api, center, body, query="?dry_run=true"):
    return api.request("POST", f"/api/v1/activities/{center['activity_id']}/hours.csv{query}",
                       token=center["staff"], data=body, headers={"Content-Type": "text/csv"})


def test_a_dry_run_names_every_bad_row_writes_nothing_and_a_clean_sheet_then_writes(api, center):
    center = dict(center, activity_id=activity(api, center, timedelta(hours=-2)))
    # By volunteer id: a phone is looked up by reading the community's volunteers, a scan of
    # the whole store's volunteers (services/volunteer/hours_import.py), slow on a big store.
    bad = sheet(f"{center['volunteer_id']},,60", "vol_nobody,,30", ",,45", "vol_x,,一小时")
    checked = check(api, center, bad)
    assert checked.status_code == 200, checked.text
    answer = checked.json()
    assert answer["problems"] == [
        {"line": 3, "reason": "no volunteer vol_nobody in this community"},
        {"line": 4, "reason": "no volunteer id and no phone number"},
        {"line": 5, "reason": "minutes '一小时' is not a whole number of minutes"}]
    assert [(r["line"], r["volunteer_id"], r["minutes"]) for r in answer["rows"]] == [
        (2, center["volunteer_id"], 60), (3, "vol_nobody", 30)]
    assert answer["new"] == 0
    assert logged(api, center, center["activity_id"]) == []

    refused = check(api, center, bad, "?dry_run=maybe")
    assert (refused.status_code, error_code(refused)) == (400, "invalid_input"), refused.text
    assert "dry_run" in refused.json()["error"]["fields"]

    clean = sheet(f"{center['volunteer_id']},,60")
    answer = check(api, center, clean).json()
    assert answer["problems"] == [] and answer["new"] == 1
    assert answer["rows"] == [{"line": 2, "volunteer_id": center["volunteer_id"], "phone": None,
                               "minutes": 60}]
    assert logged(api, center, center["activity_id"]) == []
    written = upload(api, center, clean)
    assert written.status_code == 201, written.text
    assert logged(api, center, center["activity_id"]) == [(center["volunteer_id"], 60)]
    assert check(api, center, clean).json()["already_logged"] == 1
