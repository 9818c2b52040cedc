"""The README's examples run, so the documentation cannot rot.

Every fenced shell block of the README is run here, command by command, with the ``aigc-audit``
this interpreter installed, in a temporary folder. The only change made to a command is to its
paths: the sets and the store that an earlier step would have made (``samples/gpt``, the demo's
store) become small ones written by fixtures, and the checkout's own files are named by their
absolute path. A block that cannot run in a test must say so in an HTML comment on the line before
its fence (invisible on GitHub):

- ``<!-- illustrative: WHY -->``: never run (installs, ``make``, a server that blocks, a password
  prompt, benchmarks that take minutes);
- ``<!-- slow: WHY -->``: trains models for a minute or more; run verbatim, in README order, by the
  slow test (``pytest -m slow tests/test_readme.py``).

Every other shell block is run by the fast test, so an unmarked command that fails fails the suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from PIL import Image

from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.waiver_file import load_waivers
from aigc_audit.sampleset import load_sample_set
from tests.conftest import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
SHELL = {"sh", "bash", "shell", "console"}
DATA = {"jsonl", "yaml"}  # read by the tests below, not run
MARKERS = ("illustrative", "slow")
FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
MARKER = re.compile(r"<!--\s*(\w+)\b[^>]*-->\s*\Z")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    marker: str | None

    def commands(self) -> list[str]:
        """One string per command: continuation lines joined, blank and comment-only lines gone."""
        commands, current = [], ""
        for line in self.text.splitlines():
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            current += line
            if line.endswith("\\"):
                current = current[:-1] + " "
                continue
            commands.append(current.strip())
            current = ""
        assert not current, f"README line {self.line}: a command ends with a line continuation"
        return commands


def _blocks_of(text: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip().splitlines()
        marker = MARKER.search(before[-1]) if before else None
        blocks.append(Block(line=text.count("\n", 0, match.start()) + 1, language=match.group(1),
                            text=match.group(2), marker=marker.group(1) if marker else None))
    return blocks


BLOCKS = _blocks_of(README)


def _blocks(language: str) -> list[str]:
    return [b.text for b in BLOCKS if b.language == language]


def _shell(marker: str | None) -> list[Block]:
    return [b for b in BLOCKS if b.language in SHELL and b.marker == marker]


# ---------------------------------------------------------------------------------------------
# The README's shape.

def test_readme_opens_with_the_two_commands():
    first = _blocks("sh")[0]
    assert "make demo" in first and "make test" in first


def test_every_block_is_run_data_or_marked():
    for block in BLOCKS:
        assert block.language in SHELL | DATA, \
            f"README line {block.line}: a ```{block.language} block is neither shell nor data the tests read"
        assert block.marker in (None, *MARKERS), \
            f"README line {block.line}: unknown marker {block.marker!r}; use one of {MARKERS}"
        if block.language in DATA:
            assert block.marker is None, f"README line {block.line}: data blocks are always tested"


def test_the_parser_finds_every_shell_command():
    commands = [c for b in BLOCKS if b.language in SHELL for c in b.commands()]
    fenced_lines = [line for b in BLOCKS if b.language in SHELL for line in b.text.splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    assert len(commands) == len(fenced_lines) - sum(line.endswith("\\") for line in fenced_lines)
    assert len(_shell(None)) >= 3 and _shell("slow") and _shell("illustrative")


def test_extras_named_in_the_readme_exist():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = set(re.findall(r"(?:\.|\.whl)\[([\w,-]+)\]", README))
    named = {extra for group in named for extra in group.split(",")}
    assert named and named <= extras


def test_readme_never_installs_from_a_package_index():
    # aigc-audit is not published: an install names a checkout ('.') or a built wheel.
    assert not re.search(r"pip install +['\"]?aigc[-_]audit", README)


# ---------------------------------------------------------------------------------------------
# Data blocks.

def test_manifest_example_loads(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("L", (16, 16), 0).save(tmp_path / "images" / "0002.png")
    (tmp_path / "manifest.jsonl").write_text(_blocks("jsonl")[0], encoding="utf-8")
    loaded = load_sample_set(tmp_path)
    assert [i.modality for i in loaded] == ["text", "image"]


def test_policy_example_validates(tmp_path):
    path = tmp_path / "my-release.yaml"
    path.write_text(_blocks("yaml")[0], encoding="utf-8")
    policy = load_policy(path)
    assert policy.name == "my-release"
    assert "copyright.text.covered_share" not in {r.id for r in policy.rules}


def test_pre_commit_example_names_the_hook():
    (block,) = [b for b in _blocks("yaml") if "repos:" in b]
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    (repo,) = yaml.safe_load(block)["repos"]
    assert repo["hooks"] and {h["id"] for h in repo["hooks"]} <= hooks


def test_waivers_example_validates(tmp_path):
    (block,) = [b for b in _blocks("yaml") if "waivers:" in b and "repos:" not in b]
    path = tmp_path / "waivers.yaml"
    path.write_text(block, encoding="utf-8")
    (waiver,) = load_waivers(path)
    assert waiver.rule_id in {r.id for r in load_policy("default").rules}
    assert waiver.matches("quotes-7", None) and waiver.expires.isoformat() == "2027-01-31"

def test_baseline_policy_example_validates(tmp_path):
    block, = [b for b in _blocks("yaml") if "baseline:" in b]
    path = tmp_path / "new-findings.yaml"
    path.write_text(block, encoding="utf-8")
    gates = {r.id: r.baseline for r in load_policy(path).rules if r.baseline is not None}
    assert gates["copyright.text.copy"].max_new_findings == 0
    assert gates["copyright.text.covered_share"].max_regression == 0.05


# ---------------------------------------------------------------------------------------------
# Shell blocks.

def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("AIGC_AUDIT_STORE", "AIGC_AUDIT_REVIEWERS")}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "200",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _substitute(command: str, paths: dict[str, Path]) -> str:
    """Replace whole path tokens only (``models/gpt`` is not replaced inside ``models/gpt/x``)."""
    for old in sorted(paths, key=len, reverse=True):
        command = re.sub(rf"(?<![\w./-]){re.escape(old)}(?![\w/.-])", str(paths[old]), command)
    return command


def _allowed_codes(command: str) -> set[int]:
    # ``audit`` exits 1 when the policy fails: a result, not an error (the exit-code contract).
    return {0, 1} if re.match(r"aigc-audit\s+audit\b", command) else {0}


def _run_block(block: Block, cwd: Path, paths: dict[str, Path]) -> list[str]:
    ran = []
    for command in block.commands():
        command = _substitute(command, paths)
        result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, env=_env(),
                                capture_output=True, text=True, timeout=600)
        assert result.returncode in _allowed_codes(command), (
            f"README line {block.line}: {command!r} exited {result.returncode}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        ran.append(command)
    return ran


CHECKOUT_FILES = {"examples/harm-examples/labels.csv": ROOT / "examples" / "harm-examples" / "labels.csv"}


def _store_with_a_run(tmp_path: Path, samples: Path, reference: Path) -> Path:
    """A run store like the demo's: one stored audit (of copied texts, so a failed one)."""
    store = tmp_path / "store" / "runs.sqlite"
    made = run_cli("audit", "--samples", str(samples), "--reference", str(reference),
                   "--out", str(tmp_path / "store-reports"), "--store", str(store))
    assert made.returncode == 1, made.stdout + made.stderr
    return store


@pytest.mark.parametrize("block", _shell(None), ids=lambda b: f"README-line-{b.line}")
def test_readme_block_runs(block, tmp_path, copied_samples, reference_set):
    # What the commands read that an earlier step, or the demo, would have written.
    paths = {**CHECKOUT_FILES, "samples/gpt": copied_samples, "models/gpt/reference": reference_set}
    if "demo-out/runs.sqlite" in block.text:
        paths["demo-out/runs.sqlite"] = _store_with_a_run(tmp_path, copied_samples, reference_set)
    work = tmp_path / "work"
    work.mkdir()
    ran = _run_block(block, work, paths)
    assert ran and len(ran) == len(block.commands())


@pytest.mark.slow
def test_slow_readme_blocks_run_verbatim(tmp_path):
    # The training blocks in README order, unchanged, then the fast blocks on what they made; the
    # demo's store is stood in for by the default store their audit wrote (no command creates one).
    for block in _shell("slow"):
        _run_block(block, tmp_path, CHECKOUT_FILES)
    paths = {**CHECKOUT_FILES, "demo-out/runs.sqlite": tmp_path / ".aigc-audit" / "runs.sqlite"}
    for block in _shell(None):
        _run_block(block, tmp_path, paths)
    assert (tmp_path / "samples" / "gpt" / "manifest.jsonl").is_file()
    assert (tmp_path / "samples" / "gan" / "manifest.jsonl").is_file()
