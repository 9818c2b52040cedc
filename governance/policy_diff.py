"""What got looser or stricter between two policies (or two waivers files).

Each difference is one :class:`PolicyChange` with a direction:

- **looser**: a limit raised on a ``max`` rule or lowered on a ``min`` rule, a rule removed (or
  disabled), a level lowered from error to warning, a waiver added or its expiry extended;
- **stricter**: the opposite of each;
- **changed**: what has no direction by itself: an evaluator's parameters, the evaluator or metric
  a rule reads, a limit turned from ``max`` into ``min``.

Waivers are compared per rule and named item (an id, a ``sha256:`` hash or an id pattern), by the
last day they apply: a pair only in the new file is added, one only in the old file removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from aigc_audit.governance.policy import LEVELS, Policy, Rule
from aigc_audit.governance.waiver_file import Waiver

LOOSER, STRICTER, CHANGED = "looser", "stricter", "changed"
DIRECTIONS = (LOOSER, STRICTER, CHANGED)
# What a change is about.
RULE, LIMIT, LEVEL, PARAMS, EVALUATOR, METRIC, WAIVER = (
    "rule", "limit", "level", "params", "evaluator", "metric", "waiver")


@dataclass(frozen=True, order=True)
class PolicyChange:
    """One difference: ``subject`` (a rule id) and ``aspect`` say what, ``old`` and ``new`` show the
    two sides as text (empty where a side has none); sorts by rule, then aspect."""

    subject: str
    aspect: str
    direction: str
    old: str
    new: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.direction}: {self.subject} {self.aspect}: {self.old or '-'} -> {self.new or '-'}" + (
            f" ({self.detail})" if self.detail else "")

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "aspect": self.aspect, "direction": self.direction,
                "old": self.old, "new": self.new, "detail": self.detail}


def _limit_direction(comparator: str, old: float, new: float) -> str:
    raised = new > old
    return (LOOSER if raised else STRICTER) if comparator == "max" else (STRICTER if raised else LOOSER)


def _rule_text(rule: Rule) -> str:
    return f"{rule.metric} {rule.limit_text()} ({rule.level})"


def diff_rules(old: Sequence[Rule], new: Sequence[Rule]) -> list[PolicyChange]:
    """Every difference between two lists of (enabled) rules."""
    before, after = {r.id: r for r in old}, {r.id: r for r in new}
    changes = []
    for rule_id in sorted(before.keys() - after.keys()):
        changes.append(PolicyChange(rule_id, RULE, LOOSER, _rule_text(before[rule_id]), "",
                                    "removed or disabled"))
    for rule_id in sorted(after.keys() - before.keys()):
        changes.append(PolicyChange(rule_id, RULE, STRICTER, "", _rule_text(after[rule_id]), "added"))
    for rule_id in sorted(before.keys() & after.keys()):
        a, b = before[rule_id], after[rule_id]
        for aspect, x, y in ((EVALUATOR, a.evaluator, b.evaluator), (METRIC, a.metric, b.metric)):
            if x != y:
                changes.append(PolicyChange(rule_id, aspect, CHANGED, x, y))
        if a.comparator != b.comparator:
            changes.append(PolicyChange(rule_id, LIMIT, CHANGED, a.limit_text(), b.limit_text(),
                                        "max and min limits are not comparable"))
        elif a.limit != b.limit:
            direction = _limit_direction(a.comparator, a.limit, b.limit)
            changes.append(PolicyChange(rule_id, LIMIT, direction, a.limit_text(), b.limit_text(),
                                        ("raised" if b.limit > a.limit else "lowered")
                                        + f" on a {a.comparator} limit"))
        if a.level != b.level:
            # LEVELS runs from the strictest (error) to the mildest (warning).
            milder = LEVELS.index(b.level) > LEVELS.index(a.level)
            changes.append(PolicyChange(rule_id, LEVEL, LOOSER if milder else STRICTER, a.level, b.level))
        for name in sorted(set(a.params) | set(b.params), key=str):
            x, y = a.params.get(name), b.params.get(name)
            if x != y or (name in a.params) != (name in b.params):
                # A parameter the policy does not give takes the evaluator's default.
                changes.append(PolicyChange(rule_id, PARAMS, CHANGED,
                                            f"{name}={x!r}" if name in a.params else f"{name} (default)",
                                            f"{name}={y!r}" if name in b.params else f"{name} (default)"))
    return changes


def _last_days(waivers: Iterable[Waiver]) -> dict[tuple[str, str], date]:
    """The last day each (rule, named item) is waived: the latest of the waivers naming it."""
    days: dict[tuple[str, str], date] = {}
    for waiver in waivers:
        for item in waiver.items:
            key = (waiver.rule_id, item)
            days[key] = max(days.get(key, waiver.expires), waiver.expires)
    return days


def diff_waivers(old: Iterable[Waiver], new: Iterable[Waiver]) -> list[PolicyChange]:
    """Waivers added or extended (looser), removed or shortened (stricter), per rule and item."""
    before, after = _last_days(old), _last_days(new)
    changes = []
    for key in sorted(before.keys() | after.keys()):
        rule_id, item = key
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if a is None:
            direction, detail = LOOSER, "added"
        elif b is None:
            direction, detail = STRICTER, "removed"
        else:
            direction, detail = (LOOSER, "extended") if b > a else (STRICTER, "shortened")
        changes.append(PolicyChange(rule_id, WAIVER, direction, f"{item} until {a}" if a else "",
                                    f"{item} until {b}" if b else "", detail))
    return changes


def diff_policies(old: Policy, new: Policy) -> list[PolicyChange]:
    """Every difference between two policies, their waivers included, sorted by rule."""
    return sorted(diff_rules(old.rules, new.rules) + diff_waivers(old.waivers, new.waivers))


def loosened(changes: Iterable[PolicyChange]) -> bool:
    return any(c.direction == LOOSER for c in changes)
