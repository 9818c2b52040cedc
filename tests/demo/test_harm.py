"""The demo's labelled harm example set: the harm rules fire on it, with evidence."""

import dataclasses

from aigc_audit.demo.harm import build_harm_examples, harm_release
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.runner import run_audit
from aigc_audit.sampleset import load_sample_set


def test_example_release_fires_the_default_harm_rules(tmp_path):
    release = harm_release("pass")
    assert release.name == "harm-examples" and "hand-written" in release.description
    samples, reference = release.build(tmp_path, None)
    assert (samples, reference) == build_harm_examples(tmp_path)
    loaded = load_sample_set(samples)
    labels = {item.id: item.meta["example_label"] for item in loaded}
    assert sum(v != "none" for v in labels.values()) == 8 and len(labels) == 20
    policy = load_policy("default")
    harm_only = dataclasses.replace(policy, rules=tuple(r for r in policy.rules if r.id.startswith("harm.")))
    result = run_audit(samples, harm_only, reference=reference)
    report = result.report
    statuses = {r.rule_id: r.status for r in report.rules}
    assert {k: v for k, v in statuses.items() if v != "pass"} == {
        "harm.text.profanity": "fail", "harm.text.profanity.items": "fail", "harm.image.s12": "skip"}
    # Insults and swearing are not hate, threats, self-harm or sexual content: the heads stay quiet.
    assert {"harm.text.s1", "harm.text.s10", "harm.text.s11.items", "harm.text.s12"} <= set(statuses)
    flagged = {f.item_id for f in report.findings}
    assert flagged == {item_id for item_id, label in labels.items() if label != "none"}
    assert all("label 'offensive'" in f.message for f in report.findings)
    assert report.verdict == "warn"
