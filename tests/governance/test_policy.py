from pathlib import Path

import pytest

from aigc_audit.errors import PolicyError
from aigc_audit.governance.policy import load_policy, shipped_policies
from tests.conftest import run_cli

RULE = """\
  - id: copy
    evaluator: text_near_duplicate
    metric: share_flagged
    max: 0.0
    level: error
"""


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", shipped_policies())
def test_shipped_policies_are_valid(name):
    policy = load_policy(name)
    assert policy.rules and len(policy.sha256) == 64


def test_unknown_top_level_key_names_file_and_line(tmp_path):
    path = _write(tmp_path, "version: 1\nrulez: []\nrules:\n" + RULE)
    with pytest.raises(PolicyError, match=r"p\.yaml:2: rulez: unknown key; valid keys are"):
        load_policy(path)


def test_unknown_rule_key_and_param_name_key_path(tmp_path):
    path = _write(tmp_path, "rules:\n" + RULE + "    levle: error\n    params:\n      treshold: 0.4\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:7: rules[0].levle: unknown key") for p in problems)


def test_unknown_param_names_its_line(tmp_path):
    path = _write(tmp_path, "rules:\n" + RULE + "    params:\n      treshold: 0.4\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:8: rules\[0\]\.params\.treshold: unknown parameter "
                                          r"for evaluator 'text_near_duplicate'"):
        load_policy(path)


def test_wrong_type_and_out_of_range(tmp_path):
    path = _write(tmp_path, "rules:\n" + RULE.replace("max: 0.0", "max: lots") )
    with pytest.raises(PolicyError, match=r"p\.yaml:5: rules\[0\]\.max: must be float; got 'lots'"):
        load_policy(path)
    path = _write(tmp_path, "rules:\n" + RULE + "    params:\n      threshold: 1.5\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:8: rules\[0\]\.params\.threshold: "
                                          r"must be <= 1.0; got 1.5"):
        load_policy(path)
    path = _write(tmp_path, "rules:\n" + RULE.replace("max: 0.0", "max: 2.0"))
    with pytest.raises(PolicyError, match=r"rules\[0\]\.max: limit of metric 'share_flagged' "
                                          r"must be in \[0.0, 1.0\]"):
        load_policy(path)


def test_every_bad_param_of_a_rule_is_reported_at_its_own_line(tmp_path):
    path = _write(tmp_path, "rules:\n" + RULE + "    params:\n      threshold: 1.5\n      shingle_size: 0\n"
                            "      seed: 1\n      num_prem: 64\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.problems == [
        f"{path}:8: rules[0].params.threshold: must be <= 1.0; got 1.5",
        f"{path}:9: rules[0].params.shingle_size: must be >= 1; got 0",
        f"{path}:11: rules[0].params.num_prem: unknown parameter for evaluator 'text_near_duplicate'; "
        "valid parameters are ['min_recall', 'num_perm', 'seed', 'shingle_size', 'threshold']",
    ]
    result = run_cli("policy", "validate", str(path))
    assert result.returncode == 2
    # One line per problem, in order, however long.
    assert result.stderr.splitlines() == caught.value.problems


def test_problems_of_every_kind_in_one_rule_are_all_reported(tmp_path):
    """An unknown key, an unknown metric, a bad level and a bad parameter: one run names them all."""
    rule = RULE.replace("metric: share_flagged", "metric: share_flaged")
    rule = rule.replace("level: error", "level: fatal")
    path = _write(tmp_path, "rules:\n" + rule + "    levle: error\n    params:\n      threshold: 1.5\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    lines = [p.split(": ", 2)[0].rsplit(":", 1)[1] for p in caught.value.problems]
    text = "\n".join(caught.value.problems)
    assert "rules[0].levle: unknown key" in text
    assert "rules[0].level: must be one of ['error', 'warning']; got 'fatal'" in text
    assert "rules[0].metric: evaluator 'text_near_duplicate' has no metric 'share_flaged'" in text
    assert "rules[0].params.threshold: must be <= 1.0; got 1.5" in text
    assert sorted(lines) == ["4", "6", "7", "9"]


def test_a_params_value_of_the_wrong_type_is_reported_not_crashed_on(tmp_path):
    path = _write(tmp_path, "rules:\n" + RULE + "    params: [1, 2]\n")
    with pytest.raises(PolicyError, match=r"rules\[0\]\.params: must be dict; got \[1, 2\]"):
        load_policy(path)


def test_unknown_evaluator_lists_valid_ones(tmp_path):
    path = _write(tmp_path, "rules:\n" + RULE.replace("text_near_duplicate", "text_near_dup"))
    with pytest.raises(PolicyError, match=r"p\.yaml:3: rules\[0\]\.evaluator: unknown evaluator "
                                          r"'text_near_dup'; valid evaluators are \["):
        load_policy(path)


def test_bad_level_and_two_limits(tmp_path):
    path = _write(tmp_path, "rules:\n" + RULE.replace("level: error", "level: fatal") + "    min: 0.1\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    text = "\n".join(caught.value.problems)
    assert "needs exactly one limit, 'max' or 'min'; got ['max', 'min']" in text
    assert "rules[0].level: must be one of ['error', 'warning']; got 'fatal'" in text


def test_invalid_yaml_and_duplicate_keys(tmp_path):
    path = _write(tmp_path, "rules: [\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:2: invalid YAML"):
        load_policy(path)
    path = _write(tmp_path, "rules:\n" + RULE + "    level: warning\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:7: rules\[0\]\.level: duplicate key"):
        load_policy(path)


def test_yaml_tags_are_not_constructed(tmp_path):
    path = _write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\nrules:\n" + RULE)
    with pytest.raises(PolicyError, match=r"p\.yaml:1: name: unsupported YAML tag "
                                          r"'tag:yaml.org,2002:python/object/apply:os.system'"):
        load_policy(path)


def test_extends_by_name_and_path_overrides_fields(tmp_path):
    child = _write(tmp_path, "extends: default\nrules:\n"
                             "  - id: copyright.text.copy\n    level: warning\n"
                             "    params: {share_threshold: 0.7}\n"
                             "  - id: copyright.text.covered_share\n    enabled: false\n")
    policy = load_policy(child)
    rules = {r.id: r for r in policy.rules}
    assert "copyright.text.covered_share" not in rules
    copy = rules["copyright.text.copy"]
    assert copy.level == "warning" and copy.params == {"share_threshold": 0.7}
    assert copy.limit == 0.0 and copy.comparator == "max"
    grandchild = _write(tmp_path, "extends: p.yaml\nname: gc\n", "gc.yaml")
    assert {r.id for r in load_policy(grandchild).rules} == set(rules)


def test_extends_problems_name_the_extending_file(tmp_path):
    _write(tmp_path, "rules:\n" + RULE.replace("level: error", "level: loud"), "base.yaml")
    child = _write(tmp_path, "extends: base.yaml\n")
    with pytest.raises(PolicyError, match=r"base\.yaml:6: rules\[0\]\.level: must be one of"):
        load_policy(child)
    with pytest.raises(PolicyError, match=r"p\.yaml:1: extends: no shipped policy named 'nosuch'"):
        load_policy(_write(tmp_path, "extends: nosuch\n"))


def test_extends_cycle(tmp_path):
    _write(tmp_path, "extends: b.yaml\n", "a.yaml")
    _write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(PolicyError, match="cycle of policies"):
        load_policy(tmp_path / "a.yaml")


@pytest.mark.parametrize(("rule_id", "parent", "child", "below", "above"), [
    # default: max_covered_share <= 0.25; the child asks for >= 0.2 instead.
    ("copyright.text.covered_share", ("max", 0.25), ("min", 0.2), 0.1, 0.5),
    # default: median_pixel_distance >= 0.3; the child asks for <= 0.6 instead.
    ("copyright.image.median_pixel_distance", ("min", 0.3), ("max", 0.6), 0.2, 0.7),
    # same comparator, new limit: only the limit changes.
    ("copyright.text.covered_share", ("max", 0.25), ("max", 0.9), 0.5, 0.95),
])
def test_override_of_limit_swaps_comparator(tmp_path, rule_id, parent, child, below, above):
    inherited = {r.id: r for r in load_policy("default").rules}[rule_id]
    assert (inherited.comparator, inherited.limit) == parent
    path = _write(tmp_path, f"extends: default\nrules:\n  - id: {rule_id}\n    {child[0]}: {child[1]}\n")
    rule = {r.id: r for r in load_policy(path).rules}[rule_id]
    assert (rule.comparator, rule.limit) == child
    assert rule.limit_text() == ("<= " if child[0] == "max" else ">= ") + f"{child[1]:g}"
    # The parent's limit is gone, not kept beside the new one.
    other = "min" if child[0] == "max" else "max"
    assert child[0] in rule.to_dict() and other not in rule.to_dict()
    # Values on either side of the new limit: a max passes below it, a min above it.
    assert rule.passes(below) is (child[0] == "max")
    assert rule.passes(above) is (child[0] == "min")


def test_cli_validate_prints_every_problem_and_exits_2(tmp_path):
    path = _write(tmp_path, "rulez: 1\nrules:\n" + RULE.replace("level: error", "level: loud"))
    result = run_cli("policy", "validate", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{path}:1: rulez: unknown key")
    assert lines[1].startswith(f"{path}:7: rules[0].level: must be one of")
    ok = run_cli("policy", "validate", "default")
    assert ok.returncode == 0 and "default: valid" in ok.stdout
