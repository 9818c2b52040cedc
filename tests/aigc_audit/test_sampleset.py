import json
from pathlib import Path

import pytest

from aigc_audit.errors import InputError
from aigc_audit.sampleset import IMAGE, REFERENCE, TEXT, Item, SampleSet, load_sample_set, write_manifest
from tests.conftest import provenance, write_jsonl


def _manifest(tmp_path: Path, lines: list[str]) -> Path:
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _record(item_id: str, text: str = "some text") -> str:
    return json.dumps({"id": item_id, "modality": "text", "text": text, "provenance": provenance()})


def test_manifest_round_trip_keeps_provenance(tmp_path):
    write_manifest(tmp_path / "s", [{"id": "a", "modality": "text", "text": "hello there",
                                     "provenance": provenance(7)}])
    loaded = load_sample_set(tmp_path / "s")
    assert loaded.kind == "manifest" and len(loaded) == 1
    assert loaded.items[0].provenance["seed"] == 7
    assert loaded.items[0].origin.endswith("manifest.jsonl:1")


def test_plain_txt_ids_are_stable_and_repeated_lines_numbered(tmp_path):
    path = tmp_path / "samples.txt"
    path.write_text("one line\n\nsame\nsame\n", encoding="utf-8")
    first, second = load_sample_set(path), load_sample_set(path)
    assert [i.id for i in first] == [i.id for i in second]
    assert len(first) == 3 and first.items[2].id == first.items[1].id + "~2"
    assert first.notes == ("1 blank line(s) are not items",)


def test_plain_jsonl_needs_text(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "fine"}\n{"body": "no text"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.jsonl:2: each record needs a string 'text' field"):
        load_sample_set(path)


def test_plain_jsonl_refuses_a_key_it_would_drop(tmp_path):
    # A "split" in a plain .jsonl used to be ignored, leaving held-out text in training unseen.
    path = write_jsonl(tmp_path / "r.jsonl", [{"id": "a", "text": "x", "source": "s", "license": "l"},
                                             {"text": "y", "split": "heldout"}])
    expected = (r"r\.jsonl:2: unknown key\(s\) \['split'\]; a plain \.jsonl takes \['id', 'license', "
                r"'modality', 'source', 'text'\] \(for meta, path, provenance, split write a folder with "
                r"manifest\.jsonl\)")
    with pytest.raises(InputError, match=expected):
        load_sample_set(path)
    texts = write_jsonl(tmp_path / "t.jsonl", [{"text": "x", "modality": "text"}, {"text": "y"}])
    assert [item.text for item in load_sample_set(texts).items] == ["x", "y"]
    images = write_jsonl(tmp_path / "i.jsonl", [{"text": "x", "modality": "image"}])
    with pytest.raises(InputError, match=r"i\.jsonl:1: a plain \.jsonl holds texts; got 'modality' 'image'"):
        load_sample_set(images)
    many = write_jsonl(tmp_path / "many.jsonl", [{"text": "x", **{f"k{i:03}": i for i in range(500)}}])
    with pytest.raises(InputError, match=r"\['k000', 'k001', 'k002', 'k003', 'k004'\] and 495 more;"):
        load_sample_set(many)

def test_duplicate_ids(tmp_path):
    folder = _manifest(tmp_path, [_record("a"), _record("b"), _record("a")])
    with pytest.raises(InputError, match=r"manifest\.jsonl:3: duplicate id 'a' \(first used on line 1\)"):
        load_sample_set(folder)


def test_malformed_json_line(tmp_path):
    folder = _manifest(tmp_path, [_record("a"), '{"id": "b", "modality": "text",'])
    with pytest.raises(InputError, match=r"manifest\.jsonl:2: malformed JSON"):
        load_sample_set(folder)


def test_missing_file(tmp_path):
    folder = _manifest(tmp_path, [json.dumps({"id": "a", "modality": "image", "path": "gone.png"})])
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: file 'gone.png' not found"):
        load_sample_set(folder)


@pytest.mark.parametrize("relative", ["../outside.png", "sub/../../outside.png"])
def test_path_escaping_the_folder(tmp_path, relative):
    (tmp_path / "outside.png").write_bytes(b"x")
    folder = _manifest(tmp_path, [json.dumps({"id": "a", "modality": "image", "path": relative})])
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: path .* escapes the set's folder"):
        load_sample_set(folder)


def test_absolute_path_refused(tmp_path):
    folder = _manifest(tmp_path, [json.dumps({"id": "a", "modality": "image", "path": "/etc/passwd"})])
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: path '/etc/passwd' is absolute"):
        load_sample_set(folder)


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(InputError, match=r"s\.txt:2: invalid UTF-8"):
        load_sample_set(path)


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_empty_set(tmp_path, content):
    path = tmp_path / "s.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.txt: samples set is empty"):
        load_sample_set(path)


def test_empty_manifest(tmp_path):
    folder = _manifest(tmp_path, [""])
    with pytest.raises(InputError, match=r"set: samples set is empty"):
        load_sample_set(folder)


def test_unknown_record_key(tmp_path):
    folder = _manifest(tmp_path, [json.dumps({"id": "a", "modality": "text", "text": "x", "txet": 1})])
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: unknown key\(s\) \['txet'\]"):
        load_sample_set(folder)


def test_reference_records_need_source_and_license(tmp_path):
    folder = _manifest(tmp_path, [_record("a")])
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: a reference record needs 'source' and "):
        load_sample_set(folder, role=REFERENCE)


def test_bad_modality_and_seed(tmp_path):
    folder = _manifest(tmp_path, [json.dumps({"id": "a", "modality": "audio", "text": "x"})])
    with pytest.raises(InputError, match=r"'modality' must be one of \['text', 'image'\]; got 'audio'"):
        load_sample_set(folder)
    bad = dict(provenance(), seed="zero")
    write_jsonl(folder / "manifest.jsonl", [{"id": "a", "modality": "text", "text": "x", "provenance": bad}])
    with pytest.raises(InputError, match=r"provenance 'seed' must be an integer; got 'zero'"):
        load_sample_set(folder)


def test_missing_input_and_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match=r"nope: samples set not found"):
        load_sample_set(tmp_path / "nope")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(InputError, match=r"unsupported samples input '.csv'"):
        load_sample_set(tmp_path / "x.csv")


def test_set_sha256_changes_with_content(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("a\n")
    before = load_sample_set(path).sha256
    path.write_text("b\n")
    assert load_sample_set(path).sha256 != before


def test_image_folder_keeps_every_file(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (8, 8), 3).save(folder / "a.png")
    (folder / "notes.bin").write_bytes(b"not an image")
    loaded = load_sample_set(folder)
    assert loaded.kind == "images" and len(loaded) == 2  # the non-image is an item, not dropped
    assert {i.modality for i in loaded} == {"image"}


def test_of_modality_answers_the_same_each_time_and_a_caller_may_change_its_list(tmp_path):
    items = (Item(id="t1", modality=TEXT, text="a"), Item(id="i1", modality=IMAGE, path=tmp_path / "x.png"),
             Item(id="t2", modality=TEXT, text="b", split="heldout"), Item(id="t3", modality=TEXT, text="c"))
    samples = SampleSet(path=None, kind="test", role="samples", items=items, sha256="")
    first = samples.of_modality(TEXT)
    assert [i.id for i in first] == ["t1", "t2", "t3"]
    first.clear()                                               # the caller's list, not the set's
    assert [i.id for i in samples.of_modality(TEXT)] == ["t1", "t2", "t3"]
    assert [i.id for i in samples.of_modality(TEXT, "heldout")] == ["t2"]
    assert [i.id for i in samples.of_modality(IMAGE)] == ["i1"]
    assert samples.of_modality("audio") == []


def test_items_of_is_of_modality_read_only_and_not_copied(tmp_path):
    items = (Item(id="t1", modality=TEXT, text="a"), Item(id="i1", modality=IMAGE, path=tmp_path / "x.png"),
             Item(id="t2", modality=TEXT, text="b", split="heldout"))
    samples = SampleSet(path=None, kind="test", role="samples", items=items, sha256="")
    texts = samples.items_of(TEXT)
    assert isinstance(texts, tuple) and list(texts) == samples.of_modality(TEXT)
    assert samples.items_of(TEXT) is texts                      # the same answer, not a new copy
    assert [i.id for i in samples.items_of(TEXT, "heldout")] == ["t2"]
    assert samples.items_of(IMAGE) == (items[1],) and samples.items_of("audio") == ()
