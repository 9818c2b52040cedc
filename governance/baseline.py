"""A run against a baseline: which findings are new, which persist, which were resolved, how each
metric moved, and the policy's baseline gates (``baseline:`` on a rule).

A finding persists when the baseline has a finding under the same rule for the same item id, or
for an item with the same content (``item_sha256``), so a release that renumbers its items still
matches the same texts and images.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from aigc_audit.errors import AuditError, InputError
from aigc_audit.governance.policy import Rule
from aigc_audit.governance.report import (
    GATE_NEW_FINDINGS,
    GATE_REGRESSION,
    NEW,
    NO_BASELINE,
    PERSISTING,
    RESOLVED,
    Finding,
    MetricChange,
    Report,
    RuleOutcome,
)
from aigc_audit.governance.status import FAIL, PASS, SKIP

# A report.json is a few MB at most; anything far larger is not one.
MAX_BASELINE_BYTES = 512 * 1024 * 1024


def looks_like_file(reference: str) -> bool:
    """Whether ``--baseline`` names a file rather than a run id (run ids hold no '/' or '.json')."""
    return "/" in reference or "\\" in reference or reference.endswith(".json") or Path(reference).exists()


def read_baseline_file(path: str | Path) -> Report:
    """The report in a ``report.json``; raises ``InputError`` naming the file (and line) when it
    is missing, not JSON, or not an aigc-audit report."""
    path = Path(path)
    how = "pass a report.json an earlier audit wrote, or a run id from 'aigc-audit runs'"
    try:
        if path.stat().st_size > MAX_BASELINE_BYTES:
            raise InputError(f"baseline is {path.stat().st_size} bytes, larger than any report; {how}",
                             path=path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"baseline not found; {how}", path=path) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"baseline cannot be read: {getattr(error, 'strerror', None) or error}; {how}",
                         path=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"baseline is not valid JSON: {error.msg}; {how}", path=path,
                         line=error.lineno) from None
    try:
        return Report.from_dict(data)
    except KeyError as error:
        raise InputError(f"baseline is not a complete aigc-audit report (no field {error}); {how}",
                         path=path) from None
    except (TypeError, ValueError, AttributeError) as error:
        raise InputError(f"baseline is not a complete aigc-audit report (a field of the wrong type: "
                         f"{error}); {how}", path=path) from None
    except AuditError as error:  # another schema: keep its words, add the file
        raise InputError(str(error), path=path) from None


def _keys(item_sha256: Mapping[str, str], finding: Finding) -> tuple[tuple[str, str], ...]:
    sha = item_sha256.get(finding.item_id)
    by_id = (finding.rule_id, f"id:{finding.item_id}")
    return (by_id, (finding.rule_id, f"sha:{sha}")) if sha else (by_id,)


def _all_keys(findings: tuple[Finding, ...] | list[Finding],
              item_sha256: Mapping[str, str]) -> set[tuple[str, str]]:
    return {key for f in findings for key in _keys(item_sha256, f)}


def mark_findings(findings: list[Finding], item_sha256: Mapping[str, str], baseline: Report,
                  rule_id: str) -> list[Finding]:
    """``findings`` of one rule, each marked new or persisting against ``baseline``."""
    old = _all_keys(baseline.findings_of(rule_id), baseline.item_sha256)
    return [replace(f, baseline=PERSISTING if old.intersection(_keys(item_sha256, f)) else NEW)
            for f in findings]


def resolved_findings(findings: list[Finding], item_sha256: Mapping[str, str],
                      baseline: Report) -> tuple[Finding, ...]:
    """The baseline's findings that no finding of this run matches, marked resolved."""
    now = _all_keys(findings, item_sha256)
    return tuple(replace(f, baseline=RESOLVED) for f in baseline.findings
                 if not now.intersection(_keys(baseline.item_sha256, f)))


def metric_changes(outcomes: list[RuleOutcome], baseline: Report) -> tuple[MetricChange, ...]:
    """Each rule's metric now and in the baseline (None where the baseline lacks the rule)."""
    then = {r.rule_id: r for r in baseline.rules if not r.gate}
    return tuple(MetricChange(r.rule_id, r.metric_name, r.comparator, r.value,
                              then[r.rule_id].value if r.rule_id in then else None)
                 for r in outcomes if not r.gate)


def gate_outcomes(rule: Rule, outcome: RuleOutcome, findings: list[Finding],
                  baseline: Report | None) -> list[RuleOutcome]:
    """The baseline gates of ``rule`` (its ``baseline:`` option), given the rule's own outcome
    and its findings already marked new or persisting."""
    gates = rule.baseline
    if gates is None:
        return []

    def gate(name: str, limit: float, status: str, value: float | None, reason: str = "",
             worst: tuple[str, ...] = ()) -> RuleOutcome:
        what = (f"at most {limit:g} finding(s) of rule {rule.id} that the baseline run did not have"
                if name == GATE_NEW_FINDINGS else
                f"{outcome.metric_name} at most {limit:g} worse than in the baseline run")
        return replace(outcome, rule_id=f"{rule.id}:{name}", gate=name, comparator="max", limit=limit,
                       level=gates.level, status=status, value=value, reason=reason, worst_items=worst,
                       n_flagged=len(worst) if name == GATE_NEW_FINDINGS else 0, n_waived=0,
                       description=f"Baseline gate: {what}.")

    then = None if baseline is None else next(
        (r for r in baseline.rules if r.rule_id == rule.id and not r.gate), None)
    why_not = (NO_BASELINE if baseline is None
               else f"not applicable: {outcome.reason or 'the rule did not apply'}" if outcome.status == SKIP
               else f"not applicable: baseline run {baseline.run_id} did not apply rule {rule.id}"
               if then is None else "")
    out = []
    if gates.max_new_findings is not None:
        limit = float(gates.max_new_findings)
        if why_not:
            out.append(gate(GATE_NEW_FINDINGS, limit, SKIP, None, why_not))
        else:
            new = tuple(f.item_id for f in findings if f.baseline == NEW)
            out.append(gate(GATE_NEW_FINDINGS, limit, PASS if len(new) <= limit else FAIL,
                            float(len(new)), f"{len(new)} new finding(s) against run {baseline.run_id}",
                            new))
    if gates.max_regression is not None:
        change = None if why_not else MetricChange(rule.id, outcome.metric_name, rule.comparator,
                                                   outcome.value, then.value)
        if change is not None and change.worse_by is None:
            why_not = "not applicable: the metric has no value " + (
                "in this run" if outcome.value is None else f"in baseline run {baseline.run_id}")
        if why_not:
            out.append(gate(GATE_REGRESSION, gates.max_regression, SKIP, None, why_not))
        else:
            worse = round(change.worse_by, 12)  # a float difference must not fail a 0 margin by 1e-17
            out.append(gate(GATE_REGRESSION, gates.max_regression,
                            PASS if worse <= gates.max_regression else FAIL, worse,
                            f"{change.baseline_value:.4g} in run {baseline.run_id}, {outcome.value:.4g} now"))
    return out
