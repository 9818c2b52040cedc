"""Signed ledger entries: what write access to the store can no longer do.

A forged or edited row, a chain re-hashed after an edit, an unknown reviewer, a made-up
``Reviewer``, an unsigned entry from an old ledger, a malformed field: ``verify`` names the entry,
and the decisions in force (what the audit applies) are never read from such a ledger.
"""

from __future__ import annotations

import base64
import shutil
import sqlite3
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from aigc_audit.errors import AuditError
from aigc_audit.governance.ledger import (
    GENESIS,
    Entry,
    Ledger,
    LedgerBrokenError,
    entry_hash,
    signed_message,
)
from aigc_audit.governance.reviewers import Reviewer, add_reviewer, authenticate, remove_reviewer
from aigc_audit.governance.store import RunStore

PASSWORD = "correct horse"
RULE = "copyright.text.near_duplicate"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FAR = date(2099, 12, 31)
COLUMNS = ("seq", "created_at", "reviewer", "decision", "rule_id", "item_id", "item_sha256", "run_id",
           "samples_sha256", "reason", "expires", "prev_hash", "entry_hash", "signature")


@pytest.fixture(scope="module")
def reviewers(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reviewers") / "reviewers"
    for name in ("alice", "bob"):
        add_reviewer(path, name, PASSWORD)
    return path


@pytest.fixture(scope="module")
def alice(reviewers) -> Reviewer:
    return authenticate(reviewers, "alice", PASSWORD)


@pytest.fixture
def store_path(tmp_path) -> Path:
    return tmp_path / "runs.sqlite"


@pytest.fixture
def ledger(store_path, reviewers) -> Ledger:
    return Ledger(RunStore(str(store_path)), reviewers=reviewers)


def _decide(ledger: Ledger, reviewer: Reviewer, decision: str = "approve", *, sha: str = "a" * 64,
            expires: date | None = None) -> Entry:
    return ledger.append(reviewer, decision=decision, rule_id=RULE, item_id="s-1", item_sha256=sha,
                         run_id="run-1", samples_sha256="b" * 64, reason=f"{decision} it",
                         expires=expires, now=NOW)


def _sql(store_path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    """What ``sqlite3 STORE "..."`` does: the triggers dropped first, as anyone with write access can."""
    with sqlite3.connect(store_path) as conn:
        for trigger in ("no_update", "no_delete", "insert_at_head"):
            conn.execute(f"DROP TRIGGER IF EXISTS review_ledger_{trigger}")
        conn.execute(sql, params)


def _insert(store_path: Path, row: dict[str, Any]) -> None:
    _sql(store_path, f"INSERT INTO review_ledger VALUES ({', '.join('?' * len(COLUMNS))})",
         tuple(row[c] for c in COLUMNS))


def _row(seq: int, prev: str, *, reviewer: str = "mallory", decision: str = "waive",
         expires: str | None = "2099-12-31", sha: str = "a" * 64) -> dict[str, Any]:
    return {"seq": seq, "created_at": NOW.isoformat(), "reviewer": reviewer, "decision": decision,
            "rule_id": RULE, "item_id": "s-1", "item_sha256": sha, "run_id": "run-1",
            "samples_sha256": "b" * 64, "reason": "trust me", "expires": expires, "prev_hash": prev}


def _hashed(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "entry_hash": entry_hash(row)}


def _signed(row: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``row`` hashed and signed with ``key``, skipping every check ``Ledger.append`` makes."""
    hashed = _hashed(row)
    return {**hashed, "signature": base64.b64encode(key.sign(signed_message(hashed))).decode()}


MALLORY = Ed25519PrivateKey.generate()


@pytest.mark.parametrize("forge, broken, problem", [
    # The reported row: a waiver for mallory, a made-up link, a garbage hash.
    (lambda head, alice: {**_row(2, "f" * 64), "entry_hash": "garbage", "signature": None}, 2,
     "its link to the previous entry does not match"),
    (lambda head, alice: {**_row(2, head), "entry_hash": "garbage", "signature": "garbage"}, 2,
     "its contents do not match its hash"),
    (lambda head, alice: {**_hashed(_row(2, head)), "signature": None}, 2, "it has no signature"),
    (lambda head, alice: _signed(_row(2, head), MALLORY), 2,
     "its reviewer 'mallory' has no public key in "),
    (lambda head, alice: _signed(_row(2, head, reviewer="alice"), MALLORY), 2,
     "its signature does not verify with the key(s) of reviewer 'alice'"),
    (lambda head, alice: {**_hashed(_row(2, head, reviewer="alice")), "signature": "not base64 at all"},
     2, "its signature does not verify"),
    (lambda head, alice: {**_row(2, head, reviewer="alice"), "reason": b"\x00", "entry_hash": "x",
                          "signature": "x"}, 2, "its fields cannot be read"),
])
def test_a_forged_row_is_named_and_no_decision_is_applied(store_path, ledger, alice, forge, broken,
                                                          problem):
    head = _decide(ledger, alice).entry_hash
    _insert(store_path, forge(head, alice))
    result = ledger.verify()
    assert not result.ok and result.broken_seq == broken and problem in result.problem
    assert result.n_entries == 1 and result.head == head
    with pytest.raises(LedgerBrokenError, match=rf"broken at entry {broken}: .*no decision from it was "
                       r"applied \(check it with 'aigc-audit ledger verify', or audit with "
                       r"--ignore-waivers\)") as raised:
        ledger.active_waivers(NOW.date())
    assert isinstance(raised.value, AuditError) and "\n" not in str(raised.value)
    with pytest.raises(LedgerBrokenError):
        ledger.latest()


def test_the_reported_forged_row_in_an_empty_ledger(store_path, ledger):
    _insert(store_path, {**_row(1, GENESIS), "entry_hash": "garbage", "signature": None})
    assert str(ledger.verify()) == ("ledger broken at entry 1: its contents do not match its hash: the "
                                    "entry was edited")
    with pytest.raises(LedgerBrokenError, match="broken at entry 1"):
        ledger.active_waivers(NOW.date())


def test_an_edited_entry_with_the_chain_recomputed_fails_its_signature(store_path, ledger, alice):
    entries = [_decide(ledger, alice, "reject", sha=c * 64) for c in "123"]
    # Turn the reject of entry 2 into a waiver and re-hash the chain from there, as a writer of the
    # store could: every hash and link checks out, the signature cannot be redone.
    prev = entries[0].entry_hash
    for entry in entries[1:]:
        fields = {**entry.hashed_fields(), "prev_hash": prev}
        if entry.seq == 2:
            fields.update(decision="waive", expires="2099-12-31")
        prev = entry_hash(fields)
        _sql(store_path, "UPDATE review_ledger SET decision = ?, expires = ?, prev_hash = ?, entry_hash = ? "
             "WHERE seq = ?", (fields["decision"], fields["expires"], fields["prev_hash"], prev, entry.seq))
    result = ledger.verify()
    assert result.broken_seq == 2 and "its signature does not verify" in result.problem
    with pytest.raises(LedgerBrokenError, match="broken at entry 2"):
        ledger.active_waivers(NOW.date())


def test_a_whole_chain_written_by_a_stranger_is_refused(store_path, ledger):
    prev = GENESIS
    for seq in (1, 2):
        row = _signed(_row(seq, prev), MALLORY)
        _insert(store_path, row)
        prev = row["entry_hash"]
    result = ledger.verify()
    assert result.broken_seq == 1 and "its reviewer 'mallory' has no public key" in result.problem


def _other_file_alice(tmp_path: Path) -> Reviewer:
    other = tmp_path / "other-reviewers"
    add_reviewer(other, "alice", PASSWORD)
    return authenticate(other, "alice", PASSWORD)


@pytest.mark.parametrize("make, message", [
    (lambda path, tmp: Reviewer("alice", str(path)),
     r"only a logged-in reviewer can record a decision: 'alice' has no signing key unlocked by a login"),
    (lambda path, tmp: Reviewer("alice", str(path), Ed25519PrivateKey.generate()),
     r"reviewer 'alice' did not log in with their current key in .*reviewers\.keys"),
    (lambda path, tmp: Reviewer("mallory", str(path), MALLORY),
     r"reviewer 'mallory' is not in .*reviewers: only a reviewer added there with 'aigc-audit reviewer "
     r"add' can record a decision"),
    (lambda path, tmp: _other_file_alice(tmp), r"reviewer 'alice' did not log in with their current key"),
])
def test_a_made_up_reviewer_cannot_append(ledger, reviewers, tmp_path, make, message):
    with pytest.raises(AuditError, match=message):
        _decide(ledger, make(reviewers, tmp_path))
    assert ledger.entries() == []


def test_password_changes_and_removals_keep_past_decisions_verifiable(tmp_path, store_path):
    path = tmp_path / "reviewers"
    add_reviewer(path, "alice", PASSWORD)
    ledger = Ledger(RunStore(str(store_path)), reviewers=path)
    before = authenticate(path, "alice", PASSWORD)
    _decide(ledger, before)

    add_reviewer(path, "alice", "a new password", replace=True)
    with pytest.raises(AuditError, match="did not log in with their current key"):
        _decide(ledger, before)  # a session from before the change signs no more
    assert authenticate(path, "alice", PASSWORD) is None
    after = authenticate(path, "alice", "a new password")
    _decide(ledger, after, "reject")
    assert ledger.verify().ok and ledger.verify().n_entries == 2

    remove_reviewer(path, "alice")
    with pytest.raises(AuditError, match="reviewer 'alice' is not in"):
        _decide(ledger, after)
    assert ledger.verify().ok  # both retired keys still verify alice's decisions
    assert [e.decision for e in ledger.latest().values()] == ["reject"]


def test_unsigned_entries_of_an_old_ledger_are_reported_broken(store_path, reviewers, alice):
    # A ledger written before entries were signed: no signature column.
    old = _hashed(_row(1, GENESIS, reviewer="alice"))
    with sqlite3.connect(store_path) as conn:
        conn.execute(f"CREATE TABLE review_ledger ({', '.join(COLUMNS[:-1])}, PRIMARY KEY (seq))")
        conn.execute(f"INSERT INTO review_ledger VALUES ({', '.join('?' * 13)})", tuple(old.values()))
    ledger = Ledger(RunStore(str(store_path)), reviewers=reviewers)
    (entry,) = ledger.entries()
    assert entry.signature is None and entry.entry_hash == old["entry_hash"]
    _decide(ledger, alice)  # new entries are signed and follow the old ones
    result = ledger.verify()
    assert result.broken_seq == 1 and result.problem.startswith(
        "it has no signature: it was written before ledger entries were signed, or its signature was "
        "removed, and cannot be told from a forged entry")
    with pytest.raises(LedgerBrokenError, match="broken at entry 1: it has no signature"):
        ledger.active_waivers(NOW.date())


def test_verify_without_the_keys_file_says_where_it_looked(store_path, ledger, alice, tmp_path):
    _decide(ledger, alice)
    elsewhere = Ledger(RunStore(str(store_path)), reviewers=tmp_path / "missing" / "reviewers")
    result = elsewhere.verify()
    assert result.broken_seq == 1 and "missing/reviewers.keys (no such file: point " \
        "$AIGC_AUDIT_REVIEWERS at the password file reviewers were added to)" in result.problem
    assert Ledger(RunStore(str(tmp_path / "empty.sqlite")), reviewers=tmp_path / "none").verify().ok


@pytest.mark.parametrize("change, problem", [
    ({"expires": "not-a-date"}, "its expiry date 'not-a-date' is not a date (YYYY-MM-DD)"),
    ({"expires": "2099-1-1"}, "its expiry date '2099-1-1' is not a date (YYYY-MM-DD)"),
    ({"expires": "2099-W01-1"}, "its expiry date '2099-W01-1' is not a date (YYYY-MM-DD)"),
    ({"expires": "2099-02-30"}, "its expiry date '2099-02-30' is not a date (YYYY-MM-DD)"),
    ({"expires": None}, "it is a waiver without an expiry date"),
    ({"decision": "maybe"}, "its decision 'maybe' is not one of ['approve', 'waive', 'reject']"),
    ({"decision": "approve"}, "it has an expiry date ('2099-12-31') but only a waiver may have one"),
])
def test_a_malformed_signed_entry_is_broken_not_a_crash(store_path, ledger, alice, change, problem):
    # Signed with alice's own key by a writer that skipped the checks of Ledger.append.
    head = _decide(ledger, alice).entry_hash
    _insert(store_path, _signed({**_row(2, head, reviewer="alice"), **change}, alice.signing_key))
    result = ledger.verify()
    assert result.broken_seq == 2 and result.problem == problem
    with pytest.raises(LedgerBrokenError, match="broken at entry 2"):
        ledger.active_waivers(NOW.date())


def test_an_expiry_date_edited_to_garbage_is_broken_not_a_crash(store_path, ledger, alice):
    _decide(ledger, alice, "waive", expires=FAR)
    _sql(store_path, "UPDATE review_ledger SET expires = 'not-a-date' WHERE seq = 1")
    with pytest.raises(LedgerBrokenError, match="broken at entry 1: its contents do not match its hash"):
        ledger.active_waivers(NOW.date())
    (entry,) = ledger.entries()
    assert entry.active_on(NOW.date()) is False  # unverified readers do not crash either


@pytest.fixture(scope="module")
def template(tmp_path_factory, reviewers, alice) -> Path:
    """A store with three signed entries, copied for each example below."""
    path = tmp_path_factory.mktemp("template") / "runs.sqlite"
    ledger = Ledger(RunStore(str(path)), reviewers=reviewers)
    _decide(ledger, alice, "waive", expires=FAR)
    _decide(ledger, alice, "reject", sha="c" * 64)
    _decide(ledger, alice, "approve", sha="d" * 64)
    ledger.engine.dispose()
    return path


@settings(max_examples=40, deadline=None, database=None)  # no .hypothesis folder in the checkout
@given(seq=st.integers(1, 3), column=st.sampled_from(COLUMNS[1:]),
       value=st.one_of(st.text(max_size=80), st.none(), st.integers(-2 ** 63, 2 ** 63 - 1),
                       st.binary(max_size=8)))
def test_any_change_to_any_field_is_named(template, reviewers, seq, column, value):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.sqlite"
        shutil.copy(template, path)
        with sqlite3.connect(path) as conn:
            before = conn.execute(f"SELECT {column} FROM review_ledger WHERE seq = ?", (seq,)).fetchone()[0]
            if value == before:
                return
            conn.execute("DROP TRIGGER review_ledger_no_update")
            try:
                conn.execute(f"UPDATE review_ledger SET {column} = ? WHERE seq = ?", (value, seq))
            except sqlite3.IntegrityError:  # NOT NULL, or a link that another entry holds
                return
        ledger = Ledger(RunStore(str(path)), reviewers=reviewers)
        result = ledger.verify()
        ledger.engine.dispose()
    assert not result.ok and result.broken_seq == seq, (column, value, result)
