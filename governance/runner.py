"""The audit runner: load the sets, run each evaluator the policy needs once, apply the rules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aigc_audit
from aigc_audit.errors import InputError
from aigc_audit.sampleset import content_sha256, REFERENCE, SAMPLES, SampleSet, load_sample_set
from aigc_audit.evaluators import registry
from aigc_audit.evaluators.base import PER_ITEM_COUNT, Evaluation, Track, no_progress
from aigc_audit.governance.findings import FAIL, PASS, SKIP, WAIVED, Finding, RuleResult, exit_code, verdict
from aigc_audit.governance.policy import Policy, Rule, load_policy

REPORT_SCHEMA = "aigc-audit/report/v1"
WORST_ITEMS = 5
# ``waiver(rule_id, item_id)`` returns the reason an item is waived under a rule, or None.
Waiver = Callable[[str, str], str | None]


@dataclass
class AuditResult:
    run_id: str
    created_at: str
    policy: Policy
    samples: SampleSet
    reference: SampleSet | None
    evaluations: dict[str, Evaluation]
    rule_results: list[RuleResult]
    findings: list[Finding]
    verdict: str
    waived: list[Finding] = field(default_factory=list)

    def exit_code(self, *, strict: bool = False) -> int:
        return exit_code(self.verdict, strict=strict)

    def item_errors(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        for evaluation in self.evaluations.values():
            for item_id, reason in evaluation.errors.items():
                errors.setdefault(item_id, reason)
        return errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "tool": {"name": "aigc-audit", "version": aigc_audit.__version__},
            "verdict": self.verdict,
            "inputs": {"samples": self.samples.describe(),
                       "reference": None if self.reference is None else self.reference.describe()},
            "policy": self.policy.to_dict(),
            "rules": [r.to_dict() for r in self.rule_results],
            "findings": [f.to_dict() for f in self.findings],
            "waived": [f.to_dict() for f in self.waived],
            "item_errors": [{"item": k, "reason": v} for k, v in sorted(self.item_errors().items())],
            "item_origins": {f.item_id: self.samples.get(f.item_id).origin
                             for f in self.findings + self.waived if self.samples.get(f.item_id)},
            # What a reviewer's decision on a finding is keyed on (see governance/ledger.py).
            "item_sha256": {f.item_id: content_sha256(self.samples.get(f.item_id))
                            for f in self.findings + self.waived if self.samples.get(f.item_id)},
            "evaluations": {key: e.to_dict() for key, e in self.evaluations.items()},
        }


def evaluation_key(rule: Rule) -> str:
    """Rules that read the same evaluator with the same parameters share one evaluation."""
    return f"{rule.evaluator}:{json.dumps(rule.params, sort_keys=True)}" if rule.params else rule.evaluator


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run_audit(samples: str | Path | SampleSet, policy: str | Path | Policy, *,
              reference: str | Path | SampleSet | None = None, track: Track = no_progress,
              waiver: Waiver | None = None) -> AuditResult:
    """Audit ``samples`` under ``policy``; raises ``AuditError`` when the run cannot be made."""
    policy = policy if isinstance(policy, Policy) else load_policy(policy)
    samples = samples if isinstance(samples, SampleSet) else load_sample_set(samples, role=SAMPLES)
    if reference is not None and not isinstance(reference, SampleSet):
        reference = load_sample_set(reference, role=REFERENCE)
    needing = [r.id for r in policy.rules if registry.get(r.evaluator).needs_reference]
    if reference is None and needing:
        raise InputError(f"rule(s) {needing} compare against a training set; pass --reference")

    now = datetime.now(timezone.utc)
    evaluations: dict[str, Evaluation] = {}
    for rule in policy.rules:
        key = evaluation_key(rule)
        if key not in evaluations:
            evaluator = registry.get(rule.evaluator)(**rule.params)
            evaluations[key] = evaluator.evaluate(samples, reference, track=track)

    rule_results, findings, waived = [], [], []
    for rule in policy.rules:
        evaluation = evaluations[evaluation_key(rule)]
        result, rule_findings, rule_waived = apply_rule(rule, evaluation, waiver)
        rule_results.append(result)
        findings += rule_findings
        waived += rule_waived
    return AuditResult(run_id=new_run_id(now), created_at=now.isoformat(timespec="seconds"),
                       policy=policy, samples=samples, reference=reference, evaluations=evaluations,
                       rule_results=rule_results, findings=sorted(findings), verdict=verdict(rule_results),
                       waived=sorted(waived))


def apply_rule(rule: Rule, evaluation: Evaluation,
               waiver: Waiver | None = None) -> tuple[RuleResult, list[Finding], list[Finding]]:
    """Compare the rule's metric with its limit. For per-item metrics, a waived item is taken out
    of the count before the comparison, and every flagged item becomes a finding."""
    evaluator = registry.get(rule.evaluator)
    metric = evaluator.metric(rule.metric)
    if evaluation.skip_reason:
        return RuleResult(rule, None, SKIP, evaluation.n_items, reason=evaluation.skip_reason), [], []
    if evaluation.n_items == 0:
        return RuleResult(rule, None, SKIP, 0, reason=f"no {'/'.join(evaluator.modalities)} items "
                                                       "in the sample set"), [], []
    flagged = evaluation.flagged() if metric is not None and metric.per_item else []
    waived_items: dict[str, str] = {}
    if waiver is not None:
        for item in flagged:
            reason = waiver(rule.id, item.item_id)
            if reason is not None:
                waived_items[item.item_id] = reason
    value = evaluation.metrics.get(rule.metric)
    if waived_items:
        value = recount(metric.per_item, value, len(waived_items), evaluation.n_items)
    status = PASS if rule.passes(value) else FAIL
    describe = evaluator.describe
    findings, waived = [], []
    for item in flagged:
        waived_reason = waived_items.get(item.item_id)
        finding = Finding(rule.id, item.item_id, rule.level,
                          WAIVED if waived_reason is not None else status,
                          describe(item) + (f"; {waived_reason}" if waived_reason else ""),
                          round(item.score, 6), item.evidence)
        (waived if item.item_id in waived_items else findings).append(finding)
    worst = tuple(r.item_id for r in (flagged or evaluation.worst(WORST_ITEMS))
                  if r.item_id not in waived_items)[:WORST_ITEMS]
    reason = f"{len(waived_items)} flagged item(s) waived by reviewers" if waived_items else ""
    return RuleResult(rule, value, status, evaluation.n_items, reason=reason, worst=worst), findings, waived


def recount(per_item: str, value: float | None, n_waived: int, n_items: int) -> float | None:
    """A per-item metric after taking out waived items: a count drops by the number waived, a
    share by that number over the item count."""
    if value is None:
        return None
    if per_item == PER_ITEM_COUNT:
        return max(0.0, value - n_waived)
    return max(0.0, value - n_waived / n_items)
