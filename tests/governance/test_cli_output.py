"""Output for machines and logs: ``--json`` on ``runs``, ``policy validate`` and ``ledger verify``;
``-q`` and ``-v``; no wrapping or cut ids when stdout is not a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aigc_audit.governance.cli import main
from aigc_audit.governance.ledger import Ledger
from aigc_audit.governance.reviewers import REVIEWERS_ENV, add_reviewer, authenticate
from aigc_audit.governance.store import RunStore
from tests.conftest import ROOT, run_cli

POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"
LONG_RULE = "copyright.text.a-rule-whose-name-is-much-longer-than-any-terminal-is-wide.near_duplicate"


def _cli_without_terminal(*args: str) -> subprocess.CompletedProcess:
    """The CLI as a CI job runs it: stdout a pipe, and no COLUMNS to size it by."""
    exe = Path(sys.executable).parent / "aigc-audit"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=600)


def _audit(tmp_path: Path, samples: Path, reference: Path, out: str = "out", *extra: str,
           policy: Path = POLICY) -> subprocess.CompletedProcess:
    return _cli_without_terminal("audit", "--samples", str(samples), "--reference", str(reference),
                                 "--policy", str(policy), "--out", str(tmp_path / out),
                                 "--store", str(tmp_path / "runs.sqlite"), *extra)


def test_runs_json_lists_every_stored_field(tmp_path, clean_samples, copied_samples, reference_set):
    _audit(tmp_path, clean_samples, reference_set, "a")
    _audit(tmp_path, copied_samples, reference_set, "b")
    result = run_cli("runs", "--store", str(tmp_path / "runs.sqlite"), "--json")
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    ids = [json.loads((tmp_path / d / "report.json").read_text())["run_id"] for d in ("b", "a")]
    assert [r["run_id"] for r in runs] == ids
    assert [r["verdict"] for r in runs] == ["fail", "pass"] and runs[0]["samples_path"] == str(copied_samples)
    assert {"created_at", "policy_name", "policy_sha256", "samples_sha256", "n_items"} <= set(runs[0])
    failed = json.loads(run_cli("runs", "--store", str(tmp_path / "runs.sqlite"), "--json", "--verdict",
                                "fail").stdout)
    assert [r["run_id"] for r in failed] == ids[:1]


def test_policy_validate_json_lists_each_policy_with_its_problems(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nrules:\n  - id: x\n    evaluator: nope\n")
    result = run_cli("policy", "validate", "--json", "default", str(bad))
    assert result.returncode == 2 and result.stderr == ""
    default, broken = json.loads(result.stdout)
    assert default["policy"] == "default" and default["valid"] and default["problems"] == []
    assert len(default["sha256"]) == 64 and default["rules"][0]["id"] == "integrity.unreadable_items"
    assert broken["policy"] == str(bad) and not broken["valid"]
    assert broken["problems"][0].startswith(f"{bad}:")
    ok = run_cli("policy", "validate", "--json", "default")
    assert ok.returncode == 0 and json.loads(ok.stdout)[0]["valid"]


def test_ledger_verify_json_says_intact_or_where_it_broke(tmp_path, monkeypatch, capsys):
    reviewers = tmp_path / "reviewers"
    add_reviewer(reviewers, "alice", "correct horse")
    monkeypatch.setenv(REVIEWERS_ENV, str(reviewers))
    store_path = tmp_path / "runs.sqlite"
    store = RunStore(str(store_path))
    ledger = Ledger(store)
    ledger.append(authenticate(reviewers, "alice", "correct horse"), decision="approve", rule_id="r",
                  item_id="a", item_sha256="a" * 64, run_id="run", samples_sha256="0" * 64, reason="fine")
    assert main(["ledger", "verify", "--store", str(store_path), "--json"]) == 0
    intact = json.loads(capsys.readouterr().out)
    assert intact["ok"] and intact["n_entries"] == 1 and intact["broken_seq"] is None
    assert intact["head"] == ledger.verify().head and intact["message"].startswith("ledger intact")
    from sqlalchemy import text

    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER review_ledger_no_update"))
        conn.execute(text("UPDATE review_ledger SET decision = 'reject' WHERE seq = 1"))
    assert main(["ledger", "verify", "--store", str(store_path), "--json"]) == 1
    broken = json.loads(capsys.readouterr().out)
    assert not broken["ok"] and broken["broken_seq"] == 1 and "the entry was edited" in broken["problem"]


def test_quiet_prints_only_the_verdict_line(tmp_path, copied_samples, reference_set):
    for where in (["-q", "audit"], ["audit", "-q"]):
        args = [*where, "--samples", str(copied_samples), "--reference", str(reference_set), "--policy",
                str(POLICY), "--out", str(tmp_path / "out"), "--store", str(tmp_path / "runs.sqlite")]
        result = _cli_without_terminal(*args)
        assert result.returncode == 1 and result.stderr == ""
        run_id = json.loads((tmp_path / "out" / "report.json").read_text())["run_id"]
        assert result.stdout == f"FAIL: exit 1, run {run_id}\n"
    # Errors still show.
    missing = _cli_without_terminal("-q", "audit", "--samples", str(tmp_path / "nope"), "--policy",
                                    str(POLICY), "--out", str(tmp_path / "o"), "--store",
                                    str(tmp_path / "runs.sqlite"))
    assert missing.returncode == 2 and missing.stdout == "" and "nope" in missing.stderr
    quiet_validate = _cli_without_terminal("policy", "validate", "-q", "default")
    assert quiet_validate.returncode == 0 and quiet_validate.stdout == ""


def test_verbose_prints_every_finding_and_rule_detail(tmp_path, copied_samples, reference_set):
    normal = _audit(tmp_path, copied_samples, reference_set, "a", "--show", "1")
    verbose = _audit(tmp_path, copied_samples, reference_set, "b", "--show", "1", "-v")
    assert normal.returncode == verbose.returncode == 1
    finding_lines = [line for line in normal.stdout.splitlines() if "[error/fail]" in line]
    assert len(finding_lines) == 1 and "1 more finding(s)" in normal.stdout
    assert len([line for line in verbose.stdout.splitlines() if "[error/fail]" in line]) == 2
    assert "more finding(s)" not in verbose.stdout
    listed = _cli_without_terminal("policy", "validate", "-v", str(POLICY))
    assert "  copyright.text.near_duplicate: text_near_duplicate.share_flagged <= 0 (error)" in listed.stdout


def test_quiet_and_verbose_together_are_refused():
    result = _cli_without_terminal("-q", "-v", "runs")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def test_output_off_a_terminal_neither_wraps_nor_cuts_ids(tmp_path, copied_samples, reference_set):
    policy = tmp_path / "long.yaml"
    policy.write_text(POLICY.read_text().replace("copyright.text.near_duplicate", LONG_RULE))
    deep = tmp_path / ("a-folder-with-a-long-name-" * 4) / "copied"
    deep.parent.mkdir()
    copied_samples.rename(deep)
    result = _audit(tmp_path, deep, reference_set, "out", policy=policy)
    assert result.returncode == 1, result.stderr
    table_rows = [line for line in result.stdout.splitlines() if LONG_RULE in line]
    assert table_rows and all(len(line) > 80 for line in table_rows)
    run_id = json.loads((tmp_path / "out" / "report.json").read_text())["run_id"]
    listed = _cli_without_terminal("runs", "--store", str(tmp_path / "runs.sqlite"))
    row, = [line for line in listed.stdout.splitlines() if run_id in line]
    assert str(deep) in row and "…" not in listed.stdout


@pytest.mark.parametrize("command", [["runs", "--json"], ["policy", "validate", "--json", "default"]])
def test_json_output_is_unaffected_by_quiet(tmp_path, command, clean_samples, reference_set):
    _audit(tmp_path, clean_samples, reference_set)
    if command[0] == "runs":
        command = [*command, "--store", str(tmp_path / "runs.sqlite")]
    assert json.loads(_cli_without_terminal("-q", *command).stdout)
