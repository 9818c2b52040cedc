import json

from tests.conftest import REFERENCE_TEXTS, run_cli, write_jsonl


def test_build_then_audit_with_the_index_gives_the_same_findings(tmp_path, reference_set, copied_samples):
    built = run_cli("index", "build", "--reference", str(reference_set), "--out", str(tmp_path / "idx"))
    assert built.returncode == 0, built.stderr
    assert f"{len(REFERENCE_TEXTS)} text(s) added, 0 kept" in built.stdout
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["params"]["seed_tokens"] == 3 and manifest["versions"]["numpy"]

    plain = run_cli("audit", "--samples", str(copied_samples), "--reference", str(reference_set),
                    "--out", str(tmp_path / "plain"), "--store", str(tmp_path / "runs.db"))
    # The reference set defaults to the one the index was built from.
    indexed = run_cli("audit", "--samples", str(copied_samples), "--index", str(tmp_path / "idx"),
                      "--out", str(tmp_path / "indexed"), "--store", str(tmp_path / "runs.db"))
    assert plain.returncode == indexed.returncode == 1, indexed.stderr
    a = json.loads((tmp_path / "plain" / "report.json").read_text())
    b = json.loads((tmp_path / "indexed" / "report.json").read_text())
    assert [(f["rule_id"], f["item_id"], f["evidence"]) for f in a["findings"]] == \
        [(f["rule_id"], f["item_id"], f["evidence"]) for f in b["findings"]]
    assert any("stored index" in n["text"] for n in b["evaluations"][next(
        k for k in b["evaluations"] if k.startswith("text_copy"))]["notes"])


def test_add_and_the_refusals_are_one_line_errors_with_exit_2(tmp_path, reference_set, copied_samples):
    out = tmp_path / "idx"
    assert run_cli("index", "build", "--reference", str(reference_set), "--out", str(out)).returncode == 0
    again = run_cli("index", "build", "--reference", str(reference_set), "--out", str(out))
    assert again.returncode == 2
    assert "already built here; add items with 'aigc-audit index add" in again.stderr

    grown = tmp_path / "grown"
    records = [json.loads(line) for line in (reference_set / "manifest.jsonl").read_text().splitlines()]
    write_jsonl(grown / "manifest.jsonl", records + [
        {"id": "ref-new", "modality": "text", "text": "An entirely new line for the training set today",
         "source": "new", "license": "public domain"}])
    added = run_cli("index", "add", "--index", str(out), "--reference", str(grown))
    assert added.returncode == 0, added.stderr
    assert f"1 text(s) added, {len(records)} kept, {len(records) + 1} in all" in added.stdout

    stale = run_cli("audit", "--samples", str(copied_samples), "--reference", str(reference_set),
                    "--index", str(out), "--out", str(tmp_path / "r"), "--store", str(tmp_path / "runs.db"))
    assert stale.returncode == 2
    assert "are not the index's" in stale.stderr and len(stale.stderr.strip().splitlines()) == 1

    (out / "manifest.json").unlink()
    broken = run_cli("audit", "--samples", str(copied_samples), "--index", str(out),
                     "--out", str(tmp_path / "r"), "--store", str(tmp_path / "runs.db"))
    assert broken.returncode == 2 and "the index is incomplete" in broken.stderr
    assert "Traceback" not in broken.stderr
