"""The pages' tables and filters as plain functions of stored data (no Streamlit here)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from aigc_audit.governance.compare import Comparison
from aigc_audit.governance.ledger import Entry
from aigc_audit.governance.report import Finding, Report
from aigc_audit.governance.status import style

UNDECIDED = "undecided"
REVIEW_STATES = (UNDECIDED, "approve", "waive", "reject")


def filter_runs(runs: list[dict[str, Any]], *, verdicts: Collection[str] = (),
                samples: str | None = None) -> list[dict[str, Any]]:
    """Runs with one of ``verdicts`` (all when empty) on the sample set ``samples`` (all when
    None)."""
    return [r for r in runs if (not verdicts or r["verdict"] in verdicts)
            and (samples is None or r["samples_path"] == samples)]


def runs_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for run in runs:
        rules = run.get("rules", {})
        rows.append({
            "created": run["created_at"], "verdict": run["verdict"].upper(),
            "samples": run["samples_path"], "reference": run["reference_path"] or "",
            "policy": run["policy_name"], "items": run["n_items"],
            "failed rules": ", ".join(sorted(r for r, v in rules.items() if v["status"] == "fail")),
            "flagged per rule": ", ".join(f"{r}: {v['n_flagged']}" for r, v in sorted(rules.items())
                                          if v["n_flagged"]),
            "run": run["run_id"]})
    return pd.DataFrame(rows, columns=["created", "verdict", "samples", "reference", "policy",
                                       "items", "failed rules", "flagged per rule", "run"])


def rules_frame(report: Report) -> pd.DataFrame:
    rows = [{"rule": r.rule_id, "status": style(r.status).label, "level": r.level,
             "metric": r.metric_name, "value": r.value, "limit": r.limit_text,
             "flagged": r.n_flagged, "waived": r.n_waived, "note": r.reason, "origin": r.origin}
            for r in report.rules]
    return pd.DataFrame(rows, columns=["rule", "status", "level", "metric", "value", "limit",
                                       "flagged", "waived", "note", "origin"])


def review_state(finding: Finding, report: Report,
                 decisions: Mapping[tuple[str, str], Entry]) -> tuple[str, Entry | None]:
    """The decision in force on a finding's item under its rule, or ``undecided``."""
    sha = report.item_sha256.get(finding.item_id)
    entry = decisions.get((finding.rule_id, sha)) if sha else None
    return (entry.decision if entry else UNDECIDED), entry


@dataclass(frozen=True)
class Reviewed:
    """A finding with the review state of its item under its rule."""

    finding: Finding
    review: str
    decision: Entry | None


def filter_findings(findings: list[Finding], report: Report,
                    decisions: Mapping[tuple[str, str], Entry], *, rules: Collection[str] = (),
                    statuses: Collection[str] = (), reviews: Collection[str] = ()) -> list[Reviewed]:
    """Findings under ``rules``, with finding ``statuses`` and review states ``reviews`` (each
    filter off when empty), each with its review state."""
    out = []
    for finding in findings:
        review, entry = review_state(finding, report, decisions)
        if (rules and finding.rule_id not in rules) or (statuses and finding.status not in statuses) \
                or (reviews and review not in reviews):
            continue
        out.append(Reviewed(finding, review, entry))
    return out


def item_scores_frame(report: Report, item_id: str) -> pd.DataFrame:
    """The item's score in every evaluation of the run."""
    rows = [{"evaluation": key, "score": e.scores[item_id]}
            for key, e in report.evaluations.items() if item_id in e.scores]
    return pd.DataFrame(rows, columns=["evaluation", "score"])


def ledger_frame(entries: list[Entry]) -> pd.DataFrame:
    rows = [{"#": e.seq, "when (UTC)": e.created_at[:19].replace("T", " "), "reviewer": e.reviewer,
             "decision": e.decision, "rule": e.rule_id, "item": e.item_id, "expires": e.expires or "",
             "reason": e.reason, "run": e.run_id, "hash": e.entry_hash[:12]} for e in entries]
    return pd.DataFrame(rows, columns=["#", "when (UTC)", "reviewer", "decision", "rule", "item",
                                       "expires", "reason", "run", "hash"])


def rule_changes_frame(comparison: Comparison) -> pd.DataFrame:
    rows = [{"rule": c.rule, "before": (c.old_status or "absent").upper(),
             "after": (c.new_status or "absent").upper(), "changed": c.changed,
             "value before": c.old_value, "value after": c.new_value, "delta": c.delta,
             "limit": c.limit} for c in comparison.rules]
    return pd.DataFrame(rows, columns=["rule", "before", "after", "changed", "value before",
                                       "value after", "delta", "limit"])


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    rows = [{"rule": f.rule_id, "item": f.item_id, "status": f.status, "score": f.score,
             "message": f.message} for f in findings]
    return pd.DataFrame(rows, columns=["rule", "item", "status", "score", "message"])
