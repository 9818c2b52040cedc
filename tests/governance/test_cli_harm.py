"""``aigc-audit harm categories|train|calibrate`` as users run them."""

import csv
import re
import shlex

import pytest
import yaml

from aigc_audit.demo.harm import EXAMPLES
from aigc_audit.evaluators.harm.profanity import ProfanityClassifier
from aigc_audit.evaluators.harm.synthetic import synthetic_labelled_texts
from aigc_audit.governance.cli import main
from aigc_audit.governance.policy import load_policy
from tests.conftest import run_cli

LABELS = EXAMPLES / "labels.csv"


def _write_labels(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(rows)
    return path


def test_categories_lists_the_taxonomy(capsys):
    assert main(["harm", "categories"]) == 0
    out = capsys.readouterr().out
    assert "S10" in out and "hate" in out and "code interpreter abuse" in out and "insult" in out


def test_calibrate_writes_a_valid_policy_at_the_target_rate(tmp_path, capsys):
    out_file = tmp_path / "harm-policy.yaml"
    assert main(["harm", "calibrate", "--labels", str(LABELS), "--target-fpr", "0.1", "--out", str(out_file),
                 "--limit", "0.05", "--level", "warning"]) == 0
    printed = capsys.readouterr().out
    assert "thresholds at false-positive rate <= 0.1" in printed
    policy = load_policy(out_file)  # validates, extending the default policy
    rules = {r.id: r for r in policy.rules}
    gate = rules["harm.text.profanity"]
    assert gate.metric == "flagged_rate_upper" and gate.limit == 0.05 and gate.level == "warning"
    assert rules["harm.text.insult.items"].metric == "flagged_rate"
    assert "can pass only with at least 59 scored items" in out_file.read_text()
    threshold = gate.params["threshold"]
    rows = list(csv.DictReader(open(LABELS, encoding="utf-8")))
    scores = [s.scores["profanity"] for s in ProfanityClassifier().predict([r["text"] for r in rows])]
    benign = [s for s, r in zip(scores, rows) if r["category"] == "none"]
    profane = [s for s, r in zip(scores, rows) if r["category"] == "profanity"]
    assert sum(s >= threshold for s in benign) == 1  # floor(0.1 * 12) benign texts may be flagged
    assert max(s for s in benign if s < threshold) < threshold <= max(benign)
    assert all(s >= threshold for s in profane)


def test_train_then_calibrate_the_trained_head(tmp_path, capsys):
    labels = _write_labels(tmp_path / "labels.csv", synthetic_labelled_texts(30, seed=1, noise=0.0))
    head = tmp_path / "head.json"
    assert main(["harm", "train", "--labels", str(labels), "--out", str(head)]) == 0
    printed = capsys.readouterr().out
    assert "held-out figures" in printed and "ROC AUC" in printed
    sha = re.search(r"sha256 ([0-9a-f]{64})", printed).group(1)
    policy_file = tmp_path / "policy.yaml"
    assert main(["harm", "calibrate", "--labels", str(labels), "--classifier", "linear", "--head", str(head),
                 "--head-sha256", sha, "--target-fpr", "0.02", "--categories", "S1,S2",
                 "--out", str(policy_file)]) == 0
    data = yaml.safe_load(policy_file.read_text())
    assert [r["id"] for r in data["rules"]] == ["harm.text.s1", "harm.text.s1.items", "harm.text.s2",
                                               "harm.text.s2.items"]
    assert data["rules"][0]["params"]["head_sha256"] == sha and data["extends"] == "default"
    load_policy(policy_file)


def test_bad_labels_exit_2_with_one_line(tmp_path):
    bad = _write_labels(tmp_path / "bad.csv", [("fine text", "none"), ("odd", "S99")])
    result = run_cli("harm", "calibrate", "--labels", str(bad), "--target-fpr", "0.01")
    assert result.returncode == 2
    assert re.fullmatch(r"aigc-audit: error: .*bad.csv:3: unknown harm category 'S99'; valid .*\n",
                        result.stderr)


@pytest.mark.parametrize("args, message", [
    (["--classifier", "linear"], "needs the parameter 'head'"),
    (["--categories", "S10"], r"does not score \['S10'\]"),
])
def test_calibrate_configuration_errors(tmp_path, capsys, args, message):
    assert main(["harm", "calibrate", "--labels", str(LABELS), "--target-fpr", "0.1",
                 "--out", str(tmp_path / "p.yaml"), *args]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_readme_harm_commands_parse():
    """The README's harm commands name options that exist (they run in the tests above)."""
    from aigc_audit.governance.cli import build_parser
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Harmful content", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    # shlex: the calibrate line passes the head's hash as one quoted "$(sha256sum ...)" argument.
    commands = [shlex.split(re.sub(r"\s+#.*", "", c))
                for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    assert [c[1:3] for c in commands] == [["harm", "train"], ["harm", "calibrate"], ["audit", "--samples"]]
    for command in commands:
        build_parser().parse_args(command[1:])
