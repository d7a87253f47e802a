"""In-flight markers and their recovery (issue 5, item 6)."""
import datetime as dt
import logging

from services.shared.clock import now
from services.shared.inflight import InFlight, resume_each

log = logging.getLogger(__name__)


def test_stalled_sees_an_old_marker_behind_many_fresh_ones(db):
    markers = InFlight(db.markers)
    for i in range(150):
        markers.mark(f"fresh-{i:03d}")
    db.markers.insert_one({"_id": "zz-old", "since": now() - dt.timedelta(minutes=10)})
    assert markers.stalled() == ["zz-old"]


def test_stalled_lists_the_oldest_first(db):
    markers = InFlight(db.markers)
    for minutes in (3, 9, 5):
        db.markers.insert_one({"_id": f"m{minutes}", "since": now() - dt.timedelta(minutes=minutes)})
    assert markers.stalled() == ["m9", "m5", "m3"]


def test_one_failing_marker_does_not_stop_the_others(caplog):
    done = []

    def resume(work_id):
        if work_id == "bad":
            raise KeyError("a marker naming a record that does not exist")
        done.append(work_id)

    with caplog.at_level(logging.ERROR):
        resume_each(["a", "bad", "b"], resume, log)
    assert done == ["a", "b"]
    assert "bad" in caplog.text
