"""Finding a run's sets from any working directory, and after they moved."""

from __future__ import annotations

import shutil

from aigc_audit.governance.locations import candidates, locate
from aigc_audit.governance.report import SetSummary
from aigc_audit.sampleset import load_sample_set


def _digest(path):
    try:
        return load_sample_set(path).sha256
    except Exception:  # noqa: BLE001 (any unreadable candidate is skipped)
        return None


def test_a_set_is_found_at_its_recorded_location_from_another_directory(tmp_path, copied_samples,
                                                                        monkeypatch):
    summary = SetSummary.of(load_sample_set(copied_samples))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = SetSummary(**{**summary.to_dict(), "path": "copied", "notes": ()})
    found = locate(relative, _digest)
    assert found.path == copied_samples and found.note == ""


def test_a_moved_set_is_found_under_a_root_only_with_the_same_content(tmp_path, copied_samples):
    summary = SetSummary.of(load_sample_set(copied_samples))
    root = tmp_path / "moved"
    root.mkdir()
    shutil.move(copied_samples, root / "copied")
    gone = locate(summary, _digest)
    assert gone.path is None
    assert gone.note == (f"the samples set is not at {copied_samples} any more: it was moved or deleted; "
                         "start the dashboard with --items-root FOLDER where it is now (it is used only "
                         "if its content hash matches the run's)")
    found = locate(summary, _digest, [root])
    assert found.path == root / "copied"
    assert found.note == (f"the samples set was found at {root / 'copied'} (recorded at {copied_samples}); "
                          "same content")
    manifest = root / "copied" / "manifest.jsonl"
    manifest.write_text(manifest.read_text().replace("stage", "STAGE"))
    changed = locate(summary, _digest, [root])
    assert changed.path == root / "copied" and "changed since this audit" in changed.note


def test_old_reports_without_a_location_look_where_the_audit_ran(tmp_path):
    old = SetSummary.from_dict({"path": "out/samples", "kind": "manifest", "role": "samples",
                                "sha256": "0" * 64, "n_items": 1})
    assert old.location == ""
    from pathlib import Path

    assert candidates(old, [tmp_path]) == [Path("out/samples"), tmp_path / "out/samples",
                                           tmp_path / "samples"]
    assert "out/samples (relative to where the audit ran)" in locate(old, lambda p: None).note
