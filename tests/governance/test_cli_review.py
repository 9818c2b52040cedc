"""``aigc-audit ledger``, ``reviewer`` and ``dashboard``, and waivers honoured by the next audit."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from aigc_audit.governance.cli import build_parser, main
from aigc_audit.governance.cli_review import dashboard_command, streamlit_argv
from aigc_audit.governance.ledger import Ledger
from aigc_audit.governance.reviewers import Reviewer, authenticate
from aigc_audit.governance.runner import run_audit
from aigc_audit.governance.store import RunStore, store_url
from aigc_audit.governance.waivers import LedgerWaivers

ALICE = Reviewer("alice", "test")
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


def _waive(store: RunStore, report: dict, item: str, *, expires: date,
           rule: str = "copyright.text.near_duplicate") -> None:
    Ledger(store).append(ALICE, decision="waive", rule_id=rule, item_id=item,
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


def test_ledger_verify_exit_codes(tmp_path, capsys):
    store_path = tmp_path / "runs.sqlite"
    store = RunStore(str(store_path))
    ledger = Ledger(store)
    for item in ("a", "b"):
        ledger.append(ALICE, decision="approve", rule_id="r", item_id=item, item_sha256=item * 64,
                      run_id="run", samples_sha256="0" * 64, reason="fine")
    assert main(["ledger", "verify", "--store", str(store_path)]) == 0
    assert "ledger intact: 2 entries" in capsys.readouterr().out
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


def test_next_audit_applies_unexpired_waivers(tmp_path, copied_samples, reference_set, policy,
                                              monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    store_path = tmp_path / "runs.sqlite"
    args = ["audit", "--samples", str(copied_samples), "--reference", str(reference_set),
            "--policy", str(policy), "--store", str(store_path)]
    assert main([*args, "--out", str(tmp_path / "first")]) == 1
    report = json.loads((tmp_path / "first" / "report.json").read_text())
    store = RunStore(str(store_path))
    for item in ("c-1", "c-2"):
        _waive(store, report, item, expires=date.today() + timedelta(days=30))

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


def test_waivers_match_content_and_expire(tmp_path, copied_samples, reference_set, policy):
    store = RunStore(str(tmp_path / "runs.sqlite"))
    report = run_audit(copied_samples, policy, reference=reference_set).report.to_dict()
    _waive(store, report, "c-1", expires=date.today() + timedelta(days=1))
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
