"""Two audit reports side by side: rules whose status changed, metric deltas, new and resolved
findings.

Findings are matched on (rule, item content) where both reports carry ``item_sha256``, so a
release that renumbers its items still matches the same texts and images; otherwise on
(rule, item id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RuleChange:
    rule: str
    old_status: str | None
    new_status: str | None
    old_value: float | None
    new_value: float | None
    limit: str

    @property
    def changed(self) -> bool:
        return self.old_status != self.new_status

    @property
    def delta(self) -> float | None:
        if self.old_value is None or self.new_value is None:
            return None
        return self.new_value - self.old_value


@dataclass(frozen=True)
class Comparison:
    old_run: str
    new_run: str
    old_verdict: str
    new_verdict: str
    rules: list[RuleChange]
    new_findings: list[dict[str, Any]]
    resolved_findings: list[dict[str, Any]]
    persisting: int

    @property
    def changed_rules(self) -> list[RuleChange]:
        return [r for r in self.rules if r.changed]


def _limit(rule: dict[str, Any]) -> str:
    return f"{'<=' if rule['comparator'] == 'max' else '>='} {rule['limit']:g}"


def finding_key(report: dict[str, Any], finding: dict[str, Any]) -> tuple[str, str]:
    return finding["rule"], report.get("item_sha256", {}).get(finding["item"]) or f"id:{finding['item']}"


def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    old_rules = {r["id"]: r for r in old["rules"]}
    new_rules = {r["id"]: r for r in new["rules"]}
    order = list(new_rules) + [rule_id for rule_id in old_rules if rule_id not in new_rules]
    rules = []
    for rule_id in order:
        a, b = old_rules.get(rule_id), new_rules.get(rule_id)
        rules.append(RuleChange(rule_id, a and a["status"], b and b["status"], a and a["value"],
                                b and b["value"], _limit(b or a)))
    # Matching on content needs both reports to carry it; otherwise fall back to ids on both sides.
    by_content = "item_sha256" in old and "item_sha256" in new
    keyed_old = {(finding_key(old, f) if by_content else (f["rule"], f["item"])): f for f in old["findings"]}
    keyed_new = {(finding_key(new, f) if by_content else (f["rule"], f["item"])): f for f in new["findings"]}
    return Comparison(old["run_id"], new["run_id"], old["verdict"], new["verdict"], rules,
                      [f for k, f in keyed_new.items() if k not in keyed_old],
                      [f for k, f in keyed_old.items() if k not in keyed_new],
                      sum(1 for k in keyed_new if k in keyed_old))
