"""Waivers kept in the repository: accepted findings, each with a reason, an approver and an
expiry date, validated like a policy.

A waivers file (``waivers.yaml`` beside the policy, given by ``aigc-audit audit --waivers``)::

    version: 1
    waivers:
      - rule: copyright.text.near_duplicate
        items: [c-1, "sha256:9f86d0...", "quotes-*"]   # ids, content hashes or id patterns
        reason: quotes a public-domain play
        approver: alice
        expires: 2027-01-31    # the last day it applies

A policy may hold the same list under its own ``waivers:`` key. An item is named by its id, by
``sha256:`` and the SHA-256 of its content (:func:`~aigc_audit.sampleset.content_sha256`: it holds
for that content whatever its id, as a reviewer's decision in the ledger does), or by a pattern on
ids (``*``, ``?``, ``[...]``, as in :mod:`fnmatch`). A waiver applies up to and including its expiry
day; from the day after, the audit counts the finding again and its report lists the waiver as
expired. Every problem is reported with file, line and key path, like a policy's.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from aigc_audit.errors import PolicyError
from aigc_audit.governance.policy import MAX_POLICY_BYTES, RULE_ID, _Doc, _dotted, _read, _safely, _show

WAIVERS_VERSION = 1
FILE_KEYS = {"version": int, "waivers": list}
WAIVER_KEYS = ("rule", "items", "reason", "approver", "expires")
SHA256_PREFIX = "sha256:"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GLOB = re.compile(r"[*?\[]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Waiver:
    """Findings of one rule accepted until ``expires`` (inclusive). ``origin`` says where it was
    written (``waivers.yaml:12``, ``ledger entry 3``)."""

    rule_id: str
    items: tuple[str, ...]
    reason: str
    approver: str
    expires: date
    origin: str = ""
    ledger_seq: int | None = None

    def active_on(self, day: date) -> bool:
        return day <= self.expires

    def matches(self, item_id: str, item_sha256: str | None) -> bool:
        """Whether an item (its id and content hash) is one this waiver names."""
        for pattern in self.items:
            if pattern.startswith(SHA256_PREFIX):
                if item_sha256 is not None and pattern[len(SHA256_PREFIX):] == item_sha256:
                    return True
            elif _GLOB.search(pattern):
                if fnmatch.fnmatchcase(item_id, pattern):
                    return True
            elif pattern == item_id:
                return True
        return False

    def describe(self) -> str:
        """What a waived finding's message says of it."""
        return f"waived by {self.approver} until {self.expires} ({self.origin}): {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "items": list(self.items), "reason": self.reason,
                "approver": self.approver, "expires": self.expires.isoformat(), "origin": self.origin,
                "ledger_seq": self.ledger_seq}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Waiver:
        return cls(data["rule_id"], tuple(data["items"]), data["reason"], data["approver"],
                   date.fromisoformat(data["expires"]), data.get("origin", ""), data.get("ledger_seq"))

    def to_entry(self) -> dict[str, Any]:
        """The waiver as an entry of a waivers file."""
        return {"rule": self.rule_id, "items": list(self.items), "reason": self.reason,
                "approver": self.approver, "expires": self.expires}


def _expiry(value: Any) -> date | None:
    # ``datetime`` is a ``date`` too: a time of day has no place in an expiry.
    if type(value) is date:
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _item_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"an item is an id, 'sha256:' and a content hash, or an id pattern; got {_show(value)}"
    if value.startswith(SHA256_PREFIX) and not _SHA256.fullmatch(value[len(SHA256_PREFIX):]):
        return (f"a content hash is 'sha256:' and 64 lower-case hex digits (the report's item_sha256); "
                f"got {_show(value)}")
    return None


def check_waivers(doc: _Doc, key_path: tuple) -> tuple[list[Waiver], list[str]]:
    """The waivers listed at ``key_path`` of ``doc``, and every problem with them, located."""
    waivers: list[Waiver] = []
    problems: list[str] = []
    raw_list = doc.value
    for part in key_path:
        raw_list = raw_list[part]
    for index, raw in enumerate(raw_list):
        entry_path = key_path + (index,)
        if entry_path in doc.reported:
            continue
        waiver, found = _check_entry(doc, entry_path, raw)
        problems += found
        if waiver is not None:
            waivers.append(waiver)
    return waivers, problems


def _check_entry(doc: _Doc, entry_path: tuple, raw: Any) -> tuple[Waiver | None, list[str]]:
    if not isinstance(raw, dict):
        return None, [f"{doc.where(entry_path)}: {_dotted(entry_path)}: a waiver must be a mapping with "
                      f"{list(WAIVER_KEYS)}; got {_show(raw)}"]
    found: list[str] = []

    def problem(key: str, message: str) -> None:
        sub = entry_path + ((key,) if key in raw else ())
        found.append(f"{doc.where(sub)}: {_dotted(entry_path + (key,))}: {message}")

    for key in raw:
        if key not in WAIVER_KEYS:
            problem(key, f"unknown key; valid keys are {list(WAIVER_KEYS)}")
    for key in WAIVER_KEYS:
        if key not in raw:
            problem(key, "missing; a waiver needs " + ", ".join(WAIVER_KEYS))
    if doc.reported_under(entry_path) or found:
        return None, found
    rule, items, reason, approver = raw["rule"], raw["items"], raw["reason"], raw["approver"]
    if not isinstance(rule, str) or not RULE_ID.match(rule):
        problem("rule", f"a rule id of lower-case letters, digits, '.', '_' or '-'; got {_show(rule)}")
    if not isinstance(items, list) or not items:
        problem("items", f"a list of one or more item ids, 'sha256:' content hashes or id patterns; "
                         f"got {_show(items)}")
    else:
        for i, item in enumerate(items):
            message = _item_problem(item)
            if message:
                sub = entry_path + ("items", i)
                found.append(f"{doc.where(sub)}: {_dotted(sub)}: {message}")
    for key, value in (("reason", reason), ("approver", approver)):
        if not isinstance(value, str) or not value.strip():
            problem(key, f"must be a non-empty text; got {_show(value)}")
    expires = _expiry(raw["expires"])
    if expires is None:
        problem("expires", f"must be a date, YYYY-MM-DD (the last day the waiver applies); "
                           f"got {_show(raw['expires'])}")
    if found:
        return None, found
    return Waiver(rule, tuple(items), reason.strip(), approver.strip(), expires,
                  origin=doc.where(entry_path)), []


def _document(path: Path) -> _Doc:
    return _read(path, MAX_POLICY_BYTES, kind="waivers")[0]


def load_waivers(path: str | Path) -> tuple[Waiver, ...]:
    """Read and validate a waivers file; raises ``PolicyError`` listing every problem, located."""
    path = Path(path)
    doc = _document(path)
    top = doc.value
    if not isinstance(top, dict):
        raise PolicyError(doc.problems or [f"{path}:1: a waivers file is a mapping with 'version' and "
                                           f"'waivers'; got {_show(top)}"])
    problems = list(doc.problems)
    for key, value in top.items():
        if key not in FILE_KEYS:
            problems.append(f"{doc.where((key,))}: {key}: unknown key; valid keys are {sorted(FILE_KEYS)}")
        elif not doc.reported_under((key,)) and (not isinstance(value, FILE_KEYS[key])
                                                  or isinstance(value, bool)):
            problems.append(f"{doc.where((key,))}: {key}: must be {FILE_KEYS[key].__name__}; "
                            f"got {_show(value)}")
    if "waivers" not in top:
        problems.append(f"{path}:1: waivers: missing; a waivers file lists its waivers under 'waivers'")
    if top.get("version", WAIVERS_VERSION) != WAIVERS_VERSION and ("version",) not in doc.reported:
        problems.append(f"{doc.where(('version',))}: version: this tool reads waivers version "
                        f"{WAIVERS_VERSION}; got {_show(top.get('version'))}")
    waivers: list[Waiver] = []
    if isinstance(top.get("waivers"), list):
        waivers, found = check_waivers(doc, ("waivers",))
        problems += found
    if problems:
        raise PolicyError(problems)
    return tuple(waivers)


def is_waivers_file(path: str | Path) -> bool:
    """Whether ``path`` is a readable mapping with ``waivers`` and neither ``rules`` nor
    ``extends``: a waivers file rather than a policy. Anything else is left to the policy reader,
    which reports what is wrong with it."""
    path = Path(path)
    if not _safely(path.is_file):
        return False
    try:
        top = _document(path).value
    except PolicyError:
        return False
    return isinstance(top, dict) and "waivers" in top and not {"rules", "extends"} & set(top)


def dump_waivers(waivers: list[Waiver], comments: list[str] | None = None) -> str:
    """A waivers file holding ``waivers``, each under its comment line (``comments[i]``), written
    with YAML's safe dumper so that any reason or id reads back as the same text."""
    lines = [f"version: {WAIVERS_VERSION}", "waivers:" if waivers else "waivers: []"]
    for i, waiver in enumerate(waivers):
        if comments and comments[i]:
            # One line whatever it holds: JSON escapes every line break YAML knows.
            lines.append("  # " + json.dumps(comments[i])[1:-1])
        entry = yaml.safe_dump([waiver.to_entry()], sort_keys=False, allow_unicode=False, width=100)
        lines += ["  " + line for line in entry.splitlines()]
    return "\n".join(lines) + "\n"
