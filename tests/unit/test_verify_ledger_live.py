"""`timebank verify-ledger` on a store the services keep writing to: an entry appended while the
audit reads is no finding. The make test run ends with it against the running stack, whose
timers (recovery, expiry, backfills) may append at any moment."""
from services import cli
from services.points.ledger import Ledger
from tests.unit.fakes import FakeCollection, FakeDatabase

WHO = {"reason": "test", "ref": {"type": "test", "id": "t"}, "by": "usr_1"}


class EntriesWrittenDuringTheScan(FakeCollection):
    """The ledger's entries: once read, a service appends (``then``), as a live store does."""
    then = None

    def find(self, query=None, projection=None):
        scanned = super().find(query, projection)
        if self.then is not None:
            append, self.then = self.then, None
            append()
        return scanned


def test_an_entry_appended_while_the_audit_reads_is_no_finding():
    entries = EntriesWrittenDuringTheScan()
    db = FakeDatabase(ledger=entries)
    ledger = Ledger(db)
    ledger.ensure_indexes()
    ledger.credit("vol_ann", 25, "k1", kind="earn", **WHO)
    entries.then = lambda: ledger.debit("vol_ann", 5, "k2", kind="redeem", **WHO)

    report = cli.verify_ledger(db)

    assert report.clean, report.by_account()
    assert ledger.balance("vol_ann") == 20  # the append did land, after the scan
