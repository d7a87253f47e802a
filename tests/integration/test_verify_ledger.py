"""`timebank verify-ledger`, the installed command, on the real store: clean on what the Ledger
wrote, and non-zero naming the account once an entry is edited behind the ledger's back."""
import pathlib
import subprocess
import sys

import pytest

from services.points.ledger import Ledger
from tests.support import mongo_url

pytestmark = pytest.mark.integration

# The console script pip installed from pyproject.toml's [project.scripts], beside this Python.
TIMEBANK = pathlib.Path(sys.executable).parent / "timebank"
WHO = {"reason": "test", "ref": {"type": "test", "id": "t"}, "by": "usr_1"}


@pytest.fixture
def points_db(store):
    ledger = Ledger(store("points"))
    ledger.ensure_indexes()
    return ledger, store("points")


def verify_ledger(db_prefix):
    return subprocess.run([str(TIMEBANK), "verify-ledger", "--mongo-url", mongo_url(),
                           "--db-prefix", db_prefix], capture_output=True, text=True, timeout=60)


def test_the_command_passes_a_ledger_and_names_the_account_of_an_edited_entry(points_db,
                                                                              db_prefix):
    ledger, db = points_db
    ledger.credit("vol_ann", 25, "hours:h1:credit", kind="earn", reason="hours",
                  ref={"type": "hours", "id": "h1"}, by="usr_1")
    ledger.debit("vol_ann", 20, "redemption:r1", kind="redeem", **WHO)
    ledger.credit("vol_ann", 5, "refund:r1", kind="refund", **WHO)
    ledger.credit("vol_bo", 10, "hours:h2:credit", kind="earn", reason="hours",
                  ref={"type": "hours", "id": "h2"}, by="usr_1")

    clean = verify_ledger(db_prefix)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip().endswith("movement pairs agree")
    assert "2 accounts, 4 entries" in clean.stdout

    # A cheaper redemption, written straight into the store.
    db.ledger.update_one({"_id": "vol_ann:2"}, {"$set": {"delta": -15}})
    tampered = verify_ledger(db_prefix)
    assert tampered.returncode == 1, tampered.stdout
    lines = tampered.stderr.splitlines()
    assert "account vol_ann: vol_ann:2 total_after 5 but 25 + delta -15 = 10" in lines
    assert "account vol_ann: vol_ann:2 hash does not match its content and the previous " \
           "entry's hash (edited)" in lines
    assert not any("vol_bo" in line for line in lines)
    assert lines[-1] == f"verify-ledger: {db_prefix}_points: 1 of 2 accounts disagree"


def test_an_unreachable_store_is_an_error_not_a_clean_ledger(db_prefix):
    result = subprocess.run([str(TIMEBANK), "verify-ledger", "--mongo-url",
                             "mongodb://127.0.0.1:1/",
                             "--db-prefix", db_prefix], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_the_command_reads_the_settings_the_services_read(points_db, db_prefix):
    ledger, db = points_db
    ledger.credit("vol_ann", 25, "k1", kind="earn", **WHO)
    db.ledger.update_one({"_id": "vol_ann:1"}, {"$set": {"reason": "edited"}})
    result = subprocess.run([str(TIMEBANK), "verify-ledger"], capture_output=True, text=True,
                            timeout=60, env={"MONGO_URL": mongo_url(),
                                             "TIMEBANK_DB_PREFIX": db_prefix})
    assert result.returncode == 1
    assert result.stderr.startswith("account vol_ann: vol_ann:1 hash does not match")
