"""The result types of an audit: a rule's result, a finding, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aigc_audit.governance.policy import Rule

PASS, WARN, FAIL = "pass", "warn", "fail"
SKIP = "skip"
WAIVED = "waived"


@dataclass(frozen=True, order=True)
class Finding:
    """One flagged item under one rule; sorts by rule, then item, and prints as one line."""

    rule_id: str
    item_id: str
    level: str
    status: str
    message: str = field(compare=False)
    score: float = field(default=0.0, compare=False)
    evidence: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return f"{self.rule_id} [{self.level}/{self.status}] {self.item_id}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule_id, "item": self.item_id, "level": self.level, "status": self.status,
                "score": self.score, "message": self.message, "evidence": self.evidence}


@dataclass(frozen=True)
class RuleResult:
    """A rule applied to its evaluation. ``status`` is pass, fail or skip (not applicable)."""

    rule: Rule
    value: float | None
    status: str
    n_items: int
    reason: str = ""
    worst: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.rule.id, "evaluator": self.rule.evaluator, "metric": self.rule.metric,
                "value": self.value, "comparator": self.rule.comparator, "limit": self.rule.limit,
                "level": self.rule.level, "status": self.status, "n_items": self.n_items,
                "reason": self.reason, "worst_items": list(self.worst),
                "description": self.rule.description, "origin": self.rule.origin}


def verdict(results: list[RuleResult]) -> str:
    """fail when an error-level rule fails, warn when only warning-level rules fail, else pass."""
    if any(r.failed and r.rule.level == "error" for r in results):
        return FAIL
    if any(r.failed for r in results):
        return WARN
    return PASS


def exit_code(result_verdict: str, *, strict: bool = False) -> int:
    """The CI contract: 0 pass (warnings too), 1 failed (or warned under ``strict``)."""
    if result_verdict == FAIL or (strict and result_verdict == WARN):
        return 1
    return 0
