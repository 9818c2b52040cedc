"""The pre-commit hook ``aigc-audit-policy``: a valid hook file whose entry, run as pre-commit runs
it (the entry's words, then the changed files that match ``files``), passes good policies and
waivers files and stops on a bad one."""

from __future__ import annotations

import hashlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

HOOKS = ROOT / ".pre-commit-hooks.yaml"
# What pre-commit requires of a hook definition.
REQUIRED = {"id", "name", "entry", "language"}


@pytest.fixture(scope="module")
def hook() -> dict:
    hooks = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    (found,) = [h for h in hooks if h.get("id") == "aigc-audit-policy"]
    assert REQUIRED <= set(found) and found["language"] == "python" and found.get("pass_filenames", True)
    return found


def _run_hook(hook: dict, files: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    command = shlex.split(hook["entry"])
    assert command[0] == "aigc-audit"
    # The console script pre-commit would install: the one beside this interpreter.
    command[0] = str(Path(sys.executable).parent / "aigc-audit")
    return subprocess.run([*command, *(str(f.relative_to(cwd)) for f in files)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path, matches", [
    ("policies/default.yaml", True), ("ci/policies/release.yml", True), ("policy.yaml", True),
    ("aigc-policy.yaml", True), ("waivers.yaml", True), ("audit/release-waivers.yml", True),
    (".github/workflows/ci.yaml", False), (".pre-commit-config.yaml", False), ("policies/README.md", False),
    ("docs/policy.md", False),
])
def test_the_hook_picks_policy_and_waivers_files(hook, path, matches):
    assert bool(re.search(hook["files"], path)) is matches


def test_the_hook_passes_good_files_and_stops_on_a_bad_one(hook, tmp_path):
    (tmp_path / "policies").mkdir()
    good = tmp_path / "policies" / "release.yaml"
    good.write_text((ROOT / "tests" / "data" / "text-copy-policy.yaml").read_text())
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("version: 1\nwaivers:\n  - rule: copyright.text.near_duplicate\n    items: [c-1]\n"
                       "    reason: public domain\n    approver: alice\n    expires: 2027-01-31\n")
    passed = _run_hook(hook, [good, waivers], tmp_path)
    assert passed.returncode == 0, passed.stderr
    sha = hashlib.sha256(good.read_bytes()).hexdigest()[:12]
    assert passed.stdout.splitlines() == [f"policies/release.yaml: valid (3 rules, sha256 {sha})",
                                          "waivers.yaml: valid waivers file (1 waivers)"]

    bad = tmp_path / "policies" / "loose.yaml"
    bad.write_text("extends: release.yaml\nrules:\n  - id: copyright.text.near_duplicate\n    maximum: 0.5\n")
    bad_waivers = tmp_path / "more-waivers.yaml"
    bad_waivers.write_text("version: 1\nwaivers:\n  - rule: copyright.text.near_duplicate\n    items: [c-1]\n"
                           "    reason: later\n    approver: bob\n    expires: soon\n")
    failed = _run_hook(hook, [good, bad, bad_waivers], tmp_path)
    assert failed.returncode == 2
    assert failed.stdout.startswith("policies/release.yaml: valid")
    assert failed.stderr.splitlines() == [
        "policies/loose.yaml:4: rules[0].maximum: unknown key; valid keys are ['baseline', 'description', "
        "'enabled', 'evaluator', 'id', 'level', 'max', 'metric', 'min', 'params']",
        "more-waivers.yaml:7: waivers[0].expires: must be a date, YYYY-MM-DD (the last day the waiver "
        "applies); got 'soon'"]
