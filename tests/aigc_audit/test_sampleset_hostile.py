"""Hostile sample sets: JSON that breaks parsers, strings that are not Unicode, items too large to
evaluate, files that are not files, and folders that link outside themselves. Each is either a
one-line ``InputError`` naming file and line (the run cannot be made) or a counted per-item error.
"""

import json
import os
import threading
from pathlib import Path

import pytest
from PIL import Image

from aigc_audit.errors import AuditError, InputError
from aigc_audit.governance.cli import main
from aigc_audit.sampleset import (
    MAX_LINE_BYTES_ENV,
    MAX_TEXT_BYTES_ENV,
    content_sha256,
    load_sample_set,
)
from tests.conftest import ROOT, provenance

POLICY = ROOT / "tests" / "data" / "text-copy-policy.yaml"
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")


def _manifest(tmp_path: Path, *lines: str) -> Path:
    folder = tmp_path / "set"
    folder.mkdir(exist_ok=True)
    (folder / "manifest.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return folder


def _record(**fields) -> str:
    return json.dumps({"id": "a", "modality": "text", "text": "some text", "provenance": provenance(),
                       **fields})


# -- 4. JSON that breaks the parser or is not Unicode ------------------------------------------------
def test_json_nested_100000_deep_is_an_input_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    folder = _manifest(tmp_path, _record(id="ok"), _record()[:-1] + f', "meta": {{"x": {deep}}}}}')
    with pytest.raises(InputError, match=r"manifest\.jsonl:2: JSON nested too deeply"):
        load_sample_set(folder)


def test_json_nested_past_the_depth_limit_is_refused_before_it_reaches_a_report(tmp_path):
    # 200 levels parse, but every later json.dumps of the record would nest deeper still.
    folder = _manifest(tmp_path, _record()[:-1] + f', "meta": {{"x": {"[" * 200 + "]" * 200}}}}}')
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: JSON nested too deeply \(more than 64 "):
        load_sample_set(folder)


def test_5000_digit_integer_is_an_input_error(tmp_path):
    line = _record()[:-1] + ', "meta": {"n": ' + "7" * 5000 + "}}"
    folder = _manifest(tmp_path, line)
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: a number in the JSON is too large"):
        load_sample_set(folder)
    plain = tmp_path / "s.jsonl"
    plain.write_text('{"text": "x", "n": ' + "1" * 5000 + "}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.jsonl:1: a number in the JSON is too large"):
        load_sample_set(plain)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(tmp_path, constant):
    folder = _manifest(tmp_path, _record()[:-1] + f', "meta": {{"x": {constant}}}}}')
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: .*not a finite number"):
        load_sample_set(folder)


@pytest.mark.parametrize("field", ["id", "text", "source", "license"])
def test_lone_surrogate_is_an_input_error_naming_the_field(tmp_path, field):
    record = json.loads(_record())
    record.update(source="s", license="l")
    record[field] = "bad \ud800 string"
    folder = _manifest(tmp_path, _record(id="fine"), json.dumps(record))  # ensure_ascii: "\ud800"
    with pytest.raises(InputError, match=rf"manifest\.jsonl:2: field '{field}' holds a lone surrogate "
                                         r"\(U\+D800\), which is not valid Unicode"):
        load_sample_set(folder)


def test_lone_surrogate_in_a_nested_key_or_a_plain_jsonl(tmp_path):
    folder = _manifest(tmp_path, _record()[:-1] + ', "meta": {"\\udfff": 1}}')
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: field 'meta' holds a lone surrogate "
                                         r"\(U\+DFFF\)"):
        load_sample_set(folder)
    plain = tmp_path / "s.jsonl"
    plain.write_text('{"text": "fine"}\n{"text": "x\\ud83d"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"s\.jsonl:2: field 'text' holds a lone surrogate"):
        load_sample_set(plain)


def test_a_surrogate_pair_is_a_character_not_an_error(tmp_path):
    folder = _manifest(tmp_path, _record(text="smile \ud83d\ude00"))  # json.dumps writes the escaped pair
    assert load_sample_set(folder).items[0].text == "smile \U0001f600"


def test_cli_exits_2_with_one_line_and_writes_no_report(tmp_path, capsys):
    folder = _manifest(tmp_path, _record(id="x\udc80"))
    out = tmp_path / "out"
    code = main(["audit", "--samples", str(folder), "--policy", str(POLICY), "--out", str(out),
                 "--store", str(tmp_path / "runs.sqlite")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "manifest.jsonl:1: field 'id' holds a lone surrogate" in err
    assert not (out / "report.json").exists()


# -- 14. items too large, files that are not files, links that leave the folder ----------------------
def test_text_line_over_the_limit_is_a_counted_item_not_a_crash(tmp_path):
    path = tmp_path / "s.txt"
    big = "word " * 300_000  # 1.5 MB, over the default 1 MiB
    path.write_text(f"short one\n{big}\r\nshort two\n", encoding="utf-8")
    loaded = load_sample_set(path)
    assert [i.text for i in loaded.items] == ["short one", None, "short two"]
    item = loaded.items[1]
    assert item.unreadable == "text of 1500000 bytes exceeds the limit of 1048576 bytes per text item " \
                              f"(set {MAX_TEXT_BYTES_ENV} to change it)"
    assert item.origin.endswith("s.txt:2")
    # Same id and content hash as the text would have had: a waiver still matches it.
    import hashlib
    sha = hashlib.sha256(big.encode()).hexdigest()
    assert item.id == f"t-{sha[:16]}" and content_sha256(item) == sha
    assert loaded.notes == (f"1 item(s) exceed a size limit and cannot be read (see {MAX_TEXT_BYTES_ENV}); "
                            "item_integrity counts them",)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_text_limit_comes_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "s.txt"
    path.write_text("0123456789\n01234567890\n", encoding="utf-8")
    monkeypatch.setenv(MAX_TEXT_BYTES_ENV, "10")
    loaded = load_sample_set(path)
    assert loaded.items[0].unreadable is None and loaded.items[1].unreadable.startswith("text of 11 bytes")
    monkeypatch.setenv(MAX_TEXT_BYTES_ENV, "ten")
    with pytest.raises(AuditError, match=rf"{MAX_TEXT_BYTES_ENV} must be a whole number of bytes >= 1; "
                                         r"got 'ten'"):
        load_sample_set(path)


def test_manifest_and_jsonl_texts_over_the_limit_are_items(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_TEXT_BYTES_ENV, "100")
    folder = _manifest(tmp_path, _record(id="small"), _record(id="big", text="é" * 60))
    loaded = load_sample_set(folder)
    big = loaded.get("big")
    assert big.text is None and big.unreadable.startswith("text of 120 bytes exceeds the limit of 100")
    assert big.provenance["generator"] == "test" and loaded.get("small").unreadable is None
    plain = tmp_path / "s.jsonl"
    plain.write_text(json.dumps({"text": "x" * 101}) + "\n", encoding="utf-8")
    assert load_sample_set(plain).items[0].unreadable.startswith("text of 101 bytes")


def test_a_json_line_over_the_line_limit_stops_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_LINE_BYTES_ENV, "1000")
    folder = _manifest(tmp_path, _record(id="ok"), _record(text="x" * 2000))
    with pytest.raises(InputError, match=rf"manifest\.jsonl:2: line of more than 1000 bytes; one record "
                                         rf"may hold at most 1000 \(set {MAX_LINE_BYTES_ENV} to change it\)"):
        load_sample_set(folder)


def test_oversized_text_is_reported_by_the_audit(tmp_path, monkeypatch, capsys, reference_set):
    monkeypatch.setenv(MAX_TEXT_BYTES_ENV, "200")
    path = tmp_path / "s.txt"
    path.write_text("a short generated line about the sea\n" + "long " * 100 + "\n", encoding="utf-8")
    out = tmp_path / "out"
    code = main(["audit", "--samples", str(path), "--reference", str(reference_set), "--policy", str(POLICY),
                 "--out", str(out), "--store", str(tmp_path / "runs.sqlite")])
    assert code == 1, capsys.readouterr().err  # integrity.unreadable_items: max 0
    report = json.loads((out / "report.json").read_text())
    [error] = report["item_errors"]
    assert error["reason"].startswith("text of 500 bytes exceeds the limit of 200 bytes")
    assert report["inputs"]["samples"]["notes"][0].startswith("1 item(s) exceed a size limit")


def test_many_repeated_lines_are_numbered_without_rescanning(tmp_path):
    # Each repeat used to rescan every earlier number: 20,000 repeats took half a minute.
    path = tmp_path / "s.txt"
    path.write_text("same line\n" * 20_000 + "other\n", encoding="utf-8")
    ids = [item.id for item in load_sample_set(path)]
    assert len(set(ids)) == 20_001 and ids[1] == ids[0] + "~2" and ids[19_999] == ids[0] + "~20000"


def _blocked_load(path: Path) -> tuple[bool, BaseException | None]:
    """Load ``path`` in a thread; if it is still blocked after 10 s, unblock it and say so."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            load_sample_set(path)
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 (handed to the test)
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        for fifo in [path, *path.glob("**/*")] if path.is_dir() else [path]:
            try:  # a writer that closes at once gives a blocked reader its end of file
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(10)
        return True, None
    return False, outcome[0]


@needs_fifo
def test_a_fifo_given_as_txt_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "samples.txt"
    os.mkfifo(fifo)
    hung, error = _blocked_load(fifo)
    assert not hung, "reading a FIFO blocked the run"
    assert isinstance(error, InputError)
    assert "samples.txt: is a FIFO (named pipe), not a regular file" in str(error)


@needs_fifo
def test_a_fifo_as_manifest_or_manifest_image_is_refused(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    os.mkfifo(folder / "manifest.jsonl")
    hung, error = _blocked_load(folder)
    assert not hung and isinstance(error, InputError) and "manifest.jsonl: is a FIFO" in str(error)
    other = tmp_path / "other"
    other.mkdir()
    os.mkfifo(other / "pipe.png")
    (other / "manifest.jsonl").write_text(json.dumps({"id": "a", "modality": "image", "path": "pipe.png"})
                                          + "\n")
    hung, error = _blocked_load(other)
    assert not hung and isinstance(error, InputError)
    assert "manifest.jsonl:1: file 'pipe.png' is a FIFO (named pipe), not a regular file" in str(error)


@needs_fifo
def test_a_fifo_in_an_image_folder_is_refused(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (8, 8)).save(folder / "a.png")
    os.mkfifo(folder / "b.png")
    hung, error = _blocked_load(folder)
    assert not hung and isinstance(error, InputError)
    assert "b.png: is a FIFO (named pipe), not a regular file" in str(error)


def test_a_directory_given_as_an_image_path_is_refused(tmp_path):
    folder = _manifest(tmp_path, json.dumps({"id": "a", "modality": "image", "path": "sub"}))
    (folder / "sub").mkdir()
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: file 'sub' is a folder, not a regular file"):
        load_sample_set(folder)


def test_image_folder_refuses_a_link_to_a_file_outside(tmp_path):
    secret = tmp_path / "secret.png"
    Image.new("L", (8, 8)).save(secret)
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (8, 8)).save(folder / "a.png")
    (folder / "b.png").symlink_to(secret)
    with pytest.raises(InputError, match=r"imgs/b\.png: symbolic link points outside the image folder"):
        load_sample_set(folder)


def test_image_folder_refuses_a_link_to_a_folder_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("L", (8, 8)).save(outside / "x.png")
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (8, 8)).save(folder / "a.png")
    (folder / "more").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError, match=r"imgs/more: symbolic link points outside the image folder"):
        load_sample_set(folder)


def test_image_folder_keeps_links_inside_and_refuses_broken_ones(tmp_path):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    Image.new("L", (8, 8)).save(folder / "sub" / "a.png")
    (folder / "link.png").symlink_to(folder / "sub" / "a.png")
    (folder / "also").symlink_to(folder / "sub", target_is_directory=True)  # not walked twice
    loaded = load_sample_set(folder)
    assert sorted(i.source for i in loaded) == ["link.png", "sub/a.png"]
    assert {i.path for i in loaded} == {(folder / "sub" / "a.png").resolve()}
    (folder / "gone.png").symlink_to(folder / "missing.png")
    with pytest.raises(InputError, match=r"imgs/gone\.png: broken symbolic link"):
        load_sample_set(folder)


@pytest.mark.parametrize("relative", ["a\u0000b.png", "x" * 5000 + ".png"])
def test_image_paths_the_file_system_refuses_are_input_errors(tmp_path, relative):
    folder = _manifest(tmp_path, json.dumps({"id": "a", "modality": "image", "path": relative}))
    with pytest.raises(InputError, match=r"manifest\.jsonl:1: "):
        load_sample_set(folder)
