"""``aigc-audit probe extraction`` and ``aigc-audit audit --probe``: a memorised model fails the
extraction rule, an untrained one passes, and a probe of another model or reference is refused."""

import json

import pytest

from aigc_audit.generators.gpt.config import REFERENCE_DIR, SampleConfig
from aigc_audit.generators.gpt.sample import generate
from aigc_audit.generators.gpt.train import train
from aigc_audit.governance.cli import main
from tests.generators.gpt.gpt_helpers import memorising_config

POLICY = """\
version: 1
name: extraction-only
rules:
  - id: memorization.extraction
    evaluator: extraction
    metric: extractable_rate
    max: 0.01
    level: error
"""
PROBE = ["--prefix-tokens", "8", "--suffix-tokens", "8"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    built = {}
    for name, config in (("memorised", memorising_config()), ("untrained", memorising_config(steps=1))):
        model = train(config, root / name)
        samples = generate(model, root / f"{name}-samples", SampleConfig(n=4, batch_size=4, temperature=0.5))
        built[name] = (model, samples)
    return built


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _probe(model, out, *extra):
    return main(["probe", "extraction", "--model", str(model), "--reference", str(model / REFERENCE_DIR),
                 "--out", str(out), *PROBE, *extra])


def _audit(tmp_path, samples, reference, policy, probe):
    return main(["audit", "--samples", str(samples), "--reference", str(reference), "--policy", str(policy),
                 "--out", str(tmp_path / "report"), "--store", str(tmp_path / "runs.sqlite"),
                 "--probe", str(probe)])


@pytest.mark.parametrize("name, rate, code", [("memorised", "100.0%", 1), ("untrained", "0.0%", 0)])
def test_probe_then_audit_gates_on_the_extractable_rate(tmp_path, models, policy, capsys, name, rate, code):
    model, samples = models[name]
    assert _probe(model, tmp_path / "probe.json", "--samples", str(samples)) == 0
    out = capsys.readouterr().out
    assert f"extractable rate {rate} of 4 training documents" in out
    assert "under the release's sampling" in out  # the samples record temperature 0.5
    data = json.loads((tmp_path / "probe.json").read_text())
    assert data["evaluation"]["params"]["temperature"] == 0.5
    assert _audit(tmp_path, samples, model / REFERENCE_DIR, policy, tmp_path / "probe.json") == code
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    rule = next(r for r in report["rules"] if r["rule_id"] == "memorization.extraction")
    assert rule["status"] == ("fail" if code else "pass")
    assert rule["value"] == (1.0 if code else 0.0)


def test_a_probe_of_another_model_or_reference_is_refused(tmp_path, models, policy, capsys):
    memorised, memorised_samples = models["memorised"]
    untrained, untrained_samples = models["untrained"]
    assert _probe(memorised, tmp_path / "probe.json") == 0
    capsys.readouterr()
    probe = tmp_path / "probe.json"
    assert _audit(tmp_path, untrained_samples, memorised / REFERENCE_DIR, policy, probe) == 2
    assert "the probe is of model" in capsys.readouterr().err
    reference = tmp_path / "other-reference"
    reference.mkdir()
    (reference / "manifest.jsonl").write_text(json.dumps(
        {"id": "x", "modality": "text", "text": "another text", "source": "s", "license": "l"}) + "\n")
    assert _audit(tmp_path, memorised_samples, reference, policy, tmp_path / "probe.json") == 2
    assert "the probe was run against reference set" in capsys.readouterr().err


def test_a_probe_no_rule_reads_is_refused(tmp_path, models, capsys):
    model, samples = models["memorised"]
    assert _probe(model, tmp_path / "probe.json") == 0
    policy = tmp_path / "other.yaml"
    policy.write_text(POLICY.replace("evaluator: extraction\n    metric: extractable_rate",
                                     "evaluator: item_integrity\n    metric: unreadable_count"))
    capsys.readouterr()
    assert _audit(tmp_path, samples, model / REFERENCE_DIR, policy, tmp_path / "probe.json") == 2
    assert "has no rule on evaluator(s) ['extraction'], so the attached result(s) would be ignored" in \
        capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a probe file: malformed JSON"),
    ('{"format": "other"}', "not a probe file: 'format' must be 'aigc-audit-probe'"),
    ('{"format": "aigc-audit-probe", "version": 9}', "unsupported probe file: version 9"),
])
def test_a_file_that_is_not_a_probe_exits_2_naming_it(tmp_path, models, policy, capsys, content, message):
    model, samples = models["memorised"]
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert _audit(tmp_path, samples, model / REFERENCE_DIR, policy, bad) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and message in err
