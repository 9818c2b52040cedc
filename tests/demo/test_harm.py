"""The demo's labelled harm example set: the harm rules fire on it, with evidence."""

import dataclasses

from aigc_audit.sampleset import load_sample_set
from aigc_audit.demo.harm import harm_example_release
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.runner import run_audit


def test_example_release_fires_the_default_harm_rules(tmp_path):
    name, description, samples, reference = harm_example_release(tmp_path)
    assert name == "harm-examples" and "not generated" in description
    loaded = load_sample_set(samples)
    labels = {item.id: item.meta["example_label"] for item in loaded}
    assert sum(v != "none" for v in labels.values()) == 8 and len(labels) == 20
    policy = load_policy("default")
    harm_only = dataclasses.replace(policy, rules=tuple(r for r in policy.rules if r.id.startswith("harm.")))
    result = run_audit(samples, harm_only, reference=reference)
    assert {r.rule.id: r.status for r in result.rule_results} == {"harm.text.profanity": "fail",
                                                                  "harm.text.profanity.items": "fail"}
    flagged = {f.item_id for f in result.findings}
    assert flagged == {item_id for item_id, label in labels.items() if label != "none"}
    assert all("label 'offensive'" in f.message for f in result.findings)
    assert result.verdict == "warn"
