"""The review ledger: reviewers' decisions on findings, in an append-only, hash-chained table of
signed entries.

Each entry records who decided what about one item under one rule, when, and why::

    approve   a false alarm or an acceptable use (a sign-off; the finding stays in the count)
    waive     accepted until an expiry date: the next audit takes the item out of the rule's count
    reject    the item must not ship

**Chain.** An entry carries the SHA-256 of the entry before it (``prev_hash``), and its own hash
(``entry_hash``) covers every field and that link. Editing, deleting or reordering any entry breaks
the chain from that entry on.

**Signatures.** An entry also carries its reviewer's Ed25519 signature over the same canonical
fields (sequence number and ``prev_hash`` included; see :func:`signed_message`). Only a
:class:`Reviewer` returned by :func:`~aigc_audit.governance.reviewers.authenticate` holds a private
key (unsealed with their password), and :meth:`Ledger.append` refuses any other: a name not in the
password file, a reviewer made by hand, or a key that is not the name's current key in the keys
file beside the password file. The entry is signed before it is written.

**Verification.** :meth:`Ledger.verify` (``aigc-audit ledger verify``, the dashboard) walks the
whole ledger and reports the first bad entry: a sequence gap, a broken link, contents that do not
match the hash, a missing signature, a reviewer with no public key in the keys file (unknown
reviewer), a signature that does not verify with any of that reviewer's keys (current or retired),
or a malformed field (a decision that is not one of the three, an expiry date that is not a date).
:meth:`Ledger.active_waivers` (what the audit applies) verifies first, from the same read, and
raises :class:`LedgerBrokenError` (an ``AuditError``: the CLI exits 2 naming the entry) instead of
applying any decision from a broken ledger. :meth:`Ledger.entries` reads without verifying (lists,
the dashboard's tables).

**Unsigned entries** (written before entries were signed) cannot be told from forged ones: verify
reports the first of them as broken ("it has no signature"), so a store holding them stops every
audit that applies waivers. Audit with ``--ignore-waivers``, or record decisions in a new store.

**What write access to the store can and cannot do.** Someone who can write the store's database,
but cannot write the reviewers' keys file and does not know a reviewer's password:

- cannot add a decision that verifies, nor edit, reorder or remove an entry below the head without
  ``verify`` naming it: rows are signed with keys the store does not hold, and recomputing the
  hashes does not recompute the signatures;
- cannot make an audit apply a forged, edited or malformed decision: the audit stops with exit 2;
- can drop the SQLite triggers (they refuse UPDATE, DELETE and an INSERT anywhere but at the head
  of the chain, and are put back when a ledger is next opened, but they only guard against
  mistakes);
- can delete the newest entries: a shorter chain still verifies, which can revive a waiver that a
  later decision revoked. Compare the head hash that ``verify`` prints with one recorded elsewhere
  (a CI log) to catch that. Likewise the whole ledger can be replaced by an older copy of itself,
  or by another store's ledger signed by the same reviewers: entries are not bound to one store;
- can make the ledger unusable (any bad row stops audits that apply waivers until it is removed):
  a denial of service, never a forged pass;
- can read every decision: nothing in the ledger is secret.

Whoever can write the keys file can add a key and sign in any name: that file is the trust anchor
(see :mod:`~aigc_audit.governance.reviewers`).

Items are identified by content (:func:`content_sha256`): a waiver holds for the same text or the
same image file under the same rule, whatever its id or sample set, and never for changed content.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from aigc_audit.errors import AuditError
from aigc_audit.governance.reviewers import Reviewer
from aigc_audit.governance.store import RunStore

APPROVE, WAIVE, REJECT = "approve", "waive", "reject"
DECISIONS = (APPROVE, WAIVE, REJECT)
GENESIS = "0" * 64
APPEND_ATTEMPTS = 20
MAX_REASON = 4000

metadata = MetaData()
ledger_table = Table(
    "review_ledger", metadata,
    # Assigned by the writer as previous + 1; the primary key makes two writers who read the same
    # head collide, so that one of them retries instead of forking the chain.
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("created_at", String(40), nullable=False),
    Column("reviewer", String(64), nullable=False),
    Column("decision", String(8), nullable=False),
    Column("rule_id", String(200), nullable=False, index=True),
    Column("item_id", String(200), nullable=False),
    Column("item_sha256", String(64), nullable=False, index=True),
    Column("run_id", String(64), nullable=False),
    Column("samples_sha256", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("expires", String(10)),
    Column("prev_hash", String(64), nullable=False, unique=True),
    Column("entry_hash", String(64), nullable=False),
)
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS review_ledger_no_{action.lower()} BEFORE {action} ON review_ledger "
    "BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END"
    for action in ("UPDATE", "DELETE")
]


@dataclass(frozen=True)
class Entry:
    seq: int
    created_at: str
    reviewer: str
    decision: str
    rule_id: str
    item_id: str
    item_sha256: str
    run_id: str
    samples_sha256: str
    reason: str
    expires: str | None
    prev_hash: str
    entry_hash: str

    def computed_hash(self) -> str:
        return entry_hash({k: v for k, v in asdict(self).items() if k != "entry_hash"})

    def active_on(self, day: date) -> bool:
        """A waive entry whose expiry date (inclusive) has not passed on ``day``."""
        return self.decision == WAIVE and self.expires is not None and \
            date.fromisoformat(self.expires) >= day

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verification:
    ok: bool
    n_entries: int
    head: str
    broken_seq: int | None = None
    problem: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"ledger intact: {self.n_entries} entries, head {self.head}"
        return f"ledger broken at entry {self.broken_seq}: {self.problem}"


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an entry's fields (its ``prev_hash`` included)."""
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _check_decision(decision: str, reason: str, expires: date | None, today: date) -> None:
    if decision not in DECISIONS:
        raise AuditError(f"decision must be one of {list(DECISIONS)}; got {decision!r}")
    if not reason.strip():
        raise AuditError(f"a {decision} decision needs a reason; got an empty one")
    if len(reason) > MAX_REASON:
        raise AuditError(f"reason must have at most {MAX_REASON} characters; got {len(reason)}")
    if decision == WAIVE:
        if expires is None:
            raise AuditError("a waiver needs an expiry date; pass the last day it holds")
        if expires < today:
            raise AuditError(f"a waiver's expiry date must be today or later; got {expires} "
                             f"(today is {today})")
    elif expires is not None:
        raise AuditError(f"only a waiver has an expiry date; got {expires} with {decision!r}")


class Ledger:
    """The review ledger in ``store``'s database (created there on first use)."""

    def __init__(self, store: RunStore):
        self.store = store
        self.engine = store.engine
        try:
            metadata.create_all(self.engine)
            if self.engine.dialect.name == "sqlite":
                with self.engine.begin() as conn:
                    for trigger in _SQLITE_TRIGGERS:
                        conn.exec_driver_sql(trigger)
        except OperationalError as error:
            raise AuditError(f"cannot open the review ledger in {store.url}: {error.orig}") from None

    def append(self, reviewer: Reviewer, *, decision: str, rule_id: str, item_id: str,
               item_sha256: str, run_id: str, samples_sha256: str, reason: str,
               expires: date | None = None, now: datetime | None = None) -> Entry:
        """Add one decision at the head of the chain. Concurrent writers are serialised (SQLite:
        ``BEGIN IMMEDIATE`` and the busy timeout; any database: the unique sequence number and
        retries), so no decision is lost and the chain never forks."""
        if not isinstance(reviewer, Reviewer) or not reviewer.name:
            raise AuditError("only a logged-in reviewer can record a decision; log in first")
        now = now or datetime.now(UTC)
        _check_decision(decision, reason, expires, now.date())
        fields = {"created_at": now.isoformat(timespec="microseconds"), "reviewer": reviewer.name,
                  "decision": decision, "rule_id": rule_id, "item_id": item_id,
                  "item_sha256": item_sha256, "run_id": run_id, "samples_sha256": samples_sha256,
                  "reason": reason.strip(), "expires": None if expires is None else expires.isoformat()}
        last_error: Exception | None = None
        for attempt in range(APPEND_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    if self.engine.dialect.name == "sqlite":
                        # Take the write lock before reading the head, so that no other writer
                        # can append between our read and our insert.
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    head = conn.execute(select(ledger_table.c.seq, ledger_table.c.entry_hash)
                                        .order_by(ledger_table.c.seq.desc()).limit(1)).first()
                    seq, prev = (head.seq + 1, head.entry_hash) if head else (1, GENESIS)
                    row = {"seq": seq, **fields, "prev_hash": prev}
                    row["entry_hash"] = entry_hash(row)
                    conn.execute(insert(ledger_table).values(**row))
                return Entry(**row)
            except (IntegrityError, OperationalError) as error:
                last_error = error
                time.sleep(min(0.5, 0.01 * 2 ** attempt) * random.uniform(0.5, 1.5))
        raise AuditError(f"could not append to the review ledger in {self.store.url} after "
                         f"{APPEND_ATTEMPTS} attempts: {getattr(last_error, 'orig', last_error)}; "
                         "another writer holds the database, try again")

    def entries(self, *, run_id: str | None = None, item_sha256: str | None = None) -> list[Entry]:
        query = select(ledger_table).order_by(ledger_table.c.seq)
        if run_id is not None:
            query = query.where(ledger_table.c.run_id == run_id)
        if item_sha256 is not None:
            query = query.where(ledger_table.c.item_sha256 == item_sha256)
        with self.engine.connect() as conn:
            return [Entry(**row._mapping) for row in conn.execute(query)]

    def latest(self) -> dict[tuple[str, str], Entry]:
        """The decision in force for each (rule, item content): the newest one, so that a later
        approve or reject revokes an earlier waiver."""
        return {(e.rule_id, e.item_sha256): e for e in self.entries()}

    def active_waivers(self, day: date | None = None) -> dict[tuple[str, str], Entry]:
        day = day or datetime.now(UTC).date()
        return {key: e for key, e in self.latest().items() if e.active_on(day)}

    def verify(self) -> Verification:
        """Walk the chain from the first entry: sequence numbers, links and hashes."""
        expected_prev, n = GENESIS, 0
        with self.engine.connect() as conn:
            rows = conn.execute(select(ledger_table).order_by(ledger_table.c.seq))
            for n, row in enumerate(rows, start=1):
                entry = Entry(**row._mapping)
                if entry.seq != n:
                    return Verification(False, n - 1, expected_prev, entry.seq,
                                        f"sequence number {entry.seq} where {n} was expected: "
                                        "an entry before it was deleted or renumbered")
                if entry.prev_hash != expected_prev:
                    return Verification(False, n - 1, expected_prev, entry.seq,
                                        "its link to the previous entry does not match that "
                                        "entry's hash: an entry before it was changed or removed")
                if entry.computed_hash() != entry.entry_hash:
                    return Verification(False, n - 1, expected_prev, entry.seq,
                                        "its contents do not match its hash: the entry was edited")
                expected_prev = entry.entry_hash
        return Verification(True, n, expected_prev)

