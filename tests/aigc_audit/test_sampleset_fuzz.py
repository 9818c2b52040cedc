"""Property-based tests of the sample-set reader: whatever bytes a manifest, ``.jsonl`` or ``.txt``
holds, loading returns a ``SampleSet`` whose strings can be written as UTF-8 JSON, or raises the
project's ``AuditError``; never another exception, and never slowly."""

import json
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigc_audit.errors import AuditError
from aigc_audit.sampleset import RECORD_KEYS, SampleSet, content_sha256, load_sample_set

FUZZ = settings(max_examples=200, deadline=timedelta(seconds=1),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TARGETS = ["set/manifest.jsonl", "plain.jsonl", "plain.txt"]

# Strings as JSON carries them: any code point, lone surrogates included (json.dumps escapes them).
surrogates = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
strings = st.lists(st.text(max_size=8) | surrogates, max_size=4).map("".join)
numbers = st.integers() | st.floats() | st.booleans() | st.none()
json_values = st.recursive(strings | numbers,
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(strings, inner, max_size=3), max_leaves=12)
known_keys = st.sampled_from(sorted(RECORD_KEYS | {"generator", "seed", "params", "x"}))
record_values = {
    "modality": st.sampled_from(["text", "image", "audio", ""]) | json_values,
    "path": st.sampled_from(["manifest.jsonl", ".", "..", "../plain.txt", "/etc/passwd", "a\x00b",
                             "set", "x" * 300]) | strings,
}
records = st.dictionaries(known_keys, json_values, max_size=6).flatmap(
    lambda base: st.fixed_dictionaries({k: record_values.get(k, st.just(v)) for k, v in base.items()}))
# Records close to valid, so that the checks after parsing are reached too.
provenances = st.fixed_dictionaries({"generator": strings}, optional={
    "seed": st.integers() | strings, "params": st.dictionaries(strings, json_values, max_size=2),
    "prompt": strings})
optional = {"source": strings, "license": strings, "meta": st.dictionaries(strings, json_values, max_size=3),
            "provenance": provenances | json_values}
ids = st.text(min_size=1, max_size=6).filter(str.strip) | strings
near_valid = (st.fixed_dictionaries({"id": ids, "modality": st.just("text"), "text": strings},
                                    optional=optional)
              | st.fixed_dictionaries({"id": ids, "modality": st.just("image"),
                                       "path": record_values["path"]}, optional=optional))
deep = st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n)
huge = st.integers(min_value=4000, max_value=6000).map(
    lambda n: '{"id": "a", "modality": "text", "text": "x", "meta": ' + "9" * n + "}")
lines = (near_valid.map(json.dumps) | records.map(json.dumps) | json_values.map(json.dumps) | deep | huge
         | st.tuples(records.map(json.dumps), st.integers(0, 60)).map(lambda t: t[0][:t[1]])
         | st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")))
bodies = (st.lists(lines, min_size=1, max_size=5)
          | st.lists(near_valid.map(json.dumps), min_size=1, max_size=3))


def _check(tmp: Path, target: str, data: bytes) -> None:
    path = tmp / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        loaded = load_sample_set(path.parent if path.name == "manifest.jsonl" else path)
    except AuditError as error:
        assert str(error)
        return
    assert isinstance(loaded, SampleSet) and len(loaded) > 0
    for item in loaded:
        # Everything a report writes about an item must survive UTF-8 JSON: a lone surrogate
        # would fail here, long after the set was accepted.
        fields = [item.id, item.text, item.source, item.license, item.origin, item.unreadable,
                  item.meta, item.provenance]
        json.dumps(fields, ensure_ascii=False, allow_nan=False).encode("utf-8")
        assert len(content_sha256(item)) == 64


def _in_temp(target: str, data: bytes) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-sampleset-"))
    try:
        _check(tmp, target, data)
    finally:
        shutil.rmtree(tmp)


@FUZZ
@given(target=st.sampled_from(TARGETS), data=st.binary(max_size=400))
def test_arbitrary_bytes_load_or_raise_audit_error(target, data):
    _in_temp(target, data)


@FUZZ
@given(target=st.sampled_from(TARGETS), body=bodies,
       newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
def test_json_ish_lines_load_or_raise_audit_error(target, body, newline, bom):
    text = newline.join(body) + newline
    _in_temp(target, (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass"))
