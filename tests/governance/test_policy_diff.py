"""``policy diff``: each kind of change classified, and the CI gate on loosening."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.policy_diff import (
    CHANGED,
    LOOSER,
    STRICTER,
    PolicyChange,
    diff_policies,
    diff_waivers,
    loosened,
)
from aigc_audit.governance.waiver_file import Waiver
from tests.conftest import run_cli

BASE = """\
version: 1
name: base
rules:
  - id: copy.share
    evaluator: text_near_duplicate
    metric: share_flagged
    max: 0.05
    level: error
    params: {threshold: 0.5}
  - id: quality.distinct
    evaluator: text_quality
    metric: distinct_2
    min: 0.5
    level: error
  - id: copy.max
    evaluator: text_near_duplicate
    metric: max_similarity
    max: 0.35
    level: warning
    params: {threshold: 0.5}
waivers:
  - rule: copy.share
    items: [c-1]
    reason: public domain
    approver: alice
    expires: 2027-01-31
"""


def _policy(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _diff(tmp_path: Path, new_text: str) -> list[PolicyChange]:
    return diff_policies(load_policy(_policy(tmp_path, "old.yaml", BASE)),
                         load_policy(_policy(tmp_path, "new.yaml", new_text)))


@pytest.mark.parametrize("old, new, expected", [
    # A max limit: raising it lets more through.
    ("max: 0.05", "max: 0.1", PolicyChange("copy.share", "limit", LOOSER, "<= 0.05", "<= 0.1",
                                           "raised on a max limit")),
    ("max: 0.05", "max: 0.0", PolicyChange("copy.share", "limit", STRICTER, "<= 0.05", "<= 0",
                                           "lowered on a max limit")),
    # A min limit: lowering it lets more through.
    ("min: 0.5", "min: 0.4", PolicyChange("quality.distinct", "limit", LOOSER, ">= 0.5", ">= 0.4",
                                          "lowered on a min limit")),
    ("min: 0.5", "min: 0.6", PolicyChange("quality.distinct", "limit", STRICTER, ">= 0.5", ">= 0.6",
                                          "raised on a min limit")),
    ("max: 0.05\n    level: error", "max: 0.05\n    level: warning",
     PolicyChange("copy.share", "level", LOOSER, "error", "warning")),
    ("max: 0.35\n    level: warning", "max: 0.35\n    level: error",
     PolicyChange("copy.max", "level", STRICTER, "warning", "error")),
    ("params: {threshold: 0.5}\n  - id: quality", "params: {threshold: 0.7}\n  - id: quality",
     PolicyChange("copy.share", "params", CHANGED, "threshold=0.5", "threshold=0.7")),
    ("metric: distinct_2\n    min: 0.5", "metric: distinct_2\n    max: 0.5",
     PolicyChange("quality.distinct", "limit", CHANGED, ">= 0.5", "<= 0.5",
                  "max and min limits are not comparable")),
    ("expires: 2027-01-31", "expires: 2027-06-30",
     PolicyChange("copy.share", "waiver", LOOSER, "c-1 until 2027-01-31", "c-1 until 2027-06-30",
                  "extended")),
    ("expires: 2027-01-31", "expires: 2026-12-31",
     PolicyChange("copy.share", "waiver", STRICTER, "c-1 until 2027-01-31", "c-1 until 2026-12-31",
                  "shortened")),
    ("items: [c-1]", "items: [c-1, c-2]",
     PolicyChange("copy.share", "waiver", LOOSER, "", "c-2 until 2027-01-31", "added")),
])
def test_each_kind_of_change_is_classified(tmp_path, old, new, expected):
    assert BASE.count(old) == 1
    assert _diff(tmp_path, BASE.replace(old, new)) == [expected]


def test_a_rule_removed_or_disabled_is_looser_and_one_added_stricter(tmp_path):
    disabled = BASE.replace("    level: warning\n", "    level: warning\n    enabled: false\n")
    assert _diff(tmp_path, disabled) == [PolicyChange("copy.max", "rule", LOOSER, "max_similarity <= 0.35 "
                                                      "(warning)", "", "removed or disabled")]
    old = load_policy(_policy(tmp_path, "old.yaml", disabled))
    new = load_policy(_policy(tmp_path, "new.yaml", BASE))
    assert diff_policies(old, new) == [PolicyChange("copy.max", "rule", STRICTER, "", "max_similarity <= "
                                                    "0.35 (warning)", "added")]
    waiverless = BASE.split("waivers:")[0]
    assert [(c.aspect, c.direction, c.detail) for c in _diff(tmp_path, waiverless)] == [
        ("waiver", STRICTER, "removed")]
    assert _diff(tmp_path, BASE) == []


def test_waivers_compare_by_rule_and_item_using_the_latest_expiry():
    def waiver(items, expires):
        return Waiver("r", tuple(items), "why", "alice", expires)
    old = [waiver(["a", "b"], date(2027, 1, 1)), waiver(["a"], date(2027, 3, 1))]
    new = [waiver(["a"], date(2027, 3, 1)), waiver(["b"], date(2027, 2, 1)), waiver(["c"], date(2027, 1, 1))]
    changes = diff_waivers(old, new)
    assert [(c.old, c.new, c.direction) for c in changes] == [
        ("b until 2027-01-01", "b until 2027-02-01", LOOSER), ("", "c until 2027-01-01", LOOSER)]
    assert loosened(changes) and not loosened(diff_waivers(new, new))


def test_cli_a_loosened_policy_fails_under_fail_on_loosening(tmp_path):
    old = _policy(tmp_path, "old.yaml", BASE)
    new = _policy(tmp_path, "new.yaml", BASE.replace("max: 0.05", "max: 0.2").replace("min: 0.5", "min: 0.6"))
    table = run_cli("policy", "diff", str(old), str(new))
    assert table.returncode == 0, table.stderr
    assert "looser" in table.stdout and "<= 0.2" in table.stdout and "1 looser, 1 stricter, 0 changed" \
        in table.stdout
    gate = run_cli("policy", "diff", str(old), str(new), "--fail-on-loosening", "--json")
    assert gate.returncode == 1
    data = json.loads(gate.stdout)
    assert (data["looser"], data["stricter"], data["changed"]) == (1, 1, 0)
    assert data["changes"][0] == {"subject": "copy.share", "aspect": "limit", "direction": "looser",
                                  "old": "<= 0.05", "new": "<= 0.2", "detail": "raised on a max limit"}


def test_cli_a_tightened_policy_passes_the_gate(tmp_path):
    old = _policy(tmp_path, "old.yaml", BASE)
    new = _policy(tmp_path, "new.yaml", BASE.replace("max: 0.05", "max: 0.0").replace(
        "level: warning", "level: error").split("waivers:")[0])
    result = run_cli("policy", "diff", str(old), str(new), "--fail-on-loosening")
    assert result.returncode == 0, result.stderr
    assert "0 looser, 3 stricter, 0 changed" in result.stdout
    same = run_cli("policy", "diff", str(old), str(old), "--fail-on-loosening")
    assert same.returncode == 0 and "no differences" in same.stdout


def test_cli_shipped_names_and_waivers_files_compare(tmp_path):
    result = run_cli("policy", "diff", "strict", "default", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["looser"] > 0  # default is the milder of the two
    entry = "  - rule: copy.share\n    items: [c-1]\n    reason: why\n    approver: a\n    expires: {}\n"
    old = _policy(tmp_path, "old-waivers.yaml", "version: 1\nwaivers:\n" + entry.format("2027-01-01"))
    new = _policy(tmp_path, "new-waivers.yaml", "version: 1\nwaivers:\n" + entry.format("2028-01-01"))
    gate = run_cli("policy", "diff", str(old), str(new), "--fail-on-loosening")
    assert gate.returncode == 1 and "extended" in gate.stdout


def test_cli_bad_files_exit_2_with_one_line(tmp_path):
    good = _policy(tmp_path, "good.yaml", BASE)
    bad = _policy(tmp_path, "bad.yaml", BASE.replace("max: 0.05", "maximum: 0.05"))
    result = run_cli("policy", "diff", str(good), str(bad), "--fail-on-loosening")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"aigc-audit: error: {bad}:7: rules[0].maximum: unknown key")
    waivers = _policy(tmp_path, "w.yaml", "version: 1\nwaivers: []\n")
    mixed = run_cli("policy", "diff", str(good), str(waivers))
    assert mixed.returncode == 2 and "cannot compare a policy" in mixed.stderr


def test_a_parameter_given_or_left_to_its_default_is_a_change(tmp_path):
    changes = _diff(tmp_path, BASE.replace("params: {threshold: 0.5}\n  - id: quality",
                                           "params: {threshold: 0.5, shingle_size: 3}\n  - id: quality"))
    assert changes == [PolicyChange("copy.share", "params", CHANGED, "shingle_size (default)",
                                    "shingle_size=3")]
