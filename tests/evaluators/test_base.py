"""Parameter checking in one place: every problem found, raised as the project's own error."""

import pytest

from aigc_audit.errors import AuditError, ConfigError
from aigc_audit.evaluators.base import Evaluator, Param, ParamProblem


class Toy(Evaluator):
    name = "toy"
    description = "a toy"
    modalities = ("text",)
    params = (
        Param("threshold", float, 0.5, "a share", minimum=0.0, maximum=1.0),
        Param("size", int, 5, "a count", minimum=1),
        Param("mode", str, "fast", "a choice", choices=("fast", "exact")),
    )

    def evaluate(self, samples, reference, *, track=None):
        raise NotImplementedError


def test_defaults_overlaid_with_the_given_values():
    assert Toy.resolve_params({}) == {"threshold": 0.5, "size": 5, "mode": "fast"}
    assert Toy(size=2).params_ == {"threshold": 0.5, "size": 2, "mode": "fast"}
    assert Toy.param_problems({"threshold": 1, "mode": "exact"}) == []


def test_every_problem_is_found_in_the_order_given():
    problems = Toy.param_problems({"treshold": 0.4, "size": 0, "mode": "slow", "threshold": True})
    assert problems == [
        ParamProblem("treshold", "unknown parameter for evaluator 'toy'; valid parameters are "
                                 "['mode', 'size', 'threshold']",
                     "unknown parameter 'treshold' for evaluator 'toy'; valid parameters are "
                     "['mode', 'size', 'threshold']"),
        ParamProblem("size", "must be >= 1; got 0",
                     "parameter 'size' of evaluator 'toy' must be >= 1; got 0"),
        ParamProblem("mode", "must be one of ['fast', 'exact']; got 'slow'",
                     "parameter 'mode' of evaluator 'toy' must be one of ['fast', 'exact']; got 'slow'"),
        ParamProblem("threshold", "must be float; got True",
                     "parameter 'threshold' of evaluator 'toy' must be float; got True"),
    ]
    assert str(problems[1]) == problems[1].message


def test_one_bad_parameter_is_a_config_error_naming_it():
    with pytest.raises(ConfigError,
                       match=r"^parameter 'threshold' of evaluator 'toy' must be <= 1.0; got 1.5$") as caught:
        Toy(threshold=1.5)
    # The project's own error, which the CLI prints as one line; still a ValueError for old callers.
    assert isinstance(caught.value, AuditError) and isinstance(caught.value, ValueError)


def test_several_bad_parameters_are_all_named_in_one_error():
    with pytest.raises(ConfigError, match=r"^2 bad parameters for evaluator 'toy': \(1\) parameter 'size' of "
                                          r"evaluator 'toy' must be >= 1; got 0\. \(2\) unknown parameter "
                                          r"'colour' for evaluator 'toy'; valid parameters are "
                                          r"\['mode', 'size', 'threshold'\]\.$"):
        Toy(size=0, colour="red")
