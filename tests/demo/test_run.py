"""``aigc-audit demo`` end to end on tiny models: verdicts side by side, copied passages named,
and a second run served from the cache."""

import pytest
from rich.console import Console

from aigc_audit.demo import run as demo
from aigc_audit.generators.gpt import sample as gpt_sample
from aigc_audit.generators.gpt import train as gpt_train
from aigc_audit.governance.status import FAIL, PASS
from tests.generators.gpt.gpt_helpers import memorising_config


def tiny_releases(untrained_expected=PASS):
    return lambda: [
        demo.gpt_release("tiny-untrained", "GPT before training", untrained_expected,
                         memorising_config(steps=1)),
        demo.gpt_release("tiny-overfit", "GPT overfit on 4 passages", FAIL, memorising_config()),
    ]


def run(out, monkeypatch, releases):
    monkeypatch.setattr(demo, "releases", releases)
    monkeypatch.setattr(demo, "SAMPLES_PER_RELEASE", 10)
    console = Console(record=True, width=400)
    code = demo.run_demo(out, console=console)
    return code, console.export_text()


def test_demo_shows_the_healthy_release_passing_and_the_overfit_one_failing(tmp_path, monkeypatch):
    code, text = run(tmp_path, monkeypatch, tiny_releases())
    assert code == 0, text
    assert "tiny-untrained passes" in text and "tiny-overfit FAILS" in text
    assert "error copyright.text.copy" in text
    assert "copies" in text and "macbeth-L" in text and "licence public domain" in text
    assert (tmp_path / "reports" / "tiny-overfit" / "report.md").is_file()
    assert f"aigc-audit runs --store {tmp_path / 'runs.sqlite'}" in text
    assert "aigc-audit dashboard --store" in text

    def no_work(*args, **kwargs):
        raise AssertionError("a warm run must not train or sample again")

    monkeypatch.setattr(gpt_train, "train", no_work)
    monkeypatch.setattr(gpt_sample, "generate", no_work)
    code, text = run(tmp_path, monkeypatch, tiny_releases(untrained_expected=FAIL))
    assert code == 1
    assert "unexpected: tiny-untrained was meant to fail" in text


@pytest.mark.parametrize("verdict, ok", [("pass", True), ("warn", True), ("fail", False)])
def test_a_release_meant_to_pass_may_carry_warnings(verdict, ok):
    release = demo.Release("r", "d", PASS, lambda out, console: (out, None))
    assert release.as_expected(verdict) is ok
