"""Charts from the stored report: distributions with thresholds, values against limits."""

import json
from dataclasses import replace

from aigc_audit.dashboard.charts import (
    distribution_chart,
    distributions,
    history_chart,
    history_frame,
    limits_chart,
    limits_frame,
)
from tests.governance.report_factory import evaluation, make_report, outcome

RULES = [outcome("copy", "fail", 0.5, evaluation="near", evaluator="near"),
         outcome("fid", "skip", None, evaluation="frechet", evaluator="frechet", limit=30.0)]
REPORT = make_report(rules=RULES, evaluations=[
    evaluation("near", {"a": 0.1, "b": 0.9, "c": None}, {"threshold": 0.5, "shingle_size": 5}),
    evaluation("integrity", {"a": 0.0, "b": 0.0})])


def test_distributions_carry_scores_and_thresholds():
    (near,) = distributions(REPORT)  # the integrity check scores everything 0: nothing to draw
    assert near.scores == [0.1, 0.9] and near.thresholds == {"threshold": 0.5}
    assert near.rules == ["copy"]
    spec = distribution_chart(near).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "rule", "text"]


def test_limits_leave_out_rules_without_a_value():
    assert list(limits_frame(REPORT)["rule"]) == ["copy"]
    assert limits_chart(REPORT).to_dict()["resolve"] == {"scale": {"x": "independent"}}
    assert limits_chart(make_report(rules=RULES[1:])) is None


def test_a_distribution_lists_the_rules_of_its_own_evaluation():
    """Two rules on the same evaluator with different parameters read different evaluations."""
    report = make_report(
        rules=[outcome("strict", evaluation="near:a", evaluator="near"),
               outcome("loose", evaluation="near:b", evaluator="near")],
        evaluations=[evaluation("near:a", {"x": 0.1, "y": 0.9}, {"threshold": 0.3}, "near"),
                     evaluation("near:b", {"x": 0.2, "y": 0.8}, {"threshold": 0.7}, "near")])
    assert {d.key: d.rules for d in distributions(report)} == {"near:a": ["strict"], "near:b": ["loose"]}


def test_an_image_distance_bound_is_drawn_as_the_score_it_flags_at():
    image_scores = evaluation("image", {"a": 0.1, "b": 0.95}, {"max_pixel_distance": 0.2})
    report = make_report(evaluations=[image_scores])
    (image,) = distributions(report)
    assert image.thresholds == {"1 - max_pixel_distance": 0.8}
    spec = distribution_chart(image).to_dict()
    (rule,) = [layer for layer in spec["layer"] if layer["mark"].get("type") == "rule"]
    assert rule["encoding"]["x"]["field"] == "threshold"
    assert any(row.get("threshold") == 0.8 for rows in spec["datasets"].values() for row in rows)


def test_history_is_oldest_first_with_the_limit_of_each_run():
    runs = [replace(make_report(run_id=run_id, rules=[outcome("copy", "fail", value, limit=limit)]),
                    created_at=created)
            for run_id, value, limit, created in (("b", 0.4, 0.3, "2026-11-02T00:00:00+00:00"),
                                                   ("a", 0.5, 0.35, "2026-11-01T00:00:00+00:00"),
                                                   ("c", 0.1, 0.3, "2026-11-03T00:00:00+00:00"))]
    frame = history_frame(runs, "copy")
    assert list(frame["run"]) == ["a", "b", "c"] and list(frame["value"]) == [0.5, 0.4, 0.1]
    assert list(frame["limit"]) == [0.35, 0.3, 0.3]
    assert history_frame(runs, "absent").empty
    spec = history_chart(frame, "copy").to_dict()
    marks = [(layer["mark"]["type"], layer["encoding"]["y"]["field"]) for layer in spec["layer"]]
    assert marks == [("line", "value"), ("line", "limit"), ("point", "value")]
    assert spec["layer"][1]["mark"]["strokeDash"] == [6, 3]
    assert json.dumps(spec)  # a valid Vega-Lite spec, as Streamlit sends it
