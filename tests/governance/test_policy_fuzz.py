"""Property-based tests of the policy loader: whatever a policy file holds, loading it gives a
``Policy`` or a ``PolicyError`` whose every problem names the file, never another exception, and
never runs long (the deadline is a guard against hangs, not a measure of speed)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigc_audit.errors import PolicyError
from aigc_audit.evaluators import registry
from aigc_audit.governance.policy import RULE_KEYS, TOP_KEYS, Policy, load_policy

FUZZ = settings(max_examples=200, deadline=timedelta(seconds=1),
                suppress_health_check=[HealthCheck.too_slow])

EVALUATORS = registry.names()
METRICS = sorted({m.name for name in EVALUATORS for m in registry.get(name).metrics})
PARAMS = sorted({p.name for name in EVALUATORS for p in registry.get(name).params})

# YAML that has broken the loader, or could: references, merge keys, tags, numbers Python cannot
# or should not convert, non-finite floats, nesting, stray syntax.
NASTY = [
    "&a x", "*a", "&a [*a]", "<<", "<<: *a", "<<: {level: error}", "!!python/name:os.system",
    "!!binary aGk=", "!!float abc", "!!int abc", "!!bool maybe", "!!str [1]", "!!map x", "!!seq {a: 1}",
    "!!timestamp 2001-13-40",
    "!custom x", "0b_", "0x_", "._", "1:2:3", "1" + ":59" * 30, "9" * 400, "9" * 5000, "-" + "9" * 120,
    ".nan", ".inf", "-.inf", ".NaN", "1.0e+400", "1e400", "~", "null", "", "''", '"\\0"', '"\\x1b[31m"',
    "[" * 40 + "]" * 40, "{a: {b: {c: [1]}}}", "[1, [2, [3]]]", "? [a]\n", "---", "...", "%YAML 1.1", "@",
    "`", "|", ">", "'unclosed", '"unclosed', "{", "[", "]", "}", ",", ":", "#", "\t", "\x00", "\ufeff",
]
FRAGMENTS = ["\n", "  ", "- ", ": ", "rules:", "version: 1", "extends: default", "id: copy", "max: 0.5",
             "min: ", "params:", "threshold: ", "level: error", "evaluator: text_near_duplicate",
             "metric: share_flagged", *NASTY]
EXTENDS = ["default", "strict", "nosuch", "p.yaml", "/dev/null", "/dev/zero", "/tmp", ".", "a" * 300,
           "x.yaml", '"a\\0b.yaml"', "../" * 40 + "etc/passwd"]


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "p.yaml"


def _check(path: Path) -> None:
    """The property: a valid policy, or a PolicyError naming ``path`` in every problem."""
    try:
        policy = load_policy(path)
    except PolicyError as error:
        assert error.problems
        for problem in error.problems:
            assert isinstance(problem, str) and problem.startswith(str(path)), problem
        str(error)  # prints: no integer too long to show, say
        return
    assert isinstance(policy, Policy) and policy.rules
    for rule in policy.rules:
        assert math.isfinite(rule.limit)
        assert all(math.isfinite(v) for v in rule.params.values() if isinstance(v, float))


@FUZZ
@given(text=st.text(max_size=300))
def test_arbitrary_text(policy_file, text):
    policy_file.write_text(text, encoding="utf-8")
    _check(policy_file)


@FUZZ
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes(policy_file, data):
    policy_file.write_bytes(data)
    _check(policy_file)


@FUZZ
@given(parts=st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=40))
def test_yaml_fragments(policy_file, parts):
    policy_file.write_text("".join(parts), encoding="utf-8")
    _check(policy_file)


def _flow(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in mapping.items()) + "}"


def _number(value: float | int) -> str:
    if isinstance(value, float):
        return ".nan" if math.isnan(value) else ".inf" if value == math.inf else \
            "-.inf" if value == -math.inf else repr(value)
    return str(value)


NUMBERS = (st.floats().map(_number) | st.integers(-10 ** 120, 10 ** 120).map(_number)
           | st.sampled_from(["0", "0.0", "1", "0.5", "1.0", "-1", "100"]))
SCALARS = (NUMBERS | st.sampled_from(NASTY) | st.sampled_from(["true", "false", "yes", "error", "warning"])
           | st.from_regex(r"[a-z_.]{0,12}", fullmatch=True))
KEYS = st.sampled_from(PARAMS) | st.from_regex(r"[a-z]{1,8}", fullmatch=True)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3).map(lambda v: f"[{', '.join(v)}]")
                      | st.dictionaries(KEYS, inner, max_size=3).map(_flow), max_leaves=8)


RULE_FIELDS = st.fixed_dictionaries(
    {"id": st.sampled_from(["copy", "copy", "other.rule", "Bad Id", "", "*a"])},
    optional={"evaluator": st.sampled_from([*EVALUATORS, "nosuch"]) | SCALARS,
              "metric": st.sampled_from(METRICS) | SCALARS,
              "max": NUMBERS | SCALARS, "min": NUMBERS | SCALARS,
              "level": st.sampled_from(["error", "warning", "fatal"]) | SCALARS,
              "params": st.dictionaries(st.sampled_from(PARAMS), NUMBERS | VALUES, max_size=4).map(_flow)
              | VALUES,
              "enabled": st.sampled_from(["true", "false", "maybe"]) | SCALARS,
              "description": SCALARS,
              "origin": SCALARS,
              st.sampled_from(sorted(RULE_KEYS)).map(lambda k: k[::-1]): SCALARS})


@FUZZ
@given(top=st.fixed_dictionaries({}, optional={"version": NUMBERS | SCALARS, "name": SCALARS,
                                               "extends": st.sampled_from(EXTENDS) | SCALARS,
                                               "description": SCALARS,
                                               st.sampled_from(sorted(TOP_KEYS)).map(str.upper): SCALARS}),
       rules=st.lists(RULE_FIELDS, max_size=4), block=st.booleans())
def test_structured_policies(policy_file, top, rules, block):
    lines = [f"{key}: {value}" for key, value in top.items()]
    if rules or not top:
        lines.append("rules:")
    for rule in rules:
        if block:  # one field a line, so that problems carry many different line numbers
            fields = [f"{key}: {value}" for key, value in rule.items()]
            lines += [f"  - {fields[0]}", *(f"    {field}" for field in fields[1:])]
        else:
            lines.append(f"  - {_flow(rule)}")
    policy_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _check(policy_file)
