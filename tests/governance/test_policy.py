import re
from pathlib import Path

import pytest

from aigc_audit.errors import PolicyError
from aigc_audit.evaluators import registry
from aigc_audit.evaluators.base import Param
from aigc_audit.governance import policy as policy_module
from aigc_audit.governance.policy import (
    MAX_EXTENDS_DEPTH,
    MAX_POLICY_BYTES,
    BaselineGates,
    load_policy,
    shipped_policies,
)
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


# ---- hostile input: every one a PolicyError that names the file and line, quickly -------------

NO_REFERENCES = "policies hold no anchors, aliases or merge keys; write each value out in full"


def test_billion_laughs_is_refused_at_each_alias_not_expanded(tmp_path):
    lines = ["lol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = _write(tmp_path, "\n".join(lines) + "\nrules:\n" + RULE)
    with pytest.raises(PolicyError, match=r"p\.yaml:1: lol: YAML anchor '&a0': policies hold no anchors, "
                                          r"aliases or merge keys") as caught:
        load_policy(path)
    problems = caught.value.problems
    assert f"{path}:10: lol9[8]: YAML alias '*a8': {NO_REFERENCES}" in problems
    # One problem per anchor and alias written, none for what they would have expanded to.
    assert sum("YAML alias" in p for p in problems) == 9 * 9
    assert sum("YAML anchor" in p for p in problems) == 10


def test_recursive_alias_is_refused(tmp_path):
    path = _write(tmp_path, "foo: &a [*a]\nrules:\n" + RULE)
    with pytest.raises(PolicyError, match=r"p\.yaml:1: foo: YAML anchor '&a'") as caught:
        load_policy(path)
    assert f"{path}:1: foo[0]: YAML alias '*a': {NO_REFERENCES}" in caught.value.problems


def test_an_alias_that_would_load_is_refused_too(tmp_path):
    rule_b = RULE.replace("id: copy", "id: copy-b")
    path = _write(tmp_path, "rules:\n" + RULE + "    params: &p {threshold: 0.5}\n"
                            + rule_b + "    params: *p\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.problems == [f"{path}:7: rules[0].params: YAML anchor '&p': {NO_REFERENCES}",
                                     f"{path}:13: rules[1].params: YAML alias '*p': {NO_REFERENCES}"]


@pytest.mark.parametrize("merge", ["<<: *b", "<<: {level: error}"])
def test_merge_key_is_refused(tmp_path, merge):
    path = _write(tmp_path, "rules:\n" + RULE.replace("    level: error\n", f"    {merge}\n"))
    with pytest.raises(PolicyError, match=rf"p\.yaml:6: rules\[0\]\.<<: YAML merge key '<<': "
                                          rf"{NO_REFERENCES}"):
        load_policy(path)


def test_extends_chain_deeper_than_the_cap_is_refused(tmp_path):
    for i in range(1200):
        _write(tmp_path, f"extends: c{i + 1}.yaml\n" if i < 1199 else "rules:\n" + RULE, f"c{i}.yaml")
    # One line, at the file whose extends goes one too deep, naming where the chain starts.
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path / "c0.yaml")
    assert caught.value.problems == [
        f"{tmp_path / f'c{MAX_EXTENDS_DEPTH}.yaml'}:1: extends: more than {MAX_EXTENDS_DEPTH} policies "
        f"extend one another, starting at {tmp_path / 'c0.yaml'}; a chain of extends may be at most "
        f"{MAX_EXTENDS_DEPTH} deep"]
    # A chain exactly at the cap loads.
    assert load_policy(tmp_path / f"c{1199 - MAX_EXTENDS_DEPTH}.yaml").rules[0].id == "copy"


def test_extends_or_policy_naming_a_directory(tmp_path, clean_samples):
    (tmp_path / "sub.yaml").mkdir()
    with pytest.raises(PolicyError, match=r"p\.yaml:1: extends: .*sub\.yaml: is a directory, not a "
                                          r"policy file; name a \.yaml file"):
        load_policy(_write(tmp_path, "extends: sub.yaml\n"))
    with pytest.raises(PolicyError, match=r"sub\.yaml: is a directory, not a policy file"):
        load_policy(tmp_path / "sub.yaml")
    result = run_cli("policy", "validate", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"{tmp_path}: is a directory, not a policy file; name a .yaml file"]
    result = run_cli("audit", "--samples", str(clean_samples), "--policy", str(tmp_path),
                     "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "is a directory, not a policy file" in result.stderr


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_extends_a_device_is_refused_without_reading_it(tmp_path):
    with pytest.raises(PolicyError, match=r"p\.yaml:1: extends: /dev/zero: is not a regular file"):
        load_policy(_write(tmp_path, "extends: /dev/zero\n"))


def test_policy_larger_than_the_cap_is_refused(tmp_path):
    path = _write(tmp_path, "rules:\n" + RULE + "#" * MAX_POLICY_BYTES + "\n")
    with pytest.raises(PolicyError, match=rf"p\.yaml: policy file is larger than {MAX_POLICY_BYTES} bytes"):
        load_policy(path)
    # The cap holds for a policy and the files it extends together.
    _write(tmp_path, "rules:\n" + RULE + "#" * (MAX_POLICY_BYTES // 2) + "\n", "base.yaml")
    child = _write(tmp_path, "extends: base.yaml\n" + "#" * (MAX_POLICY_BYTES // 2) + "\n", "child.yaml")
    with pytest.raises(PolicyError, match=r"child\.yaml:1: extends: .*base\.yaml: policy file is larger "
                                          rf"than the \d+ bytes left of {MAX_POLICY_BYTES}"):
        load_policy(child)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc")
def test_reading_stops_at_the_cap_when_the_size_is_not_known(monkeypatch):
    # Files in /proc say they hold 0 bytes; reading must stop at the cap all the same.
    monkeypatch.setattr(policy_module, "MAX_POLICY_BYTES", 10)
    with pytest.raises(PolicyError, match=r"/proc/self/status: policy file is larger than 10 bytes"):
        load_policy("/proc/self/status")


@pytest.mark.parametrize("digits", [400, 5000])
def test_limit_with_hundreds_or_thousands_of_digits(tmp_path, digits):
    path = _write(tmp_path, "rules:\n" + RULE.replace("max: 0.0", "max: " + "9" * digits))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.problems == [
        f"{path}:5: rules[0].max: number too long ({digits} characters); a policy's numbers have at "
        "most 100 characters (a limit is within +-1e+15)"]


@pytest.mark.parametrize(("limit", "shown"), [(".nan", "nan"), (".inf", "inf"), ("-.inf", "-inf"),
                                              ("1" + "0" * 20, "1" + "0" * 20), ("1.0e+300", "1e+300")])
def test_limit_must_be_finite_and_sensible(tmp_path, limit, shown):
    """``max: .inf`` on a metric with no upper bound would be a gate that can never fail."""
    rule = RULE.replace("text_near_duplicate", "harm_text").replace("share_flagged", "flagged_count")
    path = _write(tmp_path, "rules:\n" + rule.replace("max: 0.0", f"max: {limit}"))
    with pytest.raises(PolicyError, match=r"p\.yaml:5: rules\[0\]\.max: a limit must be a finite number "
                                          rf"within \+-1e\+15; got {re.escape(shown)}$"):
        load_policy(path)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_float_param_must_be_finite(tmp_path, value):
    """``threshold: .nan`` passed every comparison, then crashed the report writer."""
    path = _write(tmp_path, "rules:\n" + RULE + f"    params:\n      threshold: {value}\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:8: rules\[0\]\.params\.threshold: must be a finite "
                                          rf"number; got {value.lstrip('.').replace('.', '')}$"):
        load_policy(path)
    # The evaluator's own check, even for a parameter declared with no bounds.
    unbounded = Param("x", float, 0.0, "unbounded")
    assert unbounded.check(float("nan")) == "must be a finite number; got nan"
    assert unbounded.check(10 ** 400) is not None
    assert unbounded.check(1e300) is None


@pytest.mark.parametrize(("text", "message"), [
    ("version: 0b_\n", r"p\.yaml:1: version: cannot read '0b_' as int"),
    ("version: !!float abc\n", r"p\.yaml:1: version: cannot read 'abc' as float"),
    ("version: !!bool maybe\n", r"p\.yaml:1: version: cannot read 'maybe' as bool"),
    ("!!python/name:os.system : 1\n", r"p\.yaml:1: <top>: a key has the unsupported YAML tag "
                                      r"'tag:yaml\.org,2002:python/name:os\.system'"),
    ("? [a, b]\n: 1\n", r"p\.yaml:1: <top>: a key must be a plain value; got a list"),
    ("rules: " + "[" * 2000 + "]" * 2000 + "\n", r"p\.yaml:1: values nested more than 32 deep"),
])
def test_values_yaml_cannot_build_are_reported_not_raised(tmp_path, text, message):
    with pytest.raises(PolicyError, match=message):
        load_policy(_write(tmp_path, text + ("rules:\n" + RULE if "rules" not in text else "")))


def test_an_unreadable_value_is_reported_once(tmp_path):
    path = _write(tmp_path, "version: 0b_\nrules:\n" + RULE.replace("level: error", "level: *x"))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    # Not also "version: must be int; got None" or "level: missing".
    assert caught.value.problems == [f"{path}:1: version: cannot read '0b_' as int: invalid literal for "
                                     "int() with base 2: ''",
                                     f"{path}:7: rules[0].level: YAML alias '*x': {NO_REFERENCES}"]


def test_a_param_value_the_evaluators_check_cannot_handle_is_reported(tmp_path):
    rule = RULE.replace("text_near_duplicate", "harm_text").replace("share_flagged", "flagged_count")
    path = _write(tmp_path, "rules:\n" + rule + "    params:\n      label_map: {toxic: 5}\n")
    with pytest.raises(PolicyError, match=r"p\.yaml:8: rules\[0\]\.params\.label_map: evaluator 'harm_text' "
                                          r"cannot check the value \{'toxic': 5\} \(TypeError: "):
        load_policy(path)


def test_validate_lists_every_problem_of_a_rule_hostile_ones_included(tmp_path):
    rule = RULE.replace("max: 0.0", "max: .inf").replace("level: error", "level: *lvl")
    path = _write(tmp_path, "rules:\n" + rule + "    levle: x\n    params:\n      threshold: .nan\n"
                            "      shingle_size: 0\n")
    result = run_cli("policy", "validate", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:6: rules[0].level: YAML alias '*lvl': {NO_REFERENCES}",
        f"{path}:7: rules[0].levle: unknown key; valid keys are ['baseline', 'description', 'enabled', "
        "'evaluator', 'id', 'level', 'max', 'metric', 'min', 'params']",
        f"{path}:5: rules[0].max: a limit must be a finite number within +-1e+15; got inf",
        f"{path}:9: rules[0].params.threshold: must be a finite number; got nan",
        f"{path}:10: rules[0].params.shingle_size: must be >= 1; got 0",
    ]


def test_a_bad_id_or_unknown_evaluator_does_not_hide_the_rule_s_other_problems(tmp_path):
    bad = (RULE.replace("id: copy", "id: Bad Id").replace("max: 0.0", "max: .inf")
           .replace("level: error", "level: loud").replace("text_near_duplicate", "nosuch"))
    duplicate = RULE.replace("level: error", "level: loud")
    path = _write(tmp_path, "rules:\n" + bad + RULE + duplicate)
    result = run_cli("policy", "validate", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:2: rules[0].id: a rule needs an id of lower-case letters, digits, '.', '_' or '-'; "
        "got 'Bad Id'",
        f"{path}:6: rules[0].level: must be one of ['error', 'warning']; got 'loud'",
        f"{path}:5: rules[0].max: a limit must be a finite number within +-1e+15; got inf",
        f"{path}:3: rules[0].evaluator: unknown evaluator 'nosuch'; valid evaluators are {registry.names()}",
        # The valid rule adds nothing; its duplicate is named, and its own problem too.
        f"{path}:12: rules[2]: duplicate rule id 'copy' (first at line 7)",
        f"{path}:16: rules[2].level: must be one of ['error', 'warning']; got 'loud'",
    ]


# ---- the baseline option ----------------------------------------------------------------------

def test_baseline_option_adds_gates_with_their_own_level(tmp_path):
    path = _write(tmp_path, "version: 1\nname: p\nrules:\n" + RULE.replace("level: error", "level: warning")
                  + "    baseline: {max_new_findings: 0, max_regression: 0.01, level: error}\n"
                  "  - id: sim\n    evaluator: text_near_duplicate\n    metric: max_similarity\n"
                  "    min: 0.0\n    level: warning\n    baseline:\n      max_regression: 2\n")
    policy = load_policy(path)
    gates = {r.id: r.baseline for r in policy.rules}
    assert gates["copy"] == BaselineGates(max_new_findings=0, max_regression=0.01, level="error")
    # A gate's level defaults to its rule's; a whole number is a fine margin.
    assert gates["sim"] == BaselineGates(max_new_findings=None, max_regression=2.0, level="warning")
    assert policy.rules[0].to_dict()["baseline"] == {"level": "error", "max_new_findings": 0,
                                                     "max_regression": 0.01}


def test_baseline_option_problems_each_at_their_line(tmp_path):
    path = _write(tmp_path, "version: 1\nname: p\nrules:\n" + RULE
                  + "    baseline:\n      max_new_findings: -1\n      max_regresion: 0.1\n      level: loud\n"
                  "  - id: fid\n    evaluator: text_near_duplicate\n    metric: max_similarity\n"
                  "    max: 0.5\n    level: error\n"
                  "    baseline: {max_new_findings: 0, max_regression: .nan}\n"
                  "  - id: empty\n    evaluator: text_near_duplicate\n    metric: max_similarity\n"
                  "    max: 0.5\n    level: error\n    baseline: {level: error}\n"
                  "  - id: typed\n    evaluator: text_near_duplicate\n    metric: max_similarity\n"
                  "    max: 0.5\n    level: error\n    baseline: [max_regression]\n")
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert raised.value.problems == [
        f"{path}:10: rules[0].baseline.max_new_findings: must be 0 or more; got -1",
        f"{path}:11: rules[0].baseline.max_regresion: unknown key; valid keys are ['level', "
        "'max_new_findings', 'max_regression']",
        f"{path}:12: rules[0].baseline.level: must be one of ['error', 'warning']; got 'loud'",
        f"{path}:18: rules[1].baseline.max_regression: must be a finite number in [0, 1e+15]; got nan",
        f"{path}:18: rules[1].baseline.max_new_findings: metric 'max_similarity' does not flag items, "
        "so no finding can be new; use 'max_regression' for it",
        f"{path}:24: rules[2].baseline: names no gate; give 'max_new_findings', 'max_regression' or both",
        f"{path}:30: rules[3].baseline: must be dict; got ['max_regression']",
    ]


def test_baseline_option_is_merged_key_by_key_when_extended(tmp_path):
    _write(tmp_path, "version: 1\nname: base\nrules:\n" + RULE + "    baseline: {max_new_findings: 0}\n",
           "base.yaml")
    child = _write(tmp_path, "version: 1\nname: child\nextends: base.yaml\nrules:\n  - id: copy\n"
                             "    baseline: {max_regression: 0.5}\n", "child.yaml")
    assert load_policy(child).rules[0].baseline == BaselineGates(0, 0.5, "error")
