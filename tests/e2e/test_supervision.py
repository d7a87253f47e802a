"""The local stack: every service its own supervised process, `make up` idempotent."""
import os
import signal
import subprocess

from tests.e2e.conftest import ROOT, balance, earn, working_day_slot
from tests.support import wait_until

SUPERVISORCTL = [str(ROOT / ".venv" / "bin" / "supervisorctl"),
                 "-c", str(ROOT / "var" / "supervisord.conf")]


def ctl(*args):
    return subprocess.run(SUPERVISORCTL + list(args), capture_output=True, text=True).stdout


def pid_of(program):
    out = ctl("pid", program).strip()
    return int(out) if out.isdigit() and out != "0" else None


def test_each_service_is_its_own_process():
    pids = {name: pid_of(f"services:{name}") for name in ("volunteer", "points", "rewards",
                                                           "gateway")}
    assert all(pids.values()) and len(set(pids.values())) == 4, pids


def test_a_killed_service_comes_back(api, center):
    before = pid_of("services:points")
    os.kill(before, signal.SIGKILL)
    wait_until(lambda: pid_of("services:points") not in (None, before), timeout=30,
               message="points restarted by the supervisor")
    earn(api, center, 120)
    assert balance(api, center)["balance"] == 20


def test_an_approval_made_while_points_is_down_is_credited_when_it_is_back(api, center):
    starts_at, ends_at = working_day_slot()  # category other there: 10 points an hour
    activity = api.created("/api/v1/activities", {
        "center_id": center["center_id"], "title": "义诊", "category": "other",
        "starts_at": starts_at, "ends_at": ends_at}, center["staff"])
    [record] = api.created(f"/api/v1/activities/{activity['id']}/hours", {
        "entries": [{"volunteer_id": center["volunteer_id"], "minutes": 90}]},
        center["staff"])["records"]
    ctl("stop", "services:points")
    try:
        approved = api.post(f"/api/v1/hours/{record['id']}/approve", token=center["staff"])
        assert approved.status_code == 200, approved.text
    finally:
        ctl("start", "services:points")
    # The event waited in the broker's durable queue; it is credited once, not lost.
    wait_until(lambda: balance(api, center)["balance"] == 15, timeout=30,
               message="credit after points came back")


def test_a_stopped_service_answers_503_not_a_hang(api, center):
    ctl("stop", "services:points")
    try:
        response = api.get(f"/api/v1/volunteers/{center['volunteer_id']}/balance",
                           token=center["volunteer"])
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
    finally:
        ctl("start", "services:points")
    wait_until(lambda: api.get(f"/api/v1/volunteers/{center['volunteer_id']}/balance",
                               token=center["volunteer"]).status_code == 200, timeout=30)


def test_make_up_again_changes_nothing():
    pids = {name: pid_of(f"services:{name}") for name in ("volunteer", "rewards", "gateway")}
    result = subprocess.run([str(ROOT / "scripts" / "stack.sh"), "up"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "Timebank is up: http://127.0.0.1:8000" in result.stdout
    assert {name: pid_of(f"services:{name}") for name in pids} == pids
