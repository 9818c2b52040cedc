"""Charts drawn from a stored report only: per-item score distributions with the evaluator's
threshold drawn in, and every rule's value against its limit."""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd

from aigc_audit.governance.report import Report
from aigc_audit.governance.status import STYLES


@dataclass(frozen=True)
class Distribution:
    key: str                      # the evaluation's key in the report
    evaluator: str
    scores: list[float]
    thresholds: dict[str, float]  # parameter name -> value
    rules: list[str]              # the rules that read this evaluation


def distributions(report: Report) -> list[Distribution]:
    """One distribution per evaluation that scored items; thresholds are the evaluator's
    parameters named ``*threshold*`` (the score at which an item is flagged)."""
    rules_by_evaluation: dict[str, list[str]] = {}
    for rule in report.rules:
        rules_by_evaluation.setdefault(rule.evaluation, []).append(rule.rule_id)
    out = []
    for key, evaluation in report.evaluations.items():
        scores = [s for s in evaluation.scores.values() if s is not None]
        thresholds = {name: float(value) for name, value in evaluation.params.items()
                      if "threshold" in name and isinstance(value, (int, float))
                      and not isinstance(value, bool)}
        if not scores or (len(set(scores)) < 2 and not thresholds):
            continue  # nothing to see: every item scored the same (an integrity check, say)
        out.append(Distribution(key, evaluation.evaluator, scores, thresholds,
                                rules_by_evaluation.get(key, [])))
    return out


def distribution_chart(distribution: Distribution) -> alt.LayerChart:
    scores = pd.DataFrame({"score": distribution.scores})
    bars = alt.Chart(scores).mark_bar(color="#5c6bc0").encode(
        x=alt.X("score:Q", bin=alt.Bin(maxbins=40), title=f"{distribution.evaluator} score"),
        y=alt.Y("count():Q", title="items"))
    layers: list[alt.Chart] = [bars]
    if distribution.thresholds:
        lines = pd.DataFrame({"threshold": list(distribution.thresholds.values()),
                              "name": list(distribution.thresholds)})
        layers.append(alt.Chart(lines).mark_rule(color="#c62828", strokeDash=[6, 3], size=2)
                      .encode(x="threshold:Q", tooltip=["name", "threshold"]))
        layers.append(alt.Chart(lines).mark_text(align="left", dx=4, dy=-6, color="#c62828")
                      .encode(x="threshold:Q", y=alt.value(8),
                              text=alt.Text("name:N")))
    return alt.layer(*layers).properties(height=220, title=distribution.evaluator)


def limits_frame(report: Report) -> pd.DataFrame:
    rows = [{"rule": r.rule_id, "value": r.value, "limit": r.limit, "status": r.status,
             "comparator": r.comparator} for r in report.rules if r.value is not None]
    return pd.DataFrame(rows, columns=["rule", "value", "limit", "status", "comparator"])


def limits_chart(report: Report) -> alt.FacetChart | None:
    """A bar per rule for its value and a black tick for its limit, each rule on its own scale
    (a Fréchet distance and a share do not share an axis)."""
    frame = limits_frame(report)
    if frame.empty:
        return None
    base = alt.Chart().encode(y=alt.Y("rule:N", title=None, axis=alt.Axis(labels=False, ticks=False)))
    bars = base.mark_bar(height=18).encode(
        x=alt.X("value:Q", title=None),
        color=alt.Color("status:N", scale=alt.Scale(domain=list(STYLES),
                                                     range=[s.colour for s in STYLES.values()]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=["rule", "value", "comparator", "limit", "status"])
    ticks = base.mark_tick(color="black", thickness=3, size=28).encode(x="limit:Q")
    return alt.layer(bars, ticks, data=frame).properties(height=34, width=520).facet(
        row=alt.Row("rule:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left"))
    ).resolve_scale(x="independent")
