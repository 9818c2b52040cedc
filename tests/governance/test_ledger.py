"""The review ledger: hash chain, tamper detection, concurrent writers, decisions in force.

Signatures, forged rows and malformed entries: ``test_ledger_signatures.py``."""

from __future__ import annotations

import base64
import hashlib
import multiprocessing
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from aigc_audit.errors import AuditError
from aigc_audit.governance.ledger import GENESIS, Ledger, entry_hash, signed_message
from aigc_audit.governance.reviewers import Reviewer, add_reviewer, authenticate, keys_path
from aigc_audit.governance.store import RunStore
from aigc_audit.sampleset import Item, content_sha256

PASSWORD = "correct horse"
NAMES = ("alice", "a", "b", "p", "q")
TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def reviewers(tmp_path_factory) -> Path:
    """A password file (and keys file) with every reviewer these tests sign as."""
    path = tmp_path_factory.mktemp("reviewers") / "reviewers"
    for name in NAMES:
        add_reviewer(path, name, PASSWORD)
    return path


@pytest.fixture(scope="module")
def logins(reviewers) -> dict[str, Reviewer]:
    return {name: authenticate(reviewers, name, PASSWORD) for name in NAMES}


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(str(tmp_path / "runs.sqlite"))


@pytest.fixture
def ledger(store, reviewers) -> Ledger:
    return Ledger(store, reviewers=reviewers)


@pytest.fixture
def alice(logins) -> Reviewer:
    return logins["alice"]


def _append(ledger: Ledger, reviewer: Reviewer, n: int = 1, *, decision: str = "approve",
            item: str = "s-1", sha: str = "a" * 64, expires: date | None = None, now=NOW):
    return [ledger.append(reviewer, decision=decision, rule_id="copyright.text.near_duplicate",
                          item_id=item, item_sha256=sha, run_id="run-1", samples_sha256="b" * 64,
                          reason=f"reason {i}", expires=expires, now=now) for i in range(n)]


def _tamper(store: RunStore, sql: str) -> None:
    """Edit the database file directly, as someone with write access to it could."""
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER review_ledger_no_update"))
        conn.execute(text("DROP TRIGGER review_ledger_no_delete"))
        conn.execute(text(sql))


def test_entries_chain_by_hash_and_are_signed(ledger, alice, reviewers):
    first, second = _append(ledger, alice, 2)
    assert first.seq == 1 and first.prev_hash == GENESIS
    assert second.seq == 2 and second.prev_hash == first.entry_hash
    assert first.entry_hash == first.computed_hash() and len(first.entry_hash) == 64
    # The signature is alice's, over the canonical fields with the sequence number and the link.
    public = alice.signing_key.public_key()
    public.verify(base64.b64decode(first.signature), signed_message(first.to_dict()))
    assert b'"prev_hash":"' + GENESIS.encode() in signed_message(first.to_dict())
    assert b'"seq":1' in signed_message(first.to_dict())
    assert b"entry_hash" not in signed_message(first.to_dict())
    public_b64 = base64.b64encode(alice.public_key()).decode()
    assert f"alice:ed25519:{public_b64}:" in keys_path(reviewers).read_text()
    assert first == ledger.entries()[0]
    result = ledger.verify()
    assert result.ok and result.n_entries == 2 and result.head == second.entry_hash
    assert str(result) == f"ledger intact: 2 entries, head {second.entry_hash}"


def test_hash_covers_every_field():
    fields = {"seq": 1, "reason": "ok", "prev_hash": GENESIS}
    assert entry_hash(fields) != entry_hash({**fields, "reason": "ok "})
    assert entry_hash(fields) != entry_hash({**fields, "prev_hash": "1" * 64})


@pytest.mark.parametrize("sql, broken, problem", [
    ("UPDATE review_ledger SET reason = 'edited' WHERE seq = 2", 2, "contents do not match its hash"),
    ("UPDATE review_ledger SET reviewer = 'mallory' WHERE seq = 1", 1, "contents do not match"),
    ("DELETE FROM review_ledger WHERE seq = 2", 3, "sequence number 3 where 2 was expected"),
    ("UPDATE review_ledger SET decision = 'waive', expires = '2099-01-01' WHERE seq = 3", 3,
     "the entry was edited"),
])
def test_verify_names_the_first_broken_entry(store, ledger, alice, sql, broken, problem):
    _append(ledger, alice, 4)
    _tamper(store, sql)
    result = ledger.verify()
    assert not result.ok and result.broken_seq == broken and problem in result.problem
    assert str(result).startswith(f"ledger broken at entry {broken}: ")


def test_rewritten_entry_with_recomputed_hash_fails_its_signature(store, ledger, alice):
    entries = _append(ledger, alice, 3)
    forged = {**entries[1].hashed_fields(), "reason": "forged"}
    _tamper(store, f"UPDATE review_ledger SET reason = 'forged', entry_hash = '{entry_hash(forged)}' "
                   "WHERE seq = 2")
    result = ledger.verify()
    assert result.broken_seq == 2 and "its signature does not verify with the key(s) of reviewer " \
        "'alice'" in result.problem and result.problem.endswith("the entry was forged or edited")


def test_sqlite_refuses_update_and_delete(store, ledger, alice):
    _append(ledger, alice)
    for sql in ("UPDATE review_ledger SET reason = 'x'", "DELETE FROM review_ledger"):
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert ledger.verify().ok


INSERT = ("INSERT INTO review_ledger VALUES (:seq, :created_at, :reviewer, :decision, :rule_id, :item_id, "
          ":item_sha256, :run_id, :samples_sha256, :reason, :expires, :prev_hash, :entry_hash, :signature)")


def test_a_forked_chain_is_refused_by_the_database(store, ledger, alice):
    first = _append(ledger, alice)[0]
    row = {**first.to_dict(), "seq": 2}
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(text(INSERT), row)
    # Without the trigger (dropped by whoever can write the file), the unique link still refuses it.
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER review_ledger_insert_at_head"))
    with pytest.raises(IntegrityError, match="UNIQUE"), store.engine.begin() as conn:
        conn.execute(text(INSERT), row)


@pytest.mark.parametrize("change, why", [
    ({"seq": 5}, "a gap"),
    ({"seq": 2, "prev_hash": GENESIS.replace("0", "1")}, "a link to no entry"),
    ({"signature": None}, "unsigned"),
])
def test_sqlite_takes_new_entries_only_at_the_head_and_signed(store, ledger, alice, change, why):
    first = _append(ledger, alice)[0]
    row = {**first.to_dict(), "seq": 2, "prev_hash": first.entry_hash, **change}
    with pytest.raises(IntegrityError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(INSERT), row)
    assert len(ledger.entries()) == 1, why


def test_dropped_triggers_come_back_when_the_ledger_is_opened(store, reviewers):
    Ledger(store, reviewers=reviewers)
    with store.engine.begin() as conn:
        for action in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER review_ledger_no_{action}"))
        conn.execute(text("DROP TRIGGER review_ledger_insert_at_head"))
    Ledger(store, reviewers=reviewers)
    with store.engine.connect() as conn:
        triggers = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert triggers == {"review_ledger_no_update", "review_ledger_no_delete", "review_ledger_insert_at_head"}


def _appender(url: str, reviewers: Path, reviewer: Reviewer, n: int, barrier) -> None:
    ledger = Ledger(RunStore(url), reviewers=reviewers)
    barrier.wait()
    _append(ledger, reviewer, n, now=datetime.now(UTC))


def test_two_threads_appending_at_once_lose_nothing(tmp_path, reviewers, logins):
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    Ledger(RunStore(url), reviewers=reviewers)
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=_appender, args=(url, reviewers, logins[name], 25, barrier))
               for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger = Ledger(RunStore(url), reviewers=reviewers)
    entries = ledger.entries()
    assert [e.seq for e in entries] == list(range(1, 51))
    assert sorted(e.reviewer for e in entries) == ["a"] * 25 + ["b"] * 25
    assert ledger.verify().ok


def test_two_processes_appending_at_once_lose_nothing(tmp_path, reviewers, logins):
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    Ledger(RunStore(url), reviewers=reviewers)
    context = multiprocessing.get_context("fork")  # fork: no re-import of the suite in each child
    barrier = context.Barrier(2)
    processes = [context.Process(target=_appender, args=(url, reviewers, logins[name], 20, barrier))
                 for name in ("p", "q")]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    ledger = Ledger(RunStore(url), reviewers=reviewers)
    assert sorted(e.reviewer for e in ledger.entries()) == ["p"] * 20 + ["q"] * 20
    assert ledger.verify().ok and ledger.verify().n_entries == 40


@pytest.mark.parametrize("kwargs, message", [
    ({"decision": "maybe"}, r"decision must be one of \['approve', 'waive', 'reject'\]; got 'maybe'"),
    ({"reason": "  "}, r"a approve decision needs a reason"),
    ({"decision": "waive"}, r"a waiver needs an expiry date"),
    ({"decision": "waive", "expires": TODAY - timedelta(days=1)},
     r"expiry date must be today or later; got 2026-11-27 \(today is 2026-11-28\)"),
    ({"decision": "reject", "expires": TODAY}, r"only a waiver has an expiry date"),
])
def test_invalid_decisions_are_refused(ledger, alice, kwargs, message):
    fields = {"decision": "approve", "rule_id": "r", "item_id": "i", "item_sha256": "a" * 64,
              "run_id": "run", "samples_sha256": "b" * 64, "reason": "because", "now": NOW, **kwargs}
    with pytest.raises(AuditError, match=message):
        ledger.append(alice, **fields)
    assert ledger.entries() == []


def test_no_anonymous_decisions(ledger):
    with pytest.raises(AuditError, match="only a logged-in reviewer can record a decision"):
        ledger.append("alice", decision="approve", rule_id="r", item_id="i",
                      item_sha256="a" * 64, run_id="run", samples_sha256="b" * 64, reason="x")


def test_the_newest_decision_is_in_force_and_waivers_expire(ledger, alice):
    _append(ledger, alice, decision="waive", item="s-1", sha="1" * 64, expires=TODAY + timedelta(days=10))
    _append(ledger, alice, decision="waive", item="s-2", sha="2" * 64, expires=TODAY + timedelta(days=10))
    _append(ledger, alice, decision="reject", item="s-2", sha="2" * 64)  # revokes the waiver on s-2
    _append(ledger, alice, decision="waive", item="s-3", sha="3" * 64, expires=TODAY)
    rule = "copyright.text.near_duplicate"
    assert set(ledger.active_waivers(TODAY)) == {(rule, "1" * 64), (rule, "3" * 64)}
    assert set(ledger.active_waivers(TODAY + timedelta(days=1))) == {(rule, "1" * 64)}
    assert ledger.active_waivers(TODAY + timedelta(days=11)) == {}
    assert ledger.latest()[(rule, "2" * 64)].decision == "reject"


def test_content_hash_is_of_the_text_or_the_file(tmp_path):
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG not really")
    assert content_sha256(Item("x", "text", text="abc")) == content_sha256(Item("y", "text", text="abc"))
    assert content_sha256(Item("x", "text", text="abc")) != content_sha256(Item("x", "text", text="abd"))
    assert content_sha256(Item("x", "image", path=image)) == hashlib.sha256(image.read_bytes()).hexdigest()
