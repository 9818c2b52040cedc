import json

import numpy as np
import yaml

from aigc_audit.governance.policy import resolve_policy_path
from tests.conftest import REFERENCE_TEXTS, run_cli, write_jsonl


def _copy_rules(tmp_path):
    """The default policy's integrity and copy rules only: what an index serves, without the harm
    and quality models that every audit would otherwise load (seconds each, unrelated to the index)."""
    default = yaml.safe_load(resolve_policy_path("default").read_text(encoding="utf-8"))
    rules = [r for r in default["rules"] if r["id"].startswith(("integrity.", "copyright."))]
    path = tmp_path / "copy-rules.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "copy-rules", "rules": rules}), encoding="utf-8")
    return str(path)


def _grown(reference_set, tmp_path):
    """The reference set with one new text: what ``index add`` adds to an index of the set."""
    grown = tmp_path / "grown"
    records = [json.loads(line) for line in (reference_set / "manifest.jsonl").read_text().splitlines()]
    write_jsonl(grown / "manifest.jsonl", records + [
        {"id": "ref-new", "modality": "text", "text": "An entirely new line for the training set today",
         "source": "new", "license": "public domain"}])
    return grown, records


def test_build_then_audit_with_the_index_gives_the_same_findings(tmp_path, reference_set, copied_samples):
    built = run_cli("index", "build", "--reference", str(reference_set), "--out", str(tmp_path / "idx"))
    assert built.returncode == 0, built.stderr
    assert f"{len(REFERENCE_TEXTS)} text(s) added, 0 kept" in built.stdout
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["params"]["seed_tokens"] == 3 and manifest["versions"]["numpy"]

    policy = _copy_rules(tmp_path)
    plain = run_cli("audit", "--samples", str(copied_samples), "--reference", str(reference_set),
                    "--policy", policy, "--out", str(tmp_path / "plain"),
                    "--store", str(tmp_path / "runs.db"))
    # The reference set defaults to the one the index was built from.
    indexed = run_cli("audit", "--samples", str(copied_samples), "--index", str(tmp_path / "idx"),
                      "--policy", policy, "--out", str(tmp_path / "indexed"),
                      "--store", str(tmp_path / "runs.db"))
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

    grown, records = _grown(reference_set, tmp_path)
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


def _digit_png(path, index: int) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    pixels = np.rint(load_digits().images[index] / 16 * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).resize((16, 16), Image.Resampling.BILINEAR).save(path)


def test_an_index_of_images_serves_the_image_rules_and_grows(tmp_path):
    reference = tmp_path / "reference"
    records = [{"id": "ref-text", "modality": "text", "source": "a play", "license": "public domain",
                "text": "Now is the winter of our discontent made glorious summer by this sun of York"}]
    for i in range(30):
        _digit_png(reference / "images" / f"{i}.png", i)
        records.append({"id": f"digit-{i}", "modality": "image", "path": f"images/{i}.png",
                        "source": f"digits #{i}", "license": "CC BY 4.0"})
    (reference / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    records.append({"id": "digit-broken", "modality": "image", "path": "images/broken.png",
                    "source": "x", "license": "CC BY 4.0"})
    write_jsonl(reference / "manifest.jsonl", records)
    samples = tmp_path / "samples"
    for name, index in (("copy-4", 4), ("copy-17", 17), ("own", 1200)):
        _digit_png(samples / f"{name}.png", index)
    write_jsonl(samples / "manifest.jsonl", [{"id": n, "modality": "image", "path": f"{n}.png",
                                              "provenance": {"generator": "vae", "seed": 0}}
                                             for n in ("copy-4", "copy-17", "own")])

    out = tmp_path / "idx"
    built = run_cli("index", "build", "--reference", str(reference), "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert "1 text(s) added, 0 kept, 1 in all; 31 image(s) added, 0 kept, 31 in all" in built.stdout
    assert "1 image(s) could not be read and are indexed as unreadable: digit-broken (" in built.stderr

    def audit(name: str, *extra: str) -> tuple[int, dict]:
        result = run_cli("audit", "--samples", str(samples), "--policy", "default", *extra,
                         "--out", str(tmp_path / name), "--store", str(tmp_path / "runs.db"))
        assert result.returncode in (0, 1), result.stderr
        return result.returncode, json.loads((tmp_path / name / "report.json").read_text())

    plain_code, plain = audit("plain", "--reference", str(reference))
    indexed_code, indexed = audit("indexed", "--index", str(out))
    assert plain_code == indexed_code == 1

    def image_findings(report: dict) -> list:
        return [(f["item_id"], f["evidence"]) for f in report["findings"]
                if f["rule_id"] == "copyright.image.near_duplicate"]
    assert image_findings(indexed) == image_findings(plain)
    assert {item for item, _ in image_findings(indexed)} == {"copy-4", "copy-17"}
    evaluation = next(v for k, v in indexed["evaluations"].items() if k.startswith("image_near_duplicate"))
    assert any("stored index" in n["text"] for n in evaluation["notes"])
    assert any("digit-broken" in n["text"] for n in evaluation["notes"])

    _digit_png(reference / "images" / "30.png", 30)
    write_jsonl(reference / "manifest.jsonl", records + [
        {"id": "digit-30", "modality": "image", "path": "images/30.png", "source": "digits #30",
         "license": "CC BY 4.0"}])
    added = run_cli("index", "add", "--index", str(out), "--reference", str(reference))
    assert added.returncode == 0, added.stderr
    assert "0 text(s) added, 1 kept, 1 in all; 1 image(s) added, 31 kept, 32 in all" in added.stdout

    (reference / "images" / "4.png").write_bytes((reference / "images" / "5.png").read_bytes())
    changed = run_cli("audit", "--samples", str(samples), "--index", str(out), "--out", str(tmp_path / "c"),
                      "--store", str(tmp_path / "runs.db"))
    assert changed.returncode == 2 and "reference image 'digit-4' changed" in changed.stderr
    assert len(changed.stderr.strip().splitlines()) == 1


NEAR_DUPLICATE_POLICY = """\
version: 1
name: copying
rules:
  - id: copyright.text.near_duplicate
    evaluator: text_near_duplicate
    metric: share_flagged
    max: 0.0
    level: error
    params: {threshold: 0.5}
"""


def test_dask_engine_builds_a_band_index_and_audits_with_the_same_findings(tmp_path, reference_set,
                                                                          copied_samples):
    policy = tmp_path / "copying.yaml"
    policy.write_text(NEAR_DUPLICATE_POLICY)
    built = run_cli("index", "build", "--engine", "dask", "--workers", "1", "--partitions", "3",
                    "--reference", str(reference_set), "--out", str(tmp_path / "bands"))
    assert built.returncode == 0, built.stderr
    assert f"{len(REFERENCE_TEXTS)} text(s)" in built.stdout and "in 3 partition(s)" in built.stdout
    assert len(list((tmp_path / "bands" / "bands").glob("*.parquet"))) == 3

    plain = run_cli("audit", "--samples", str(copied_samples), "--reference", str(reference_set),
                    "--policy", str(policy), "--out", str(tmp_path / "plain"),
                    "--store", str(tmp_path / "runs.db"))
    # The reference set defaults to the one the band index was built from.
    dask = run_cli("audit", "--engine", "dask", "--workers", "1", "--index", str(tmp_path / "bands"),
                   "--samples", str(copied_samples), "--policy", str(policy), "--out", str(tmp_path / "dask"),
                   "--store", str(tmp_path / "runs.db"))
    assert plain.returncode == dask.returncode == 1, dask.stderr
    a = json.loads((tmp_path / "plain" / "report.json").read_text())
    b = json.loads((tmp_path / "dask" / "report.json").read_text())
    assert a["findings"] and [(f["rule_id"], f["item_id"], f["evidence"]) for f in a["findings"]] == \
        [(f["rule_id"], f["item_id"], f["evidence"]) for f in b["findings"]]


def test_dask_engine_refusals_are_one_line_errors_with_exit_2(tmp_path, reference_set, copied_samples):
    policy = tmp_path / "copying.yaml"
    policy.write_text(NEAR_DUPLICATE_POLICY)
    common = ("--samples", str(copied_samples), "--policy", str(policy), "--out", str(tmp_path / "r"),
              "--store", str(tmp_path / "runs.db"))
    cases = [
        (("index", "build", "--engine", "dask", "--scheduler", "nonsense://x",
          "--reference", str(reference_set), "--out", str(tmp_path / "b")), "cannot reach the Dask scheduler 'nonsense://x'"),
        (("audit", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "--index", str(tmp_path), *common),
         "no band index here"),
        (("audit", "--engine", "dask", *common), "--engine dask joins against a band index"),
        (("audit", "--partitions", "4", "--reference", str(reference_set), *common),
         "--partitions applies to --engine dask, not --engine local"),
        (("index", "build", "--engine", "dask", "--seed-tokens", "4", "--reference", str(reference_set),
          "--out", str(tmp_path / "b")), "--seed-tokens applies to --engine local"),
    ]
    for args, message in cases:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_unreachable_scheduler_address_is_a_one_line_error(tmp_path, reference_set):
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "aigc-audit"
    result = subprocess.run([str(exe), "index", "build", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9",
                             "--reference", str(reference_set), "--out", str(tmp_path / "b")],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"})
    assert result.returncode == 2
    assert result.stderr.startswith("aigc-audit: error: cannot reach the Dask scheduler 'tcp://127.0.0.1:9' ")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "b").exists()


def _findings(folder):
    report = json.loads((folder / "report.json").read_text())
    return [(f["rule_id"], f["item_id"], f["evidence"]) for f in report["findings"]]


def test_a_shared_index_in_redis_builds_grows_and_audits_like_the_folder_index(tmp_path, redis_url,
                                                                              reference_set, copied_samples):
    built = run_cli("index", "build", "--reference", str(reference_set), "--out", redis_url)
    assert built.returncode == 0, built.stderr
    assert f"index {redis_url}: {len(REFERENCE_TEXTS)} text(s) added, 0 kept" in built.stdout
    assert run_cli("index", "build", "--reference", str(reference_set), "--out", str(tmp_path / "idx")
                   ).returncode == 0
    runs, policy = str(tmp_path / "runs.db"), _copy_rules(tmp_path)
    plain = run_cli("audit", "--samples", str(copied_samples), "--reference", str(reference_set),
                    "--policy", policy, "--out", str(tmp_path / "plain"), "--store", runs)
    folder = run_cli("audit", "--samples", str(copied_samples), "--index", str(tmp_path / "idx"),
                     "--policy", policy, "--out", str(tmp_path / "folder"), "--store", runs)
    # The reference set defaults to the one the index was built from, as with a folder.
    shared = run_cli("audit", "--samples", str(copied_samples), "--index", redis_url,
                     "--policy", policy, "--out", str(tmp_path / "shared"), "--store", runs)
    assert plain.returncode == folder.returncode == shared.returncode == 1, shared.stderr
    assert _findings(tmp_path / "shared") == _findings(tmp_path / "folder") == _findings(tmp_path / "plain")
    assert _findings(tmp_path / "shared")

    again = run_cli("index", "build", "--reference", str(reference_set), "--out", redis_url)
    assert again.returncode == 2
    assert "already built here; add items with 'aigc-audit index add" in again.stderr
    grown, records = _grown(reference_set, tmp_path)
    added = run_cli("index", "add", "--index", redis_url, "--reference", str(grown))
    assert added.returncode == 0, added.stderr
    assert f"1 text(s) added, {len(records)} kept, {len(records) + 1} in all" in added.stdout
    stale = run_cli("audit", "--samples", str(copied_samples), "--reference", str(reference_set),
                    "--index", redis_url, "--out", str(tmp_path / "r"), "--store", runs)
    assert stale.returncode == 2 and "are not the index's" in stale.stderr
    assert len(stale.stderr.strip().splitlines()) == 1


def test_an_unreachable_or_incompatible_redis_index_is_one_line_and_exit_2(tmp_path, redis_server, redis_url,
                                                                          reference_set, copied_samples):
    down = "redis://127.0.0.1:1/0?prefix=team"
    for args in (("index", "build", "--reference", str(reference_set), "--out", down),
                 ("audit", "--samples", str(copied_samples), "--index", down, "--out", str(tmp_path / "r"))):
        result = run_cli(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.startswith(f"aigc-audit: error: {down}: the Redis server did not answer "
                                        "(ConnectionError"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1

    assert run_cli("index", "build", "--reference", str(reference_set), "--out", redis_url).returncode == 0
    prefix = redis_url.split("prefix=")[1]
    manifest = json.loads(redis_server.client.get(f"{prefix}:manifest"))
    manifest["versions"]["numpy"] = "1.0.0"
    redis_server.client.set(f"{prefix}:manifest", json.dumps(manifest))
    old = run_cli("audit", "--samples", str(copied_samples), "--index", redis_url,
                  "--out", str(tmp_path / "r"))
    assert old.returncode == 2 and "built under incompatible settings: numpy '1.0.0'" in old.stderr
    assert len(old.stderr.strip().splitlines()) == 1
