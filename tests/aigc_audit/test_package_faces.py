"""Each sub-package's public face: what ``__all__`` names exists, and importing a face stays
light (torch and transformers load only when a model trains, samples or embeds)."""

import importlib
import subprocess
import sys

import pytest

from tests.conftest import ROOT

FACES = ["aigc_audit", "aigc_audit.evaluators", "aigc_audit.evaluators.copying",
         "aigc_audit.evaluators.harm", "aigc_audit.evaluators.quality", "aigc_audit.evaluators.features",
         "aigc_audit.evaluators.memorization",
         "aigc_audit.generators", "aigc_audit.generators.gpt", "aigc_audit.generators.image",
         "aigc_audit.governance", "aigc_audit.governance.reports", "aigc_audit.demo"]


@pytest.mark.parametrize("name", FACES)
def test_every_public_name_exists(name):
    module = importlib.import_module(name)
    assert module.__all__, f"{name} has an empty public face"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"


def test_importing_the_faces_loads_no_model_library():
    code = (f"import importlib, sys\nfor name in {FACES!r}:\n    importlib.import_module(name)\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
