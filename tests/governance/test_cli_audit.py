"""The audit command as CI runs it: exit codes, report contents, store rows."""

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from aigc_audit.governance.store import RunStore
from tests.conftest import ROOT, run_cli

POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"


def _audit(samples: Path, reference: Path, out: Path, store: Path, *extra: str):
    return run_cli("audit", "--samples", str(samples), "--reference", str(reference), "--policy",
                   str(POLICY), "--out", str(out), "--store", str(store), *extra)


def test_clean_release_passes_and_is_stored(tmp_path, clean_samples, reference_set):
    result = _audit(clean_samples, reference_set, tmp_path / "out", tmp_path / "runs.sqlite")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["schema"] == "aigc-audit/report/v2" and report["verdict"] == "pass"
    assert report["inputs"]["samples"]["n_items"] == 3 and len(report["inputs"]["samples"]["sha256"]) == 64
    assert len(report["inputs"]["reference"]["sha256"]) == 64
    assert len(report["policy"]["sha256"]) == 64 and report["tool"]["name"] == "aigc-audit"
    assert {r["status"] for r in report["rules"]} == {"pass"} and report["findings"] == []
    assert "PASS" in (tmp_path / "out" / "report.md").read_text()
    runs = RunStore(str(tmp_path / "runs.sqlite")).list_runs()
    assert [r["run_id"] for r in runs] == [report["run_id"]] and runs[0]["verdict"] == "pass"


def test_copied_release_fails_with_evidence(tmp_path, copied_samples, reference_set):
    result = _audit(copied_samples, reference_set, tmp_path / "out", tmp_path / "runs.sqlite")
    assert result.returncode == 1, result.stderr
    assert "FAIL" in result.stdout and "copyright.text.near_duplicate" in result.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "fail"
    rule = next(r for r in report["rules"] if r["rule_id"] == "copyright.text.near_duplicate")
    assert rule["status"] == "fail" and rule["value"] == pytest.approx(2 / 3) and rule["limit"] == 0.0
    flagged = {f["item_id"]: f for f in report["findings"] if f["rule_id"] == rule["rule_id"]}
    assert set(flagged) == {"c-1", "c-2"}
    assert flagged["c-1"]["evidence"]["match_id"] == "ref-2"
    assert flagged["c-1"]["evidence"]["match_license"] == "public domain"
    assert flagged["c-2"]["evidence"]["shared"][0]["text"].startswith("Tomorrow and tomorrow")
    assert set(rule["worst_items"]) == {"c-1", "c-2"}
    junit = (tmp_path / "out" / "junit.xml").read_text()
    assert 'failures="1"' in junit and "worst items: c-1, c-2" in junit
    engine = create_engine(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    with engine.connect() as conn:
        rows = conn.execute(text("select item_id, status from findings where rule_id = :r"),
                            {"r": rule["rule_id"]}).all()
        assert sorted(rows) == [("c-1", "fail"), ("c-2", "fail")]
        statuses = dict(conn.execute(text("select rule_id, status from rule_results")).all())
    assert statuses == {"integrity.unreadable_items": "pass", "copyright.text.near_duplicate": "fail",
                        "copyright.text.max_similarity": "fail"}


def test_warning_passes_unless_strict(tmp_path, reference_set):
    samples = tmp_path / "s.txt"
    # Shares 6 of 13 five-word shingles with ref-3: above the 0.35 warning, under the 0.5 error.
    samples.write_text("Friends Romans countrymen lend me your ears I come to bless the good king\n")
    result = _audit(samples, reference_set, tmp_path / "out", tmp_path / "runs.sqlite")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "warn" and result.returncode == 0, result.stdout
    strict = _audit(samples, reference_set, tmp_path / "out2", tmp_path / "runs.sqlite", "--strict")
    assert strict.returncode == 1


@pytest.mark.parametrize("content, message", [
    (b"", r"samples set is empty"),
    (b"ok\n\xff\xfe\n", r"s\.txt:2: invalid UTF-8"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, reference_set, content, message):
    import re

    samples = tmp_path / "s.txt"
    samples.write_bytes(content)
    result = _audit(samples, reference_set, tmp_path / "out", tmp_path / "runs.sqlite")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert re.search(message, result.stderr)
    assert not (tmp_path / "out" / "report.json").exists()


def test_bad_policy_and_missing_reference_exit_2(tmp_path, clean_samples, reference_set):
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - id: x\n    evaluator: nope\n    metric: m\n    max: 1\n    level: error\n")
    result = run_cli("audit", "--samples", str(clean_samples), "--reference", str(reference_set),
                     "--policy", str(policy), "--out", str(tmp_path / "o"), "--store",
                     str(tmp_path / "r.sqlite"))
    assert (result.returncode == 2
            and "p.yaml:3: rules[0].evaluator: unknown evaluator 'nope'" in result.stderr)
    result = run_cli("audit", "--samples", str(clean_samples), "--out", str(tmp_path / "o"),
                     "--policy", str(POLICY), "--store", str(tmp_path / "r.sqlite"))
    assert result.returncode == 2 and "pass --reference" in result.stderr
    result = run_cli("audit", "--samples", str(clean_samples), "--reference", str(reference_set),
                     "--policy", str(POLICY), "--out", str(tmp_path / "o"), "--store", "nosuchdb://x")
    assert result.returncode == 2 and "cannot open run store" in result.stderr


def test_runs_command_lists_stored_runs(tmp_path, clean_samples, copied_samples, reference_set):
    store = tmp_path / "runs.sqlite"
    _audit(clean_samples, reference_set, tmp_path / "a", store)
    _audit(copied_samples, reference_set, tmp_path / "b", store)
    listed = run_cli("runs", "--store", str(store), "--verdict", "fail")
    assert listed.returncode == 0 and "copied" in listed.stdout and "clean" not in listed.stdout


def test_waivers_file_takes_findings_out_of_the_count_and_names_expired_ones(tmp_path, copied_samples,
                                                                             reference_set):
    from datetime import date, timedelta

    today = date.today()
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "version: 1\nwaivers:\n"
        "  - rule: copyright.text.near_duplicate\n    items: [c-1, c-2]\n    reason: public-domain play\n"
        f"    approver: alice\n    expires: {today + timedelta(days=30)}\n"
        "  - rule: copyright.text.max_similarity\n    items: [c-*]\n    reason: was fine last year\n"
        f"    approver: bob\n    expires: {today - timedelta(days=2)}\n")
    result = _audit(copied_samples, reference_set, tmp_path / "out", tmp_path / "runs.sqlite",
                    "--waivers", str(waivers))
    # The error rule passes with both copies waived; the expired waiver no longer covers the warning.
    assert result.returncode == 0, result.stderr
    assert f"2 finding(s) waived by reviewers ({waivers}:3)" in result.stdout
    assert f"1 waiver(s) expired and no longer apply: {waivers}:8 (until {today - timedelta(days=2)})" \
        in result.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "warn"
    assert {(w["item_id"], w["status"]) for w in report["waived"]} == {("c-1", "waived"), ("c-2", "waived")}
    statuses = {r["rule_id"]: (r["status"], r["n_waived"]) for r in report["rules"]}
    assert statuses["copyright.text.near_duplicate"] == ("pass", 2) and report["findings"] == []
    assert statuses["copyright.text.max_similarity"] == ("fail", 0)  # a warning-level rule
    assert [w["origin"] for w in report["expired_waivers"]] == [f"{waivers}:8"]
    assert "## Expired waivers (1)" in (tmp_path / "out" / "report.md").read_text()

    ignored = _audit(copied_samples, reference_set, tmp_path / "again", tmp_path / "runs.sqlite",
                     "--waivers", str(waivers), "--ignore-waivers")
    assert ignored.returncode == 1
    assert json.loads((tmp_path / "again" / "report.json").read_text())["waived"] == []

    waivers.write_text(waivers.read_text().replace("copyright.text.max_similarity", "copyright.text.typo"))
    typo = _audit(copied_samples, reference_set, tmp_path / "typo", tmp_path / "runs.sqlite",
                  "--waivers", str(waivers))
    assert typo.returncode == 2 and typo.stderr.startswith(
        f"aigc-audit: error: {waivers}:8: rule: the policy 'text-copy' has no rule 'copyright.text.typo'")
