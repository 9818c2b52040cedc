"""Report writers under hostile text: ids, messages, sources and reasons come from samples and
are data, never markup, in every format; any text yields well-formed files."""

from __future__ import annotations

import json
import math
import re
from xml.etree import ElementTree

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aigc_audit.governance import reports
from aigc_audit.governance.report import EvaluationRecord, Finding, UnreadableItem
from tests.governance.report_factory import finding, make_report, outcome

# An HTML tag, comment or declaration opening: what a Markdown renderer would pass through as HTML.
_TAG = re.compile(r"<[A-Za-z/!?]")


def _outside_code(markdown: str) -> str:
    """``markdown`` without its code spans, read as CommonMark does: a backslash-escaped backtick
    outside a span is a literal one, and a span closes at the next run of exactly as many backticks
    (backslashes inside it are literal)."""
    out, at = [], 0
    while at < len(markdown):
        if markdown.startswith("\\`", at):
            out.append("`")
            at += 2
            continue
        run = re.match(r"`+", markdown[at:])
        if run is None:
            out.append(markdown[at])
            at += 1
            continue
        fence = run.group()
        close = re.compile(rf"(?<!`){fence}(?!`)").search(markdown, at + len(fence))
        if close is None:
            out.append(fence)  # no closing run: the backticks are literal
            at += len(fence)
        else:
            at = close.end()
    return "".join(out)


HOSTILE = ("<img src=x onerror=alert(1)> ![t](http://tracker.example/x.png) # Heading @everyone "
           "[link](javascript:alert(1)) | cell | `code` $math$ ~~gone~~ **bold** \x01\x1b[2J\ufffe")


def _report(text: str, item_id: str):
    return make_report(verdict="fail", rules=[outcome("copy", "fail", 1.0, reason=text)],
                       findings=[Finding("copy", item_id, "error", "fail", text, 1.0, {"match_text": text})],
                       item_errors=[UnreadableItem(item_id, text)])


def test_hostile_text_is_shown_not_acted_on_in_markdown():
    report = _report(HOSTILE, "id`with`backticks</code><script>")
    text = reports.markdown.render(report)
    assert not _TAG.search(_outside_code(text)) and "&lt;img" in text
    assert "![t]" not in text and "\\!\\[t\\]" in text
    assert "@everyone" not in text.replace("\\@everyone", "")
    assert not any(ch in text for ch in "\x01\x1b\ufffe")
    # The id's code span is fenced by more backticks than it holds, so it cannot break out.
    assert "``id`with`backticks</code><script>``" in text


def test_control_characters_leave_junit_well_formed():
    report = _report(HOSTILE, "c\x01-1\ufffe")
    root = ElementTree.fromstring(reports.junit.render(report))
    failure = root.find("testcase/failure")
    assert "\\x01" in failure.text and "\\x1b" in failure.text and "\\ufffe" in failure.text


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(message=_TEXT, item_id=_TEXT.filter(bool), reason=_TEXT, rule_id=_TEXT.filter(bool))
@example(message="", item_id="<?", reason="", rule_id="`")  # an escaped backtick, then a span
def test_any_text_yields_well_formed_reports_in_every_format(message, item_id, reason, rule_id):
    report = make_report(
        verdict="fail", rules=[outcome(rule_id, "fail", 1.0, reason=reason)],
        findings=[finding(rule_id, item_id),
                  Finding(rule_id, item_id + "2", "error", "fail", message, 0.5, {"text": message})],
        item_errors=[UnreadableItem(item_id, reason)])
    rendered = reports.render_reports(report)
    assert json.loads(rendered["json"][1])["findings"][1]["message"] == message
    assert json.loads(rendered["sarif"][1])["version"] == "2.1.0"
    ElementTree.fromstring(rendered["junit"][1].encode("utf-8"))
    markdown = rendered["markdown"][1]
    assert not _TAG.search(_outside_code(markdown))  # HTML shows only inside code spans, as text


# Numbers an evaluation can produce: NaN (not computed), infinities (a ratio over a zero radius),
# the extremes of a float, and ordinary values.
_NUMBER = st.floats() | st.sampled_from([math.inf, -math.inf, math.nan, 1e308, 5e-324, 0.0])


def _strict_json(text: str):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(value=_NUMBER | st.none(), score=_NUMBER, evidence=_NUMBER, item_score=_NUMBER | st.none(),
       metric=_NUMBER, comparator=st.sampled_from(["max", "min"]))
def test_any_number_yields_valid_reports_in_every_format(value, score, evidence, item_score, metric,
                                                         comparator):
    report = make_report(
        verdict="fail", rules=[outcome("copy", "fail", value, comparator=comparator, n_flagged=1)],
        findings=[Finding("copy", "a", "error", "fail", "m", score, {"distance": evidence})],
        evaluations=[EvaluationRecord("e", "e", {}, {"m": metric}, 2, scores={"a": item_score, "b": 0.5})])
    rendered = reports.render_reports(report)
    written = _strict_json(rendered["json"][1])
    _strict_json(rendered["sarif"][1])
    ElementTree.fromstring(rendered["junit"][1].encode("utf-8"))
    assert rendered["markdown"][1] and rendered["html"][1]
    # Infinities keep their sign; NaN, a value that could not be computed, is null.
    for got, sent in [(written["findings"][0]["score"], score), (written["rules"][0]["value"], value),
                      (written["evaluations"]["e"]["metrics"]["m"], metric),
                      (written["findings"][0]["evidence"]["distance"], evidence)]:
        assert got is None if sent is None or math.isnan(sent) else got == sent


def test_hostile_baseline_and_skip_reason_are_shown_not_acted_on():
    from dataclasses import replace

    from aigc_audit.governance.report import RESOLVED, Baseline, MetricChange

    old = replace(Finding("copy", "gone</code><b>", "error", "fail", HOSTILE, 1.0), baseline=RESOLVED)
    report = replace(make_report(verdict="warn", rules=[outcome("copy", "skip", None, reason=HOSTILE)]),
                     baseline=Baseline(HOSTILE, HOSTILE, HOSTILE, "fail", (old,),
                                       (MetricChange("copy|x", "e.m", "max", 1.0, 0.5),)), strict=True)
    text = reports.markdown.render(report)
    assert not _TAG.search(_outside_code(text)) and "![t]" not in _outside_code(text)
    assert not any(ch in text for ch in "\x01\x1b\ufffe")
    assert "SKIP: &lt;img" in text and "| +0.5 |" in text and "\\|" in text
    assert text.startswith("# aigc-audit: WARN (fails under --strict)\n")
