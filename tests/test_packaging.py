"""The built wheel is the whole project under one import name, and it works without the checkout.

The wheel is built from a copy of the source (so no stale ``build/`` folder can leak files into it)
and installed with ``--no-deps`` into a fresh virtual environment. That environment gets the
project's dependencies through a ``.pth`` file naming this interpreter's site-packages: Python adds
that folder to ``sys.path`` but does not process the ``.pth`` files inside it, so the editable
install there stays inactive and ``aigc_audit`` can only come from the wheel. Nothing is downloaded
(``--no-index``).
"""

from __future__ import annotations

import email
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
DIST_INFO = f"aigc_audit-{VERSION}.dist-info"
# What the build may not see: at the root, version control, environments, build output, run
# artefacts and tests; anywhere, byte code.
NOT_SOURCE_AT_ROOT = {".git", ".venv", "build", "dist", "aigc_audit.egg-info", ".pytest_cache",
                      ".aigc-audit", "demo-out", "models", "samples", "tests", "benchmarks", ".ci"}


def _not_source(folder: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
    return skipped | (NOT_SOURCE_AT_ROOT & set(names) if Path(folder) == ROOT else set())


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path  # the fresh environment's interpreter
    exe: Path  # its aigc-audit entry point
    site_packages: Path

    def run(self, *args: str, cwd: Path, exe: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(exe or self.exe), *args], capture_output=True, text=True, cwd=cwd,
                              env=_clean_env(), timeout=300)


def _clean_env() -> dict[str, str]:
    """The environment without anything that would put the checkout on ``sys.path``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "COLUMNS": "200", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def _pip(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                            env=_clean_env(), timeout=300)
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=_not_source)
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", "-w", str(base / "dist"),
         str(source))
    (wheel,) = (base / "dist").glob("*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    _pip("--python", str(python), "install", "--no-deps", "--no-index", "--quiet", str(wheel))
    site_packages = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, env=_clean_env()).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "project-dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    return Installed(wheel=wheel, python=python, exe=venv / "bin" / "aigc-audit",
                     site_packages=site_packages)


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def _source_files(pattern: str) -> dict[str, Path]:
    """Each file matching ``pattern`` under the mapped folders, by the path it has in a wheel."""
    files = {}
    for package, folder in PACKAGE_DIRS.items():
        prefix = package.replace(".", "/")
        for path in (ROOT / folder).rglob(pattern):
            if "__pycache__" not in path.parts:
                files[f"{prefix}/{path.relative_to(ROOT / folder).as_posix()}"] = path
    return files


def test_wheel_holds_one_import_name(installed):
    assert {name.split("/")[0] for name in _names(installed.wheel)} == {"aigc_audit", DIST_INFO}
    added = {p.name for p in installed.site_packages.iterdir()} - {"project-dependencies.pth"}
    assert added == {"aigc_audit", DIST_INFO}


def test_every_module_of_the_source_folders_is_in_the_wheel(installed):
    # A sub-package missing from [tool.setuptools] packages leaves its modules out of the wheel.
    modules = _source_files("*.py")
    assert len(modules) > 50  # the walk found the project
    missing = sorted(set(modules) - set(_names(installed.wheel)))
    assert not missing, f"modules missing from the wheel (list their packages in pyproject.toml): {missing}"


def test_every_package_folder_of_the_checkout_is_mapped():
    # A new top-level package folder must be mapped into aigc_audit, or the wheel lacks it.
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert folders == set(PACKAGE_DIRS.values())


def test_wheel_carries_the_policies_and_examples(installed):
    names = set(_names(installed.wheel))
    assert {"aigc_audit/policies/default.yaml", "aigc_audit/policies/strict.yaml"} <= names
    assert {"aigc_audit/evaluators/harm/builtin/builtin_heads.json",
            "aigc_audit/evaluators/harm/builtin/training_extra.csv"} <= names
    data = {name for name, path in _source_files("*").items()
            if name.startswith(("aigc_audit/policies/", "aigc_audit/examples/"))
            and path.is_file() and path.suffix != ".py"}
    assert "aigc_audit/examples/harm-examples/labels.csv" in data
    assert sorted(data - names) == []


def test_wheel_metadata_names_the_mit_licence(installed):
    with zipfile.ZipFile(installed.wheel) as archive:
        metadata = email.message_from_bytes(archive.read(f"{DIST_INFO}/METADATA"))
        licence = archive.read(f"{DIST_INFO}/licenses/LICENSE").decode()
    assert metadata["Name"] == "aigc-audit" and metadata["Version"] == VERSION
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert licence == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Copyright (c) 2026 the aigc-audit authors" in licence
    extras = set(metadata.get_all("Provides-Extra"))
    assert {"nsfw", "postgresql", "dev"} <= extras


def test_installed_package_is_imported_from_the_wheel_not_the_checkout(installed, tmp_path):
    script = ("import aigc_audit, aigc_audit.governance.cli, aigc_audit.evaluators.harm, "
              "aigc_audit.dashboard, aigc_audit.demo\n"
              "for m in (aigc_audit, aigc_audit.governance.cli, aigc_audit.evaluators.harm, "
              "aigc_audit.dashboard, aigc_audit.demo): print(m.__file__)\n"
              "print(*aigc_audit.__path__, sep='\\n')")
    result = installed.run("-c", script, cwd=tmp_path, exe=installed.python)
    assert result.returncode == 0, result.stderr
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert len(paths) == 6  # five modules, then a __path__ of one folder
    for path in paths:
        assert path.is_relative_to(installed.site_packages / "aigc_audit"), path
        assert not path.resolve().is_relative_to(ROOT), path


def test_installed_cli_audits_a_small_set(installed, tmp_path, copied_samples, reference_set):
    store = tmp_path / "runs.sqlite"
    result = installed.run("audit", "--policy", "default", "--samples", str(copied_samples),
                           "--reference", str(reference_set), "--out", "out", "--store", str(store),
                           cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # two copied texts: an error rule fails
    assert "copyright.text.copy" in result.stdout and store.is_file()
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"report.json", "report.md", "junit.xml",
                                                             "report.sarif", "report.html"}
    listed = installed.run("runs", "--store", str(store), cwd=tmp_path)
    assert listed.returncode == 0 and "fail" in listed.stdout.lower()


def test_installed_cli_validates_the_shipped_policy(installed, tmp_path):
    result = installed.run("policy", "validate", "default", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "default: valid" in result.stdout


def test_installed_module_prints_the_version(installed, tmp_path):
    result = installed.run("-m", "aigc_audit", "--version", cwd=tmp_path, exe=installed.python)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"aigc-audit {VERSION}"


def test_module_prints_the_version_from_the_checkout():
    # From the checkout, ``python -m aigc_audit`` imports the repository's files (the root is added
    # to the package's path), the same ones the editable install serves.
    script = "import aigc_audit.governance as g; print(g.__file__)"
    where = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                           env=_clean_env(), timeout=60)
    assert Path(where.stdout.strip()) == ROOT / "governance" / "__init__.py", where.stderr
    result = subprocess.run([sys.executable, "-m", "aigc_audit", "--version"], capture_output=True,
                            text=True, cwd=ROOT, env=_clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"aigc-audit {VERSION}"
    assert run_cli("--version").stdout.strip() == f"aigc-audit {VERSION}"
