"""Re-deriving the points ledger from its documents: what ``timebank verify-ledger`` checks.

Pure functions over the stored documents (no store, no clock), so every check is unit-tested on
hand-made entries; services/cli.py reads the collections and hands them here.

An account's entries are ordered by the ``<account>:<n>`` of their ``_id`` (the key writers race
for), never by a field that an edit could change; the ``seq`` field must agree with it. Each
finding names the account and the entry. Each entry is checked against the previous one as
stored (balance, debt, lots by expiry date, hash chain), so one edited entry is named once and a
broken entry does not hide the ones after it.
"""
import dataclasses
from collections import defaultdict

from services.points.ledger import lots_of
from services.shared import appendlog

REFUSAL_PREFIX = appendlog.refusal_id("")  # refusals are decisions, not entries of an account


@dataclasses.dataclass(frozen=True)
class Finding:
    account: str
    problem: str

    def __str__(self):
        return f"{self.account}: {self.problem}"


@dataclasses.dataclass
class Report:
    accounts: int
    entries: int
    findings: list

    @property
    def clean(self):
        return not self.findings

    def by_account(self):
        """{account: [problem, ...]} in the order found."""
        grouped = defaultdict(list)
        for finding in self.findings:
            grouped[finding.account].append(finding.problem)
        return dict(grouped)


def parse_entry_id(entry_id):
    """(account, n) for an entry ``_id`` "<account>:<n>"; None when it is not one."""
    if not isinstance(entry_id, str) or ":" not in entry_id:
        return None
    account, _, number = entry_id.rpartition(":")
    if not account or not number.isdigit() or number.startswith("0"):
        return None
    return account, int(number)


def group_accounts(docs):
    """({account: [entry, ...] in _id order}, [Finding for a document that is no entry])."""
    accounts, findings = defaultdict(list), []
    for doc in docs:
        entry_id = doc.get("_id")
        if isinstance(entry_id, str) and entry_id.startswith(REFUSAL_PREFIX):
            continue
        parsed = parse_entry_id(entry_id)
        if parsed is None:
            findings.append(Finding(str(doc.get("stream", "?")),
                                    f"document {entry_id!r} is not an entry <account>:<n>"))
            continue
        accounts[parsed[0]].append((parsed[1], doc))
    ordered = {account: [doc for _, doc in sorted(pairs, key=lambda pair: pair[0])]
               for account, pairs in accounts.items()}
    return ordered, findings


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_account(account, entries, head=None):
    """Problems (strings) of one account's entries, given in ``_id`` order.

    Each entry is checked against the one before it as stored, so one edited entry is named
    once, not with every entry after it. ``head`` is the account's head hint when there is one.
    """
    problems = []
    previous = {}
    hashed_seen = False
    for expected, doc in enumerate(entries, start=1):
        name, number = doc["_id"], parse_entry_id(doc["_id"])[1]
        if number != expected:
            problems.append(f"sequence broken before {name}: entries {expected}.."
                            f"{number - 1} are missing")
        if doc.get("seq") != number:
            problems.append(f"{name} says seq {doc.get('seq')!r}")
        if doc.get("stream") != account:
            problems.append(f"{name} says stream {doc.get('stream')!r}")
        if not all(_is_int(doc.get(field)) for field in ("delta", "total_after")):
            problems.append(f"{name} has a non-integer delta {doc.get('delta')!r} or "
                            f"total_after {doc.get('total_after')!r}")
        else:
            problems += [f"{name} {p}" for check in ENTRY_CHECKS for p in check(doc, previous)]
        if "hash" in doc:
            hashed_seen = True
        elif hashed_seen:
            problems.append(f"{name} has no hash after hashed entries")
        previous = doc
    if head:
        problems += _check_head(entries, head)
    return problems


def _balance(doc, previous):
    total, before = doc["total_after"], previous.get("total_after", 0)
    if _is_int(before) and total != before + doc["delta"]:
        yield f"total_after {total} but {before} + delta {doc['delta']} = {before + doc['delta']}"
    if total < 0:
        yield f"total_after {total} is below zero"


def _debt(doc, previous):
    """What is owed after an entry: the previous debt, plus what a reversal could not take
    back (``owed``), less what a credit paid (``debt_paid``, the part of ``gross`` that did not
    reach the balance). Entries from before debts existed owe nothing."""
    owed = doc.get("owed_after")
    if owed is None:
        return
    if not _is_int(owed) or owed < 0:
        yield f"owed_after {owed!r} is not a whole number >= 0"
        return
    paid, fell_short = doc.get("debt_paid", 0), doc.get("owed", 0)
    before = previous.get("owed_after", 0)
    if _is_int(before) and owed != before + fell_short - paid:
        yield f"owed_after {owed} but {before} owed + {fell_short} - {paid} paid = " \
              f"{before + fell_short - paid}"
    if "gross" in doc and doc["gross"] - paid != doc["delta"]:
        yield f"delta {doc['delta']} but gross {doc['gross']} - {paid} paid to the debt"


def _lots(doc, previous):
    """The balance by expiry date: sums to the balance and follows from the previous lots and
    this entry's ``lots_delta``."""
    lots = doc.get("lots_after")
    if lots is None:
        return
    if not _is_lots(lots) or not _is_lots(doc.get("lots_delta", {})):
        yield f"lots_after {lots!r} or lots_delta {doc.get('lots_delta')!r} is not " \
              f"{{date: points}}"
        return
    if sum(lots.values()) != doc["total_after"]:
        yield f"lots_after sum to {sum(lots.values())}, not total_after {doc['total_after']}"
    if any(points < 0 for points in lots.values()):
        yield f"lots_after {lots} holds a lot below zero"
    derived = dict(lots_of(previous))
    for date, points in doc.get("lots_delta", {}).items():
        derived[date] = derived.get(date, 0) + points
    if _nonzero(derived) != _nonzero(lots):
        yield f"lots_after {lots} but the previous lots and lots_delta give {_nonzero(derived)}"


def _chain(doc, previous):
    if "hash" in doc and doc["hash"] != appendlog.entry_hash(
            doc, previous.get("hash", appendlog.GENESIS_HASH)):
        yield "hash does not match its content and the previous entry's hash (edited)"


ENTRY_CHECKS = (_balance, _debt, _lots, _chain)


def _is_lots(value):
    return isinstance(value, dict) and all(_is_int(points) for points in value.values())


def _nonzero(lots):
    return {date: points for date, points in lots.items() if points}


def _check_head(entries, head):
    """The head hint ({seq, total_after, entry: a copy}) is written after its entry: it may lag
    behind the entries but never lead them, and its copy is the entry as first written. So it
    shows what the chain cannot: entries removed from the end, the last entry edited."""
    by_number = {parse_entry_id(e["_id"])[1]: e for e in entries}
    last = max(by_number, default=0)
    seq = head.get("seq", 0)
    if seq > last:
        return [f"the head is at seq {seq} but the entries end at {last} (entries removed)"]
    stored = by_number.get(seq)
    if stored is None:
        return []
    copy = head.get("entry") or {}
    if "hash" in copy and copy["hash"] != stored.get("hash"):
        return [f"{stored['_id']} differs from the copy its head hint took when it was written"]
    if "total_after" in head and head["total_after"] != stored.get("total_after"):
        return [f"the head records total {head['total_after']} at seq {seq}, "
                f"its entry {stored.get('total_after')!r}"]
    return []


def check_hours_credits(accounts):
    """Findings for an hours record credited more than once, across all accounts."""
    credits = defaultdict(list)
    for account, entries in accounts.items():
        for doc in entries:
            ref = doc.get("ref") or {}
            if doc.get("kind") == "earn" and ref.get("type") == "hours":
                credits[ref.get("id")].append((account, doc["_id"]))
    findings = []
    for record_id, holders in credits.items():
        if len(holders) > 1:
            names = ", ".join(entry_id for _, entry_id in holders)
            findings += [Finding(account, f"hours record {record_id} credited {len(holders)} "
                                          f"times ({names})")
                         for account in dict.fromkeys(account for account, _ in holders)]
    return findings


def check_pairs(accounts, find_by_key, in_flight):
    """Findings for two-sided movements missing a side.

    ``find_by_key(key)`` is the entry decided under key (the ledger's own claim lookup) or None;
    ``in_flight(movement_id)`` says the movement is still being carried out (its marker is
    younger than the stall window), when one side may not be written yet.
    """
    findings = []
    for account, entries in accounts.items():
        for doc in entries:
            if doc.get("pair") is not None:
                problem = _pair_problem(doc, find_by_key(doc["pair"]), in_flight)
                if problem:
                    findings.append(Finding(account, f"{doc['_id']} (movement "
                                                     f"{doc.get('movement')}) {problem}"))
    return findings


def _moved(doc):
    """The points a side of a movement moved: what the credit brought (``gross``, before any
    debt was paid from it) or what the debit took."""
    return doc.get("gross", abs(doc.get("delta") or 0))


def _pair_problem(doc, partner, in_flight):
    if partner is None:
        return None if in_flight(doc.get("movement")) else f"has no other side {doc['pair']}"
    if partner.get("pair") != doc.get("key") or partner.get("movement") != doc.get("movement"):
        return f"and {partner['_id']} do not name each other"
    if _moved(partner) != _moved(doc):
        return f"moved {_moved(doc)} points but its other side {partner['_id']} {_moved(partner)}"
    return None


def verify(docs, heads=(), find_by_key=lambda key: None, in_flight=lambda movement: False):
    """Every check over the ledger's documents; ``heads`` are the head hints ({_id: account})."""
    accounts, findings = group_accounts(docs)
    head_of = {h["_id"]: h for h in heads}
    for account, entries in accounts.items():
        findings += [Finding(account, p)
                     for p in check_account(account, entries, head_of.get(account))]
    for account in head_of.keys() - accounts.keys():  # every entry of the account removed
        findings += [Finding(account, p) for p in _check_head([], head_of[account])]
    findings += check_hours_credits(accounts)
    findings += check_pairs(accounts, find_by_key, in_flight)
    return Report(accounts=len(accounts), entries=sum(map(len, accounts.values())),
                  findings=findings)


def fresh_markers(markers, now, stall_window):
    """Ids of in-flight markers younger than ``stall_window``: work that may still finish by
    itself. An older one is stalled; recovery should have finished it."""
    return {m["_id"] for m in markers
            if m.get("since") is not None and m["since"] > now - stall_window}
