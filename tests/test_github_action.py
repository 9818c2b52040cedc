"""The GitHub Action (action.yml, ci/action.sh): its audit step run as GitHub runs it, against the
built wheel, with ``$GITHUB_STEP_SUMMARY`` and ``$GITHUB_OUTPUT`` as temporary files."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests import test_packaging
from tests.conftest import ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
WORKFLOW = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text(encoding="utf-8"))
SCRIPT = ROOT / "ci" / "action.sh"
POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"

# The wheel built and installed into a fresh environment, as in the packaging tests.
installed = test_packaging.installed


def _steps() -> dict[str, dict]:
    return {step.get("id") or step.get("name") or step["uses"]: step for step in ACTION["runs"]["steps"]}


def test_action_takes_the_documented_inputs_and_outputs_the_verdict():
    assert ACTION["runs"]["using"] == "composite"
    assert {"samples", "reference", "policy", "baseline", "strict", "out"} <= set(ACTION["inputs"])
    assert ACTION["inputs"]["samples"]["required"] is True
    assert ACTION["inputs"]["strict"]["default"] == "false" and ACTION["inputs"]["baseline"]["default"] == ""
    assert ACTION["outputs"]["verdict"]["value"] == "${{ steps.audit.outputs.verdict }}"


def test_inputs_reach_the_shell_through_the_environment_only():
    steps = _steps()
    runs = [s for s in steps.values() if "run" in s]
    assert [s["run"] for s in runs] == ['bash "$ACTION_PATH/ci/action.sh" install',
                                        'bash "$ACTION_PATH/ci/action.sh" audit']
    # No ${{ }} inside a script: an input holding shell syntax must never become code.
    assert all("${{" not in s["run"] for s in runs)
    env = steps["audit"]["env"]
    for name in ("samples", "reference", "policy", "baseline", "strict", "out"):
        assert env[f"INPUT_{name.upper()}"] == f"${{{{ inputs.{name} }}}}"


def test_reports_are_uploaded_even_when_the_audit_fails():
    (upload,) = [s for s in ACTION["runs"]["steps"]
                 if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload["if"] == "always()" and upload["with"]["path"] == "${{ inputs.out }}"


def test_install_step_puts_cpu_torch_first_as_the_makefile_does():
    script = SCRIPT.read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pin = re.search(r"torch==[\d.]+", makefile).group(0)
    assert pin in script and script.index(pin) < script.index('install --quiet "${ACTION_PATH')


def test_example_workflow_uses_the_action_with_its_inputs():
    steps = WORKFLOW["jobs"]["audit"]["steps"]
    (uses,) = [s for s in steps if "aigc-audit@" in s.get("uses", "")]
    assert set(uses["with"]) <= set(ACTION["inputs"]) and "samples" in uses["with"]
    assert WORKFLOW["permissions"] == {"contents": "read"}


def _run_audit_step(installed, tmp_path: Path,
                    **inputs: str) -> tuple[subprocess.CompletedProcess, dict, str]:
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    env = {**test_packaging._clean_env(), "PATH": f"{installed.exe.parent}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), "ACTION_PATH": str(ROOT),
           "INPUT_OUT": "report", "INPUT_STORE": str(tmp_path / "runs.sqlite"),
           **{f"INPUT_{k.upper()}": v for k, v in inputs.items()}}
    result = subprocess.run(["bash", str(SCRIPT), "audit"], capture_output=True, text=True, cwd=tmp_path,
                            env=env, timeout=300)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines()) if output.exists() else {}
    return result, outputs, summary.read_text() if summary.exists() else ""


def test_passing_release_passes_the_step_and_summarises(installed, tmp_path, clean_samples, reference_set):
    result, outputs, summary = _run_audit_step(installed, tmp_path, samples=str(clean_samples),
                                               reference=str(reference_set), policy=str(POLICY))
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs == {"verdict": "pass", "exit-code": "0", "report-dir": "report"}
    assert summary.startswith("# aigc-audit: PASS") and "artifacts" in summary
    assert (tmp_path / "report" / "report.html").is_file()


@pytest.mark.parametrize("strict", ["false", "true"])
def test_copied_release_fails_the_step(installed, tmp_path, copied_samples, reference_set, strict):
    result, outputs, summary = _run_audit_step(installed, tmp_path, samples=str(copied_samples),
                                               reference=str(reference_set), policy=str(POLICY),
                                               strict=strict)
    assert result.returncode == 1
    assert outputs["verdict"] == "fail" and outputs["exit-code"] == "1"
    assert summary.startswith("# aigc-audit: FAIL") and "copyright.text.near\\_duplicate" in summary


def test_a_run_that_cannot_be_made_reads_as_error_not_as_an_old_report(installed, tmp_path, clean_samples):
    # A report left by an earlier run must not be taken for this one's.
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.json").write_text('{"verdict": "pass"}')
    result, outputs, summary = _run_audit_step(installed, tmp_path, samples=str(clean_samples),
                                               baseline="no-such-run", policy=str(POLICY))
    assert result.returncode == 2
    assert outputs["verdict"] == "error" and "could not be run (exit 2)" in summary


def test_hostile_input_is_an_argument_not_code(installed, tmp_path):
    hostile = 'x"; touch pwned; echo "$(touch pwned2)'
    result, outputs, _ = _run_audit_step(installed, tmp_path, samples=hostile, strict="false")
    assert result.returncode == 2 and outputs["verdict"] == "error"
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert "samples set not found" in result.stderr


def test_strict_must_be_a_boolean(installed, tmp_path, clean_samples):
    result, _, _ = _run_audit_step(installed, tmp_path, samples=str(clean_samples), strict="maybe")
    assert result.returncode == 2 and "strict must be true or false; got 'maybe'" in result.stderr


def _readme_yaml(marker: str) -> str:
    from tests.test_readme import BLOCKS

    (block,) = [b.text for b in BLOCKS if b.language == "yaml" and marker in b.text]
    return block


def test_readme_workflow_is_the_example_workflow():
    readme = _readme_yaml("uses: OWNER/aigc-audit@")
    assert readme == (ROOT / "examples" / "github-workflow.yml").read_text(encoding="utf-8")


def test_readme_gitlab_job_installs_cpu_torch_audits_and_keeps_the_reports():
    job = yaml.safe_load(_readme_yaml("script:"))["aigc-audit"]
    pin = re.search(r"torch==[\d.]+", (ROOT / "Makefile").read_text(encoding="utf-8")).group(0)
    install_torch, install_tool, audit = job["script"]
    assert pin in install_torch and "whl/cpu" in install_torch and "aigc-audit" in install_tool
    out = re.search(r"--out (\S+)", audit).group(1)
    assert audit.startswith("aigc-audit audit ") and "--samples" in audit
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["paths"] == [f"{out}/"]
    assert job["artifacts"]["reports"]["junit"] == f"{out}/junit.xml"
