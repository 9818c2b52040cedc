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
- can drop the SQLite triggers (they refuse UPDATE, DELETE, and an INSERT that is unsigned or not
  at the head of the chain; they are put back whenever a ledger is opened, but they only guard
  against mistakes);
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

import base64
import hashlib
import json
import random
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from aigc_audit.errors import AuditError
from aigc_audit.governance.reviewers import (
    REVIEWERS_ENV,
    Reviewer,
    current_key,
    default_path,
    keys_path,
    public_keys,
    read_reviewers,
    verify_signature,
)
from aigc_audit.governance.store import RunStore

APPROVE, WAIVE, REJECT = "approve", "waive", "reject"
DECISIONS = (APPROVE, WAIVE, REJECT)
GENESIS = "0" * 64
APPEND_ATTEMPTS = 20
MAX_REASON = 4000
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SIGNING_CONTEXT = b"aigc-audit review ledger entry v1\n"
UNHASHED = ("entry_hash", "signature")  # the fields an entry's hash and signature do not cover

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
    # Base64 Ed25519 signature; nullable only because ledgers from before signatures lack it.
    Column("signature", Text),
)
_SQLITE_TRIGGERS = [
    *(f"CREATE TRIGGER IF NOT EXISTS review_ledger_no_{action.lower()} BEFORE {action} ON review_ledger "
      "BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only'); END"
      for action in ("UPDATE", "DELETE")),
    "CREATE TRIGGER IF NOT EXISTS review_ledger_insert_at_head BEFORE INSERT ON review_ledger "
    "WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM review_ledger) "
    "OR NEW.prev_hash IS NOT COALESCE((SELECT entry_hash FROM review_ledger ORDER BY seq DESC LIMIT 1), "
    f"'{GENESIS}') OR NEW.signature IS NULL "
    "BEGIN SELECT RAISE(ABORT, 'the review ledger is append-only: a new entry must be signed and "
    "follow the last one (seq + 1, prev_hash = its entry_hash)'); END",
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
    signature: str | None = None

    def hashed_fields(self) -> dict[str, Any]:
        """The fields the hash and the signature cover: all but ``entry_hash`` and ``signature``."""
        return {k: v for k, v in asdict(self).items() if k not in UNHASHED}

    def computed_hash(self) -> str:
        return entry_hash(self.hashed_fields())

    def active_on(self, day: date) -> bool:
        """A waive entry whose expiry date (inclusive) has not passed on ``day``."""
        expires = _as_date(self.expires)
        return self.decision == WAIVE and expires is not None and expires >= day

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


class LedgerBrokenError(AuditError):
    """The ledger does not verify, so none of its decisions may be applied; names the entry."""

    def __init__(self, where: str, verification: Verification):
        self.verification = verification
        super().__init__(f"the review ledger in {where} is broken at entry {verification.broken_seq}: "
                         f"{verification.problem}; no decision from it was applied (check it with "
                         "'aigc-audit ledger verify', or audit with --ignore-waivers)")


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The canonical JSON of an entry's fields: what its hash and its signature cover."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an entry's fields (its ``prev_hash`` included)."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def signed_message(fields: Mapping[str, Any]) -> bytes:
    """What a reviewer signs: a fixed context, then the canonical JSON of the entry's fields
    (sequence number and ``prev_hash`` included, ``entry_hash`` and ``signature`` not)."""
    return SIGNING_CONTEXT + canonical({k: v for k, v in fields.items() if k not in UNHASHED})


def _as_date(text: Any) -> date | None:
    """``text`` as a date when it is one in the form ``append`` writes (YYYY-MM-DD), else None."""
    if not isinstance(text, str) or not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _malformed(entry: Entry) -> str | None:
    """Why a well-hashed, well-signed entry still cannot be applied, or None."""
    if entry.decision not in DECISIONS:
        return f"its decision {entry.decision!r} is not one of {list(DECISIONS)}"
    if entry.decision == WAIVE and entry.expires is None:
        return "it is a waiver without an expiry date"
    if entry.decision == WAIVE and _as_date(entry.expires) is None:
        return f"its expiry date {entry.expires!r} is not a date (YYYY-MM-DD)"
    if entry.decision != WAIVE and entry.expires is not None:
        return f"it has an expiry date ({entry.expires!r}) but only a waiver may have one"
    return None


def _signature_problem(entry: Entry, keys: Mapping[str, Sequence[bytes]], keys_file: Path) -> str | None:
    if not entry.signature:
        return ("it has no signature: it was written before ledger entries were signed, or its "
                "signature was removed, and cannot be told from a forged entry")
    known = keys.get(entry.reviewer) if isinstance(entry.reviewer, str) else None
    if not known:
        where = f"{keys_file}" if keys_file.is_file() else \
            f"{keys_file} (no such file: point ${REVIEWERS_ENV} at the password file reviewers were added to)"
        return (f"its reviewer {entry.reviewer!r} has no public key in {where}: not a reviewer "
                "added with 'aigc-audit reviewer add'")
    try:
        signature = base64.b64decode(str(entry.signature).encode("ascii"), validate=True)
    except ValueError:  # not base64, or not even ASCII
        signature = b""
    message = signed_message(entry.hashed_fields())
    if not any(verify_signature(public, signature, message) for public in known):
        return (f"its signature does not verify with the key(s) of reviewer {entry.reviewer!r} in "
                f"{keys_file}: the entry was forged or edited")
    return None


def _entry_problem(entry: Entry, n: int, expected_prev: str, keys: Mapping[str, Sequence[bytes]],
                   keys_file: Path) -> str | None:
    if entry.seq != n:
        return (f"sequence number {entry.seq} where {n} was expected: an entry before it was deleted "
                "or renumbered")
    if entry.prev_hash != expected_prev:
        return ("its link to the previous entry does not match that entry's hash: an entry before it "
                "was changed or removed")
    try:
        hashed = entry.computed_hash()
    except (TypeError, ValueError) as error:  # a field of a type JSON cannot hold (a blob)
        return f"its fields cannot be read: {error}"
    if hashed != entry.entry_hash:
        return "its contents do not match its hash: the entry was edited"
    return _signature_problem(entry, keys, keys_file) or _malformed(entry)


def check_entries(entries: Iterable[Entry], keys: Mapping[str, Sequence[bytes]],
                  keys_file: Path) -> Verification:
    """Walk ``entries`` (oldest first) and report the first bad one: sequence, link, hash,
    signature against ``keys`` (``{reviewer: [raw public key, ...]}``, read from ``keys_file``),
    then the fields themselves."""
    expected_prev, n = GENESIS, 0
    for n, entry in enumerate(entries, start=1):
        problem = _entry_problem(entry, n, expected_prev, keys, keys_file)
        if problem:
            return Verification(False, n - 1, expected_prev, entry.seq, problem)
        expected_prev = entry.entry_hash
    return Verification(True, n, expected_prev)


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
    """The review ledger in ``store``'s database (created there on first use).

    ``reviewers`` is the password file whose keys file (:func:`reviewers.keys_path`) signatures are
    checked against, and whose reviewers may append; by default ``$AIGC_AUDIT_REVIEWERS`` or
    ``.aigc-audit/reviewers``, looked up at each use.

    On a store opened ``read_only`` nothing is created: a ledger that is not there yet reads as
    empty, and appending is refused.
    """

    def __init__(self, store: RunStore, *, reviewers: str | Path | None = None):
        self.store = store
        self.engine = store.engine
        self._reviewers = None if reviewers is None else Path(reviewers)
        if store.read_only:
            return
        try:
            self._create()
        except DBAPIError as error:
            raise AuditError(f"cannot open the review ledger in {store.display_url}: {error.orig}") from None

    def _create(self) -> None:
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                if "signature" not in {c["name"] for c in inspect(self.engine).get_columns("review_ledger")}:
                    # A ledger from before signatures: its entries stay unsigned (and fail verify).
                    with self.engine.begin() as conn:
                        conn.exec_driver_sql("ALTER TABLE review_ledger ADD COLUMN signature TEXT")
                if self.engine.dialect.name == "sqlite":
                    with self.engine.begin() as conn:
                        for trigger in _SQLITE_TRIGGERS:
                            conn.exec_driver_sql(trigger)
                return
            except OperationalError as error:
                # Another process created the table or added the column first: look again.
                if attempt == 2 or not any(s in str(error.orig) for s in ("already exists", "duplicate")):
                    raise

    @property
    def reviewers_path(self) -> Path:
        return self._reviewers if self._reviewers is not None else default_path()

    @property
    def keys_file(self) -> Path:
        return keys_path(self.reviewers_path)

    def _check_signer(self, reviewer: Reviewer) -> None:
        if not reviewer.can_sign:
            raise AuditError(f"only a logged-in reviewer can record a decision: {reviewer.name!r} has no "
                             "signing key unlocked by a login; log in (a reviewer added before decisions "
                             f"were signed needs a key: 'aigc-audit reviewer add {reviewer.name} --replace')")
        path = self.reviewers_path
        if reviewer.name not in read_reviewers(path):
            raise AuditError(f"reviewer {reviewer.name!r} is not in {path}: only a reviewer added there "
                             "with 'aigc-audit reviewer add' can record a decision")
        key = current_key(path, reviewer.name)
        if key is None or key.public != reviewer.public_key():
            raise AuditError(f"reviewer {reviewer.name!r} did not log in with their current key in "
                             f"{keys_path(path)} (their password was changed, or the login was checked "
                             "against another password file); log in again")

    def append(self, reviewer: Reviewer, *, decision: str, rule_id: str, item_id: str,
               item_sha256: str, run_id: str, samples_sha256: str, reason: str,
               expires: date | None = None, now: datetime | None = None) -> Entry:
        """Add one decision, signed by ``reviewer``, at the head of the chain. ``reviewer`` must
        come from :func:`~aigc_audit.governance.reviewers.authenticate` against this ledger's
        password file. Concurrent writers are serialised (SQLite: ``BEGIN IMMEDIATE`` and the busy
        timeout; any database: the unique sequence number and retries), so no decision is lost and
        the chain never forks."""
        if not isinstance(reviewer, Reviewer) or not reviewer.name:
            raise AuditError("only a logged-in reviewer can record a decision; log in first")
        if self.store.read_only:
            raise AuditError(f"run store {self.store.display_url!r} was opened read-only; open it with "
                             "RunStore(url) to record a decision")
        now = now or datetime.now(UTC)
        _check_decision(decision, reason, expires, now.date())
        self._check_signer(reviewer)
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
                    row: dict[str, Any] = {"seq": seq, **fields, "prev_hash": prev}
                    row["entry_hash"] = entry_hash(row)
                    row["signature"] = base64.b64encode(reviewer.sign(signed_message(row))).decode("ascii")
                    conn.execute(insert(ledger_table).values(**row))
                return Entry(**row)
            except (IntegrityError, OperationalError) as error:
                last_error = error
                time.sleep(min(0.5, 0.01 * 2 ** attempt) * random.uniform(0.5, 1.5))
        raise AuditError(f"could not append to the review ledger in {self.store.display_url} after "
                         f"{APPEND_ATTEMPTS} attempts: {getattr(last_error, 'orig', last_error)}; "
                         "another writer holds the database, try again")

    def entries(self, *, run_id: str | None = None, item_sha256: str | None = None) -> list[Entry]:
        """The entries as stored, oldest first, **not verified** (for lists and tables)."""
        if not self.store.has_table(ledger_table.name):
            return []
        query = select(ledger_table).order_by(ledger_table.c.seq)
        if run_id is not None:
            query = query.where(ledger_table.c.run_id == run_id)
        if item_sha256 is not None:
            query = query.where(ledger_table.c.item_sha256 == item_sha256)
        with self.engine.connect() as conn:
            return [Entry(**row._mapping) for row in conn.execute(query)]

    def _read_and_check(self) -> tuple[list[Entry], Verification]:
        entries = self.entries()
        keys = public_keys(self.reviewers_path) if entries else {}
        return entries, check_entries(entries, keys, self.keys_file)

    def verify(self) -> Verification:
        """Walk the chain from the first entry: sequence numbers, links, hashes, signatures
        against the keys file, fields."""
        return self._read_and_check()[1]

    def verified_entries(self) -> list[Entry]:
        """Every entry, oldest first, after verifying them all (from the same read); raises
        :class:`LedgerBrokenError` naming the first bad entry."""
        entries, result = self._read_and_check()
        if not result.ok:
            raise LedgerBrokenError(self.store.display_url, result)
        return entries

    def latest(self) -> dict[tuple[str, str], Entry]:
        """The decision in force for each (rule, item content): the newest one, so that a later
        approve or reject revokes an earlier waiver. Verifies the ledger first."""
        return {(e.rule_id, e.item_sha256): e for e in self.verified_entries()}

    def active_waivers(self, day: date | None = None) -> dict[tuple[str, str], Entry]:
        """The waivers in force on ``day`` (UTC today by default), from a verified ledger only."""
        day = day or datetime.now(UTC).date()
        return {key: e for key, e in self.latest().items() if e.active_on(day)}
