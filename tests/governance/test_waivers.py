"""Waivers from the repository and the ledger, applied by the runner as one mechanism."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from aigc_audit.errors import PolicyError
from aigc_audit.governance.ledger import Entry
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.reports import markdown
from aigc_audit.governance.runner import run_audit
from aigc_audit.governance.waiver_file import Waiver
from aigc_audit.governance.waivers import Waivers, check_rules, entry_waiver
from aigc_audit.sampleset import content_sha256, load_sample_set
from tests.conftest import ROOT

POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"
RULE = "copyright.text.near_duplicate"
EXPIRY = date(2027, 1, 31)


def _waiver(*items: str, expires: date = EXPIRY, rule: str = RULE) -> Waiver:
    return Waiver(rule, items, "quotes a public-domain play", "alice", expires, "waivers.yaml:3")


@pytest.fixture
def samples(copied_samples):
    return load_sample_set(copied_samples)


def test_a_waiver_applies_on_its_expiry_day_and_not_the_day_after(samples):
    waiver = _waiver("c-1")
    on_the_day = Waivers.of(samples, [waiver], today=EXPIRY)
    assert on_the_day(RULE, "c-1") == ("waived by alice until 2027-01-31 (waivers.yaml:3): quotes a "
                                       "public-domain play")
    assert on_the_day.expired == ()
    day_after = Waivers.of(samples, [waiver], today=EXPIRY + timedelta(days=1))
    assert day_after(RULE, "c-1") is None and day_after.expired == (waiver,)
    assert day_after.applied == [] and on_the_day.applied[0]["source"] == "waivers.yaml:3"


def test_only_the_named_rule_and_items_are_waived(samples):
    sha = content_sha256(samples.get("c-2"))
    waivers = Waivers.of(samples, [_waiver("c-1"), _waiver(f"sha256:{sha}"), _waiver("s-*", rule="other")],
                         today=EXPIRY)
    assert waivers(RULE, "c-1") and waivers(RULE, "c-2")
    assert waivers(RULE, "c-0") is None
    assert waivers("copyright.text.max_similarity", "c-1") is None
    assert waivers(RULE, "no-such-item") is None


def test_a_ledger_decision_is_a_waiver_of_that_content():
    entry = Entry(seq=4, created_at="2026-12-01T10:00:00", reviewer="bob", decision="waive", rule_id=RULE,
                  item_id="c-1", item_sha256="cd" * 32, run_id="r", samples_sha256="0" * 64,
                  reason="fine", expires="2027-01-31", prev_hash="0" * 64, entry_hash="1" * 64)
    waiver = entry_waiver(entry)
    assert waiver == Waiver(RULE, ("sha256:" + "cd" * 32,), "fine", "bob", EXPIRY, "ledger entry 4", 4)
    assert waiver.matches("any-id", "cd" * 32) and not waiver.matches("c-1", "ef" * 32)
    with pytest.raises(ValueError, match="ledger entry 4 is a 'approve' decision, not a waiver"):
        entry_waiver(Entry(**{**entry.to_dict(), "decision": "approve", "expires": None}))


def test_waived_findings_are_counted_apart_and_expired_waivers_reported(samples, reference_set):
    waivers = Waivers.of(samples, [_waiver("c-1", "c-2"), _waiver("c-0", expires=date(2026, 11, 30))],
                         today=date(2026, 12, 1))
    report = run_audit(samples, POLICY, reference=reference_set, waiver=waivers,
                       expired_waivers=waivers.expired).report
    rule = report.rule(RULE)
    assert (rule.status, rule.value, rule.n_flagged, rule.n_waived) == ("pass", 0.0, 0, 2)
    assert {(f.rule_id, f.item_id, f.status) for f in report.waived} == {(RULE, "c-1", "waived"),
                                                                         (RULE, "c-2", "waived")}
    assert all(f.rule_id != RULE for f in report.findings)  # the other rules still count them
    assert report.expired_waivers == (waivers.expired[0],)
    assert report.to_dict()["expired_waivers"][0]["expires"] == "2026-11-30"
    assert type(report).from_dict(report.to_dict()) == report
    text = markdown.render(report)
    assert "## Waived by reviewers (2)" in text and "## Expired waivers (1)" in text
    assert "- **copyright.text.near\\_duplicate** `c-0`: expired 2026-11-30, approved by alice" in text


def test_a_hostile_expired_waiver_is_text_in_the_markdown_report(samples, reference_set):
    hostile = Waiver(RULE, ("<img src=x onerror=alert(1)>",), "[click](http://evil) @team\n# heading",
                     "<b>mallory</b>", date(2026, 1, 1), "w.yaml:3")
    report = run_audit(samples, POLICY, reference=reference_set, expired_waivers=[hostile]).report
    line = next(x for x in markdown.render(report).splitlines() if "mallory" in x)
    assert "<b>" not in line and "&lt;b>mallory&lt;/b>" in line
    assert "\\[click\\](http://evil) \\@team \\# heading" in line and "`<img src=x onerror=alert(1)>`" in line


def test_a_waiver_for_a_rule_the_policy_lacks_is_refused(tmp_path: Path):
    policy = load_policy(POLICY)
    check_rules([_waiver("c-1")], policy)
    with pytest.raises(PolicyError, match=r"waivers\.yaml:3: rule: the policy 'text-copy' has no rule "
                                          r"'copy\.typo'; its rules are \['integrity.unreadable_items', "):
        check_rules([_waiver("c-1", rule="copy.typo")], policy)
