"""The audit command when its store, its output folder or the tool itself fails: exit 2 before the
work for what can be checked first, reports that always belong to a stored run, exit 3 (never 1)
for a bug, and no password or escape sequence printed."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from aigc_audit.errors import AuditError
from aigc_audit.governance import cli, runner
from aigc_audit.governance.store import RunStore, display_url
from tests.conftest import ROOT, run_cli, write_jsonl

POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"


def _audit(samples: Path, reference: Path, out: Path, store: str, *extra: str):
    return run_cli("audit", "--samples", str(samples), "--reference", str(reference), "--policy",
                   str(POLICY), "--out", str(out), "--store", store, *extra)


def _one_line_exit_2(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aigc-audit: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def never_runs(monkeypatch):
    """Fails the test if the audit itself starts: these problems must stop the run before."""
    def refuse(*args, **kwargs):
        raise AssertionError("the audit ran although the store or output could not be used")
    monkeypatch.setattr(runner, "run_audit", refuse)


def test_store_problems_stop_the_run_before_the_work(tmp_path, clean_samples, reference_set, never_runs,
                                                     capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    not_a_database = tmp_path / "notes.sqlite"
    not_a_database.write_text("these are notes, not a database " * 100)
    cases = [
        (str(blocker / "sub" / "runs.sqlite"), "cannot create the run store's folder"),
        (str(not_a_database), "file is not a database"),
        (str(tmp_path), "it is not a file"),
    ]
    for store, message in cases:
        code = cli.main(["audit", "--samples", str(clean_samples), "--reference", str(reference_set),
                         "--policy", str(POLICY), "--out", str(tmp_path / "out"), "--store", store])
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and line.startswith("aigc-audit: error: ") and message in line, line
    assert not (tmp_path / "out").exists()


def test_a_read_only_store_stops_the_run_before_the_work(tmp_path, clean_samples, reference_set):
    path = tmp_path / "runs.sqlite"
    RunStore(str(path)).engine.dispose()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    result = _audit(clean_samples, reference_set, tmp_path / "out", read_only)
    _one_line_exit_2(result, "cannot write to run store", "readonly")
    assert not (tmp_path / "out" / "report.json").exists()


def test_an_output_folder_that_cannot_take_reports_stops_the_run_before_the_work(tmp_path, clean_samples,
                                                                                   reference_set):
    existing_file = tmp_path / "out.txt"
    existing_file.write_text("x")
    result = _audit(clean_samples, reference_set, existing_file, str(tmp_path / "runs.sqlite"))
    _one_line_exit_2(result, "cannot write reports to", "it exists and is not a folder")
    result = _audit(clean_samples, reference_set, existing_file / "sub", str(tmp_path / "runs.sqlite"))
    _one_line_exit_2(result, "cannot write reports to")
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        assert conn.execute("select count(*) from runs").fetchone() == (0,)


def test_reports_on_disk_always_belong_to_a_stored_run(tmp_path, copied_samples, reference_set, monkeypatch):
    def lost_store(self, report):
        raise AuditError("the store went away")

    monkeypatch.setattr(RunStore, "record", lost_store)
    args = ["audit", "--samples", str(copied_samples), "--reference", str(reference_set), "--policy",
            str(POLICY), "--out", str(tmp_path / "out"), "--store", str(tmp_path / "runs.sqlite")]
    assert cli.main(args) == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []  # nothing for a run not stored


def test_a_stored_run_writes_its_reports_again(tmp_path, copied_samples, reference_set):
    store = str(tmp_path / "runs.sqlite")
    assert _audit(copied_samples, reference_set, tmp_path / "out", store).returncode == 1
    first = json.loads((tmp_path / "out" / "report.json").read_text())
    result = run_cli("report", first["run_id"], "--store", store, "--out", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "again" / "report.json").read_text()) == first
    assert (tmp_path / "again" / "junit.xml").read_text() == (tmp_path / "out" / "junit.xml").read_text()
    missing = run_cli("report", "nope", "--store", store, "--out", str(tmp_path / "x"))
    _one_line_exit_2(missing, "no run 'nope'")
    _one_line_exit_2(run_cli("runs", "--store", str(tmp_path / "typo.sqlite")), "no run store at")
    assert not (tmp_path / "typo.sqlite").exists()


def _open_store(path: str) -> str:
    try:
        RunStore(path)
        return "ok"
    except Exception as error:  # the test reports whatever went wrong
        return repr(error)


def test_processes_creating_one_new_store_at_once_all_succeed(tmp_path):
    path = str(tmp_path / "new" / "runs.sqlite")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert pool.map(_open_store, [path] * 4) == ["ok"] * 4


def test_passwords_in_store_urls_are_never_printed(tmp_path, clean_samples, reference_set):
    url = "postgresql+psycopg://auditor:s3cret-pw@127.0.0.1:9/runs"
    assert display_url(url) == "postgresql+psycopg://auditor:***@127.0.0.1:9/runs"
    result = _audit(clean_samples, reference_set, tmp_path / "out", url)
    assert result.returncode == 2 and "s3cret-pw" not in result.stdout + result.stderr
    assert "auditor:***@" in result.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://auditor:s3cret-pw@db.example:port/runs", "auditor:***@db.example:port/runs"),
    ("postgresql://auditor:s3cret-pw@[::1:5/runs", "auditor:***@[::1:5/runs"),
    ("://auditor:s3cret-pw@db.example/runs", "://auditor:***@db.example/runs"),
    ("postgresql://auditor:s3cret@pw@db.example:x/runs", "auditor:***@db.example:x/runs"),
])
def test_a_store_url_that_does_not_parse_is_bad_input_with_its_password_masked(url, shown):
    assert display_url(url).endswith(shown) and "s3cret" not in display_url(url)
    result = run_cli("runs", "--store", url)
    _one_line_exit_2(result, shown)
    assert "s3cret" not in result.stdout + result.stderr


def test_escape_sequences_in_ids_and_texts_never_reach_the_terminal(tmp_path, reference_set):
    hostile = "\x1b[2J\x1b]0;owned\x07\r\u202e"
    samples = write_jsonl(tmp_path / "s" / "manifest.jsonl", [
        {"id": f"c{hostile}1", "modality": "text",
         "text": f"All the world's a stage and all the men and women merely players {hostile}"}])
    result = _audit(samples.parent, reference_set, tmp_path / "out", str(tmp_path / "runs.sqlite"))
    assert result.returncode == 1, result.stderr
    printed = result.stdout + result.stderr
    assert not any(ch in printed for ch in "\x1b\x07\r\u202e")
    assert "\\x1b[2J" in printed  # shown, not acted on


def test_a_bug_exits_3_with_one_line_naming_the_traceback_file(tmp_path, monkeypatch, capsys,
                                                                 clean_samples, reference_set):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug \x1b[31m")

    monkeypatch.setattr(runner, "run_audit", broken)
    code = cli.main(["audit", "--samples", str(clean_samples), "--reference", str(reference_set), "--policy",
                     str(POLICY), "--out", str(tmp_path / "out"), "--store", str(tmp_path / "runs.sqlite")])
    assert code == cli.EXIT_INTERNAL == 3
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("aigc-audit: internal error: ZeroDivisionError: a bug \\x1b[31m; traceback in ")
    traceback_file = Path(line.split("traceback in ")[1].split(";")[0])
    assert "ZeroDivisionError" in traceback_file.read_text() and "run_audit" not in line
    traceback_file.unlink()
