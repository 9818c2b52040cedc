"""The pages' tables and filters as plain functions of stored data (no Streamlit here)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from aigc_audit.evaluators import evidence as keys
from aigc_audit.governance.compare import Comparison
from aigc_audit.governance.ledger import Entry
from aigc_audit.governance.report import Finding, Report
from aigc_audit.governance.status import style

UNDECIDED = "undecided"
REVIEW_STATES = (UNDECIDED, "approve", "waive", "reject")
# What each review state is called on the pages.
REVIEW_LABELS = {UNDECIDED: "undecided", "approve": "approved", "waive": "waived", "reject": "rejected"}
BY_TRAINING_ITEM = "training item"
BY_RULE = "rule"
GROUPINGS = (BY_TRAINING_ITEM, BY_RULE)
NO_TRAINING_ITEM = "(no training item)"


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


def search_text(finding: Finding, item_text: str | None = None) -> str:
    """What a search looks in, lower-cased: the item id, rule, message, the training item's id,
    source and text, the shared passages and the generated text (``item_text``)."""
    evidence = finding.evidence
    parts = [finding.item_id, finding.rule_id, finding.message, evidence.get(keys.MATCH_ID),
             evidence.get(keys.MATCH_SOURCE), evidence.get(keys.MATCH_LICENSE), evidence.get(keys.MATCH_TEXT),
             *(p.get(keys.PASSAGE_TEXT) for p in evidence.get(keys.SHARED) or () if isinstance(p, Mapping)),
             item_text]
    return "\n".join(str(part) for part in parts if part).casefold()


def search_findings(reviewed: list[Reviewed], query: str,
                    item_texts: Mapping[str, str] | None = None) -> list[Reviewed]:
    """The findings that hold every word of ``query`` (any case; a "quoted phrase" is one word)
    in :func:`search_text`; all of them for an empty query. ``item_texts``: generated text by
    item id, when it can be read."""
    words = [phrase or word for phrase, word in re.findall(r'"([^"]+)"|(\S+)', query.casefold())]
    if not words:
        return list(reviewed)
    texts = item_texts or {}
    return [r for r in reviewed
            if all(word in search_text(r.finding, texts.get(r.finding.item_id)) for word in words)]


def group_name(finding: Finding, by: str) -> str:
    if by == BY_TRAINING_ITEM:
        return str(finding.evidence.get(keys.MATCH_ID) or NO_TRAINING_ITEM)
    if by == BY_RULE:
        return finding.rule_id
    raise ValueError(f"group by one of {GROUPINGS}; got {by!r}")


@dataclass(frozen=True)
class Group:
    """Findings that share a training item (or a rule), in the order given (worst first)."""

    name: str
    members: tuple[Reviewed, ...]

    @property
    def counts(self) -> dict[str, int]:
        """How many members are in each review state (every state, zeros included)."""
        counts = dict.fromkeys(REVIEW_STATES, 0)
        for member in self.members:
            counts[member.review] += 1
        return counts

    @property
    def finding_keys(self) -> list[str]:
        return [member.finding.key for member in self.members]

    @property
    def label(self) -> str:
        counts = self.counts
        return (f"{self.name} · {len(self.members)} finding(s) · "
                + ", ".join(f"{counts[s]} {REVIEW_LABELS[s]}" for s in REVIEW_STATES if counts[s]))


def group_findings(reviewed: list[Reviewed], by: str) -> list[Group]:
    """Groups by training item or rule, largest first (then by name)."""
    members: dict[str, list[Reviewed]] = {}
    for r in reviewed:
        members.setdefault(group_name(r.finding, by), []).append(r)
    return sorted((Group(name, tuple(rs)) for name, rs in members.items()),
                  key=lambda g: (-len(g.members), g.name))


def groups_frame(groups: list[Group], by: str) -> pd.DataFrame:
    rows = [{by: g.name, "findings": len(g.members),
             **{REVIEW_LABELS[s]: n for s, n in g.counts.items()},
             "rules" if by == BY_TRAINING_ITEM else "training items": len(
                 {group_name(m.finding, BY_RULE if by == BY_TRAINING_ITEM else BY_TRAINING_ITEM)
                  for m in g.members}),
             "top score": max(m.finding.score for m in g.members)} for g in groups]
    other = "rules" if by == BY_TRAINING_ITEM else "training items"
    return pd.DataFrame(rows, columns=[by, "findings", *REVIEW_LABELS.values(), other, "top score"])


def reviewed_frame(reviewed: list[Reviewed]) -> pd.DataFrame:
    rows = [{"item": r.finding.item_id, "rule": r.finding.rule_id, "status": r.finding.status,
             "score": r.finding.score, "review": REVIEW_LABELS[r.review],
             "training item": r.finding.evidence.get(keys.MATCH_ID) or "",
             "message": r.finding.message} for r in reviewed]
    return pd.DataFrame(rows, columns=["item", "rule", "status", "score", "review", "training item",
                                       "message"])


def neighbours(keys_in_order: list[str], current: str) -> tuple[str | None, str | None]:
    """The finding before and after ``current`` in the list shown (None at either end, or when
    ``current`` is not shown)."""
    if current not in keys_in_order:
        return None, None
    index = keys_in_order.index(current)
    return (keys_in_order[index - 1] if index > 0 else None,
            keys_in_order[index + 1] if index + 1 < len(keys_in_order) else None)


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
