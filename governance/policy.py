"""The policy language: a YAML file of rules, validated with file, line and key path.

::

    version: 1
    name: default
    extends: strict            # optional: a shipped policy by name, or a path
    rules:
      - id: copyright.text.near_duplicate
        evaluator: text_near_duplicate
        metric: share_flagged
        max: 0.0               # or ``min:``; exactly one of the two
        level: error           # or ``warning``
        params: {threshold: 0.5}

A rule in a policy that ``extends`` another and has the same ``id`` overrides the fields it names
(its ``params`` are merged key by key); ``enabled: false`` switches an inherited rule off. YAML is
read with the safe loader only.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from aigc_audit.errors import ConfigError, PolicyError
from aigc_audit.evaluators import registry

POLICY_VERSION = 1
LEVELS = ("error", "warning")
COMPARATORS = ("max", "min")
TOP_KEYS = {"version": int, "name": str, "description": str, "extends": str, "rules": list}
RULE_KEYS = {"id": str, "description": str, "evaluator": str, "metric": str, "max": float,
             "min": float, "level": str, "params": dict, "enabled": bool}
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def limit_text(comparator: str, limit: float) -> str:
    """How a limit reads everywhere: ``<= 0.05`` for a maximum, ``>= 0.9`` for a minimum."""
    return f"{'<=' if comparator == 'max' else '>='} {limit:g}"


@dataclass(frozen=True)
class Rule:
    id: str
    evaluator: str
    metric: str
    comparator: str
    limit: float
    level: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    description: str = ""
    origin: str = ""

    def passes(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        return value <= self.limit if self.comparator == "max" else value >= self.limit

    def limit_text(self) -> str:
        return limit_text(self.comparator, self.limit)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "evaluator": self.evaluator, "metric": self.metric,
                self.comparator: self.limit, "level": self.level, "params": self.params,
                "description": self.description, "origin": self.origin}


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    rules: tuple[Rule, ...]
    path: Path
    sha256: str
    sources: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "path": str(self.path),
                "sha256": self.sha256, "rules": [r.to_dict() for r in self.rules]}


# ---- YAML with line numbers -------------------------------------------------------------------

_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in
               ("map", "seq", "str", "int", "float", "bool", "null")}


class _Doc:
    """A parsed YAML document: plain values plus the line of every key path."""

    def __init__(self, path: Path, text: str):
        self.path, self.text, self.lines = path, text, {}
        self.problems: list[str] = []
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise PolicyError([f"{path}:{line}: invalid YAML: {problem}"]) from None
        self.value = {} if node is None else self._build(node, ())

    def _build(self, node: yaml.Node, key_path: tuple) -> Any:
        self.lines[key_path] = node.start_mark.line + 1
        if node.tag not in _PLAIN_TAGS:
            self.problems.append(f"{self.path}:{node.start_mark.line + 1}: {_dotted(key_path)}: "
                                 f"unsupported YAML tag {node.tag!r}; policies hold plain values only")
            return None
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                if key in result:
                    self.problems.append(f"{self.path}:{key_node.start_mark.line + 1}: "
                                         f"{_dotted(key_path + (key,))}: duplicate key")
                self.lines[key_path + (key,)] = key_node.start_mark.line + 1
                result[key] = self._build(value_node, key_path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._build(child, key_path + (i,)) for i, child in enumerate(node.value)]
        return _scalar(node)

    def where(self, key_path: tuple) -> str:
        while key_path and key_path not in self.lines:
            key_path = key_path[:-1]
        return f"{self.path}:{self.lines.get(key_path, 1)}"


def _scalar(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _dotted(key_path: tuple) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top>"


# ---- loading ----------------------------------------------------------------------------------

def shipped_dir() -> Path:
    """The folder of shipped policies: package data of ``aigc_audit.policies``, whose single
    source is ``policies/`` at the repository's root."""
    return Path(str(resources.files("aigc_audit.policies")))


def shipped_policies() -> list[str]:
    return sorted(p.stem for p in shipped_dir().glob("*.yaml"))


def resolve_policy_path(reference: str, *, relative_to: Path | None = None) -> Path:
    """A shipped policy by name (``default``), or a path (relative to the extending file)."""
    if "/" not in reference and not reference.endswith((".yaml", ".yml")):
        path = shipped_dir() / f"{reference}.yaml"
        if not path.is_file():
            raise PolicyError([f"no shipped policy named {reference!r}; shipped policies are "
                               f"{shipped_policies()}"])
        return path
    path = Path(reference)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return path


def load_policy(path: str | Path) -> Policy:
    """Load and validate ``path`` (a file, or a shipped policy's name); raises ``PolicyError``
    listing every problem found."""
    path = resolve_policy_path(str(path)) if not Path(path).exists() else Path(path)
    rules, meta, sources, problems = _load_chain(path, [])
    if problems:
        raise PolicyError(problems)
    digest = hashlib.sha256()
    for source_path, text in sources.items():
        digest.update(f"{source_path}\0{hashlib.sha256(text.encode()).hexdigest()}\n".encode())
    # One file: the sha256 of its bytes; a chain: a digest over every file's sha256.
    sha = hashlib.sha256(path.read_bytes()).hexdigest() if len(sources) == 1 else digest.hexdigest()
    enabled = tuple(r for r in rules.values() if r is not None)
    if not enabled:
        raise PolicyError([f"{path}:1: rules: the policy has no enabled rules; add at least one"])
    return Policy(name=meta.get("name") or path.stem, description=meta.get("description", ""),
                  rules=enabled, path=path, sha256=sha, sources=sources)


def _read(path: Path) -> _Doc:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError([f"{path}: policy file not found"]) from None
    except UnicodeDecodeError as error:
        raise PolicyError([f"{path}: policy is not valid UTF-8 (byte {error.start})"]) from None
    return _Doc(path, text)


def _load_chain(path: Path, chain: list[Path]):
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in chain + [resolved])
        raise PolicyError([f"{path}:1: extends: cycle of policies: {cycle}"])
    doc = _read(path)
    problems = list(doc.problems)
    top = doc.value
    if not isinstance(top, dict):
        raise PolicyError([f"{path}:1: a policy must be a mapping with 'rules'; got "
                           f"{type(top).__name__}"])
    for key, value in top.items():
        if key not in TOP_KEYS:
            problems.append(f"{doc.where((key,))}: {key}: unknown key; valid keys are {sorted(TOP_KEYS)}")
        elif not isinstance(value, TOP_KEYS[key]) or isinstance(value, bool):
            problems.append(f"{doc.where((key,))}: {key}: must be {TOP_KEYS[key].__name__}; got {value!r}")
    if top.get("version", POLICY_VERSION) != POLICY_VERSION:
        problems.append(f"{doc.where(('version',))}: version: this tool reads policy version "
                        f"{POLICY_VERSION}; got {top.get('version')!r}")

    rules: dict[str, Rule | None] = {}
    raw_rules: dict[str, dict[str, Any]] = {}
    meta: dict[str, str] = {}
    sources: dict[str, str] = {}
    if isinstance(top.get("extends"), str):
        try:
            parent = resolve_policy_path(top["extends"], relative_to=path.parent)
            parent_rules, meta, sources, parent_problems = _load_chain(parent, chain + [resolved])
        except PolicyError as error:
            raise PolicyError([f"{doc.where(('extends',))}: extends: {p}" for p in error.problems]) \
                from None
        problems += parent_problems
        rules.update(parent_rules)
        raw_rules.update({rid: dict(r.to_dict()) for rid, r in parent_rules.items() if r is not None})
    elif "extends" not in top and "rules" not in top:
        problems.append(f"{path}:1: rules: missing; a policy needs a list of rules or 'extends'")
    sources[str(path)] = doc.text
    meta = {**meta, **{k: top[k] for k in ("name", "description") if isinstance(top.get(k), str)}}

    seen: dict[str, int] = {}
    raw_list = top.get("rules") if isinstance(top.get("rules"), list) else []
    for index, raw in enumerate(raw_list):
        key_path = ("rules", index)
        where = doc.where(key_path)
        if not isinstance(raw, dict):
            problems.append(f"{where}: {_dotted(key_path)}: a rule must be a mapping; got {raw!r}")
            continue
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            problems.append(f"{where}: {_dotted(key_path + ('id',))}: a rule needs an id of lower-case "
                            f"letters, digits, '.', '_' or '-'; got {rule_id!r}")
            continue
        if rule_id in seen:
            problems.append(f"{where}: {_dotted(key_path)}: duplicate rule id {rule_id!r} (first at "
                            f"line {seen[rule_id]})")
            continue
        seen[rule_id] = doc.lines[key_path]
        merged = _merge(raw_rules.get(rule_id), raw)
        rule, rule_problems = _validate_rule(merged, raw, doc, key_path)
        problems += rule_problems
        if rule_problems:
            continue
        rules[rule_id] = rule
        if rule is not None:
            raw_rules[rule_id] = merged
        else:
            raw_rules.pop(rule_id, None)
    return rules, meta, sources, problems


def _merge(parent: dict[str, Any] | None, child: dict[str, Any]) -> dict[str, Any]:
    if parent is None:
        return dict(child)
    merged = {k: v for k, v in parent.items() if k != "origin"}
    if "max" in child or "min" in child:
        merged.pop("max", None)
        merged.pop("min", None)
    for key, value in child.items():
        if key == "params" and isinstance(value, dict) and isinstance(merged.get("params"), dict):
            merged["params"] = {**merged["params"], **value}
        else:
            merged[key] = value
    return merged


def _validate_rule(rule: dict[str, Any], raw: dict[str, Any], doc: _Doc, key_path: tuple):
    """Check one merged rule; problems point at the child's lines where it names the field."""
    problems: list[str] = []

    def problem(key: str, message: str) -> None:
        sub = key_path + ((key,) if key in raw else ())
        problems.append(f"{doc.where(sub)}: {_dotted(key_path + (key,))}: {message}")

    # Each check runs when the fields it reads are usable, so that one run reports every problem.
    for key in raw:
        if key not in RULE_KEYS:
            problem(key, f"unknown key; valid keys are {sorted(RULE_KEYS)}")
    mistyped = set()
    for key, value in rule.items():
        expected = RULE_KEYS.get(key)
        if expected is None or key == "origin":
            continue
        ok = isinstance(value, (int, float)) if expected is float else isinstance(value, expected)
        if not ok or (isinstance(value, bool) and expected is not bool):
            problem(key, f"must be {expected.__name__}; got {value!r}")
            mistyped.add(key)
    if rule.get("enabled", True) is False and "enabled" not in mistyped:
        return None, problems
    for key in ("evaluator", "metric", "level"):
        if key not in rule:
            problem(key, "missing")
    limits = [c for c in COMPARATORS if c in rule]
    if len(limits) != 1:
        problem("max", f"a rule needs exactly one limit, 'max' or 'min'; got {limits or 'none'}")
    if "level" not in mistyped and rule.get("level") is not None and rule["level"] not in LEVELS:
        problem("level", f"must be one of {list(LEVELS)}; got {rule['level']!r}")
    if "evaluator" not in rule or "evaluator" in mistyped:
        return None, problems
    try:
        evaluator = registry.get(rule["evaluator"])
    except ConfigError as error:
        problem("evaluator", str(error))
        return None, problems
    metric = None
    if "metric" in rule and "metric" not in mistyped:
        metric = evaluator.metric(rule["metric"])
        if metric is None:
            problem("metric", f"evaluator {evaluator.name!r} has no metric {rule['metric']!r}; its "
                              f"metrics are {[m.name for m in evaluator.metrics]}")
    comparator = limits[0] if len(limits) == 1 and limits[0] not in mistyped else None
    limit = float(rule[comparator]) if comparator else math.nan
    if metric is not None and comparator and (
            math.isnan(limit) or (metric.minimum is not None and limit < metric.minimum)
            or (metric.maximum is not None and limit > metric.maximum)):
        problem(comparator, f"limit of metric {metric.name!r} must be in "
                            f"[{metric.minimum}, {metric.maximum}]; got {rule[comparator]!r}")
    params = {} if "params" in mistyped else (rule.get("params") or {})
    # Every bad parameter, each at its own line: the evaluator's own check, not a copy of it.
    for bad in evaluator.param_problems(params):
        sub = key_path + ("params", bad.name)
        problems.append(f"{doc.where(sub)}: {_dotted(sub)}: {bad.problem}")
    if problems or metric is None or comparator is None:
        return None, problems
    return Rule(id=rule["id"], evaluator=evaluator.name, metric=metric.name, comparator=comparator,
                limit=limit, level=rule["level"], params=dict(params),
                description=rule.get("description", ""), origin=doc.where(key_path)), []
