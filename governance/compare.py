"""Two audit reports side by side: rules whose status changed, metric deltas, new and resolved
findings.

Findings are matched on (rule, item content) where both reports carry ``item_sha256``, so a
release that renumbers its items still matches the same texts and images; otherwise on
(rule, item id).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aigc_audit.governance.report import Finding, Report


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


def finding_key(report: Report, finding: Finding, *, by_content: bool = True) -> tuple[str, str]:
    """(rule, item content hash), or (rule, ``id:`` item id) where the content is unknown."""
    sha = report.item_sha256.get(finding.item_id) if by_content else None
    return finding.rule_id, sha or f"id:{finding.item_id}"


def compare_reports(old: Report, new: Report) -> Comparison:
    old_rules = {r.rule_id: r for r in old.rules}
    new_rules = {r.rule_id: r for r in new.rules}
    order = list(new_rules) + [rule_id for rule_id in old_rules if rule_id not in new_rules]
    rules = []
    for rule_id in order:
        a, b = old_rules.get(rule_id), new_rules.get(rule_id)
        rules.append(RuleChange(rule_id, a and a.status, b and b.status, a and a.value,
                                b and b.value, (b or a).limit_text))
    # Matching on content needs both reports to carry it; otherwise ids on both sides.
    by_content = bool(old.item_sha256) and bool(new.item_sha256)
    keyed_old = {finding_key(old, f, by_content=by_content): f for f in old.findings}
    keyed_new = {finding_key(new, f, by_content=by_content): f for f in new.findings}
    keyed_waived = {finding_key(new, f, by_content=by_content): f for f in new.waived}
    return Comparison(old.run_id, new.run_id, old.verdict, new.verdict, rules,
                      [f for k, f in keyed_new.items() if k not in keyed_old],
                      [f for k, f in keyed_old.items() if k not in keyed_new and k not in keyed_waived],
                      sum(1 for k in keyed_new if k in keyed_old),
                      [keyed_waived[k] for k in keyed_old if k in keyed_waived])
