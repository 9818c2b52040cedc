"""Small hand-made reports for tests of what reads a report (compare, tables, charts)."""

from __future__ import annotations

from aigc_audit.governance.report import (
    EvaluationRecord,
    Finding,
    PolicySummary,
    Report,
    RuleOutcome,
    SetSummary,
)


def outcome(rule_id: str, status: str = "pass", value: float | None = 0.0, *, evaluation: str = "e",
            evaluator: str = "e", metric: str = "m", comparator: str = "max", limit: float = 0.0,
            level: str = "error", **extra) -> RuleOutcome:
    return RuleOutcome(rule_id, evaluation, evaluator, metric, comparator, limit, level, status, value,
                       n_items=3, **extra)


def finding(rule_id: str, item_id: str, status: str = "fail", score: float = 1.0) -> Finding:
    return Finding(rule_id, item_id, "error", status, f"{item_id} flagged", score)


def evaluation(key: str, scores: dict, params: dict | None = None,
               evaluator: str | None = None) -> EvaluationRecord:
    return EvaluationRecord(key, evaluator or key, params or {}, {}, len(scores), scores=scores)


def make_report(run_id: str = "run", verdict: str = "pass", rules=(), findings=(), waived=(),
                item_sha256=None, evaluations=(), item_errors=()) -> Report:
    return Report(run_id=run_id, created_at="2026-11-28T00:00:00+00:00", tool_version="0",
                  verdict=verdict, samples=SetSummary("s", "manifest", "samples", "0" * 64, 3),
                  reference=None, policy=PolicySummary("p", "", "p.yaml", "1" * 64),
                  rules=tuple(rules), findings=tuple(findings), waived=tuple(waived),
                  item_sha256=item_sha256 or {}, evaluations={e.key: e for e in evaluations},
                  item_errors=tuple(item_errors))
