"""The audit runner: load the sets, run each evaluator the policy needs once, apply the rules."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aigc_audit
from aigc_audit.errors import ConfigError, InputError
from aigc_audit.evaluators import registry
from aigc_audit.evaluators.base import PER_ITEM_COUNT, Evaluation, Track, no_progress
from aigc_audit.evaluators.harm import HarmCache, HarmEvaluator
from aigc_audit.governance.baseline import gate_outcomes, mark_findings, metric_changes, resolved_findings
from aigc_audit.governance.policy import Policy, Rule, load_policy
from aigc_audit.governance.report import (
    Baseline,
    EvaluationRecord,
    Finding,
    Location,
    PolicySummary,
    Report,
    RuleOutcome,
    SetSummary,
    UnreadableItem,
    verdict,
)
from aigc_audit.governance.status import FAIL, PASS, SKIP, WAIVED
from aigc_audit.governance.waiver_file import Waiver as WaiverEntry
from aigc_audit.sampleset import REFERENCE, SAMPLES, Item, SampleSet, content_sha256, load_sample_set

if TYPE_CHECKING:
    from aigc_audit.evaluators.copying.distributed_join import DaskCandidateJoin
    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex

WORST_ITEMS = 5
_ORIGIN = re.compile(r"^(?P<path>.*):(?P<line>\d+)$")
# ``waiver(rule_id, item_id)`` returns the reason an item is waived under a rule, or None.
Waiver = Callable[[str, str], str | None]


@dataclass(frozen=True)
class AuditResult:
    """The typed report of a run, plus the live objects it was made from (the loaded sets, and the
    evaluations with every item's evidence) for callers that look further."""

    report: Report
    policy: Policy
    samples: SampleSet
    reference: SampleSet | None
    evaluations: dict[str, Evaluation]

    def exit_code(self, *, strict: bool | None = None) -> int:
        """0 or 1 as the CLI exits; ``strict`` defaults to how the run was made."""
        return self.report.exit_code(strict=strict)


def evaluation_key(rule: Rule) -> str:
    """Rules that read the same evaluator with the same parameters share one evaluation."""
    return f"{rule.evaluator}:{json.dumps(rule.params, sort_keys=True)}" if rule.params else rule.evaluator


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def run_audit(samples: str | Path | SampleSet, policy: str | Path | Policy, *,
              reference: str | Path | SampleSet | None = None, track: Track = no_progress,
              waiver: Waiver | None = None, expired_waivers: Sequence[WaiverEntry] = (),
              strict: bool = False, baseline: Report | None = None, baseline_source: str = "",
              index: ReferenceIndex | None = None, attached: Sequence[Evaluation] = (),
              engine: DaskCandidateJoin | None = None) -> AuditResult:
    """Audit ``samples`` under ``policy``; raises ``AuditError`` when the run cannot be made.

    ``waiver`` answers which flagged items are waived (see :class:`~.waivers.Waivers`);
    ``expired_waivers`` are listed in the report as no longer applying. ``strict`` makes a warning
    fail the run (and every report says so); ``baseline``, an earlier run's report, marks each
    finding new or persisting and decides the policy's baseline gates (``baseline_source`` says
    where it was read from). ``index``, a stored index of the reference set, goes to the
    evaluators that take one (``accepts_index``), ``engine``, a candidate join on a cluster, to those
    that take one (``accepts_engine``; a policy with no rule to take it is refused). ``attached``
    evaluations, made beforehand (an extraction probe of the model, say), stand in for their
    evaluator in every rule that reads it; one that no rule reads is refused rather than ignored."""
    policy = policy if isinstance(policy, Policy) else load_policy(policy)
    samples = samples if isinstance(samples, SampleSet) else load_sample_set(samples, role=SAMPLES)
    if reference is not None and not isinstance(reference, SampleSet):
        reference = load_sample_set(reference, role=REFERENCE)
    needing = [r.id for r in policy.rules if registry.get(r.evaluator).needs_reference]
    if reference is None and needing:
        raise InputError(f"rule(s) {needing} compare against a training set; pass --reference")

    if engine is not None and not any(getattr(registry.get(r.evaluator), "accepts_engine", False)
                                      for r in policy.rules):
        raise ConfigError(f"policy {policy.name!r} has no rule on an evaluator that runs on a cluster "
                          "(text_near_duplicate), so --engine dask would do nothing; add such a rule or "
                          "leave out --engine")
    given = {e.evaluator: e for e in attached}
    unread = sorted(set(given) - {r.evaluator for r in policy.rules})
    if unread:
        raise ConfigError(f"policy {policy.name!r} has no rule on evaluator(s) {unread}, so the attached "
                          "result(s) would be ignored; add a rule on them or attach nothing")
    now = datetime.now(UTC)
    evaluations: dict[str, Evaluation] = {}
    # One cache for every harm rule of the run: a classifier that scores several categories is
    # loaded, and scores the set, once however many category rules read it.
    harm_cache = HarmCache()
    for rule in policy.rules:
        key = evaluation_key(rule)
        if key not in evaluations and rule.evaluator in given:
            evaluations[key] = given[rule.evaluator]
        elif key not in evaluations:
            cls = registry.get(rule.evaluator)
            extra = {"cache": harm_cache} if issubclass(cls, HarmEvaluator) else {}
            if index is not None and getattr(cls, "accepts_index", False):
                extra["index"] = index
            if engine is not None and getattr(cls, "accepts_engine", False):
                extra["engine"] = engine
            evaluator = cls(**rule.params, **extra)
            evaluations[key] = evaluator.evaluate(samples, reference, track=track)

    applied = []
    for rule in policy.rules:
        applied.append((rule, *apply_rule(rule, evaluation_key(rule), evaluations[evaluation_key(rule)],
                                          waiver)))
    flagged = [samples.get(f.item_id) for _, _, counted, excused in applied for f in counted + excused]
    # What a reviewer's decision on a finding is keyed on (see governance/ledger.py), and what a
    # finding is matched on against a baseline when item ids differ.
    item_sha256 = {item.id: content_sha256(item) for item in flagged if item is not None}
    outcomes, findings, waived = [], [], []
    for rule, outcome, rule_findings, rule_waived in applied:
        if baseline is not None:
            rule_findings = mark_findings(rule_findings, item_sha256, baseline, rule.id)
        outcomes += [outcome, *gate_outcomes(rule, outcome, rule_findings, baseline)]
        findings += rule_findings
        waived += rule_waived
    root = sample_root(samples)
    summary = None
    if baseline is not None:
        summary = Baseline(baseline.run_id, baseline.created_at, baseline_source, baseline.verdict,
                           resolved_findings(findings, item_sha256, baseline),
                           metric_changes(outcomes, baseline))
    errors: dict[str, str] = {}
    for evaluation in evaluations.values():
        for item_id, reason in evaluation.errors.items():
            errors.setdefault(item_id, reason)
    report = Report(
        run_id=new_run_id(now), created_at=now.isoformat(timespec="microseconds"),
        tool_version=aigc_audit.__version__, verdict=verdict(outcomes),
        samples=SetSummary.of(samples), reference=None if reference is None else SetSummary.of(reference),
        policy=PolicySummary(policy.name, policy.description, str(policy.path), policy.sha256,
                             tuple(r.to_dict() for r in policy.rules)),
        rules=tuple(outcomes), findings=tuple(sorted(findings)), waived=tuple(sorted(waived)),
        item_errors=tuple(UnreadableItem(k, v) for k, v in sorted(errors.items())),
        item_origins={item.id: item.origin for item in flagged if item is not None and item.origin},
        item_sha256=item_sha256,
        evaluations={key: EvaluationRecord.of(key, e) for key, e in evaluations.items()},
        expired_waivers=tuple(expired_waivers),
        strict=strict, samples_root=root.as_posix() if root else "",
        item_locations={item.id: item_locations(item, root) for item in flagged if item is not None},
        baseline=summary)
    return AuditResult(report, policy, samples, reference, evaluations)


def sample_root(samples: SampleSet) -> Path | None:
    """The folder item locations are relative to: the set's folder, or the folder of its file;
    None for a set built in memory."""
    if not samples.path:
        return None
    path = Path(samples.path).resolve()
    return path if path.is_dir() else path.parent


def _relative(path: str | Path, root: Path | None) -> str:
    resolved = Path(path).resolve()
    inside = root is not None and resolved.is_relative_to(root)
    return (resolved.relative_to(root) if inside else resolved).as_posix()


def item_locations(item: Item, root: Path | None) -> tuple[Location, ...]:
    """The item's own file first (an image, or the file whose line holds a text), then the
    manifest line that lists an image."""
    found = []
    if item.path is not None:
        found.append(Location(_relative(item.path, root)))
    match = _ORIGIN.match(item.origin)
    if match and Path(match["path"]).is_file():
        found.append(Location(_relative(match["path"], root), int(match["line"])))
    elif item.origin and (item.path is None or Path(item.origin).resolve() != Path(item.path).resolve()):
        found.append(Location(_relative(item.origin, root)))
    return tuple(found)


def apply_rule(rule: Rule, key: str, evaluation: Evaluation,
               waiver: Waiver | None = None) -> tuple[RuleOutcome, list[Finding], list[Finding]]:
    """Compare the rule's metric with its limit. For per-item metrics, a waived item is taken out
    of the count before the comparison, and every flagged item becomes a finding. ``key`` is the
    evaluation's key in the report, which the outcome records."""
    evaluator = registry.get(rule.evaluator)
    metric = evaluator.metric(rule.metric)

    def outcome(status: str, value: float | None, **extra: Any) -> RuleOutcome:
        return RuleOutcome(rule.id, key, rule.evaluator, rule.metric, rule.comparator, rule.limit,
                           rule.level, status, value, evaluation.n_items,
                           description=rule.description, origin=rule.origin, **extra)

    if evaluation.skip_reason:
        return outcome(SKIP, None, reason=evaluation.skip_reason), [], []
    if evaluation.n_items == 0:
        return outcome(SKIP, None, reason=f"no {'/'.join(evaluator.modalities)} items in the "
                                          "sample set"), [], []
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
    findings, waived = [], []
    for item in flagged:
        waived_reason = waived_items.get(item.item_id)
        finding = Finding(rule.id, item.item_id, rule.level,
                          WAIVED if waived_reason is not None else status,
                          evaluator.describe(item) + (f"; {waived_reason}" if waived_reason else ""),
                          round(item.score, 6), item.evidence)
        (waived if waived_reason is not None else findings).append(finding)
    worst = tuple(r.item_id for r in (flagged or evaluation.worst(WORST_ITEMS))
                  if r.item_id not in waived_items)[:WORST_ITEMS]
    reason = f"{len(waived_items)} flagged item(s) waived by reviewers" if waived_items else ""
    return (outcome(status, value, n_flagged=len(findings), n_waived=len(waived), reason=reason,
                    worst_items=worst), findings, waived)


def recount(per_item: str, value: float | None, n_waived: int, n_items: int) -> float | None:
    """A per-item metric after taking out waived items: a count drops by the number waived, a
    share by that number over the item count."""
    if value is None:
        return None
    if per_item == PER_ITEM_COUNT:
        return max(0.0, value - n_waived)
    return max(0.0, value - n_waived / n_items)
