"""The release record: written only for a passing audit, signed, and broken by any change to the
record or to a file it names."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from aigc_audit.errors import AuditError
from aigc_audit.governance import attestation, reports
from aigc_audit.governance.report import Finding, Report
from aigc_audit.governance.runner import run_audit
from tests.conftest import ROOT

POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"


@pytest.fixture
def key(tmp_path):
    private, public = attestation.generate_key(tmp_path / "keys" / "release")
    return attestation.load_private_key(private), attestation.load_public_key(public)


def _audit(samples: Path, reference: Path, out: Path) -> Path:
    report = run_audit(samples, POLICY, reference=reference).report
    return reports.write_reports(report, out, ["json"])["json"]


@pytest.fixture
def passing(tmp_path, clean_samples, reference_set):
    return _audit(clean_samples, reference_set, tmp_path / "out")


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path):
    private, public = attestation.generate_key(tmp_path / "k")
    assert private.stat().st_mode & 0o777 == 0o600 and public == tmp_path / "k.pub"
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    with pytest.raises(AuditError, match=r"k exists; choose another path"):
        attestation.generate_key(tmp_path / "k")


def test_record_names_every_input_and_verifies(tmp_path, key, passing, clean_samples, reference_set):
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights")
    record = attestation.build_record(passing, key[0], samples=clean_samples, reference=reference_set,
                                      policy=POLICY, model=model)
    report = Report.from_dict(json.loads(passing.read_text()))
    subjects = record["subjects"]
    assert subjects["samples"]["sha256"] == report.samples.sha256
    assert subjects["reference"]["sha256"] == report.reference.sha256
    assert subjects["policy"]["sha256"] == report.policy.sha256
    assert subjects["model"]["sha256"] == hashlib.sha256(b"weights").hexdigest()
    assert subjects["report"]["sha256"] == hashlib.sha256(passing.read_bytes()).hexdigest()
    assert record["verdict"] == "pass" and record["run_id"] == report.run_id
    files = {"report": passing, "samples": clean_samples, "reference": reference_set, "policy": POLICY,
             "model": model}
    result = attestation.verify_record(record, key[1], files)
    assert result.ok, result.problem
    assert result.checked == ("signature", "report", "policy", "samples", "reference", "model")


def test_failing_audit_gets_no_record(tmp_path, key, copied_samples, reference_set):
    failing = _audit(copied_samples, reference_set, tmp_path / "out")
    with pytest.raises(attestation.NotReleasable, match=r"did not pass \(verdict fail; failed rules "
                                                        r"\['copyright.text.near_duplicate'"):
        attestation.build_record(failing, key[0])


def test_warning_audit_is_refused_only_under_strict(tmp_path, key, passing):
    data = json.loads(passing.read_text())
    data["verdict"] = "warn"
    warned = tmp_path / "warned.json"
    warned.write_text(json.dumps(data))
    assert attestation.build_record(warned, key[0])["verdict"] == "warn"
    with pytest.raises(attestation.NotReleasable, match="verdict warn"):
        attestation.build_record(warned, key[0], strict=True)


def test_samples_that_are_not_the_audited_ones_are_refused(tmp_path, key, passing, copied_samples):
    with pytest.raises(AuditError, match=r"the samples at .* is not what run .* audited"):
        attestation.build_record(passing, key[0], samples=copied_samples)


def test_waivers_the_audit_applied_are_recorded(tmp_path, key, passing):
    report = Report.from_dict(json.loads(passing.read_text()))
    waived = Finding("copy", "s-1", "error", "waived", "copied; waived by ana until 2027-01-01 (ledger "
                     "entry 3): licensed", 0.9)
    path = tmp_path / "waived.json"
    path.write_text(json.dumps(replace(report, waived=(waived,), item_sha256={"s-1": "ab" * 32}).to_dict()))
    record = attestation.build_record(path, key[0])
    assert record["waived"] == [{"rule_id": "copy", "item_id": "s-1", "item_sha256": "ab" * 32,
                                 "decision": waived.message}]


def _changed(record: dict, key: tuple, files: dict) -> str:
    result = attestation.verify_record(record, key[1], files)
    assert not result.ok
    return result.problem


def test_changed_record_report_policy_or_samples_fail_verification(tmp_path, key, passing, clean_samples):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.read_text())
    record = attestation.build_record(passing, key[0], policy=policy)
    # The record itself: a changed verdict breaks the signature.
    forged = {**record, "verdict": "pass ", "waived": []}
    assert "signature does not verify" in _changed(forged, key, {})
    # Another key.
    other = attestation.load_public_key(attestation.generate_key(tmp_path / "other")[1])
    assert "signature does not verify with public key" in attestation.verify_record(record, other).problem
    # The files it names.
    passing.write_text(passing.read_text().replace('"pass"', '"pass" '))
    assert _changed(record, key, {"report": passing}).startswith("report changed:")
    policy.write_text(policy.read_text().replace("max: 0.35", "max: 0.9"))
    assert _changed(record, key, {"policy": policy}).startswith("policy changed:")
    manifest = clean_samples / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace("quiet river", "loud river"))
    assert _changed(record, key, {"samples": clean_samples}).startswith("samples changed:")


def test_a_record_without_the_named_subject_says_so(key, passing, tmp_path):
    record = attestation.build_record(passing, key[0])
    assert "names no model" in _changed(record, key, {"model": tmp_path / "m.pt"})


def test_malformed_keys_and_records_are_named(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(AuditError, match=r"bad.pem.*is not an unencrypted PEM private key"):
        attestation.load_private_key(bad)
    with pytest.raises(AuditError, match=r"not found; create one with 'aigc-audit attest keygen"):
        attestation.load_private_key(tmp_path / "missing")
    record = tmp_path / "release.json"
    record.write_text('{"schema": "other"}')
    with pytest.raises(AuditError, match=r"is not a release record \(schema 'other'"):
        attestation.read_record(record)
