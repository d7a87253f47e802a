"""What the fuzz tier (tests/fuzz) found once its request bodies carried real ids, each replayed
as the request it sent and judged by the same checks against the stack's own OpenAPI document."""
import pytest
import schemathesis
from schemathesis import checks

from tests.e2e.conftest import BASE_URL, working_day_slot

CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]


@pytest.fixture(scope="module")
def document():
    return schemathesis.openapi.from_url(f"{BASE_URL}/api/v1/openapi.json")


def answered_as_documented(document, method, path, token, **parts):
    """The answer to this request, after the fuzz tier's checks passed on it."""
    case = document[f"/api/v1{path}"][method].Case(**parts)
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(base_url=BASE_URL, headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)
    return response


def started_activity(api, center):
    starts_at, ends_at = working_day_slot()
    return api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "模糊测试发现", "category": "other",
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])["id"]


def test_a_dry_run_of_a_sheet_answers_the_200_the_document_declares(api, center, document):
    # Declared 201 only, the dry run's 200 failed status_code_conformance.
    activity_id = started_activity(api, center)
    checked = answered_as_documented(
        document, "POST", "/activities/{activity_id}/hours/import", center["staff"],
        path_parameters={"activity_id": activity_id},
        body={"rows": [{"line": 1, "volunteer_id": center["volunteer_id"], "minutes": 30}],
              "dry_run": True})
    assert (checked.status_code, checked.json()["new"]) == (200, 1)
    assert api.get(f"/api/v1/activities/{activity_id}/hours",
                   token=center["staff"]).json()["items"] == []
    sheet = f"志愿者编号,时长（分钟）\r\n{center['volunteer_id']},30\r\n".encode()
    uploaded = api.request("POST", f"/api/v1/activities/{activity_id}/hours.csv?dry_run=true",
                           token=center["staff"], data=sheet,
                           headers={"Content-Type": "text/csv"})
    assert uploaded.status_code == 200, uploaded.text
    declared = document.raw_schema["paths"]["/api/v1/activities/{activity_id}/hours.csv"]
    assert "200" in declared["post"]["responses"]
