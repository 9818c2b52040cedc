"""Reports are validated against the published schemas (from ../shared when it is there)."""

import json

import pytest

from aigc_audit.governance import reports
from aigc_audit.governance.runner import run_audit
from tests.conftest import ROOT, SHARED


@pytest.fixture
def report(copied_samples, reference_set):
    policy = ROOT / "tests" / "data" / "text-copy-policy.yaml"
    return run_audit(copied_samples, policy, reference=reference_set).to_dict()


def test_json_report_round_trips(tmp_path, report):
    paths = reports.write_reports(report, tmp_path)
    assert set(paths) == {"json", "markdown", "junit", "sarif"}
    assert json.loads(paths["json"].read_text()) == json.loads(json.dumps(report))


def test_junit_matches_the_ant_schema(tmp_path, report):
    xmlschema = pytest.importorskip("xmlschema")
    xsd = SHARED / "schemas" / "junit.xsd"
    if not xsd.exists():
        pytest.skip(f"{xsd} not present (a user's clone has no ../shared)")
    path = reports.write_reports(report, tmp_path, ["junit"])["junit"]
    xmlschema.XMLSchema(str(xsd)).validate(str(path))
    text = path.read_text()
    assert text.count("<testcase") == len(report["rules"]) and text.count("<failure") == 1


def test_sarif_matches_the_2_1_0_schema(tmp_path, report):
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = SHARED / "schemas" / "sarif-schema-2.1.0.json"
    if not schema_path.exists():
        pytest.skip(f"{schema_path} not present (a user's clone has no ../shared)")
    path = reports.write_reports(report, tmp_path, ["sarif"])["sarif"]
    sarif = json.loads(path.read_text())
    jsonschema.validate(sarif, json.loads(schema_path.read_text()))
    results = sarif["runs"][0]["results"]
    assert {r["properties"]["item"] for r in results} == {"c-1", "c-2"}
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] in (2, 3)


def test_markdown_names_findings(report):
    text = reports.markdown.render(report)
    assert text.startswith("# aigc-audit: FAIL") and "`c-1`" in text


def test_unknown_format_is_refused(tmp_path, report):
    with pytest.raises(ValueError, match=r"unknown report format\(s\) \['pdf'\]; valid formats are"):
        reports.write_reports(report, tmp_path, ["pdf"])
