"""Two audit reports side by side: rules whose status changed, metric deltas, new and resolved
findings.

Findings are matched as an audit's ``--baseline`` matches them (:mod:`~aigc_audit.governance.baseline`):
under the same rule, on the item id or on the item's content (``item_sha256``), so a release that
renumbers its items still matches the same texts and images.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aigc_audit.governance.baseline import mark_findings, resolved_findings
from aigc_audit.governance.report import NEW, PERSISTING, Finding, Report


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
    new_findings: list[Finding]
    resolved_findings: list[Finding]
    persisting: int
    # Findings of the old run that the new run still finds but waives: not resolved.
    waived_findings: list[Finding] = field(default_factory=list)

    @property
    def changed_rules(self) -> list[RuleChange]:
        return [r for r in self.rules if r.changed]


def compare_reports(old: Report, new: Report) -> Comparison:
    old_rules = {r.rule_id: r for r in old.rules}
    new_rules = {r.rule_id: r for r in new.rules}
    order = list(new_rules) + [rule_id for rule_id in old_rules if rule_id not in new_rules]
    rules = []
    for rule_id in order:
        a, b = old_rules.get(rule_id), new_rules.get(rule_id)
        rules.append(RuleChange(rule_id, a and a.status, b and b.status, a and a.value,
                                b and b.value, (b or a).limit_text))
    def marked(findings: tuple[Finding, ...]) -> list[Finding]:
        return [f for rule_id in dict.fromkeys(f.rule_id for f in findings)
                for f in mark_findings([g for g in findings if g.rule_id == rule_id], new.item_sha256, old,
                                       rule_id)]

    found, waived = marked(new.findings), marked(new.waived)
    # A finding the new run still has but waives is not resolved: it is listed apart.
    return Comparison(old.run_id, new.run_id, old.verdict, new.verdict, rules,
                      [f for f in found if f.baseline == NEW],
                      list(resolved_findings(found + waived, new.item_sha256, old)),
                      sum(1 for f in found if f.baseline == PERSISTING),
                      [f for f in waived if f.baseline == PERSISTING])
