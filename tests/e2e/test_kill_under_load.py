"""Redemptions cut in the middle by a SIGKILL are finished by the recovery timers.

Gift, booking and merchant-counter redemptions run under load; the points service is stopped
(SIGSTOP) so rewards, having taken the stock (a slot, the day's quota), waits on its debit while
more requests arrive (a merchant's, which asks points twice before its saga starts, is walked to
its debit: walk_to_the_debit). No client ever sends a request twice. Then one service is killed:

- points (SIGKILL while stopped): the debits it held go back to the broker, past their deadline,
  and are dropped (services/shared/rpc.py: a request expires at its caller's deadline);
- rewards (SIGKILL while its workers wait on points), held down until the requests it held have
  expired in the broker (the gateway answered them 503 at that same deadline), so nothing
  redelivers them; then points is let go on (SIGCONT) and runs the debits it had already taken.

Afterwards redemptions are seen pending with their stock held, and no request or client will
run them again: only the timers (services/shared/inflight.py, a marker stalled after
STALLED_AFTER) can finish them. Once they have, every redemption is complete or fully returned;
stock, slots, quota, balances and what the merchant is owed are exact; `timebank verify-ledger`
is clean. And 20 concurrent redemptions of an item with stock 5 leave exactly 5 redeemed.
"""
import collections
import concurrent.futures
import dataclasses
import datetime
import os
import queue
import signal
import subprocess
import threading
import uuid

import pytest

from tests.e2e.conftest import ROOT, balance, new_community, working_day_slot
from tests.e2e.test_merchants import merchant_of, new_code, offer, redeem
from tests.e2e.test_neighbour_services import book, sessions
from tests.e2e.test_supervision import ctl, pid_of
from tests.support import fresh_phone, wait_until

B = "/api/v1"
COST = 10
GIFT, SERVICE, OFFER = "gift", "service", "merchant_offer"
PRICES = {GIFT: 10, SERVICE: 15, OFFER: 10}
GIFT_STOCK, DAILY_QUOTA = 10, 5
SLOTS = [f"2031-05-{day:02d}T09:00:00+08:00" for day in range(1, 9)]
LIVE_CLIENTS = 3  # with the arriving ones and a look, within the gateway's 10 workers
STOP_POINTS_AFTER = 5  # answers under load before the points service hangs
DONE = {GIFT: "confirmed", SERVICE: "confirmed", OFFER: "completed"}
# The recovery timers take up a marker 30 s old and tick every 10 s; the points and rewards
# services restart within seconds.
RECOVERY_WAIT = 90


def person(api, community, center, staff, username):
    volunteer = api.created(f"{B}/volunteers", {
        "community_id": community["id"], "name": "志愿者", "phone": fresh_phone(),
        "username": username, "password": "li-pass-123"}, staff)
    someone = {"community_id": community["id"], "center_id": center["id"], "staff": staff,
               "volunteer_id": volunteer["id"],
               "volunteer": api.login(username, "li-pass-123")}
    return someone


@dataclasses.dataclass
class Neighbourhood:
    """One community's gift shelf, a neighbour's service with slots and a merchant's offer
    with a daily quota, and the volunteers who redeem them."""
    people: list
    gift: dict
    service: dict
    merchant: dict
    shop: str
    offer: dict
    prober: dict  # the provider, who redeems after the storm to read the day's quota left

    @property
    def everyone(self):
        return self.people + [self.prober]

    @property
    def community_id(self):
        return self.people[0]["community_id"]


@pytest.fixture(scope="module")
def residents(api, admin):
    """A community's staff, five volunteers and a merchant's login, shared by this file's tests
    (logins are slow on purpose); each test earns anew and has its own rewards."""
    community, center, staff, suffix = new_community(api, admin, name="和睦社区", code="hm")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        everyone = list(pool.map(lambda n: person(api, community, center, staff,
                                                  f"cut{suffix}{n}"), range(5)))
    merchant, shop = merchant_of(api, admin, everyone[0])
    return center, staff, everyone, merchant, shop


def neighbourhood(api, residents):
    center, staff, everyone, merchant, shop = residents
    # Some can pay for a few redemptions only: refused debits are given back under the kill too.
    earn_together(api, staff, center["id"], everyone, [180, 480, 180, 480, 480])
    people, provider = everyone[:-1], everyone[-1]  # who offers a service, then probes the quota
    gift = api.created(f"{B}/rewards", {"kind": GIFT, "title": "食用油 5L",
                                        "cost_points": PRICES[GIFT], "stock": GIFT_STOCK}, staff)
    service = api.created(f"{B}/rewards", {
        "kind": SERVICE, "title": "上门理发", "cost_points": PRICES[SERVICE], "location": "5号楼",
        "duration_minutes": 60, "slots": SLOTS}, provider["volunteer"], key=uuid.uuid4().hex)
    deal = offer(api, shop, cost=PRICES[OFFER], daily_quota=DAILY_QUOTA)
    return Neighbourhood(people, gift, service, merchant, shop, deal, provider)


def earn_together(api, staff, center_id, everyone, minutes):
    """One activity's sheet for everyone, approved at once: minutes/6 more points each."""
    before = [balance(api, someone)["balance"] for someone in everyone]
    starts_at, ends_at = working_day_slot()
    activity = api.created(f"{B}/activities", {
        "center_id": center_id, "title": "社区议事协商", "category": "other",
        "starts_at": starts_at, "ends_at": ends_at}, staff)
    api.created(f"{B}/activities/{activity['id']}/hours", {"entries": [
        {"volunteer_id": p["volunteer_id"], "minutes": m}
        for p, m in zip(everyone, minutes) if m]}, staff)
    approved = api.post(f"{B}/activities/{activity['id']}/approve", token=staff)
    assert approved.status_code == 200, approved.text
    for someone, had, m in zip(everyone, before, minutes):
        wait_until(lambda: balance(api, someone)["balance"] == had + m // 6, timeout=60,
                   message="points credited after approval")


def storm(api, hood):
    """(live, arriving): what clients send under load, and what arrives once points hangs.
    Two neighbours ask for each of the first slots; the first merchant redemptions are within
    the day's quota. The arriving ones are told apart (the prober at the merchant, two gifts at
    once, slots nobody else asks for), in stock and affordable: they surely take their stock
    and wait on their debit. The merchant's comes first (see walk_to_the_debit)."""
    people = hood.people
    codes = [(p, new_code(api, p)["code"]) for p in hood.everyone]  # from points' scheme
    live = []
    for n, (someone, code) in enumerate(codes[:-1]):
        live += [(GIFT, someone, None), (SERVICE, people[(n + 1) % len(people)], SLOTS[n // 2]),
                 (OFFER, someone, code)]
    arriving = [(OFFER, hood.prober, codes[-1][1]), (GIFT, people[1], 2),
                (SERVICE, people[3], SLOTS[6]), (SERVICE, people[1], SLOTS[7])]
    return live, arriving


def send(api, hood, item):
    """One request, sent once: (item, status, body)."""
    kind, someone, detail = item
    key = uuid.uuid4().hex
    if kind == GIFT:
        response = api.post(f"{B}/redemptions", {
            "reward_id": hood.gift["id"], "volunteer_id": someone["volunteer_id"],
            "quantity": detail or 1}, token=someone["volunteer"], key=key)
    elif kind == SERVICE:
        response = book(api, someone, hood.service["id"], detail, key=key)
    else:
        response = redeem(api, hood.shop, detail, hood.offer["id"], key=key)
    return item, response.status_code, response.json()


def redemptions_of(api, someone):
    response = api.get(f"{B}/volunteers/{someone['volunteer_id']}/redemptions?limit=100",
                       token=someone["volunteer"])
    assert response.status_code == 200, response.text
    return response.json()["items"]


def all_redemptions(api, hood):
    """This neighbourhood's redemptions (its residents redeemed elsewhere in other tests)."""
    ours = {hood.gift["id"], hood.service["id"], hood.offer["id"]}
    return [r for someone in hood.everyone for r in redemptions_of(api, someone)
            if r["reward_id"] in ours]


def count_by_kind(redemptions, status=None):
    return collections.Counter(r["reward_kind"] for r in redemptions
                               if status is None or r["status"] == status)


def completed(redemptions):
    return [r for r in redemptions if r["status"] == DONE[r["reward_kind"]]]


def instants(slots):
    """Slots as instants: a booking shows its slot in UTC, the service as it was offered."""
    return {datetime.datetime.fromisoformat(slot) for slot in slots}


def arrived_pending(hood, redemptions):
    """The redemptions that arrived once points hung, still pending, by kind."""
    their_slots = instants(SLOTS[6:])

    def arrived(r):
        if r["reward_kind"] == GIFT:
            return r["quantity"] == 2
        if r["reward_kind"] == SERVICE:
            return instants([r["slot"]]) <= their_slots
        return r["volunteer_id"] == hood.prober["volunteer_id"]
    return count_by_kind(r for r in redemptions if r["status"] == "pending" and arrived(r))


ALL_ARRIVED = {OFFER: 1, GIFT: 1, SERVICE: 2}


def gifts_taken(redemptions):
    return sum(r["quantity"] for r in redemptions if r["reward_kind"] == GIFT)


def gift_stock(api, hood):
    items = api.get(f"{B}/rewards?community_id={hood.community_id}&kind=gift",
                    token=hood.people[0]["volunteer"]).json()["items"]
    return next(item["stock"] for item in items if item["id"] == hood.gift["id"])


def booked_slots(api, hood):
    free = sessions(api, hood.people[0]["volunteer"], hood.service["id"], hood.community_id)
    return instants(slot for slot, is_free in free.items() if not is_free)


def points_answer(api, hood):
    return api.get(f"{B}/volunteers/{hood.prober['volunteer_id']}/balance",
                   token=hood.prober["volunteer"]).status_code == 200


def answers_again(api, hood):
    """Both services answer: points (a balance) and rewards (the catalog)."""
    try:
        return points_answer(api, hood) and api.get(
            f"{B}/rewards?kind=gift", token=hood.prober["volunteer"]).status_code == 200
    except OSError:
        return False


def thaw(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass  # killed meanwhile


def seen_within(seconds, predicate):
    try:
        return wait_until(predicate, timeout=seconds, interval=0.1)
    except AssertionError:
        return False


def walk_to_the_debit(api, hood, points_pid, rewards_pid):
    """Let the arriving merchant redemption through the two points calls it makes before its
    saga starts (the scheme, the balance) while every debit stays hung: points runs only while
    rewards is frozen (SIGSTOP), so each turn answers what rewards asked before it and nothing
    it asks after. Once the redemption is stored, its next call is its debit, which hangs."""
    for _ in range(4):
        os.kill(rewards_pid, signal.SIGSTOP)
        thaw(points_pid)
        try:  # the queue is first in, first out: a call answered now was asked last
            wait_until(lambda: points_answer(api, hood), timeout=15, message="points back")
        finally:
            os.kill(points_pid, signal.SIGSTOP)
            thaw(rewards_pid)
        if seen_within(2, lambda: arrived_pending(hood, all_redemptions(api, hood))[OFFER]):
            return
    raise AssertionError("the merchant redemption never reached its debit")


def kill_points(points_pid):
    """SIGKILL the stopped points service: what it held goes back to the broker, expired."""
    os.kill(points_pid, signal.SIGKILL)
    wait_until(lambda: pid_of("services:points") not in (None, points_pid), timeout=60,
               message="points restarted by the supervisor")


def kill_rewards(points_pid, clients_done):
    """SIGKILL rewards while its workers wait on points; keep it down until every client has
    its answer (the gateway's deadline, which is also when the requests expire in the broker),
    so no request is redelivered; then points goes on and rewards comes back."""
    os.kill(pid_of("services:rewards"), signal.SIGKILL)
    ctl("stop", "services:rewards")
    wait_until(lambda: pid_of("services:rewards") is None, timeout=30,
               message="rewards held down")
    clients_done()
    os.kill(points_pid, signal.SIGCONT)
    ctl("start", "services:rewards")


def quota_left(api, hood):
    """Redeem at the counter until the day's quota refuses: how many it still let through."""
    for n in range(DAILY_QUOTA + 1):
        status, body = send(api, hood, (OFFER, hood.prober, new_code(api, hood.prober)["code"]))[1:]
        if status == 409 and body["error"]["code"] == "daily_quota_reached":
            return n
        assert status == 201, body
    raise AssertionError("the daily quota let more through than it holds")


@pytest.mark.timeout(240)  # setup, the outage and recovery's wait: see RECOVERY_WAIT
@pytest.mark.parametrize("victim", ["points", "rewards"])
def test_sagas_cut_by_a_kill_are_finished_by_recovery(api, residents, victim):
    hood = neighbourhood(api, residents)
    earned = {p["volunteer_id"]: balance(api, p)["balance"] for p in hood.everyone}
    live, arriving = storm(api, hood)
    work, answers = queue.Queue(), []
    for item in live:
        work.put(item)
    points_pid, rewards_pid = pid_of("services:points"), pid_of("services:rewards")
    points_stopped = threading.Event()

    def client():
        while not points_stopped.is_set():
            try:
                item = work.get_nowait()
            except queue.Empty:
                return
            answers.append(send(api, hood, item))

    try:
        with concurrent.futures.ThreadPoolExecutor(LIVE_CLIENTS + len(arriving)) as pool:
            clients = [pool.submit(client) for _ in range(LIVE_CLIENTS)]
            wait_until(lambda: len(answers) >= STOP_POINTS_AFTER, timeout=60, interval=0.01,
                       message="redemptions under way")
            os.kill(points_pid, signal.SIGSTOP)
            points_stopped.set()  # the clients send nothing more, the arriving ones below
            for item in arriving:
                clients.append(pool.submit(lambda item=item: answers.append(
                    send(api, hood, item))))
                if item[0] == OFFER:
                    walk_to_the_debit(api, hood, points_pid, rewards_pid)
            # Rewards has stored them and taken their stock; their debits hang.
            wait_until(lambda: arrived_pending(hood, all_redemptions(api, hood)) == ALL_ARRIVED,
                       timeout=30, interval=0.2,
                       message="arriving redemptions waiting on their debit")

            def clients_done():
                for future in clients:
                    future.result()
            if victim == "points":
                clients_done()
                kill_points(points_pid)
            else:
                kill_rewards(points_pid, clients_done)
        wait_until(lambda: answers_again(api, hood), timeout=60, message="services back")

        # No client will send anything again: what is pending now only recovery finishes.
        now = all_redemptions(api, hood)
        pending = count_by_kind(now, "pending")
        print(f"{victim} killed: answers {collections.Counter(s for _, s, _ in answers)}, "
              f"pending {dict(pending)} of {dict(count_by_kind(now))}")
        assert arrived_pending(hood, now) == ALL_ARRIVED, pending
        held = GIFT_STOCK - gift_stock(api, hood) - gifts_taken(completed(now))
        assert held >= 2, "the pending gifts hold their stock"
        assert instants(SLOTS[6:]) <= booked_slots(api, hood), "and the slots theirs"
    finally:
        thaw(points_pid)
        thaw(rewards_pid)
        if pid_of("services:rewards") is None:  # held down when the test failed
            ctl("start", "services:rewards")
        wait_until(lambda: answers_again(api, hood), timeout=90, message="services back")

    settled = wait_until(lambda: (lambda rs: not count_by_kind(rs, "pending") and rs)(
        all_redemptions(api, hood)), timeout=RECOVERY_WAIT, interval=1,
        message="every pending redemption finished by recovery")
    check_exact(api, hood, answers, settled, earned)


def check_exact(api, hood, answers, redemptions, earned):
    """Every redemption complete or fully returned, and stock, slots, points, what the
    merchant is owed and the day's quota agree with the completed ones."""
    assert {r["status"] for r in redemptions} <= {"confirmed", "completed", "failed"}
    done = completed(redemptions)
    by_id = {r["id"]: r for r in redemptions}
    for (kind, _, _), status, body in answers:  # an answer given is the outcome kept
        if status == 201:
            assert by_id[body["id"]]["status"] == DONE[kind]
        else:
            assert status in (409, 503), body
    made = count_by_kind(done)
    assert gift_stock(api, hood) == GIFT_STOCK - gifts_taken(done) >= 0
    slots = [r["slot"] for r in done if r["reward_kind"] == SERVICE]
    assert len(set(slots)) == len(slots) and booked_slots(api, hood) == instants(slots)
    for someone in hood.everyone:
        spent = sum(r["points"] for r in done if r["volunteer_id"] == someone["volunteer_id"])
        assert balance(api, someone)["balance"] == earned[someone["volunteer_id"]] - spent
    statement = api.get(f"{B}/merchants/{hood.merchant['id']}/statement", token=hood.shop)
    assert statement.status_code == 200, statement.text
    assert sum(row["owed_points"] for row in statement.json()["items"]
               if row["reward_id"] == hood.offer["id"]) == made[OFFER] * PRICES[OFFER]
    assert quota_left(api, hood) == DAILY_QUOTA - made[OFFER]


def test_twenty_concurrent_redemptions_of_five_in_stock_redeem_exactly_five(api, residents):
    center, staff, everyone = residents[:3]
    people = everyone[:4]
    earn_together(api, staff, center["id"], people, [300] * 4)  # 50 more points each: enough
    before = [balance(api, someone)["balance"] for someone in people]
    gift = api.created(f"{B}/rewards", {"kind": GIFT, "title": "大米 5kg",
                                        "cost_points": COST, "stock": 5}, staff)
    attempts = [someone for someone in people for _ in range(5)]
    barrier = threading.Barrier(len(attempts))

    def redeem_one(someone):
        barrier.wait(timeout=30)  # all twenty leave together
        response = api.post(f"{B}/redemptions", {
            "reward_id": gift["id"], "volunteer_id": someone["volunteer_id"], "quantity": 1},
            token=someone["volunteer"], key=uuid.uuid4().hex)
        return response.status_code, response.json()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        results = list(pool.map(redeem_one, attempts))
    codes = sorted(status for status, _ in results)
    assert codes == [201] * 5 + [409] * 15, results
    assert {body["error"]["code"] for status, body in results if status == 409} == \
        {"out_of_stock"}
    items = api.get(f"{B}/rewards?community_id={people[0]['community_id']}&kind=gift",
                    token=people[0]["volunteer"]).json()["items"]
    assert next(item["stock"] for item in items if item["id"] == gift["id"]) == 0
    spent = sum(had - balance(api, someone)["balance"] for someone, had in zip(people, before))
    assert spent == 5 * COST


def test_the_ledger_is_clean_after_the_kills():
    """`timebank verify-ledger` over the stack's points database, after the tests above (once:
    it reads every account)."""
    ledger = subprocess.run([str(ROOT / ".venv" / "bin" / "timebank"), "verify-ledger"],
                            capture_output=True, text=True, timeout=300)
    assert ledger.returncode == 0, ledger.stderr
