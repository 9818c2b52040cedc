"""Reports are validated against the published schemas (copies in tests/data/schemas)."""

import json
from xml.etree import ElementTree

import pytest

from aigc_audit.errors import AuditError
from aigc_audit.governance import reports
from aigc_audit.governance.report import Report
from aigc_audit.governance.runner import run_audit
from tests.conftest import JUNIT_XSD, ROOT, SARIF_SCHEMA


@pytest.fixture
def report(copied_samples, reference_set):
    policy = ROOT / "tests" / "data" / "text-copy-policy.yaml"
    return run_audit(copied_samples, policy, reference=reference_set).report


def test_json_report_round_trips(tmp_path, report):
    paths = reports.write_reports(report, tmp_path)
    assert set(paths) == {"json", "markdown", "junit", "sarif", "html"}
    stored = json.loads(paths["json"].read_text())
    assert stored == json.loads(json.dumps(report.to_dict()))
    assert Report.from_dict(stored) == report


def test_junit_matches_the_ant_schema(tmp_path, report):
    import xmlschema

    xsd = JUNIT_XSD
    path = reports.write_reports(report, tmp_path, ["junit"])["junit"]
    xmlschema.XMLSchema(str(xsd)).validate(str(path))
    text = path.read_text()
    assert text.count("<testcase") == len(report.rules) and text.count("<failure") == 1


def test_sarif_matches_the_2_1_0_schema(tmp_path, report):
    import jsonschema

    schema_path = SARIF_SCHEMA
    path = reports.write_reports(report, tmp_path, ["sarif"])["sarif"]
    sarif = json.loads(path.read_text())
    jsonschema.validate(sarif, json.loads(schema_path.read_text()))
    results = sarif["runs"][0]["results"]
    assert {r["properties"]["item_id"] for r in results} == {"c-1", "c-2"}
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] in (2, 3)


def test_markdown_names_findings(report):
    text = reports.markdown.render(report)
    assert text.startswith("# aigc-audit: FAIL") and "`c-1`" in text


def test_unknown_format_is_refused(tmp_path, report):
    with pytest.raises(AuditError, match=r"unknown report format\(s\) \['pdf'\]; valid formats are"):
        reports.write_reports(report, tmp_path, ["pdf"])


def test_writer_registry_refuses_a_duplicate_and_a_non_callable():
    with pytest.raises(ValueError, match="a report writer named 'json' is already registered"):
        reports.register("json", "again.json", reports.json_report.render)
    with pytest.raises(TypeError, match="report writer 'x' must be callable; got 3"):
        reports.register("x", "x.txt", 3)
    assert "x" not in reports.names()


def test_every_writer_reads_the_same_counts(report):
    """Per-rule counts come from the report's rule outcomes, so every format agrees."""
    copy_rule = report.rule("copyright.text.near_duplicate")
    assert copy_rule.n_flagged == len(report.findings_of(copy_rule.rule_id)) == 2
    case = ElementTree.fromstring(reports.junit.render(report)).find(f"testcase[@name='{copy_rule.rule_id}']")
    assert copy_rule.limit_text in case.find("failure").get("message")
    assert case.find("failure").text.count("\n") == copy_rule.n_flagged - 1
    assert f"| {copy_rule.limit_text} | FAIL |" in reports.markdown.render(report)


def test_markdown_and_html_tell_each_explained_number_as_data_not_markup():
    from dataclasses import replace

    from aigc_audit.evaluators.base import explains, info
    from aigc_audit.governance.reports import html, markdown
    from tests.governance.report_factory import evaluation, make_report

    record = replace(evaluation("memorization", {}), notes=(
        explains("C_T = -5.98: closer than held-out data <script>x</script> | *bold*"),
        info("a plain remark that stays in report.json only")))
    report = make_report(evaluations=[record])
    md, page = markdown.render(report), html.render(report)
    assert "## What the numbers mean" in md and "a plain remark" not in md
    line = next(line for line in md.splitlines() if "-5.98" in line)
    assert "<script>" not in line and "\\*bold\\*" in line
    assert "<h2>What the numbers mean</h2>" in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "## What the numbers mean" not in markdown.render(make_report())
