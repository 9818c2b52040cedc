"""The policy language: a YAML file of rules, validated with file, line and key path.

::

    version: 1
    name: default
    extends: strict            # optional: a shipped policy by name, or a path
    waivers: []                # optional: accepted findings, as in a waivers file
    rules:
      - id: copyright.text.near_duplicate
        evaluator: text_near_duplicate
        metric: share_flagged
        max: 0.0               # or ``min:``; exactly one of the two
        level: error           # or ``warning``
        params: {threshold: 0.5}
        baseline:              # optional: gates against the run given with --baseline
          max_new_findings: 0  # findings not in the baseline (per-item metrics only)
          max_regression: 0.01 # how much worse than the baseline the metric may get
          level: error         # default: the rule's level

Each baseline gate is applied as a rule of its own, ``ID:new_findings`` and ``ID:regression``;
without ``--baseline`` it is not applicable (skipped, and said so), never passed. A metric gets
worse as it rises for a ``max:`` rule and as it falls for a ``min:`` one.

A rule in a policy that ``extends`` another and has the same ``id`` overrides the fields it names
(its ``params`` are merged key by key); ``enabled: false`` switches an inherited rule off. YAML is
read with the safe loader only. ``waivers`` lists accepted findings in the form of a waivers
file (see :mod:`~aigc_audit.governance.waiver_file`); a policy keeps those of the policies it
extends.

A policy is small and plain, so anything that could make reading one slow or unbounded is refused
with a located problem: a file that is not a regular file, more than :data:`MAX_POLICY_BYTES` for
a policy and the files it extends together, ``extends`` chains deeper than
:data:`MAX_EXTENDS_DEPTH`, YAML anchors, aliases and merge keys (a policy writes every value out),
values nested deeper than :data:`MAX_NESTING`, numbers longer than :data:`MAX_NUMBER_CHARS`
characters, and limits that are not finite numbers within :data:`MAX_LIMIT`.
"""

from __future__ import annotations

import hashlib
import math
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from aigc_audit.errors import ConfigError, PolicyError
from aigc_audit.evaluators import registry

if TYPE_CHECKING:
    from aigc_audit.governance.waiver_file import Waiver

POLICY_VERSION = 1
LEVELS = ("error", "warning")
COMPARATORS = ("max", "min")
TOP_KEYS = {"version": int, "name": str, "description": str, "extends": str, "rules": list,
            "waivers": list}
RULE_KEYS = {"id": str, "description": str, "evaluator": str, "metric": str, "max": float,
             "min": float, "level": str, "params": dict, "enabled": bool, "baseline": dict}
BASELINE_KEYS = {"max_new_findings": int, "max_regression": float, "level": str}
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
# Bounds on what a policy file may ask of the reader. Shipped policies are a few KB, extend one
# level and nest five deep; these leave ample room while keeping every read fast and bounded.
# MAX_POLICY_BYTES holds for a policy and every file it extends together: the pure-Python YAML
# reader takes about 2 s for 256 KiB of the densest text (one list of 60,000 short items).
MAX_POLICY_BYTES = 256 * 1024
MAX_EXTENDS_DEPTH = 32
MAX_NESTING = 32
MAX_NUMBER_CHARS = 100
# A limit beyond this is no gate at all; 1e15 is also well inside what a float holds exactly.
MAX_LIMIT = 1e15


def limit_text(comparator: str, limit: float) -> str:
    """How a limit reads everywhere: ``<= 0.05`` for a maximum, ``>= 0.9`` for a minimum."""
    return f"{'<=' if comparator == 'max' else '>='} {limit:g}"


@dataclass(frozen=True)
class BaselineGates:
    """A rule's ``baseline:`` option: at most ``max_new_findings`` findings the baseline run did
    not have, and the metric at most ``max_regression`` worse than it was; None leaves a gate out."""

    max_new_findings: int | None = None
    max_regression: float | None = None
    level: str = "error"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"level": self.level}
        if self.max_new_findings is not None:
            out["max_new_findings"] = self.max_new_findings
        if self.max_regression is not None:
            out["max_regression"] = self.max_regression
        return out


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
    baseline: BaselineGates | None = None

    def passes(self, value: float) -> bool:
        if value is None or math.isnan(value):
            return False
        return value <= self.limit if self.comparator == "max" else value >= self.limit

    def limit_text(self) -> str:
        return limit_text(self.comparator, self.limit)

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "evaluator": self.evaluator, "metric": self.metric,
               self.comparator: self.limit, "level": self.level, "params": self.params,
               "description": self.description, "origin": self.origin}
        if self.baseline is not None:
            out["baseline"] = self.baseline.to_dict()
        return out


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    rules: tuple[Rule, ...]
    path: Path
    sha256: str
    sources: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    waivers: tuple[Waiver, ...] = ()

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "path": str(self.path),
                "sha256": self.sha256, "rules": [r.to_dict() for r in self.rules],
                "waivers": [w.to_dict() for w in self.waivers]}


# ---- YAML with line numbers -------------------------------------------------------------------

_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in
               ("map", "seq", "str", "int", "float", "bool", "null")}
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
# A date (``expires: 2027-01-31``) is a plain value only where a waiver's expiry may stand.
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_TIMESTAMP = yaml.constructor.SafeConstructor.timestamp_regexp
# The tag of the node put where the file has an alias; no YAML text can carry it (not a URI).
_ALIAS_TAG = "alias"
_NO_REFERENCES = "policies hold no anchors, aliases or merge keys; write each value out in full"


class _TooDeep(Exception):
    """Raised by :class:`_Loader` at the first node nested deeper than :data:`MAX_NESTING`."""

    def __init__(self, mark: yaml.Mark):
        super().__init__(mark)
        self.line = mark.line + 1


class _Loader(yaml.SafeLoader):
    """The safe loader, composing with aliases left unresolved and nesting capped.

    An alias becomes a scalar node tagged :data:`_ALIAS_TAG` at the alias's own line, and anchors
    are taken off the events and kept in ``anchors_at`` (by node id), so that no node is shared:
    a recursive alias or a "billion laughs" document cannot make building its value loop or blow
    up. Values are constructed one scalar at a time by :meth:`_Doc._scalar`.
    """

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = 0
        self.anchors_at: dict[int, tuple[str, yaml.Node]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            return yaml.ScalarNode(_ALIAS_TAG, event.anchor, event.start_mark, event.end_mark)
        event = self.peek_event()
        if self.depth >= MAX_NESTING:
            raise _TooDeep(event.start_mark)
        anchor, event.anchor = event.anchor, None
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if anchor is not None:
            self.anchors_at[id(node)] = (anchor, node)
        return node


class _Doc:
    """A parsed YAML document: plain values plus the line of every key path.

    ``problems`` lists what could not be read as a plain value; ``reported`` holds the key paths
    of those values (kept as ``None``), so that validation does not report them a second time.
    """

    def __init__(self, path: Path, text: str):
        self.path, self.text, self.lines = path, text, {}
        self.problems: list[str] = []
        self.reported: set[tuple] = set()
        self._reported_within: set[tuple] = set()  # every prefix of a reported key path
        try:
            loader = _Loader(text)  # the reader checks every character as it starts
            node = loader.get_single_node()
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise PolicyError([f"{path}:{line}: invalid YAML: {problem}"]) from None
        except _TooDeep as error:
            raise PolicyError([f"{path}:{error.line}: values nested more than {MAX_NESTING} deep; a policy "
                               f"nests a few levels (rules, a rule, its params)"]) from None
        try:
            self._loader = loader
            self.value = {} if node is None else self._build(node, ())
        finally:
            loader.dispose()

    def _refuse(self, key_path: tuple, line: int, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {_dotted(key_path)}: {message}")
        self.reported.add(key_path)
        self._reported_within.update(key_path[:i] for i in range(len(key_path) + 1))

    def _build(self, node: yaml.Node, key_path: tuple) -> Any:
        line = node.start_mark.line + 1
        self.lines[key_path] = line
        if id(node) in self._loader.anchors_at:
            anchor = self._loader.anchors_at[id(node)][0]
            self.problems.append(f"{self.path}:{line}: {_dotted(key_path)}: YAML anchor '&{anchor}': "
                                 f"{_NO_REFERENCES}")
        if node.tag == _ALIAS_TAG:
            return self._refuse(key_path, line, f"YAML alias '*{node.value}': {_NO_REFERENCES}")
        if node.tag == _MERGE_TAG:
            return self._refuse(key_path, line, f"YAML merge key '<<': {_NO_REFERENCES}")
        if node.tag not in _PLAIN_TAGS and not (node.tag == _TIMESTAMP_TAG and key_path[:1] == ("waivers",)):
            return self._refuse(key_path, line, f"unsupported YAML tag {_clip(node.tag)!r}; policies hold "
                                                f"plain values only")
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if key_node.tag == _MERGE_TAG:
                    self._refuse(key_path + ("<<",), key_line, f"YAML merge key '<<': {_NO_REFERENCES}")
                    continue
                key = self._key(key_node, key_path)
                if key is None:
                    continue
                if key in result:
                    self.problems.append(f"{self.path}:{key_line}: {_dotted(key_path + (key,))}: "
                                         f"duplicate key")
                self.lines[key_path + (key,)] = key_line
                result[key] = self._build(value_node, key_path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._build(child, key_path + (i,)) for i, child in enumerate(node.value)]
        return self._scalar(node, key_path)

    def _key(self, node: yaml.Node, key_path: tuple) -> Any:
        """A mapping key as a plain value, or None (and a problem) when it is not one."""
        line = node.start_mark.line + 1
        if id(node) in self._loader.anchors_at or node.tag == _ALIAS_TAG:
            what = "anchor" if node.tag != _ALIAS_TAG else "alias"
            self.problems.append(f"{self.path}:{line}: {_dotted(key_path)}: a key is a YAML {what}; "
                                 f"{_NO_REFERENCES}")
        elif not isinstance(node, yaml.ScalarNode):
            kind = "mapping" if isinstance(node, yaml.MappingNode) else "list"
            self.problems.append(f"{self.path}:{line}: {_dotted(key_path)}: a key must be a plain "
                                 f"value; got a {kind}")
        elif node.tag not in _PLAIN_TAGS:
            self.problems.append(f"{self.path}:{line}: {_dotted(key_path)}: a key has the unsupported "
                                 f"YAML tag {_clip(node.tag)!r}; policies hold plain values only")
        else:
            problems = len(self.problems)
            key = self._scalar(node, key_path)
            if len(self.problems) == problems:
                return key
            # The key is bad, not the mapping it belongs to (which is still being built).
            self.reported.discard(key_path)
            self._reported_within = {p for r in self.reported for p in (r[:i] for i in range(len(r) + 1))}
        return None

    def _scalar(self, node: yaml.ScalarNode, key_path: tuple) -> Any:
        line = node.start_mark.line + 1
        if node.tag in _NUMBER_TAGS and len(node.value) > MAX_NUMBER_CHARS:
            # Converting it could take long (Python refuses integers of over 4300 digits, and
            # YAML 1.1's base-60 numbers are built by repeated multiplication); no limit needs it.
            return self._refuse(key_path, line, f"number too long ({len(node.value)} characters); a "
                                                f"policy's numbers have at most {MAX_NUMBER_CHARS} "
                                                f"characters (a limit is within +-{MAX_LIMIT:g})")
        if node.tag == _TIMESTAMP_TAG and not _TIMESTAMP.match(node.value):
            # An explicit ``!!timestamp`` that is no date at all: the constructor would fail oddly.
            return self._refuse(key_path, line, f"cannot read {_clip(node.value)!r} as a date (YYYY-MM-DD)")
        try:
            return self._loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, TypeError, OverflowError) as error:
            kind = node.tag.rsplit(":", 1)[-1]
            reason = getattr(error, "problem", None) or (str(error).splitlines() or [""])[0]
            return self._refuse(key_path, line, f"cannot read {_clip(node.value)!r} as {kind}"
                                                + (f": {reason}" if reason else ""))

    def where(self, key_path: tuple) -> str:
        while key_path and key_path not in self.lines:
            key_path = key_path[:-1]
        return f"{self.path}:{self.lines.get(key_path, 1)}"

    def reported_under(self, key_path: tuple) -> bool:
        """Whether a value at ``key_path`` or inside it was already reported as unreadable."""
        return key_path in self._reported_within


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _show(value: Any, width: int = 80) -> str:
    """``repr(value)``, cut to ``width`` characters: a message quotes what it got, not all of it."""
    return _clip(repr(value), width)


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


def _safely(check: Callable[[], bool]) -> bool:
    """``check()`` (``path.exists``, say), False instead of an error for a name the system refuses
    (one too long, say)."""
    try:
        return check()
    except (OSError, ValueError):
        return False


def resolve_policy_path(reference: str, *, relative_to: Path | None = None) -> Path:
    """A shipped policy by name (``default``), or a path (relative to the extending file)."""
    if "/" not in reference and not reference.endswith((".yaml", ".yml")):
        path = shipped_dir() / f"{reference}.yaml"
        if not _safely(path.is_file):
            raise PolicyError([f"no shipped policy named {_clip(reference)!r}; shipped policies are "
                               f"{shipped_policies()}"])
        return path
    path = Path(reference)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return path


class _ChainTooDeep(PolicyError):
    """Names the first file and the one too deep already; extending files pass it on unchanged."""


def load_policy(path: str | Path) -> Policy:
    """Load and validate ``path`` (a file, or a shipped policy's name); raises ``PolicyError``
    listing every problem found."""
    path = Path(path) if _safely(Path(path).exists) else resolve_policy_path(str(path))
    try:
        rules, meta, sources, problems, file_sha, waivers = _load_chain(path, [], MAX_POLICY_BYTES)
    except _ChainTooDeep as error:
        raise PolicyError(error.problems) from None
    if problems:
        raise PolicyError(problems)
    digest = hashlib.sha256()
    for source_path, text in sources.items():
        digest.update(f"{source_path}\0{hashlib.sha256(text.encode()).hexdigest()}\n".encode())
    # One file: the sha256 of its bytes; a chain: a digest over every file's sha256.
    sha = file_sha if len(sources) == 1 else digest.hexdigest()
    enabled = tuple(r for r in rules.values() if r is not None)
    if not enabled:
        raise PolicyError([f"{path}:1: rules: the policy has no enabled rules; add at least one"])
    ids = [r.id for r in enabled]
    # A waiver of a rule the policy does not (or no longer) enable would waive nothing, silently.
    stray = [f"{w.origin}: waivers: no enabled rule {w.rule_id!r} in this policy; its rules are {ids} "
             f"(correct the waiver's rule, or remove the waiver)" for w in waivers if w.rule_id not in ids]
    if stray:
        raise PolicyError(stray)
    return Policy(name=meta.get("name") or path.stem, description=meta.get("description", ""),
                  rules=enabled, path=path, sha256=sha, sources=sources, waivers=tuple(waivers))


def _read(path: Path, budget: int, kind: str = "policy") -> tuple[_Doc, str, int]:
    """The document at ``path``, the sha256 of its bytes and their number. Only a regular file of
    at most ``budget`` bytes is read, and never more than that many bytes of it (a file in
    ``/proc`` reports size 0, say). ``kind`` names the file in messages (a policy, waivers)."""
    too_large = f"{path}: {kind} file is larger than {MAX_POLICY_BYTES} bytes; a {kind} file is a few KB"
    if budget < MAX_POLICY_BYTES:
        too_large = (f"{path}: {kind} file is larger than the {budget} bytes left of {MAX_POLICY_BYTES} "
                     f"for a policy and the files it extends together")
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise PolicyError([f"{path}: is a directory, not a {kind} file; name a .yaml file"])
        if not stat.S_ISREG(info.st_mode):
            raise PolicyError([f"{path}: is not a regular file (a device, pipe or socket); a {kind} "
                               f"file is a .yaml file"])
        if info.st_size > budget:
            raise PolicyError([too_large])
        with path.open("rb") as file:
            data = file.read(budget + 1)
    except FileNotFoundError:
        raise PolicyError([f"{path}: {kind} file not found"]) from None
    except OSError as error:
        raise PolicyError([f"{path}: cannot read the {kind} file: {error.strerror or error}"]) from None
    except ValueError as error:  # a NUL character in the name
        raise PolicyError([f"{str(path)!r}: not a usable file name: {error}"]) from None
    if len(data) > budget:
        raise PolicyError([too_large])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError([f"{path}: {kind} file is not valid UTF-8 (byte {error.start})"]) from None
    # Universal newlines, as reading in text mode gives: the chain's digest is over this text.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _Doc(path, text), hashlib.sha256(data).hexdigest(), len(data)


def _load_chain(path: Path, chain: list[Path], budget: int):
    """Rules, name and description, sources, problems, the sha256 of ``path`` and waivers, the
    policies it extends included; ``chain`` holds the files that extend it, ``budget`` the bytes
    left."""
    from aigc_audit.governance.waiver_file import check_waivers  # it reads files with this module
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL: reading says which
        resolved = path.absolute()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in chain + [resolved])
        raise PolicyError([f"{path}:1: extends: cycle of policies: {cycle}"])
    doc, file_sha, size = _read(path, budget)
    problems = list(doc.problems)
    top = doc.value
    if not isinstance(top, dict):
        if doc.problems:
            raise PolicyError(doc.problems)
        raise PolicyError([f"{path}:1: a policy must be a mapping with 'rules'; got "
                           f"{type(top).__name__}"])
    for key, value in top.items():
        if key not in TOP_KEYS:
            problems.append(f"{doc.where((key,))}: {key}: unknown key; valid keys are {sorted(TOP_KEYS)}")
        elif doc.reported_under((key,)):
            continue
        elif not isinstance(value, TOP_KEYS[key]) or isinstance(value, bool):
            problems.append(f"{doc.where((key,))}: {key}: must be {TOP_KEYS[key].__name__}; "
                            f"got {_show(value)}")
    if top.get("version", POLICY_VERSION) != POLICY_VERSION and ("version",) not in doc.reported:
        problems.append(f"{doc.where(('version',))}: version: this tool reads policy version "
                        f"{POLICY_VERSION}; got {_show(top.get('version'))}")

    rules: dict[str, Rule | None] = {}
    raw_rules: dict[str, dict[str, Any]] = {}
    meta: dict[str, str] = {}
    sources: dict[str, str] = {}
    waivers: list[Waiver] = []
    if isinstance(top.get("extends"), str):
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise _ChainTooDeep([f"{doc.where(('extends',))}: extends: more than {MAX_EXTENDS_DEPTH} "
                                 f"policies extend one another, starting at {chain[0]}; a chain of "
                                 f"extends may be at most {MAX_EXTENDS_DEPTH} deep"])
        try:
            parent = resolve_policy_path(top["extends"], relative_to=path.parent)
            parent_rules, meta, sources, parent_problems, _, waivers = _load_chain(
                parent, chain + [resolved], budget - size)
        except _ChainTooDeep:
            raise
        except PolicyError as error:
            raise PolicyError([f"{doc.where(('extends',))}: extends: {p}" for p in error.problems]) \
                from None
        problems += parent_problems
        rules.update(parent_rules)
        raw_rules.update({rid: dict(r.to_dict()) for rid, r in parent_rules.items() if r is not None})
    elif "extends" not in top and "rules" not in top:
        problems.append(f"{path}:1: rules: missing; a policy needs a list of rules or 'extends'")
    sources[str(path)] = doc.text
    if isinstance(top.get("waivers"), list):
        own, waiver_problems = check_waivers(doc, ("waivers",))
        waivers = waivers + own
        problems += waiver_problems
    meta = {**meta, **{k: top[k] for k in ("name", "description") if isinstance(top.get(k), str)}}

    seen: dict[str, int] = {}
    raw_list = top.get("rules") if isinstance(top.get("rules"), list) else []
    for index, raw in enumerate(raw_list):
        key_path = ("rules", index)
        where = doc.where(key_path)
        if key_path in doc.reported:
            continue
        if not isinstance(raw, dict):
            problems.append(f"{where}: {_dotted(key_path)}: a rule must be a mapping; got {_show(raw)}")
            continue
        rule_id = raw.get("id")
        if doc.reported_under(key_path + ("id",)):
            continue
        unusable = None
        if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            unusable = (f"{where}: {_dotted(key_path + ('id',))}: a rule needs an id of lower-case "
                        f"letters, digits, '.', '_' or '-'; got {_show(rule_id)}")
        elif rule_id in seen:
            unusable = (f"{where}: {_dotted(key_path)}: duplicate rule id {rule_id!r} (first at "
                        f"line {seen[rule_id]})")
        if unusable:
            # The rest of the rule is still checked, so that one run lists every problem; only as
            # written, since a rule without a usable id may be meant to override an inherited one.
            fields = {k: v for k, v in raw.items() if k != "id"}
            problems += [unusable, *_validate_rule(fields, raw, doc, key_path, partial=True)[1]]
            continue
        seen[rule_id] = doc.lines[key_path]
        merged = _merge(raw_rules.get(rule_id), raw)
        rule, rule_problems = _validate_rule(merged, raw, doc, key_path)
        problems += rule_problems
        if rule_problems or doc.reported_under(key_path):
            continue
        rules[rule_id] = rule
        if rule is not None:
            raw_rules[rule_id] = merged
        else:
            raw_rules.pop(rule_id, None)
    return rules, meta, sources, problems, file_sha, waivers


def _merge(parent: dict[str, Any] | None, child: dict[str, Any]) -> dict[str, Any]:
    if parent is None:
        return dict(child)
    merged = {k: v for k, v in parent.items() if k != "origin"}
    if "max" in child or "min" in child:
        merged.pop("max", None)
        merged.pop("min", None)
    for key, value in child.items():
        if key in ("params", "baseline") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _validate_rule(rule: dict[str, Any], raw: dict[str, Any], doc: _Doc, key_path: tuple, *,
                   partial: bool = False):
    """Check one merged rule; problems point at the child's lines where it names the field.
    ``partial`` checks only the fields the rule gives (a field it lacks is not a problem)."""
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
        if key in raw and key_path + (key,) in doc.reported:  # unreadable; reported as it was read
            mistyped.add(key)
            continue
        ok = isinstance(value, (int, float)) if expected is float else isinstance(value, expected)
        if not ok or (isinstance(value, bool) and expected is not bool):
            problem(key, f"must be {expected.__name__}; got {_show(value)}")
            mistyped.add(key)
    if rule.get("enabled", True) is False and "enabled" not in mistyped:
        return None, problems
    for key in ("evaluator", "metric", "level"):
        if key not in rule and not partial:
            problem(key, "missing")
    limits = [c for c in COMPARATORS if c in rule]
    if len(limits) > 1 or (not limits and not partial):
        problem("max", f"a rule needs exactly one limit, 'max' or 'min'; got {limits or 'none'}")
    if "level" not in mistyped and rule.get("level") is not None and rule["level"] not in LEVELS:
        problem("level", f"must be one of {list(LEVELS)}; got {_show(rule['level'])}")
    # The limit needs no evaluator to be checked: it is, even when the evaluator is unknown.
    comparator = limits[0] if len(limits) == 1 and limits[0] not in mistyped else None
    limit = math.nan
    if comparator:
        value = rule[comparator]
        # Compared before any conversion (float() of a 400-digit integer overflows); NaN or
        # infinity would make a gate that never fails, or never passes.
        if not (abs(value) <= MAX_LIMIT):
            problem(comparator, f"a limit must be a finite number within +-{MAX_LIMIT:g}; got {_show(value)}")
            comparator = None
        else:
            limit = float(value)
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
            problem("metric", f"evaluator {evaluator.name!r} has no metric {_show(rule['metric'])}; its "
                              f"metrics are {[m.name for m in evaluator.metrics]}")
    if metric is not None and comparator and (
            (metric.minimum is not None and limit < metric.minimum)
            or (metric.maximum is not None and limit > metric.maximum)):
        problem(comparator, f"limit of metric {metric.name!r} must be in "
                            f"[{metric.minimum}, {metric.maximum}]; got {_show(rule[comparator])}")
    params = {} if "params" in mistyped else (rule.get("params") or {})
    # Every bad parameter, each at its own line: the evaluator's own check, not a copy of it.
    # A value already reported as unreadable is not checked again.
    checked = {k: v for k, v in params.items() if not doc.reported_under(key_path + ("params", k))}
    for name, message in _param_problems(evaluator, checked):
        sub = key_path + ("params", name)
        problems.append(f"{doc.where(sub)}: {_dotted(sub)}: {message}")
    gates = None
    if "baseline" in rule and "baseline" not in mistyped:
        gates = _baseline_gates(rule["baseline"], rule.get("level"), metric, doc, key_path + ("baseline",),
                                problems)
    if partial or problems or metric is None or comparator is None:
        return None, problems
    return Rule(id=rule["id"], evaluator=evaluator.name, metric=metric.name, comparator=comparator,
                limit=limit, level=rule["level"], params=dict(params),
                description=rule.get("description", ""), origin=doc.where(key_path), baseline=gates), []


def _baseline_gates(raw: dict[str, Any], rule_level: Any, metric: Any, doc: _Doc, key_path: tuple,
                    problems: list[str]) -> BaselineGates | None:
    """A rule's ``baseline:`` option, every problem at its own line."""
    before = len(problems)

    def problem(key: str | None, message: str) -> None:
        sub = key_path + ((key,) if key is not None else ())
        problems.append(f"{doc.where(sub)}: {_dotted(sub)}: {message}")

    for key, value in raw.items():
        expected = BASELINE_KEYS.get(key)
        if expected is None:
            problem(key, f"unknown key; valid keys are {sorted(BASELINE_KEYS)}")
        elif doc.reported_under(key_path + (key,)):
            continue
        elif (isinstance(value, bool) or not (isinstance(value, (int, float)) if expected is float
                                              else isinstance(value, expected))):
            problem(key, f"must be {expected.__name__}; got {_show(value)}")
        elif key == "max_new_findings" and value < 0:
            problem(key, f"must be 0 or more; got {_show(value)}")
        elif key == "max_regression" and not (0 <= value <= MAX_LIMIT):
            problem(key, f"must be a finite number in [0, {MAX_LIMIT:g}]; got {_show(value)}")
        elif key == "level" and value not in LEVELS:
            problem(key, f"must be one of {list(LEVELS)}; got {_show(value)}")
    if not any(k in raw for k in ("max_new_findings", "max_regression")):
        problem(None, "names no gate; give 'max_new_findings', 'max_regression' or both")
    if "max_new_findings" in raw and metric is not None and metric.per_item is None:
        problem("max_new_findings", f"metric {metric.name!r} does not flag items, so no finding can be "
                                    "new; use 'max_regression' for it")
    if len(problems) > before:
        return None
    level = raw.get("level", rule_level if rule_level in LEVELS else "error")
    return BaselineGates(raw.get("max_new_findings"),
                         None if "max_regression" not in raw else float(raw["max_regression"]), level)


_CHECK_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


def _param_problems(evaluator: type, params: dict[str, Any]) -> list[tuple[Any, str]]:
    """``(name, problem)`` for each bad parameter. Should the evaluator's check fail on a value of a
    shape it did not expect, that parameter is reported as one it cannot check."""
    try:
        return [(bad.name, bad.problem) for bad in evaluator.param_problems(params)]
    except _CHECK_ERRORS:
        pass
    found = []
    for name, value in params.items():
        try:
            found += [(bad.name, bad.problem) for bad in evaluator.param_problems({name: value})]
        except _CHECK_ERRORS as error:
            found.append((name, f"evaluator {evaluator.name!r} cannot check the value {_show(value)} "
                                f"({type(error).__name__}: {_clip(str(error), 100)}); see its "
                                f"documented parameters"))
    return found
