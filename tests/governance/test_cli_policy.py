"""``policy validate``: several files at once, policies and waivers files told apart by content."""

from __future__ import annotations

from datetime import date, timedelta

from tests.conftest import ROOT, run_cli

POLICY = (ROOT / "tests" / "data" / "text-copy-policy.yaml").read_text()


def _entry(expires: date, rule: str = "copyright.text.near_duplicate") -> str:
    return (f"  - rule: {rule}\n    items: [c-1]\n    reason: public domain\n    approver: alice\n"
            f"    expires: {expires}\n")


def test_validate_takes_policies_and_waivers_files_and_notes_expired_waivers(tmp_path):
    yesterday = date.today() - timedelta(days=1)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY + "waivers:\n" + _entry(date.today()))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("version: 1\nwaivers:\n" + _entry(date.today() + timedelta(days=9))
                       + _entry(yesterday))
    result = run_cli("policy", "validate", str(policy), str(waivers), "strict")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{policy}: valid (3 rules, 1 waivers, sha256 ")
    assert lines[1:3] == [f"{waivers}: valid waivers file (2 waivers)",
                          f"{waivers}:8: note: waiver for copyright.text.near_duplicate expired on "
                          f"{yesterday}; it no longer applies"]
    assert lines[3].startswith("strict: valid (") and len(lines) == 4


def test_validate_reports_every_bad_file_and_exits_2(tmp_path):
    bad_policy = tmp_path / "policy.yaml"
    bad_policy.write_text(POLICY + "waivers:\n" + _entry(date.today()).replace("approver", "approved"))
    empty = tmp_path / "empty-waivers.yaml"
    empty.write_text("version: 1\nwaivers: []\n")
    result = run_cli("policy", "validate", str(bad_policy), str(empty))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{bad_policy}:26: waivers[0].approved: unknown key; valid keys are ['rule', 'items', 'reason', "
        "'approver', 'expires']",
        f"{bad_policy}:23: waivers[0].approver: missing; a waiver needs rule, items, reason, approver, "
        "expires"]
    assert result.stdout.splitlines() == [f"{empty}: valid waivers file (0 waivers)"]
