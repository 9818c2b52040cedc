"""``junit.xml``: one test case per rule, so CI systems show the policy as a test suite.

A failing rule at level ``error`` is a ``<failure>``; a failing ``warning`` rule passes, its message
in the suite's ``<system-out>`` (the Ant schema allows no output inside a test case); a rule that
does not apply is ``<skipped>``.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from typing import Any


def _message(rule: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    limit = f"{'<=' if rule['comparator'] == 'max' else '>='} {rule['limit']:g}"
    value = "n/a" if rule["value"] is None else f"{rule['value']:.4g}"
    worst = ", ".join(rule["worst_items"]) or "none"
    head = f"{rule['evaluator']}.{rule['metric']} = {value}, limit {limit}; worst items: {worst}"
    details = "\n".join(f"{f['item']}: {f['message']}" for f in findings[:10])
    return head, details


def render(report: dict[str, Any]) -> str:
    rules = report["rules"]
    failures = sum(1 for r in rules if r["status"] == "fail" and r["level"] == "error")
    skipped = sum(1 for r in rules if r["status"] == "skip")
    seconds = sum(e.get("seconds", 0.0) for e in report["evaluations"].values())
    suite = ET.Element("testsuite", {
        "name": f"aigc-audit.{report['policy']['name']}", "tests": str(len(rules)),
        "failures": str(failures), "errors": "0", "skipped": str(skipped),
        "time": f"{seconds:.3f}", "timestamp": report["created_at"][:19],
        "hostname": socket.gethostname() or "localhost"})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run_id", report["run_id"]), ("verdict", report["verdict"]),
                        ("policy_sha256", report["policy"]["sha256"]),
                        ("samples_sha256", report["inputs"]["samples"]["sha256"])):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    warnings = []
    for rule in rules:
        case = ET.SubElement(suite, "testcase", {"name": rule["id"], "classname":
                                                 f"aigc-audit.{rule['evaluator']}", "time": "0"})
        head, details = _message(rule, [f for f in report["findings"] if f["rule"] == rule["id"]])
        if rule["status"] == "skip":
            ET.SubElement(case, "skipped", {"message": rule["reason"] or "not applicable"})
        elif rule["status"] == "fail" and rule["level"] == "error":
            failure = ET.SubElement(case, "failure", {"message": head, "type": "PolicyViolation"})
            failure.text = details or head
        elif rule["status"] == "fail":
            warnings.append(f"WARNING {rule['id']}: {head}\n{details}".rstrip())
    ET.SubElement(suite, "system-out").text = "\n".join([f"verdict: {report['verdict']}", *warnings])
    ET.SubElement(suite, "system-err").text = ""
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
