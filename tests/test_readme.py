"""The README's examples run, so the documentation cannot rot."""

import re

from aigc_audit.sampleset import load_sample_set
from aigc_audit.governance.policy import load_policy
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands():
    first = _blocks("sh")[0]
    assert "make demo" in first and "make test" in first


def test_manifest_example_loads(tmp_path):
    (tmp_path / "images").mkdir()
    from PIL import Image

    Image.new("L", (16, 16), 0).save(tmp_path / "images" / "0002.png")
    (tmp_path / "manifest.jsonl").write_text(_blocks("jsonl")[0], encoding="utf-8")
    loaded = load_sample_set(tmp_path)
    assert [i.modality for i in loaded] == ["text", "image"]


def test_policy_example_validates(tmp_path):
    path = tmp_path / "my-release.yaml"
    path.write_text(_blocks("yaml")[0], encoding="utf-8")
    policy = load_policy(path)
    assert policy.name == "my-release"
    assert "copyright.text.max_similarity" not in {r.id for r in policy.rules}
