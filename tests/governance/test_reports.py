"""Reports are validated against the published schemas (copies in tests/data/schemas)."""

import json
from dataclasses import replace
from xml.etree import ElementTree

import pytest

from aigc_audit.errors import AuditError
from aigc_audit.governance import reports
from aigc_audit.governance.report import Report
from aigc_audit.governance.runner import item_locations, run_audit
from aigc_audit.sampleset import Item
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


# ---- every format says what the exit code says ------------------------------------------------

WARN_POLICY = """\
version: 1
name: warn-only
rules:
  - id: integrity.unreadable_items
    evaluator: item_integrity
    metric: unreadable_count
    max: 0
    level: warning
"""


def _image_folder(folder):
    from PIL import Image

    (folder / "sub dir").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(folder / "ok.png")
    (folder / "sub dir" / "bad #1.png").write_bytes(b"not a png")
    return folder


def _formats(out):
    return (json.loads((out / "report.json").read_text()), (out / "report.md").read_text(),
            ElementTree.parse(out / "junit.xml").getroot(), json.loads((out / "report.sarif").read_text()))


@pytest.mark.parametrize("strict", [False, True])
def test_every_format_agrees_with_the_exit_code(tmp_path, strict):
    from tests.conftest import run_cli

    policy = tmp_path / "warn.yaml"
    policy.write_text(WARN_POLICY)
    result = run_cli("audit", "--samples", str(_image_folder(tmp_path / "imgs")), "--policy", str(policy),
                     "--out", str(tmp_path / "out"), "--store", str(tmp_path / "runs.sqlite"),
                     *(["--strict"] if strict else []))
    expected = 1 if strict else 0
    assert result.returncode == expected, result.stderr
    report, markdown, junit, sarif = _formats(tmp_path / "out")
    import jsonschema
    import xmlschema

    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(tmp_path / "out" / "junit.xml"))
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    assert report["verdict"] == "warn" and report["strict"] is strict and report["exit_code"] == expected
    headline = "# aigc-audit: WARN (fails under --strict)\n" if strict else "# aigc-audit: WARN\n"
    assert markdown.startswith(headline)
    assert f"- Exit code: {expected} (" in markdown
    status = "FAIL (fails under --strict)" if strict else "FAIL (warning)"
    assert f"| <= 0 | {status} |" in markdown
    # A CI system counts JUnit failures: one exactly when the run fails.
    assert junit.get("failures") == str(expected)
    assert (junit.find("testcase/failure") is not None) is strict
    properties = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert properties["exit_code"] == str(expected) and properties["strict"] == str(strict).lower()
    run = sarif["runs"][0]
    assert run["invocations"][0]["exitCode"] == expected and run["invocations"][0]["executionSuccessful"]
    assert run["properties"]["fails"] is strict
    level = "error" if strict else "warning"
    assert [r["level"] for r in run["results"]] == [level]
    assert run["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] == level
    last = result.stdout.strip().splitlines()[-1]
    assert last == f"{'WARN (fails under --strict)' if strict else 'WARN'}: exit {expected}, " \
                   f"run {report['run_id']}"
    # A stored run written again keeps its strictness.
    again = run_cli("report", report["run_id"], "--store", str(tmp_path / "runs.sqlite"), "--out",
                    str(tmp_path / "again"))
    assert again.returncode == 0 and _formats(tmp_path / "again")[1] == markdown


# ---- SARIF locations --------------------------------------------------------------------------

def _validate_sarif(text):
    import jsonschema

    sarif = json.loads(text)
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    return sarif["runs"][0]


def test_sarif_locates_an_image_of_a_folder_by_a_relative_uri(tmp_path):
    folder = _image_folder(tmp_path / "imgs")
    policy = tmp_path / "warn.yaml"
    policy.write_text(WARN_POLICY)
    run = _validate_sarif(reports.sarif.render(run_audit(folder, policy).report))
    result, = run["results"]
    assert result["locations"] == [{"physicalLocation": {"artifactLocation": {
        "uri": "sub%20dir/bad%20%231.png", "uriBaseId": "SAMPLES"}}}]
    assert run["originalUriBaseIds"] == {"SAMPLES": {"uri": folder.resolve().as_uri() + "/"}}


def test_sarif_locates_a_manifest_image_and_its_line(tmp_path):
    from tests.conftest import write_jsonl

    folder = _image_folder(tmp_path / "release")
    write_jsonl(folder / "manifest.jsonl", [
        {"id": "ok", "modality": "image", "path": "ok.png"},
        {"id": "bad", "modality": "image", "path": "sub dir/bad #1.png"}])
    policy = tmp_path / "warn.yaml"
    policy.write_text(WARN_POLICY)
    report = run_audit(folder, policy).report
    run = _validate_sarif(reports.sarif.render(report))
    located = {r["properties"]["item_id"]: r for r in run["results"]}
    assert located["bad"]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "sub%20dir/bad%20%231.png", "uriBaseId": "SAMPLES"}
    assert located["bad"]["relatedLocations"] == [{"id": 0, "physicalLocation": {
        "artifactLocation": {"uri": "manifest.jsonl", "uriBaseId": "SAMPLES"}, "region": {"startLine": 2}}}]
    # A file outside the set's folder (a reference set's, say) is an absolute file URI.
    outside = tmp_path / "elsewhere #2.png"
    far = replace(report, item_locations={"bad": item_locations(Item("bad", "image", path=outside), folder)})
    result, = _validate_sarif(reports.sarif.render(far))["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": outside.as_uri()}


def test_sarif_locates_text_lines_of_a_txt_file(tmp_path, reference_set):
    samples = tmp_path / "texts" / "release notes.txt"
    samples.parent.mkdir()
    samples.write_text("A quiet river wanders through the meadow under a pale and patient moon\n"
                       "All the world's a stage and all the men and women merely players\n")
    policy = ROOT / "tests" / "data" / "text-copy-policy.yaml"
    run = _validate_sarif(reports.sarif.render(run_audit(samples, policy, reference=reference_set).report))
    result, = run["results"]
    assert result["locations"] == [{"physicalLocation": {
        "artifactLocation": {"uri": "release%20notes.txt", "uriBaseId": "SAMPLES"},
        "region": {"startLine": 2}}}]


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
