"""The ``gpt`` generator as users run it: ``aigc-audit train gpt`` and ``aigc-audit generate gpt``."""

import subprocess
import sys

from aigc_audit.generators.base import read_training_record
from aigc_audit.sampleset import load_sample_set
from tests.conftest import ROOT, run_cli
from tests.generators.gpt.gpt_helpers import tiny_corpus

TINY = ["--min-words", "5", "--held-out", "0.25", "--vocab-size", "300", "--n-positions", "32",
        "--n-embd", "32", "--n-layer", "1", "--n-head", "2", "--steps", "3", "--batch-size", "4"]


def test_registering_the_generator_does_not_import_torch():
    code = ("import sys; from aigc_audit import generators; generators.register_builtin(); "
            "assert 'gpt' in generators.names(); "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_train_then_generate_from_the_command_line(tmp_path):
    corpus = tiny_corpus(tmp_path)
    model = tmp_path / "models" / "gpt"
    first = run_cli("train", "gpt", "--corpus", str(corpus), "--out", str(model), *TINY)
    assert first.returncode == 0, first.stderr
    assert f"checkpoint: {model}" in first.stdout
    assert "trained" in first.stderr and "held-out loss" in first.stderr
    sha = read_training_record(model)["weights_sha256"]

    again = run_cli("train", "gpt", "--corpus", str(corpus), "--out", str(model), *TINY)
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stderr and "trained" not in again.stderr
    assert read_training_record(model)["weights_sha256"] == sha

    samples = tmp_path / "samples"
    made = run_cli("generate", "gpt", "--model", str(model), "--n", "3", "--seed", "5",
                   "--max-new-tokens", "8", "--out", str(samples))
    assert made.returncode == 0, made.stderr
    items = load_sample_set(samples)
    assert len(items) == 3 and {i.provenance["model_sha256"] for i in items} == {sha}
    assert {i.provenance["seed"] for i in items} == {5}


def test_generate_from_a_hub_name_fails_fast_and_clearly(tmp_path):
    result = run_cli("generate", "gpt", "--model", "gpt2", "--out", str(tmp_path / "s"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("aigc-audit: error: gpt2: model folder not found")
    assert "never downloads" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_training_options_exit_2_with_a_message(tmp_path):
    result = run_cli("train", "gpt", "--corpus", str(tiny_corpus(tmp_path)), "--out", str(tmp_path / "m"),
                     "--n-embd", "30", "--n-head", "4")
    assert result.returncode == 2
    assert "--n-embd (30) must be a multiple of --n-head (4)" in result.stderr
