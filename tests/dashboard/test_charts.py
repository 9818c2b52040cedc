"""Charts from the stored report: distributions with thresholds, values against limits."""

from aigc_audit.dashboard.charts import distribution_chart, distributions, limits_chart, limits_frame

REPORT = {
    "rules": [{"id": "copy", "evaluator": "near", "value": 0.5, "limit": 0.0, "status": "fail",
               "comparator": "max"},
              {"id": "fid", "evaluator": "frechet", "value": None, "limit": 30.0, "status": "skip",
               "comparator": "max"}],
    "evaluations": {
        "near": {"evaluator": "near", "params": {"threshold": 0.5, "shingle_size": 5},
                 "scores": {"a": 0.1, "b": 0.9, "c": None}},
        "integrity": {"evaluator": "integrity", "params": {}, "scores": {"a": 0.0, "b": 0.0}},
    },
}


def test_distributions_carry_scores_and_thresholds():
    (near,) = distributions(REPORT)  # the integrity check scores everything 0: nothing to draw
    assert near.scores == [0.1, 0.9] and near.thresholds == {"threshold": 0.5}
    assert near.rules == ["copy"]
    spec = distribution_chart(near).to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "rule", "text"]


def test_limits_leave_out_rules_without_a_value():
    assert list(limits_frame(REPORT)["rule"]) == ["copy"]
    assert limits_chart(REPORT).to_dict()["resolve"] == {"scale": {"x": "independent"}}
    assert limits_chart({"rules": [REPORT["rules"][1]]}) is None
