"""Charts from the stored report: distributions with thresholds, values against limits."""

from aigc_audit.dashboard.charts import distribution_chart, distributions, limits_chart, limits_frame
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
