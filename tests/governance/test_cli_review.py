"""``aigc-audit ledger``, ``reviewer`` and ``dashboard``, and waivers honoured by the next audit."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from aigc_audit.governance.cli import build_parser, main
from aigc_audit.governance.cli_review import dashboard_command, streamlit_argv
from aigc_audit.governance.ledger import Ledger, entry_hash
from aigc_audit.governance.reviewers import REVIEWERS_ENV, Reviewer, add_reviewer, authenticate, keys_path
from aigc_audit.governance.runner import run_audit
from aigc_audit.governance.store import RunStore, store_url
from aigc_audit.governance.waivers import LedgerWaivers

PASSWORD = "correct horse"
# A fixed policy: the waiver tests must not move with the shipped one.
POLICY = """\
version: 1
name: copying
rules:
  - id: copyright.text.near_duplicate
    evaluator: text_near_duplicate
    metric: share_flagged
    max: 0.0
    level: error
    params: {threshold: 0.5}
  - id: copyright.text.max_similarity
    evaluator: text_near_duplicate
    metric: max_similarity
    max: 0.35
    level: warning
    params: {threshold: 0.5}
"""


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "copying.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture(scope="module")
def module_reviewers(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reviewers") / "reviewers"
    add_reviewer(path, "alice", PASSWORD)
    return path


@pytest.fixture
def reviewers(module_reviewers, monkeypatch) -> Path:
    """The password file every command here (and the audit) checks signatures against."""
    monkeypatch.setenv(REVIEWERS_ENV, str(module_reviewers))
    return module_reviewers


@pytest.fixture(scope="module")
def alice(module_reviewers) -> Reviewer:
    return authenticate(module_reviewers, "alice", PASSWORD)


def _waive(store: RunStore, report: dict, item: str, reviewer: Reviewer, *, expires: date,
           rule: str = "copyright.text.near_duplicate") -> None:
    Ledger(store).append(reviewer, decision="waive", rule_id=rule, item_id=item,
                         item_sha256=report["item_sha256"][item], run_id=report["run_id"],
                         samples_sha256=report["inputs"]["samples"]["sha256"],
                         reason=f"{item} quotes a public-domain play", expires=expires)


def test_reviewer_add_reads_the_password_from_stdin(tmp_path, monkeypatch, capsys):
    path = tmp_path / "reviewers"
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["reviewer", "add", "alice", "--file", str(path), "--password-stdin"]) == 0
    assert "reviewer alice added" in capsys.readouterr().out
    assert authenticate(path, "alice", "correct horse") is not None
    assert main(["reviewer", "list", "--file", str(path)]) == 0
    assert "1 reviewer(s)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["reviewer", "add", "bob", "--file", str(path), "--password-stdin"]) == 2
    assert "password must have at least 8 characters" in capsys.readouterr().err


def test_reviewer_add_refuses_a_name_with_a_newline(tmp_path, monkeypatch, capsys):
    path = tmp_path / "reviewers"
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["reviewer", "add", "alice", "--file", str(path), "--password-stdin"]) == 0
    assert f"(signing key in {keys_path(path)})" in capsys.readouterr().out
    before = path.read_text(), keys_path(path).read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("battery staple\n"))
    assert main(["reviewer", "add", "eve\n", "--file", str(path), "--password-stdin"]) == 2
    assert capsys.readouterr().err == ("aigc-audit: error: reviewer name must be 1-64 letters, digits, "
                                       "'.', '_', '@' or '-', starting with a letter or digit; "
                                       "got 'eve\\n'\n")
    assert (path.read_text(), keys_path(path).read_text()) == before
    assert authenticate(path, "alice", "correct horse") is not None  # later logins still work
    assert main(["reviewer", "list", "--file", str(path)]) == 0
    assert "1 reviewer(s)" in capsys.readouterr().out


def test_reviewer_remove_keeps_the_public_key(tmp_path, monkeypatch, capsys):
    path = tmp_path / "reviewers"
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["reviewer", "add", "alice", "--file", str(path), "--password-stdin"]) == 0
    assert main(["reviewer", "remove", "alice", "--file", str(path)]) == 0
    assert "their public key stays in the keys file" in capsys.readouterr().out
    assert keys_path(path).read_text().splitlines()[1].startswith("alice:ed25519:")


def test_ledger_verify_exit_codes(tmp_path, reviewers, alice, capsys):
    store_path = tmp_path / "runs.sqlite"
    store = RunStore(str(store_path))
    ledger = Ledger(store)
    for item in ("a", "b"):
        ledger.append(alice, decision="approve", rule_id="r", item_id=item, item_sha256=item * 64,
                      run_id="run", samples_sha256="0" * 64, reason="fine")
    assert main(["ledger", "verify", "--store", str(store_path)]) == 0
    assert f"ledger intact: 2 entries, head {ledger.verify().head}; signatures checked against " \
        f"{keys_path(reviewers)}" in capsys.readouterr().out
    assert main(["ledger", "list", "--store", str(store_path)]) == 0
    assert "alice" in capsys.readouterr().out
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER review_ledger_no_update"))
        conn.execute(text("UPDATE review_ledger SET decision = 'reject' WHERE seq = 2"))
    assert main(["ledger", "verify", "--store", str(store_path)]) == 1
    assert capsys.readouterr().err.strip() == ("aigc-audit: ledger broken at entry 2: its contents "
                                               "do not match its hash: the entry was edited")


def test_ledger_verify_on_an_unusable_store_exits_2(tmp_path, capsys):
    assert main(["ledger", "verify", "--store", "nosuchdialect://x"]) == 2
    assert "cannot open run store" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["verify", "list"])
@pytest.mark.parametrize("where", ["typo.sqlite", "no/such/folder/runs.sqlite", "/proc/no/runs.sqlite"])
def test_ledger_refuses_a_store_that_does_not_exist_and_creates_none(tmp_path, monkeypatch, capsys,
                                                                     command, where):
    monkeypatch.chdir(tmp_path)
    assert main(["ledger", command, "--store", where]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aigc-audit: error: no run store at ") and "check the path" in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_ledger_verify_without_the_keys_file_cannot_check(tmp_path, alice, module_reviewers, capsys):
    store_path = tmp_path / "runs.sqlite"
    Ledger(RunStore(str(store_path)), reviewers=module_reviewers).append(
        alice, decision="approve", rule_id="r", item_id="a", item_sha256="a" * 64, run_id="run",
        samples_sha256="0" * 64, reason="fine")
    missing = tmp_path / "elsewhere" / "reviewers"
    assert main(["ledger", "verify", "--store", str(store_path), "--reviewers", str(missing)]) == 2
    assert capsys.readouterr().err == (f"aigc-audit: error: cannot check the ledger's signatures: no "
                                       f"reviewer keys at {keys_path(missing)}; give --reviewers the "
                                       "password file the reviewers were added to (or set "
                                       "$AIGC_AUDIT_REVIEWERS)\n")
    assert main(["ledger", "verify", "--store", str(store_path), "--reviewers", str(module_reviewers)]) == 0


def _forge(store_path: Path, reviewer: str, *, seq: int, prev: str, item_sha256: str = "a" * 64,
           expires: str = "2099-12-31") -> None:
    """The reported attack: ``sqlite3 STORE "insert into review_ledger values (...)"``."""
    with sqlite3.connect(store_path) as conn:
        conn.execute("DROP TRIGGER IF EXISTS review_ledger_insert_at_head")
        conn.execute("INSERT INTO review_ledger VALUES (?, '2026-12-01T00:00:00+00:00', ?, 'waive', "
                     "'copyright.text.near_duplicate', 'c-1', ?, 'run', ?, 'trust me', ?, ?, ?, 'garbage')",
                     (seq, reviewer, item_sha256, "0" * 64, expires, prev, "0" * 64))


def test_ledger_verify_names_a_forged_row(tmp_path, reviewers, alice, capsys):
    store_path = tmp_path / "runs.sqlite"
    Ledger(RunStore(str(store_path))).append(
        alice, decision="approve", rule_id="r", item_id="a", item_sha256="a" * 64, run_id="run",
        samples_sha256="0" * 64, reason="fine")
    (head,) = Ledger(RunStore(str(store_path))).entries()
    _forge(store_path, "mallory", seq=2, prev=head.entry_hash)
    assert main(["ledger", "verify", "--store", str(store_path)]) == 1
    assert capsys.readouterr().err.startswith("aigc-audit: ledger broken at entry 2: its contents do not "
                                              "match its hash")


@pytest.fixture
def audit_args(tmp_path, copied_samples, reference_set, policy, reviewers, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    return ["audit", "--samples", str(copied_samples), "--reference", str(reference_set),
            "--policy", str(policy), "--store", str(tmp_path / "runs.sqlite")]


def test_a_forged_waiver_stops_the_audit_instead_of_passing_it(tmp_path, audit_args, capsys):
    assert main([*audit_args, "--out", str(tmp_path / "first")]) == 1
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    for seq, item in enumerate(("c-1", "c-2"), start=1):
        _forge(tmp_path / "runs.sqlite", "mallory", seq=seq, prev="0" * 64 if seq == 1 else "1" * 64,
               item_sha256=report["item_sha256"][item])
    assert main(["ledger", "verify", "--store", str(tmp_path / "runs.sqlite")]) == 1
    capsys.readouterr()
    assert main([*audit_args, "--out", str(tmp_path / "second")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"aigc-audit: error: the review ledger in sqlite:///{tmp_path}/"
                                   "runs.sqlite is broken at entry 1: its contents do not match its hash")
    assert "no decision from it was applied" in captured.err and captured.err.count("\n") == 1
    assert "waived" not in captured.out and not (tmp_path / "second" / "report.json").exists()
    assert main([*audit_args, "--out", str(tmp_path / "third"), "--ignore-waivers"]) == 1


def test_a_genuine_waiver_after_a_forged_one_is_not_applied_either(tmp_path, audit_args, alice, capsys):
    assert main([*audit_args, "--out", str(tmp_path / "first")]) == 1
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    store = RunStore(str(tmp_path / "runs.sqlite"))
    _waive(store, report, "c-1", alice, expires=date.today() + timedelta(days=30))
    (genuine,) = Ledger(store).entries()
    # A forged row with a hash and link that check out, but no signature anyone can make.
    forged = {**genuine.hashed_fields(), "seq": 2, "reviewer": "alice", "item_id": "c-2",
              "item_sha256": report["item_sha256"]["c-2"], "prev_hash": genuine.entry_hash}
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("INSERT INTO review_ledger VALUES (:seq, :created_at, :reviewer, :decision, :rule_id, "
                     ":item_id, :item_sha256, :run_id, :samples_sha256, :reason, :expires, :prev_hash, "
                     ":entry_hash, 'AAAA')", {**forged, "entry_hash": entry_hash(forged)})
    assert main([*audit_args, "--out", str(tmp_path / "second")]) == 2
    assert "is broken at entry 2: its signature does not verify with the key(s) of reviewer 'alice'" \
        in capsys.readouterr().err


def test_a_malformed_expiry_date_stops_the_audit_without_a_traceback(tmp_path, audit_args, alice, capsys):
    assert main([*audit_args, "--out", str(tmp_path / "first")]) == 1
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    store = RunStore(str(tmp_path / "runs.sqlite"))
    _waive(store, report, "c-1", alice, expires=date.today() + timedelta(days=30))
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("DROP TRIGGER review_ledger_no_update")
        conn.execute("UPDATE review_ledger SET expires = 'not-a-date' WHERE seq = 1")
    capsys.readouterr()
    assert main([*audit_args, "--out", str(tmp_path / "second")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aigc-audit: error: the review ledger in ") and "Traceback" not in err
    assert "is broken at entry 1: its contents do not match its hash" in err and err.count("\n") == 1


def test_an_audit_without_the_reviewers_keys_stops_on_a_ledger_it_cannot_check(
        tmp_path, audit_args, alice, monkeypatch, capsys):
    assert main([*audit_args, "--out", str(tmp_path / "first")]) == 1
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    _waive(RunStore(str(tmp_path / "runs.sqlite")), report, "c-1", alice,
           expires=date.today() + timedelta(days=30))
    monkeypatch.setenv(REVIEWERS_ENV, str(tmp_path / "nowhere" / "reviewers"))
    capsys.readouterr()
    assert main([*audit_args, "--out", str(tmp_path / "second")]) == 2
    assert "broken at entry 1: its reviewer 'alice' has no public key in " in capsys.readouterr().err


def test_next_audit_applies_unexpired_waivers(tmp_path, copied_samples, reference_set, policy,
                                              reviewers, alice, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    store_path = tmp_path / "runs.sqlite"
    args = ["audit", "--samples", str(copied_samples), "--reference", str(reference_set),
            "--policy", str(policy), "--store", str(store_path)]
    assert main([*args, "--out", str(tmp_path / "first")]) == 1
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    store = RunStore(str(store_path))
    for item in ("c-1", "c-2"):
        _waive(store, report, item, alice, expires=date.today() + timedelta(days=30))

    capsys.readouterr()
    # Both copies waived: the error rule passes; the aggregate warning (max similarity) still warns.
    assert main([*args, "--out", str(tmp_path / "second")]) == 0
    assert "2 finding(s) waived by reviewers (ledger entries [1, 2])" in capsys.readouterr().out
    waived = json.loads((tmp_path / "second" / "report.json").read_text())
    rule = next(r for r in waived["rules"] if r["rule_id"] == "copyright.text.near_duplicate")
    assert rule["status"] == "pass" and rule["value"] == 0.0
    assert rule["reason"] == "2 flagged item(s) waived by reviewers"
    assert waived["verdict"] == "warn" and waived["findings"] == []
    assert {w["item_id"] for w in waived["waived"]} == {"c-1", "c-2"}
    assert "waived by alice until" in waived["waived"][0]["message"]
    markdown = (tmp_path / "second" / "report.md").read_text()
    assert "## Waived by reviewers (2)" in markdown and "quotes a public-domain play" in markdown

    assert main([*args, "--out", str(tmp_path / "third"), "--ignore-waivers"]) == 1

    # The password file (and its keys) can be named on the command line instead of the environment.
    monkeypatch.setenv(REVIEWERS_ENV, str(tmp_path / "nowhere" / "reviewers"))
    assert main([*args, "--out", str(tmp_path / "fourth")]) == 2  # keys not found: cannot verify
    assert main([*args, "--out", str(tmp_path / "fifth"), "--reviewers", str(reviewers)]) == 0


def test_waivers_match_content_and_expire(tmp_path, copied_samples, reference_set, policy, reviewers,
                                          alice):
    store = RunStore(str(tmp_path / "runs.sqlite"))
    report = run_audit(copied_samples, policy, reference=reference_set).report.to_dict()
    _waive(store, report, "c-1", alice, expires=date.today() + timedelta(days=1))
    from aigc_audit.sampleset import load_sample_set

    samples = load_sample_set(copied_samples)
    today = LedgerWaivers.from_store(store, samples)
    assert today("copyright.text.near_duplicate", "c-1").startswith("waived by alice until")
    assert today("copyright.text.near_duplicate", "c-2") is None
    assert today("copyright.text.max_similarity", "c-1") is None  # another rule: not waived
    assert today.applied[0]["ledger_seq"] == 1
    later = LedgerWaivers.from_store(store, samples, day=date.today() + timedelta(days=2))
    assert later("copyright.text.near_duplicate", "c-1") is None

    # The same id with other content is another item: the waiver does not follow the id.
    manifest = copied_samples / "manifest.jsonl"
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    records[1]["text"] += " and then some"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
    changed = LedgerWaivers.from_store(store, load_sample_set(copied_samples))
    assert changed("copyright.text.near_duplicate", "c-1") is None


def test_dashboard_binds_to_loopback_unless_told(tmp_path):
    args = build_parser().parse_args(["dashboard", "--store", str(tmp_path / "runs.sqlite")])
    assert args.host == "127.0.0.1" and args.port == 8501
    argv = streamlit_argv(Path("app.py"), args.host, args.port)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.headless") + 1] == "true"
    assert dashboard_command("demo-out/runs.sqlite") == "aigc-audit dashboard --store demo-out/runs.sqlite"
    assert dashboard_command("my runs.sqlite") == "aigc-audit dashboard --store 'my runs.sqlite'"
    assert store_url(str(tmp_path / "x.sqlite")) == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert store_url("postgresql://db/runs") == "postgresql://db/runs"


@pytest.mark.parametrize("store", ["relative.sqlite", "sqlite:///relative.sqlite"])
def test_relative_store_paths_become_absolute(tmp_path, monkeypatch, store):
    monkeypatch.chdir(tmp_path)
    assert store_url(store) == f"sqlite:///{tmp_path / 'relative.sqlite'}"


def test_ledger_list_shows_a_hostile_row_as_text(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "300")
    store_path = tmp_path / "runs.sqlite"
    Ledger(RunStore(str(store_path)))
    _forge(store_path, "[bold]m\x1b[2J", seq=1, prev="0" * 64)
    assert main(["ledger", "list", "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "[bold]m\\x1b[2J" in out and "\x1b" not in out


def test_exported_waive_decisions_waive_the_same_findings_in_a_fresh_store(
        tmp_path, copied_samples, reference_set, policy, reviewers, alice, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    args = ["audit", "--samples", str(copied_samples), "--reference", str(reference_set),
            "--policy", str(policy)]
    store_path = tmp_path / "reviewed.sqlite"
    assert main([*args, "--store", str(store_path), "--out", str(tmp_path / "first")]) == 1
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    store = RunStore(str(store_path))
    expires = date.today() + timedelta(days=30)
    for item in ("c-1", "c-2"):
        _waive(store, report, item, alice, expires=expires)
    # A waiver revoked by a later decision is not exported.
    _waive(store, report, "c-1", alice, expires=expires, rule="copyright.text.max_similarity")
    Ledger(store).append(alice, decision="approve", rule_id="copyright.text.max_similarity", item_id="c-1",
                         item_sha256=report["item_sha256"]["c-1"], run_id=report["run_id"],
                         samples_sha256=report["inputs"]["samples"]["sha256"], reason="fine after all")

    waivers = tmp_path / "repo" / "waivers.yaml"
    waivers.parent.mkdir()
    capsys.readouterr()
    assert main(["ledger", "export-waivers", "--store", str(store_path), "--out", str(waivers)]) == 0
    assert f"2 waiver(s) from the ledger written to {waivers}" in capsys.readouterr().err
    exported = yaml.safe_load(waivers.read_text())
    assert exported["waivers"][0] == {
        "rule": "copyright.text.near_duplicate", "items": [f"sha256:{report['item_sha256']['c-1']}"],
        "reason": "c-1 quotes a public-domain play", "approver": "alice", "expires": expires}
    assert f"# ledger entry 1: item c-1 in run {report['run_id']}" in waivers.read_text()

    # A CI runner starts with an empty store: the committed file carries the decisions to it.
    fresh = tmp_path / "ci.sqlite"
    capsys.readouterr()
    assert main([*args, "--store", str(fresh), "--out", str(tmp_path / "ci"), "--waivers", str(waivers)]) == 0
    assert f"2 finding(s) waived by reviewers ({waivers}:4, {waivers}:11)" in capsys.readouterr().out
    ci = json.loads((tmp_path / "ci" / "report.json").read_text())
    assert {(w["rule_id"], w["item_id"]) for w in ci["waived"]} == {
        ("copyright.text.near_duplicate", "c-1"), ("copyright.text.near_duplicate", "c-2")}
    assert ci["findings"] == [] and Ledger(RunStore(str(fresh))).entries() == []

    # Standard output when no file is named; a ledger that does not verify exports nothing.
    assert main(["ledger", "export-waivers", "--store", str(store_path)]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == exported
    monkeypatch.setenv(REVIEWERS_ENV, str(tmp_path / "nowhere" / "reviewers"))
    refused = tmp_path / "x.yaml"
    assert main(["ledger", "export-waivers", "--store", str(store_path), "--out", str(refused)]) == 2
    assert "broken at entry 1" in capsys.readouterr().err and not refused.exists()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_the_dashboard_command_stops_its_server_on_a_signal(tmp_path, signum):
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = tmp_path / "runs.sqlite"
    log = tmp_path / "dashboard.log"
    with open(log, "w") as out:
        # Only the command is signalled (not its process group): it must stop Streamlit itself.
        command = subprocess.Popen([str(Path(sys.executable).parent / "aigc-audit"), "dashboard", "--store",
                                    str(store), "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert command.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"nothing listening on {port}:\n{log.read_text()}"
            time.sleep(0.2)
        (server,) = _children(command.pid)
        command.send_signal(getattr(signal, signum))
        assert command.wait(timeout=20) == 0, log.read_text()
        assert not Path(f"/proc/{server}").exists()  # reaped: not even a zombie is left
        assert not _listening(port)
        assert not store.exists()  # and viewing an empty store did not create it
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()
