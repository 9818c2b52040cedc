"""``junit.xml``: one test case per rule, so CI systems show the policy as a test suite.

A failing rule at level ``error`` is a ``<failure>``, and so is a failing ``warning`` rule of a run
audited with ``--strict`` (the exit code fails it too); otherwise a failing ``warning`` rule passes,
its message in the suite's ``<system-out>`` (the Ant schema allows no output inside a test case);
a rule that does not apply is ``<skipped>``, with the reason.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET

from aigc_audit.governance.report import LEVEL_ERROR, Finding, Report, RuleOutcome
from aigc_audit.governance.status import FAIL, SKIP

MAX_DETAILS = 10
# Characters XML 1.0 cannot carry at all (C0 controls but tab, newline and return; surrogates;
# U+FFFE and U+FFFF): shown as escapes so that every CI parser reads the file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: object) -> str:
    return _NOT_XML.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def _message(rule: RuleOutcome, findings: list[Finding]) -> tuple[str, str]:
    worst = ", ".join(rule.worst_items) or "none"
    head = f"{rule.metric_name} = {rule.value_text()}, limit {rule.limit_text}; worst items: {worst}"
    details = "\n".join(f"{f.item_id}: {f.message}" for f in findings[:MAX_DETAILS])
    return xml_text(head), xml_text(details)


def render(report: Report) -> str:
    rules = report.rules
    failures = sum(1 for r in rules if report.rule_fails(r))
    skipped = sum(1 for r in rules if r.status == SKIP)
    seconds = sum(e.seconds for e in report.evaluations.values())
    suite = ET.Element("testsuite", {
        "name": xml_text(f"aigc-audit.{report.policy.name}"), "tests": str(len(rules)),
        "failures": str(failures), "errors": "0", "skipped": str(skipped),
        "time": f"{seconds:.3f}", "timestamp": report.created_at[:19],
        "hostname": socket.gethostname() or "localhost"})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run_id", report.run_id), ("verdict", report.verdict),
                        ("policy_sha256", report.policy.sha256),
                        ("samples_sha256", report.samples.sha256), ("strict", str(report.strict).lower()),
                        ("exit_code", str(report.exit_code()))):
        ET.SubElement(properties, "property", {"name": name, "value": xml_text(value)})
    warnings = []
    for rule in rules:
        case = ET.SubElement(suite, "testcase", {"name": xml_text(rule.rule_id),
                                                 "classname": xml_text(f"aigc-audit.{rule.evaluator}"),
                                                 "time": "0"})
        head, details = _message(rule, report.findings_behind(rule))
        if rule.status == SKIP:
            ET.SubElement(case, "skipped", {"message": xml_text(rule.reason or "not applicable")})
        elif report.rule_fails(rule):
            kind = "PolicyViolation" if rule.level == LEVEL_ERROR else "PolicyWarningUnderStrict"
            failure = ET.SubElement(case, "failure", {"message": head, "type": kind})
            failure.text = details or head
        elif rule.status == FAIL:
            warnings.append(f"WARNING {xml_text(rule.rule_id)}: {head}\n{details}".rstrip())
    ET.SubElement(suite, "system-out").text = "\n".join([f"verdict: {xml_text(report.verdict_label)}",
                                                         *warnings])
    ET.SubElement(suite, "system-err").text = ""
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
