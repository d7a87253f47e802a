"""The local stack: every service its own supervised process, `make up` idempotent."""
import os
import signal
import subprocess

from tests.e2e.conftest import ROOT, balance, earn
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


def test_a_killed_service_comes_back_and_nothing_is_lost(api, center):
    before = pid_of("services:points")
    os.kill(before, signal.SIGKILL)
    wait_until(lambda: pid_of("services:points") not in (None, before), timeout=30,
               message="points restarted by the supervisor")
    # Approvals made while it restarts wait in its durable queue and are credited once.
    earn(api, center, 120)
    assert balance(api, center)["balance"] == 20


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
