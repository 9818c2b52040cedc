"""Waivers files: validated like a policy, every problem located; items by id, hash or pattern."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigc_audit.errors import PolicyError
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.waiver_file import Waiver, dump_waivers, is_waivers_file, load_waivers
from tests.conftest import ROOT, run_cli

SHA = "ab" * 32
GOOD = f"""\
version: 1
waivers:
  - rule: copyright.text.near_duplicate
    items: [c-1, "sha256:{SHA}", "quote-*"]
    reason: quotes a public-domain play
    approver: alice
    expires: 2027-01-31
  - rule: copyright.text.max_similarity
    items: [c-2]
    reason: "the same play, quoted"
    approver: bob
    expires: "2027-02-28"
"""


def _write(tmp_path: Path, text: str, name: str = "waivers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_waivers_file_reads_into_waivers_with_their_origin(tmp_path):
    path = _write(tmp_path, GOOD)
    first, second = load_waivers(path)
    assert first == Waiver("copyright.text.near_duplicate", ("c-1", f"sha256:{SHA}", "quote-*"),
                           "quotes a public-domain play", "alice", date(2027, 1, 31), f"{path}:3")
    assert second.expires == date(2027, 2, 28) and second.origin == f"{path}:8"
    assert is_waivers_file(path) and not is_waivers_file(ROOT / "tests" / "data" / "text-copy-policy.yaml")


def test_an_item_is_named_by_id_content_hash_or_id_pattern(tmp_path):
    waiver = load_waivers(_write(tmp_path, GOOD))[0]
    assert waiver.matches("c-1", "00" * 32)
    assert waiver.matches("other-id", SHA)                    # the content, whatever its id
    assert waiver.matches("quote-17", None)                   # the pattern
    assert not waiver.matches("c-10", "00" * 32)              # an id is exact, not a prefix
    assert not waiver.matches("a-quote-1", "00" * 32)         # a pattern covers the whole id
    assert not waiver.matches(f"sha256:{SHA}", "00" * 32)     # a hash is never read as an id


@pytest.mark.parametrize("entry, expected", [
    ("    expires: 2027-02-30\n", r"waivers\.yaml:7: waivers\[0\]\.expires: cannot read '2027-02-30'"),
    ("    expires: !!timestamp soon\n",
     r"waivers\.yaml:7: waivers\[0\]\.expires: cannot read 'soon' as a date"),
    ("    expires: next year\n", r"waivers\.yaml:7: waivers\[0\]\.expires: must be a date, YYYY-MM-DD .*"
                                 r"got 'next year'"),
    ("    expires: 2027-01-31 10:00:00\n", r"waivers\.yaml:7: waivers\[0\]\.expires: must be a date"),
    ("    expires: 2027-01-31\n    approved: bob\n", r"waivers\.yaml:8: waivers\[0\]\.approved: unknown key; "
                                                   r"valid keys are \['rule', 'items', 'reason', 'approver', "
                                                   r"'expires'\]"),
    ("", r"waivers\.yaml:3: waivers\[0\]\.expires: missing; a waiver needs rule, items, reason, "
         r"approver, expires"),
])
def test_a_bad_entry_is_refused_at_its_line(tmp_path, entry, expected):
    text = ("version: 1\nwaivers:\n  - rule: copy.x\n    items: [c-1]\n    reason: fine\n"
            "    approver: alice\n" + entry)
    with pytest.raises(PolicyError, match=expected):
        load_waivers(_write(tmp_path, text))


def test_every_problem_of_a_file_is_listed(tmp_path):
    text = ("version: 2\nwaiver: []\nwaivers:\n  - rule: Copy X\n    items: []\n    reason: ''\n"
            "    approver: alice\n    expires: 2027-01-01\n  - rule: copy.y\n    items: [c-1, 'sha256:abc']\n"
            "    reason: ok\n    approver: alice\n    expires: 2027-01-01\n  - just a string\n")
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_waivers(path)
    assert caught.value.problems == [
        f"{path}:2: waiver: unknown key; valid keys are ['version', 'waivers']",
        f"{path}:1: version: this tool reads waivers version 1; got 2",
        f"{path}:4: waivers[0].rule: a rule id of lower-case letters, digits, '.', '_' or '-'; got 'Copy X'",
        f"{path}:5: waivers[0].items: a list of one or more item ids, 'sha256:' content hashes or id "
        "patterns; got []",
        f"{path}:6: waivers[0].reason: must be a non-empty text; got ''",
        f"{path}:10: waivers[1].items[1]: a content hash is 'sha256:' and 64 lower-case hex digits (the "
        "report's item_sha256); got 'sha256:abc'",
        f"{path}:14: waivers[2]: a waiver must be a mapping with ['rule', 'items', 'reason', 'approver', "
        "'expires']; got 'just a string'",
    ]


def test_yaml_tricks_are_refused_in_waivers_too(tmp_path):
    text = GOOD.replace("reason: quotes a public-domain play", "reason: !!python/name:os.system ''")
    with pytest.raises(PolicyError, match=r"waivers\.yaml:5: waivers\[0\]\.reason: unsupported YAML tag"):
        load_waivers(_write(tmp_path, text))
    text = GOOD.replace("approver: alice", "approver: &who alice").replace("approver: bob", "approver: *who")
    with pytest.raises(PolicyError) as caught:
        load_waivers(_write(tmp_path, text))
    anchor, alias = caught.value.problems
    assert anchor.startswith(f"{tmp_path / 'waivers.yaml'}:6: waivers[0].approver: YAML anchor '&who'")
    assert alias.startswith(f"{tmp_path / 'waivers.yaml'}:11: waivers[1].approver: YAML alias '*who'")
    with pytest.raises(PolicyError, match=r"nowhere\.yaml: waivers file not found"):
        load_waivers(tmp_path / "nowhere.yaml")


def test_a_policy_may_hold_waivers_and_keeps_those_it_extends(tmp_path):
    base = _write(tmp_path, (ROOT / "tests" / "data" / "text-copy-policy.yaml").read_text()
                  + GOOD.split("waivers:\n", 1)[1].join(["waivers:\n", ""]), "base.yaml")
    child = _write(tmp_path, "extends: base.yaml\nwaivers:\n  - rule: copyright.text.near_duplicate\n"
                             "    items: [c-9]\n    reason: new\n    approver: carol\n"
                             "    expires: 2027-03-01\n",
                   "child.yaml")
    policy = load_policy(child)
    assert [w.items[0] for w in policy.waivers] == ["c-1", "c-2", "c-9"]
    assert policy.waivers[2].origin == f"{child}:3" and policy.waivers[0].origin.startswith(f"{base}:")
    # A date is a plain value only where an expiry may stand.
    bad = _write(tmp_path, "name: 2027-01-01\nextends: default\n", "bad.yaml")
    with pytest.raises(PolicyError, match=r"bad\.yaml:1: name: unsupported YAML tag"):
        load_policy(bad)
    broken = _write(tmp_path, "extends: default\nwaivers:\n  - rule: copy.x\n", "broken.yaml")
    with pytest.raises(PolicyError, match=r"broken\.yaml:3: waivers\[0\]\.items: missing"):
        load_policy(broken)


def test_a_malformed_waivers_file_stops_the_audit_with_exit_2_naming_file_and_line(tmp_path, copied_samples,
                                                                                   reference_set):
    path = _write(tmp_path, GOOD.replace("expires: 2027-01-31", "expires: 2027-13-01"))
    result = run_cli("audit", "--samples", str(copied_samples), "--reference", str(reference_set),
                     "--policy", str(ROOT / "tests" / "data" / "text-copy-policy.yaml"),
                     "--waivers", str(path), "--out", str(tmp_path / "out"),
                     "--store", str(tmp_path / "runs.sqlite"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"aigc-audit: error: {path}:7: waivers[0].expires: cannot read "
                                    "'2027-13-01'")
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "out" / "report.json").exists()


def test_a_written_file_reads_back_the_same_waivers_hostile_text_included(tmp_path):
    hostile = Waiver("copy.x", ("c-1\n- rule: evil", "sha256:" + SHA, "*"), "a: b\n#not a comment\u2028"
                     "\x1b[31m' \"", "alice\nexpires: 2099-01-01", date(2027, 1, 31))
    text = dump_waivers([hostile], ["entry 1\nwaivers: []\u2028\x85"])
    path = _write(tmp_path, text)
    (back,) = load_waivers(path)
    assert (back.rule_id, back.items, back.reason, back.approver, back.expires) == (
        hostile.rule_id, hostile.items, hostile.reason.strip(), hostile.approver, hostile.expires)
    assert yaml.safe_load(text)["waivers"][0]["expires"] == date(2027, 1, 31)  # unquoted: a date
    assert load_waivers(_write(tmp_path, dump_waivers([]), "empty.yaml")) == ()


def test_a_policy_refuses_a_waiver_of_a_rule_it_does_not_enable(tmp_path):
    _write(tmp_path, (ROOT / "tests" / "data" / "text-copy-policy.yaml").read_text(), "base.yaml")
    path = _write(tmp_path, "extends: base.yaml\nrules:\n  - id: copyright.text.max_similarity\n"
                            "    enabled: false\n" + GOOD.split("version: 1\n")[1], "p.yaml")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.problems == [
        f"{path}:11: waivers: no enabled rule 'copyright.text.max_similarity' in this policy; its rules are "
        "['integrity.unreadable_items', 'copyright.text.near_duplicate'] (correct the waiver's rule, or "
        "remove the waiver)"]


WAIVER_VALUES = st.sampled_from(["copy.x", "c-1", "[c-1, 'c-*']", "[]", "[[1]]", "{a: 1}", "2027-01-31",
                                 "2027-02-30", "'2027-01-31'", "2027-01-31 10:00:00", "!!timestamp x", "*a",
                                 "&a x", "~", "''", "1", "true", "'sha256:abc'", "[sha256:" + SHA + "]",
                                 "!!python/name:os.system", "{", "9" * 200])
ENTRY = st.dictionaries(st.sampled_from(["rule", "items", "reason", "approver", "expires", "expire", "1"]),
                        WAIVER_VALUES, max_size=6)


@settings(max_examples=150, deadline=timedelta(seconds=1), suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(entries=st.lists(ENTRY | WAIVER_VALUES, max_size=4), in_policy=st.booleans())
def test_whatever_a_waivers_list_holds_it_loads_or_every_problem_names_the_file(tmp_path, entries, in_policy):
    lines = []
    for entry in entries:
        if isinstance(entry, dict) and entry:
            fields = [f"{key}: {value}" for key, value in entry.items()]
            lines += [f"  - {fields[0]}", *(f"    {field}" for field in fields[1:])]
        else:
            lines.append(f"  - {entry or '{}'}")
    head = "extends: default\n" if in_policy else "version: 1\n"
    path = _write(tmp_path, head + "waivers:\n" + "\n".join(lines) + "\n", "fuzz.yaml")
    try:
        loaded = load_policy(path).waivers if in_policy else load_waivers(path)
    except PolicyError as error:
        assert error.problems and all(p.startswith(str(path)) for p in error.problems), error.problems
        return
    assert all(isinstance(w, Waiver) and w.items and type(w.expires) is date for w in loaded)
