"""The pages' tables and filters as plain functions of stored data (no Streamlit here)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from aigc_audit.governance.compare import Comparison
from aigc_audit.governance.ledger import Entry

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
            "flagged per rule": ", ".join(f"{r}: {v['flagged']}" for r, v in sorted(rules.items())
                                          if v["flagged"]),
            "run": run["run_id"]})
    return pd.DataFrame(rows, columns=["created", "verdict", "samples", "reference", "policy",
                                       "items", "failed rules", "flagged per rule", "run"])


def rules_frame(report: dict[str, Any]) -> pd.DataFrame:
    flagged: dict[str, int] = {}
    for finding in report["findings"]:
        flagged[finding["rule"]] = flagged.get(finding["rule"], 0) + 1
    waived: dict[str, int] = {}
    for finding in report.get("waived", []):
        waived[finding["rule"]] = waived.get(finding["rule"], 0) + 1
    rows = [{"rule": r["id"], "status": r["status"].upper(), "level": r["level"],
             "metric": f"{r['evaluator']}.{r['metric']}", "value": r["value"],
             "limit": f"{'<=' if r['comparator'] == 'max' else '>='} {r['limit']:g}",
             "flagged": flagged.get(r["id"], 0), "waived": waived.get(r["id"], 0),
             "note": r.get("reason", ""), "origin": r.get("origin", "")} for r in report["rules"]]
    return pd.DataFrame(rows, columns=["rule", "status", "level", "metric", "value", "limit",
                                       "flagged", "waived", "note", "origin"])


def review_state(finding: Mapping[str, Any], report: dict[str, Any],
                 decisions: Mapping[tuple[str, str], Entry]) -> tuple[str, Entry | None]:
    """The decision in force on a finding's item under its rule, or ``undecided``."""
    sha = report.get("item_sha256", {}).get(finding["item_id"])
    entry = decisions.get((finding["rule_id"], sha)) if sha else None
    return (entry.decision if entry else UNDECIDED), entry


def filter_findings(findings: list[dict[str, Any]], report: dict[str, Any],
                    decisions: Mapping[tuple[str, str], Entry], *, rules: Collection[str] = (),
                    statuses: Collection[str] = (), reviews: Collection[str] = ()) -> list[dict[str, Any]]:
    """Findings under ``rules``, with finding ``statuses`` and review states ``reviews`` (each
    filter off when empty); each result gains ``review`` and ``decision``."""
    out = []
    for finding in findings:
        review, entry = review_state(finding, report, decisions)
        if (rules and finding["rule_id"] not in rules) or (statuses and finding["status"] not in statuses) \
                or (reviews and review not in reviews):
            continue
        out.append({**finding, "review": review, "decision": entry})
    return out


def item_scores_frame(report: dict[str, Any], item_id: str) -> pd.DataFrame:
    """The item's score in every evaluation of the run."""
    rows = [{"evaluation": key, "score": e["scores"][item_id]}
            for key, e in report.get("evaluations", {}).items() if item_id in (e.get("scores") or {})]
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


def findings_frame(findings: list[dict[str, Any]]) -> pd.DataFrame:
    rows = [{"rule": f["rule"], "item": f["item"], "status": f["status"], "score": f["score"],
             "message": f["message"]} for f in findings]
    return pd.DataFrame(rows, columns=["rule", "item", "status", "score", "message"])
