"""Redemptions under load while the rewards or the points service is killed (SIGKILL): once the
supervisor has restarted it and recovery has run, every redemption is complete or fully
returned, and stock and balances are exact. And 20 concurrent redemptions of an item with
stock 5 leave exactly 5 redeemed."""
import concurrent.futures
import os
import signal
import threading
import time
import uuid

import pytest
import requests

from tests.e2e.conftest import balance, earn, new_community
from tests.e2e.test_supervision import pid_of
from tests.support import fresh_phone, wait_until

COST = 10
FINAL = {201, 409, 422}  # confirmed, or refused for good (out of stock, points, abandoned)


def volunteers(api, admin, count, minutes):
    """A community with a shelf keeper and ``count`` volunteers holding minutes/6 points."""
    community, center, staff, suffix = new_community(api, admin, name="幸福社区", code="xf")
    people = []
    for n in range(count):
        username = f"kill{suffix}{n}"
        volunteer = api.created("/api/v1/volunteers", {
            "community_id": community["id"], "name": f"志愿者{n}", "phone": fresh_phone(),
            "username": username, "password": "li-pass-123"}, staff)
        person = {"community_id": community["id"], "center_id": center["id"], "staff": staff,
                  "volunteer_id": volunteer["id"],
                  "volunteer": api.login(username, "li-pass-123")}
        earn(api, person, minutes)
        people.append(person)
    return staff, people


def redeem_until_final(api, person, gift_id, deadline, answers, finished):
    """One redemption, retried under its Idempotency-Key through the outage until it has a
    final answer: what a phone app does."""
    key = uuid.uuid4().hex
    while time.monotonic() < deadline:
        try:
            response = api.post("/api/v1/redemptions", {
                "reward_id": gift_id, "volunteer_id": person["volunteer_id"], "quantity": 1},
                token=person["volunteer"], key=key)
        except requests.RequestException:
            time.sleep(0.5)  # the gateway itself is up; a dropped connection is retried
            continue
        answers.append(response.status_code)
        if response.status_code in FINAL:
            finished.append(response.status_code)
            return response.status_code, response.json()
        time.sleep(0.5)  # 503 while the service restarts: retry the same request
    raise AssertionError("a redemption got no final answer through the outage")


def shelf_stock(api, person, gift_id):
    items = api.get(f"/api/v1/rewards?community_id={person['community_id']}&kind=gift",
                    token=person["volunteer"]).json()["items"]
    return next(item["stock"] for item in items if item["id"] == gift_id)


def statuses(api, person):
    response = api.get(f"/api/v1/volunteers/{person['volunteer_id']}/redemptions?limit=100",
                       token=person["volunteer"])
    assert response.status_code == 200, response.text
    return [r["status"] for r in response.json()["items"]]


@pytest.mark.parametrize("victim", ["rewards", "points"])
def test_redemptions_survive_a_killed_service(api, admin, victim):
    stock = 40
    staff, people = volunteers(api, admin, 8, 480)  # 80 points each: 8 redemptions of 10
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "食用油 5L",
                                           "cost_points": COST, "stock": stock}, staff)
    before = {p["volunteer_id"]: balance(api, p)["balance"] for p in people}

    answers, finished = [], []
    deadline = time.monotonic() + 150
    attempts = [person for person in people for _ in range(10)]  # 80 asked, 40 in stock
    killed, finished_at_kill = threading.Event(), []

    def kill_when_busy():
        wait_until(lambda: len(answers) >= 3, timeout=60, interval=0.005,
                   message="redemptions under way")
        victim_pid = pid_of(f"services:{victim}")
        os.kill(victim_pid, signal.SIGKILL)
        killed.set()
        finished_at_kill.append(len(finished))
        wait_until(lambda: pid_of(f"services:{victim}") not in (None, victim_pid), timeout=60,
                   message=f"{victim} restarted by the supervisor")

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        killer = pool.submit(kill_when_busy)
        outcomes = list(pool.map(
            lambda person: redeem_until_final(api, person, gift["id"], deadline, answers,
                                              finished),
            attempts))
        killer.result()
    # The kill happened under load: most redemptions were still to be answered.
    assert killed.is_set() and finished_at_kill[0] < len(attempts) // 2, finished_at_kill

    confirmed = [body for status, body in outcomes if status == 201]
    assert all(body["status"] == "confirmed" for body in confirmed)
    assert 0 < len(confirmed) <= stock

    def settled():
        """Every redemption complete or fully returned: none left pending, stock taken is
        what was confirmed, and the points spent are exactly the confirmed ones'."""
        if any(s == "pending" for p in people for s in statuses(api, p)):
            return False
        spent = sum(before[p["volunteer_id"]] - balance(api, p)["balance"] for p in people)
        taken = stock - shelf_stock(api, people[0], gift["id"])
        return spent == taken * COST == len(confirmed) * COST or (spent, taken, len(confirmed))
    outcome = wait_until(settled, timeout=120, interval=1,
                         message="stock and points agree with the confirmed redemptions")
    assert outcome is True, outcome
    for person in people:
        mine = statuses(api, person)
        assert mine.count("confirmed") == (before[person["volunteer_id"]]
                                           - balance(api, person)["balance"]) // COST
        assert balance(api, person)["balance"] >= 0


def test_twenty_concurrent_redemptions_of_five_in_stock_redeem_exactly_five(api, admin):
    staff, people = volunteers(api, admin, 4, 300)  # 50 points each: more than enough
    gift = api.created("/api/v1/rewards", {"kind": "gift", "title": "大米 5kg",
                                           "cost_points": COST, "stock": 5}, staff)
    attempts = [person for person in people for _ in range(5)]
    barrier = threading.Barrier(len(attempts))

    def redeem(person):
        barrier.wait(timeout=30)  # all twenty leave together
        response = api.post("/api/v1/redemptions", {
            "reward_id": gift["id"], "volunteer_id": person["volunteer_id"], "quantity": 1},
            token=person["volunteer"], key=uuid.uuid4().hex)
        return response.status_code, response.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        results = list(pool.map(redeem, attempts))
    codes = sorted(status for status, _ in results)
    assert codes == [201] * 5 + [409] * 15, results
    assert {body["error"]["code"] for status, body in results if status == 409} == \
        {"out_of_stock"}
    assert shelf_stock(api, people[0], gift["id"]) == 0
    spent = sum(50 - balance(api, person)["balance"] for person in people)
    assert spent == 5 * COST
