"""``aigc-audit attest`` as a release job runs it: exit codes and one-line messages."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, run_cli

POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"


def _audit(samples: Path, reference: Path, tmp_path: Path):
    return run_cli("audit", "--samples", str(samples), "--reference", str(reference), "--policy",
                   str(POLICY), "--out", "out", "--store", "runs.sqlite", cwd=tmp_path)


def test_attest_and_verify_a_passing_release(tmp_path, clean_samples, reference_set):
    assert _audit(clean_samples, reference_set, tmp_path).returncode == 0
    keygen = run_cli("attest", "keygen", "--out", "release-key", cwd=tmp_path)
    assert keygen.returncode == 0, keygen.stderr
    attest = run_cli("attest", "--report", "out/report.json", "--key", "release-key", "--out",
                     "release.json", "--samples", str(clean_samples), "--policy", str(POLICY), cwd=tmp_path)
    assert attest.returncode == 0, attest.stderr
    assert "release record of run" in attest.stdout
    record = json.loads((tmp_path / "release.json").read_text())
    assert record["verdict"] == "pass" and set(record["subjects"]) == {"report", "policy", "samples",
                                                                      "reference"}
    check = ("attest", "verify", "release.json", "--public-key", "release-key.pub", "--report",
             "out/report.json", "--policy", str(POLICY), "--samples", str(clean_samples))
    verified = run_cli(*check, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "valid" in verified.stdout and "checked signature, report, policy, samples" in verified.stdout

    # One changed sample: exit 1 and one line that names it.
    manifest = clean_samples / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace("pale and patient", "pale and impatient"))
    changed = run_cli(*check, cwd=tmp_path)
    assert changed.returncode == 1
    assert changed.stderr.count("\n") == 1 and "samples changed:" in changed.stderr
    assert "Traceback" not in changed.stderr


def test_failing_release_gets_no_record(tmp_path, copied_samples, reference_set):
    assert _audit(copied_samples, reference_set, tmp_path).returncode == 1
    assert run_cli("attest", "keygen", "--out", "k", cwd=tmp_path).returncode == 0
    result = run_cli("attest", "--report", "out/report.json", "--key", "k", "--out", "release.json",
                     cwd=tmp_path)
    assert result.returncode == 1
    assert "did not pass (verdict fail" in result.stderr and "only a passing audit" in result.stderr
    assert not (tmp_path / "release.json").exists()


def test_attest_usage_errors_exit_2_with_one_line(tmp_path):
    missing = run_cli("attest", "--report", "r.json", cwd=tmp_path)
    assert missing.returncode == 2 and "attest needs --key, --out" in missing.stderr
    no_key = run_cli("attest", "verify", "nothing.json", "--public-key", "k.pub", cwd=tmp_path)
    assert no_key.returncode == 2 and "release record not found" in no_key.stderr
    assert no_key.stderr.count("\n") == 1
