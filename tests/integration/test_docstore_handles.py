"""The docstore holds a bounded number of file handles however many databases come and go.

Every integration test creates and drops databases of its own; a long-running store must not
keep handles to the dropped files (their disk space is never freed while a handle is open) nor
leave their ``-wal``/``-shm`` companions behind.
"""
import os
from urllib.parse import urlparse

import pymongo
import pytest

from tests.support import mongo_url, wait_until

DATABASES = 60
# Handles to deleted files and orphaned -wal/-shm files tolerated process-wide: other tests may
# be dropping a database of their own at the moment we look.
TRANSIENT = 6


def listening_inodes(port):
    """Socket inodes listening on ``port`` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def fd_targets(pid):
    """What each open descriptor of ``pid`` points to."""
    fd_dir = f"/proc/{pid}/fd"
    targets = []
    for fd in os.listdir(fd_dir):
        try:
            targets.append(os.readlink(os.path.join(fd_dir, fd)))
        except FileNotFoundError:  # closed while we looked
            pass
    return targets


def pid_listening_on(port):
    sockets = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if sockets & set(fd_targets(pid)):
                return int(pid)
        except (PermissionError, FileNotFoundError):
            continue
    raise AssertionError(f"no process of ours listens on port {port}")


def data_dir_of(pid):
    """The docstore's -data directory (relative paths resolve against its working directory)."""
    with open(f"/proc/{pid}/cmdline", "rb") as raw:
        args = raw.read().decode().split("\0")
    data = "var/docstore"
    for i, arg in enumerate(args):
        if arg.lstrip("-").startswith("data="):
            data = arg.split("=", 1)[1]
        elif arg.lstrip("-") == "data" and i + 1 < len(args):
            data = args[i + 1]
    return os.path.join(os.readlink(f"/proc/{pid}/cwd"), data)


def deleted_handles(pid, data_dir):
    return [t for t in fd_targets(pid)
            if t.startswith(data_dir + "/") and t.endswith(" (deleted)")]


def orphaned_companions(data_dir):
    """-wal and -shm files whose database file is gone."""
    names = set(os.listdir(data_dir))
    return [n for n in names if n.endswith(("-wal", "-shm")) and n[:-4] not in names]


@pytest.fixture
def docstore(store):
    client = store("probe").client
    if "ferretdbVersion" not in client.admin.command("buildInfo"):
        pytest.skip("MONGO_URL is not the docstore (a real MongoDB manages its own files)")
    pid = pid_listening_on(urlparse(mongo_url()).port or 27017)
    return client, pid, data_dir_of(pid)


def test_dropped_databases_leave_no_handles_or_files_behind(docstore, db_prefix):
    client, pid, data_dir = docstore
    names = [f"{db_prefix}_handles{n}" for n in range(DATABASES)]
    for name in names:
        client[name].things.insert_one({"_id": "one"})

    def indexed(name):
        client[name].things.find_one({"_id": "one"})  # EXPLAIN alone may plan with a stale schema
        return "USING INDEX" in str(client[name].command(
            "explain", {"find": "things", "filter": {"_id": "one"}}).get("queryPlanner"))

    def not_yet_indexed():
        # the docstore's indexer has had every database open once it indexed its collection
        return [name for name in names if not indexed(name)]
    wait_until(lambda: not not_yet_indexed(), timeout=30, message="every database indexed")

    for name in names:
        client.drop_database(name)

    def leftovers():
        return deleted_handles(pid, data_dir), orphaned_companions(data_dir)

    def bounded(handles, orphans):
        ours = [p for p in handles + orphans if os.path.basename(p).startswith(db_prefix)]
        return not ours and len(handles) <= TRANSIENT and len(orphans) <= TRANSIENT

    try:
        wait_until(lambda: bounded(*leftovers()), timeout=15, message="dropped files released")
    except AssertionError:
        handles, orphans = leftovers()
        pytest.fail(f"after dropping {DATABASES} databases the docstore holds {len(handles)} "
                    f"handles to deleted files and {len(orphans)} orphaned -wal/-shm files "
                    f"in {data_dir}, e.g. {sorted(handles)[:3]} {sorted(orphans)[:3]}")
