import json
import random

import numpy as np
import pytest

from aigc_audit.errors import ConfigError, InputError
from aigc_audit.evaluators.copying.distributed_join import (
    BandIndex,
    BandParams,
    DaskCandidateJoin,
    build_band_index,
    dask_client,
)
from aigc_audit.evaluators.copying.minhash import shingle_hashes, signatures
from aigc_audit.evaluators.copying.minhash_lsh_index import BandedLSHIndex, band_keys, lsh_bands
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate, words
from aigc_audit.sampleset import REFERENCE, SAMPLES, load_sample_set, text_set

N_REF, N_COPIES, N_NEW, WORDS = 240, 15, 15, 60


@pytest.fixture(scope="module")
def client():
    # In-process workers: the same scheduler, shuffle and Parquet I/O as a cluster, without the
    # seconds it takes to start worker processes.
    with dask_client(workers=2, processes=False) as c:
        yield c


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A training set as a .jsonl, and generated texts: copies of training texts with 5 % of their
    words changed, texts of the same vocabulary that copy nothing, and one without words."""
    rng = random.Random(11)
    vocabulary = sorted({"".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 8)))
                         for _ in range(3000)})
    training = [[rng.choice(vocabulary) for _ in range(WORDS)] for _ in range(N_REF)]
    folder = tmp_path_factory.mktemp("planted")
    path = folder / "training.jsonl"
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": " ".join(t), "source": f"web/{i}",
                                        "license": "CC-BY-4.0"}) + "\n" for i, t in enumerate(training)))
    copied = rng.sample(range(N_REF), N_COPIES)
    texts = []
    for k in copied:
        tokens = list(training[k])
        for j in rng.sample(range(WORDS), WORDS // 20):  # 5 % of the words changed
            tokens[j] = f"changed{j}"
        texts.append(" ".join(tokens))
    texts += [" ".join(rng.choice(vocabulary) for _ in range(WORDS)) for _ in range(N_NEW)]
    texts.append("?! ...")
    return path, text_set(texts, role=SAMPLES, prefix="g"), copied


@pytest.fixture(scope="module")
def built(planted, client, tmp_path_factory):
    """Band indexes of the training set in 1 and in 4 partitions."""
    path, _, _ = planted
    folder = tmp_path_factory.mktemp("indexes")
    summaries = {n: build_band_index(path, folder / f"p{n}", client=client, partitions=n) for n in (1, 4)}
    return {n: folder / f"p{n}" for n in summaries}, summaries


def _evidence(evaluation):
    return [(r.item_id, r.score, r.flagged, json.dumps(r.evidence, sort_keys=True)) for r in evaluation.items]


def _single_machine_pairs(reference, samples, params: BandParams) -> np.ndarray:
    """The candidate pairs of the in-memory BandedLSHIndex, as (sample position, reference position)."""
    def sigs(texts):
        tokens = [words(t).tokens for t in texts]
        rows = [i for i, t in enumerate(tokens) if t]
        return rows, signatures(*shingle_hashes([tokens[i] for i in rows], params.shingle_size),
                                num_perm=params.num_perm, seed=params.seed)

    ref_rows, ref_sigs = sigs([r.text for r in reference.items])
    item_rows, item_sigs = sigs([i.text for i in samples.items])
    bands, rows = params.bands
    pairs = BandedLSHIndex(ref_sigs, bands=bands, rows=rows).candidate_pairs(item_sigs)
    found = sorted((item_rows[q], ref_rows[r]) for q, r in pairs.tolist())
    return np.array(found, dtype=np.int64).reshape(-1, 2)


def test_build_writes_partitioned_band_rows_and_a_manifest_of_the_scheme(built, planted):
    paths, summaries = built
    bands, rows = BandParams().bands
    for n, path in paths.items():
        summary = summaries[n]
        assert (summary.texts, summary.indexed, summary.band_rows) == (N_REF, N_REF, N_REF * bands)
        assert len(list((path / "bands").glob("*.parquet"))) == n
        manifest = json.loads((path / "manifest.json").read_text())
        assert (manifest["bands"], manifest["rows"], manifest["params"]["num_perm"]) == (bands, rows, 128)
        assert "affine32" in manifest["schemes"]["minhash"] and manifest["versions"]["dask"]
    import pandas as pd

    frame = pd.read_parquet(paths[4] / "bands")
    assert set(frame.columns) == {"band", "key", "ref_pos"} and len(frame) == N_REF * bands
    # Each row is the key the single-machine index folds for that text's band.
    reference = load_sample_set(planted[0], role=REFERENCE)
    first = frame[frame.ref_pos == 7].sort_values("band")
    sig = signatures(*shingle_hashes([words(reference.items[7].text).tokens], 5), num_perm=128, seed=1)
    assert first["key"].to_numpy().tolist() == band_keys(sig, bands, rows)[0].tolist()


@pytest.mark.parametrize("build_partitions", [1, 4])
@pytest.mark.parametrize("join_partitions", [1, 3])
def test_dask_join_finds_the_same_pairs_and_findings_as_the_single_machine_path(
        built, planted, client, build_partitions, join_partitions):
    path, samples, copied = planted
    reference = load_sample_set(path, role=REFERENCE)
    join = DaskCandidateJoin(BandIndex.load(built[0][build_partitions]), client, partitions=join_partitions)

    pairs = join.candidate_pairs([i.text for i in samples.items])
    expected = _single_machine_pairs(reference, samples, BandParams())
    assert pairs.tolist() == expected.tolist()
    assert {(q, copied[q]) for q in range(N_COPIES)} <= set(map(tuple, pairs.tolist()))

    single = TextNearDuplicate().evaluate(samples, reference)
    distributed = TextNearDuplicate(engine=join).evaluate(samples, reference)
    assert _evidence(distributed) == _evidence(single)
    assert distributed.metrics == single.metrics
    flagged = [r.item_id for r in distributed.items if r.flagged]
    assert flagged == [samples.items[q].id for q in range(N_COPIES)]  # every copy, nothing else
    matches = [r.evidence["match_id"] for r in distributed.items[:N_COPIES]]
    assert matches == [f"r{k}" for k in copied]
    assert any("band index" in n.text for n in distributed.notes)


def test_verified_pairs_carry_the_exact_jaccard(built, planted, client):
    path, samples, copied = planted
    join = DaskCandidateJoin(BandIndex.load(built[0][4]), client, partitions=2)
    verified = join.verified_pairs([i.text for i in samples.items], shingle_size=5, num_perm=128, seed=1,
                                   threshold=0.5, min_recall=0.99)
    reference = load_sample_set(path, role=REFERENCE)
    from aigc_audit.evaluators.copying.text_near_duplicate import jaccard, word_shingles

    for gen, ref, sim in verified[["gen_pos", "ref_pos", "similarity"]].itertuples(index=False):
        assert sim == jaccard(word_shingles(words(samples.items[gen].text).tokens, 5),
                              word_shingles(words(reference.items[ref].text).tokens, 5))
    assert verified["ref_id"].tolist() == [reference.items[r].id for r in verified["ref_pos"]]


def test_parameters_and_reference_set_that_differ_from_the_index_are_refused(built, planted, client):
    path, samples, _ = planted
    index = BandIndex.load(built[0][1])
    join = DaskCandidateJoin(index, client)
    with pytest.raises(InputError, match=r"runs with threshold=0.8 but the band index was built with "
                                         r"threshold=0.5; build one with those parameters"):
        TextNearDuplicate(engine=join, threshold=0.8).evaluate(samples, load_sample_set(path, role=REFERENCE))
    smaller = text_set([r.text for r in load_sample_set(path, role=REFERENCE).items[:10]], role=REFERENCE)
    with pytest.raises(InputError, match=r"10 text item\(s\) are not the band index's 240; pass the "):
        TextNearDuplicate(engine=join).evaluate(samples, smaller)
    # Same count, other texts: the candidates' ids and contents are checked.
    texts = [r.text for r in load_sample_set(path, role=REFERENCE).items]
    renamed = text_set(texts, role=REFERENCE, prefix="x")
    with pytest.raises(InputError, match=r"is not the indexed 'r\d+' \(or its text changed\)"):
        TextNearDuplicate(engine=join).evaluate(samples, renamed)
    with pytest.raises(ConfigError, match="takes neither a stored index nor a hashfunc"):
        TextNearDuplicate(engine=join, hashfunc=hash)


def test_an_index_that_is_unfinished_foreign_or_of_another_scheme_does_not_load(built, tmp_path, planted,
                                                                                 client):
    with pytest.raises(InputError, match="no band index here \\(or its build did not finish\\)"):
        BandIndex.load(tmp_path)
    source = built[0][1] / "manifest.json"
    manifest = json.loads(source.read_text())
    for change, message in ((("format", "aigc-audit-reference-index"), "not a band index"),
                            (("schemes", {**manifest["schemes"], "bands": "other"}), "bands scheme 'other'"),
                            (("version", 99), "format version 99")):
        (tmp_path / "manifest.json").write_text(json.dumps({**manifest, change[0]: change[1]}))
        with pytest.raises(InputError, match=message):
            BandIndex.load(tmp_path)
    with pytest.raises(InputError, match="a band index is already built here"):
        build_band_index(planted[0], built[0][1], client=client)
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(InputError, match="not empty and holds no band index"):
        build_band_index(planted[0], tmp_path, client=client)


def test_a_malformed_training_line_stops_the_build_naming_file_and_line(tmp_path, client):
    bad = tmp_path / "training.jsonl"
    bad.write_text('{"id": "a", "text": "one two three"}\n{"id": "b", "text": \n')
    with pytest.raises(InputError, match=r"training.jsonl:2: malformed JSON"):
        build_band_index(bad, tmp_path / "idx", client=client, partitions=2)
    assert not (tmp_path / "idx" / "manifest.json").exists()


def test_band_params_are_the_evaluators_and_are_checked():
    # The bands the evaluator itself chooses for its threshold and min_recall.
    assert BandParams(threshold=0.8, min_recall=0.9).bands == lsh_bands(0.8, 128, 0.9)
    assert BandParams().bands != BandParams(threshold=0.8).bands
    with pytest.raises(ConfigError, match="threshold"):
        BandParams(threshold=1.5)


def test_an_unreachable_scheduler_is_a_config_error(monkeypatch):
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "1s")
    import dask

    dask.config.refresh()
    try:
        with pytest.raises(ConfigError, match=r"cannot reach the Dask scheduler 'tcp://127.0.0.1:9' "
                                              r".*leave out --scheduler for a local cluster"):
            with dask_client("tcp://127.0.0.1:9"):
                pass
        with pytest.raises(ConfigError, match=r"the Dask scheduler 'nonsense://x' \(unknown address"):
            with dask_client("nonsense://x"):
                pass
    finally:
        monkeypatch.delenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT")
        dask.config.refresh()


def test_dask_is_imported_only_when_the_engine_runs():
    import subprocess
    import sys

    code = ("import sys; import aigc_audit.evaluators.copying.distributed_join; "
            "from aigc_audit.governance.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('dask', 'distributed', 'pandas') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
