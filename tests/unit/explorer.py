"""The crash-point explorer: runs a money flow on the in-memory store, stops it before every store
operation in turn, and interleaves two runs of it operation by operation.

This is how the flows are shown to be chains of idempotent steps: whatever the point at which a
process dies, recovery (the timers, the outbox relay, redelivered events) and a client's replay
must leave the invariants of ../shared/domain.md intact; and two runners of the same flow (a live
request and the recovery timer, or two retries) must not decide anything twice, whatever the
order of their store operations.

- ``Crash`` is raised *before* store operation number k (a SIGKILL at that point: the operation
  never happens). It derives from BaseException so no ``except Exception`` in the code under
  test can swallow it, as none could swallow a real kill.
- Interleaving runs each runner in its own greenlet; before every store operation the runner
  switches back to the controller, which picks who performs the next operation.
"""
import itertools

import greenlet

from tests.unit.fakes import FakeDatabase

STORE_OPERATIONS = ("insert_one", "insert_many", "find_one", "find", "replace_one", "update_one",
                    "delete_one")


class Crash(BaseException):
    """The process died before a store operation."""


class Hook:
    """Decides, before each store operation, whether to crash or to yield to the controller."""

    def __init__(self):
        self.count = 0
        self.crash_at = None        # crash before operation number crash_at (0-based)
        self.controller = None      # the greenlet interleaving runners, when one is
        self.trace = []             # (runner greenlet, operation number) while interleaving

    def before(self, collection, operation):
        if self.crash_at is not None and self.count == self.crash_at:
            self.crash_at = None  # one crash per run: the restarted process runs on
            self.count += 1
            raise Crash(f"before {operation} on {collection}")
        self.count += 1
        if self.controller is not None and greenlet.getcurrent() is not self.controller:
            self.trace.append((greenlet.getcurrent(), self.count))
            self.controller.switch()


class HookedCollection:
    """A fake collection whose store operations pass through the hook first."""

    def __init__(self, collection, name, hook):
        self._collection = collection
        self._name = name
        self._hook = hook

    def __getattr__(self, attribute):
        target = getattr(self._collection, attribute)
        if attribute not in STORE_OPERATIONS:
            return target

        def operation(*args, **kwargs):
            self._hook.before(self._name, attribute)
            return target(*args, **kwargs)
        return operation


class HookedDatabase(FakeDatabase):
    def __init__(self, name, hook):
        super().__init__()
        self._name = name
        self._hook = hook
        self._hooked = {}

    def __getitem__(self, name):
        if name not in self._hooked:
            self._hooked[name] = HookedCollection(super().__getitem__(name),
                                                  f"{self._name}.{name}", self._hook)
        return self._hooked[name]

    def __getattr__(self, name):
        if name.startswith("_") or name == "collections":
            raise AttributeError(name)
        return self[name]


def run_to_end(step):
    """Run ``step()``; return ("ok", result) or ("error", exception) — never raise."""
    try:
        return "ok", step()
    except Exception as exc:  # noqa: BLE001 - a refused request is a valid outcome here
        return "error", exc


def count_operations(world_factory, action):
    """How many store operations ``action`` performs on a fresh world, run alone."""
    world = world_factory()
    start = world.hook.count
    run_to_end(lambda: action(world))
    return world.hook.count - start


def crash_points(world_factory, action):
    """Worlds in which ``action`` crashed before store operation k, for every k it performs.

    Yields (k, world, outcome); ``outcome`` is ("crashed", Crash) or what run_to_end returned
    (the crash point lay in a part of the flow the action's own run did not reach).
    """
    for k in range(count_operations(world_factory, action)):
        world = world_factory()
        world.hook.crash_at = world.hook.count + k
        try:
            outcome = run_to_end(lambda: action(world))
        except Crash as crash:
            outcome = ("crashed", crash)
        yield k, world, outcome


def interleave(world, runners, schedule):
    """Run ``runners`` (callables) in greenlets, the ``schedule`` deciding who goes next.

    ``schedule`` is a list of (runner index, number of store operations); after it, the runners
    finish in order. Returns (each runner's run_to_end outcome, whether the first two runners'
    store operations actually overlapped in time — the race the schedule was meant to cause).
    """
    controller = greenlet.getcurrent()
    world.hook.controller = controller
    outcomes = [None] * len(runners)

    def body(index, runner):
        outcomes[index] = run_to_end(runner)

    threads = [greenlet.greenlet(lambda i=i, r=r: body(i, r)) for i, r in enumerate(runners)]
    try:
        for index, steps in list(schedule) + [(i, None) for i in range(len(runners))]:
            thread = threads[index]
            taken = 0
            while not thread.dead and (steps is None or taken < steps):
                thread.switch()  # runs until just before its next store operation, or its end
                taken += 1
    finally:
        world.hook.controller = None
        for thread in threads:  # an abandoned runner must not be resumed by the garbage collector
            if not thread.dead:
                thread.throw(greenlet.GreenletExit)
    spans = [[n for who, n in world.hook.trace if who is thread] for thread in threads[:2]]
    overlapped = all(spans) and spans[0][0] < spans[1][-1] and spans[1][0] < spans[0][-1]
    world.hook.trace = []
    return outcomes, overlapped


def two_runner_schedules(first_ops, second_ops):
    """Every schedule with two preemptions: A runs i operations, then B runs j (or to its end),
    then A and B finish; and the mirror image (B first). Covers each pair of racing store
    operations."""
    # None: to its end. A runner may do more operations beside another than alone (the
    # recovery timer finds work only once the live request has marked it).
    for i, j in itertools.product([*range(first_ops + 1), None], [*range(second_ops + 1), None]):
        if i is not None:
            yield [(0, i), (1, j)]
        if j is not None:
            yield [(1, j), (0, i)]
