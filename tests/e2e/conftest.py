"""End-to-end tier: the stack that `make up` started, driven through its public HTTP API."""
import datetime
import os
import pathlib
import uuid

import chinese_calendar
import pytest
import requests

from tests.support import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASE_URL = os.environ.get("TIMEBANK_URL", "http://127.0.0.1:8000")


class Api:
    """A thin HTTP client: ``api.post(path, json, token=..., key=...)`` -> requests.Response."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method, path, token=None, key=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return self.session.request(method, url, headers=headers, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("POST", path, json=json, **kwargs)

    def created(self, path, json, token=None, status=201, **kwargs):
        response = self.post(path, json, token=token, **kwargs)
        assert response.status_code == status, response.text
        return response.json()

    def login(self, username, password):
        response = self.post("/api/v1/auth/token", {"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


def admin_password():
    return os.environ.get("TIMEBANK_ADMIN_PASSWORD") or \
        (ROOT / "var" / "admin-password").read_text().strip()


@pytest.fixture(scope="session")
def api():
    client = Api(BASE_URL)
    wait_until(lambda: _ok(client, "/readyz"), timeout=60,
               message=f"the stack at {BASE_URL} (start it with `make up`)")
    return client


def _ok(client, path):
    try:
        return client.get(path).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture(scope="session")
def admin(api):
    return api.login("admin", admin_password())


def new_community(api, admin, name="新华社区", code="xh"):
    """A fresh community with a center and a staff login: (community, center, staff, suffix)."""
    suffix = uuid.uuid4().hex[:10]
    community = api.created("/api/v1/communities", {"name": name, "code": f"{code}{suffix}"},
                            admin)
    center = api.created("/api/v1/centers", {"community_id": community["id"],
                                             "name": f"{name}服务中心"}, admin)
    api.created("/api/v1/users", {"username": f"staff{suffix}", "password": "staff-pass-1",
                                  "role": "center_staff", "center_id": center["id"]}, admin)
    return community, center, api.login(f"staff{suffix}", "staff-pass-1"), suffix


@pytest.fixture
def center(api, admin):
    """A fresh community with a center, a staff login and one volunteer: a tenant per test."""
    community, center, staff, suffix = new_community(api, admin)
    volunteer = api.created("/api/v1/volunteers", {
        "community_id": community["id"], "name": "李伟", "phone": "13800000000",
        "username": f"li{suffix}", "password": "li-pass-123"}, staff)
    return {
        "community_id": community["id"], "center_id": center["id"], "staff": staff,
        "volunteer_id": volunteer["id"], "volunteer": api.login(f"li{suffix}", "li-pass-123"),
        "suffix": suffix,
    }


def _working_days(before=datetime.date(2026, 11, 21)):
    """Working days on the State Council calendar, newest first."""
    day = before
    while True:
        day -= datetime.timedelta(days=1)
        if chinese_calendar.is_workday(day):
            yield day


_SLOTS = _working_days()


def working_day_slot(hours=8):
    """(starts_at, ends_at) of an activity on a working day no other call got: a volunteer's
    records never overlap and never share a day's cap, and category "other" there earns the
    scheme's plain 10 points an hour."""
    day = next(_SLOTS).isoformat()
    return f"{day}T09:00:00+08:00", f"{day}T{9 + hours:02d}:00:00+08:00"


def earn(api, center, minutes):
    """Log and approve ``minutes`` (at most 8 hours) for the center's volunteer at 10 points an
    hour; wait for the credit to land."""
    starts_at, ends_at = working_day_slot()
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "社区议事协商", "category": "other",
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])
    sheet = api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": center["volunteer_id"], "minutes": minutes}]},
        center["staff"])
    before = balance(api, center)["balance"]
    record_id = sheet["records"][0]["id"]
    approved = api.post(f"/api/v1/hours/{record_id}/approve", token=center["staff"])
    assert approved.status_code == 200, approved.text
    wait_until(lambda: balance(api, center)["balance"] == before + minutes * 10 // 60,
               timeout=15, message="points credited after approval")
    return record_id


def balance(api, center):
    response = api.get(f"/api/v1/volunteers/{center['volunteer_id']}/balance",
                       token=center["volunteer"])
    assert response.status_code == 200, response.text
    return response.json()
