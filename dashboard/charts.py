"""Charts drawn from stored reports only: per-item score distributions with the evaluator's
threshold drawn in, every rule's value against its limit, and a rule's value across runs (its
history) with its limit drawn in."""

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
        thresholds = score_thresholds(evaluation.params)
        if not scores or (len(set(scores)) < 2 and not thresholds):
            continue  # nothing to see: every item scored the same (an integrity check, say)
        out.append(Distribution(key, evaluation.evaluator, scores, thresholds,
                                rules_by_evaluation.get(key, [])))
    return out


# Parameters that bound a distance, not the score: the image evaluators score an item
# 1 - pixel distance, so "max_pixel_distance: 0.2" flags scores at or above 0.8.
DISTANCE_PARAMS = {"max_pixel_distance": "1 - max_pixel_distance"}


def score_thresholds(params: dict) -> dict[str, float]:
    """Name -> score at which an item is flagged: parameters named ``*threshold*``, and the
    distance bounds of :data:`DISTANCE_PARAMS` turned into scores."""
    out = {}
    for name, value in params.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if "threshold" in name:
            out[name] = float(value)
        elif name in DISTANCE_PARAMS:
            out[DISTANCE_PARAMS[name]] = 1.0 - float(value)
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


HISTORY_COLUMNS = ["created", "run", "value", "limit", "comparator", "status"]


def history_frame(reports: list[Report], rule_id: str) -> pd.DataFrame:
    """``rule_id``'s value, limit and status in each of ``reports`` that applied it, oldest first."""
    rows = [{"created": pd.Timestamp(report.created_at), "run": report.run_id, "value": rule.value,
             "limit": rule.limit, "comparator": rule.comparator, "status": rule.status}
            for report in reports for rule in report.rules if rule.rule_id == rule_id]
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    return frame.sort_values(["created", "run"], ignore_index=True)


def history_chart(frame: pd.DataFrame, rule_id: str) -> alt.LayerChart:
    """The value across runs (points coloured by status) and the limit as a dashed red line."""
    base = alt.Chart(frame, height=260).encode(
        x=alt.X("created:T", title="run", axis=alt.Axis(format="%Y-%m-%d", labelAngle=0)))
    value = base.mark_line(color="#5c6bc0").encode(y=alt.Y("value:Q", title=rule_id))
    points = base.mark_point(filled=True, size=80, opacity=1).encode(
        y="value:Q",
        color=alt.Color("status:N", scale=alt.Scale(domain=list(STYLES),
                                                     range=[s.colour for s in STYLES.values()])),
        tooltip=["run", "created:T", "value", "comparator", "limit", "status"])
    limit = base.mark_line(color="#c62828", strokeDash=[6, 3], size=2, interpolate="step-after").encode(
        y="limit:Q", tooltip=["run", "comparator", "limit"])
    return alt.layer(value, limit, points)  # the page says which rule and runs
