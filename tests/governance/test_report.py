"""The report model's JSON edge: strict JSON whatever numbers a report holds."""

from __future__ import annotations

import json
import math

import pytest

from aigc_audit.governance.report import json_text


def _strict(text: str):
    """Parse as strict JSON: a bare NaN or Infinity token is an error, as in jq or a browser."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_valid_json():
    data = {"nan": math.nan, "inf": math.inf, "neg": [-math.inf, 1.5], "nested": {"x": (math.inf,)}}
    text = json_text(data, indent=None)
    assert text == '{"nan": null, "inf": 1e999, "neg": [-1e999, 1.5], "nested": {"x": [1e999]}}'
    back = _strict(text)
    assert back["inf"] == math.inf and back["neg"][0] == -math.inf and back["nan"] is None


def test_a_string_cannot_pose_as_an_infinity():
    # Whatever a sample's text says, it stays a string: the marks are new for every call.
    hostile = ['"1e999"', "+", "-", "1e999", "\x00+"]
    assert _strict(json_text(hostile)) == hostile
    assert _strict(json_text({"a": hostile, "b": math.inf}))["a"] == hostile


@pytest.mark.parametrize("value", [0, -3, 2.5, True, None, "x", 10 ** 30])
def test_finite_values_are_written_as_json_writes_them(value):
    assert json_text({"v": value}) == json.dumps({"v": value}, indent=2, ensure_ascii=False)
