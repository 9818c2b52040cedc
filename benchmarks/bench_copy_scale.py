"""Copy detection at training-set scale: every figure in one run, each ratio measured in one process.

1. MinHash signatures (``evaluators.copying.minhash``) against datasketch's per-document ``update``
   loop and ``MinHash.bulk`` on the same documents; the arithmetic per document and how close one
   core gets to it; estimate errors on planted pairs of known Jaccard, ours and datasketch's.
2. pHash + dHash in batches (``perceptual_hashes``) against a per-image ``imagehash`` loop, by
   image kind, checked bit for bit.
3. Exact Hamming-radius search (radius 10): time per query against 100,000, 1,000,000 and
   10,000,000 hashes, multi-index hashing against the scan, the same pairs checked; build time and
   memory of the tables.
4. The audit of generated texts against training texts (synthetic 100-word paragraphs, one in ten
   generated texts a copy with 5 % of its words changed): ``text_near_duplicate`` without and with
   a stored index, against datasketch's ``MinHash.generator`` + ``MinHashLSH`` insert and query
   with the same exact check; ``text_copy`` without and with the index; index build time and size.
5. Training-set scale (``--scale``, default 1,000,000 texts): the stored index built over that
   many synthetic training texts, then both text evaluators audit the generated texts with it;
   build time, size on disk, the process's peak memory, planted copies found. Only the indexed
   audits run at this size (the comparisons of 4. would take hours); ``--scale 0`` skips it.
6. The Dask engine (``evaluators.copying.distributed_join``) on a ``LocalCluster`` of ``--workers``
   worker processes: the band index of the training texts (read from a .jsonl, hashed, exploded,
   written as Parquet) and the audit's candidate join and verification, against
   ``text_near_duplicate`` in this process on the same texts; the findings are checked equal.

    .venv/bin/python benchmarks/bench_copy_scale.py [--docs 10000] [--images 2000]
        [--hashes 100000,1000000,10000000] [--training 100000] [--generated 10000] [--scale 1000000]
        [--workers 2] [--only 1,2,3,4,5,6]
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from aigc_audit.evaluators.copying.hamming_search import MultiIndexHashing, radius_search
from aigc_audit.evaluators.copying.minhash import estimate_jaccard, shingle_hashes, signatures
from aigc_audit.evaluators.copying.text_near_duplicate import word_shingles

SHINGLE = 5
NUM_PERM = 128


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return sorted({"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(size)})


def _paragraph(rng: random.Random, vocabulary: list[str], words: int = 100) -> list[str]:
    # Zipf-like word frequencies, as in prose.
    return [vocabulary[min(int(rng.paretovariate(1.1)) - 1, len(vocabulary) - 1)] if rng.random() < 0.5
            else rng.choice(vocabulary) for _ in range(words)]


def _timed(fn, *args, **kwargs):
    gc.collect()
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


# -- 1. MinHash ------------------------------------------------------------------------------------

def bench_minhash(n_docs: int) -> None:
    from datasketch import MinHash

    rng = random.Random(0)
    vocabulary = _vocabulary(rng)
    docs = [_paragraph(rng, vocabulary) for _ in range(n_docs)]
    encoded = [[s.encode("utf-8") for s in word_shingles(d, SHINGLE)] for d in docs]
    n_shingles = sum(len(e) for e in encoded)

    ours_total, (hashes, offsets) = _timed(shingle_hashes, docs, SHINGLE)
    ours_perm, ours = _timed(signatures, hashes, offsets, num_perm=NUM_PERM)
    ours_total += ours_perm

    loop_docs = max(1, n_docs // 10)  # the loop is slow: a tenth of the documents, scaled up
    loop_time, _ = _timed(_update_loop, encoded[:loop_docs], MinHash)
    loop_time *= n_docs / loop_docs
    bulk_time, _ = _timed(MinHash.bulk, encoded, num_perm=NUM_PERM)

    # The arithmetic: per shingle and permutation one multiply, one add and one minimum (uint32).
    ops = 3 * n_shingles * NUM_PERM
    block = np.random.default_rng(0).integers(0, 2**32, 1 << 16, dtype=np.uint32)
    reps = max(1, ops // len(block))
    floor_time, _ = _timed(lambda: [np.add(block, block, out=block) for _ in range(reps)])
    floor_time *= ops / (reps * len(block))
    print(f"1. MinHash, {n_docs} documents of 100 words, {n_shingles / n_docs:.0f} {SHINGLE}-word shingles "
          f"each, {NUM_PERM} permutations")
    print(f"  aigc-audit (shingle hashing + signatures): {ours_total:7.2f} s  "
          f"{n_docs / ours_total:9.0f} docs/s  (signatures alone {ours_perm:.2f} s)")
    print(f"  datasketch update() per shingle:          {loop_time:7.2f} s  "
          f"{n_docs / loop_time:9.0f} docs/s  (measured on {loop_docs} documents)  "
          f"-> {loop_time / ours_total:.0f}x")
    print(f"  datasketch MinHash.bulk:                  {bulk_time:7.2f} s  {n_docs / bulk_time:9.0f} docs/s"
          f"  -> {bulk_time / ours_total:.1f}x")
    print(f"  arithmetic: 3 x {n_shingles // n_docs} x {NUM_PERM} = {ops // n_docs} uint32 operations per "
          f"document; at numpy's in-cache uint32 add rate that is {floor_time:.2f} s for all, so the "
          f"permutation step runs at {floor_time / ours_perm:.0%} of that limit "
          f"({ops / ours_perm / 1e9:.2f} G operations/s on one core)")

    # Estimate errors on planted pairs of known Jaccard similarity.
    pairs_rng = random.Random(1)
    left, right, truth = [], [], []
    for _ in range(1000):
        shared, only = pairs_rng.randrange(20, 200), pairs_rng.randrange(0, 200)
        base = [f"s{pairs_rng.random()}" for _ in range(shared)]
        left.append(base + [f"a{pairs_rng.random()}" for _ in range(only)])
        right.append(base + [f"b{pairs_rng.random()}" for _ in range(only)])
        truth.append(shared / (shared + 2 * only))
    truth_a = np.array(truth)
    ours_err = estimate_jaccard(signatures(*shingle_hashes(left, 1)), signatures(*shingle_hashes(right, 1))) \
        - truth_a
    theirs = [np.stack([m.hashvalues for m in MinHash.generator([[w.encode() for w in d] for d in side],
                                                               num_perm=NUM_PERM)]) for side in (left, right)]
    theirs_err = estimate_jaccard(*theirs) - truth_a
    theory = np.sqrt((truth_a * (1 - truth_a)).mean() / NUM_PERM)
    print(f"  estimate error on 1000 planted pairs (true Jaccard {truth_a.min():.2f}-{truth_a.max():.2f}): "
          f"ours mean {ours_err.mean():+.4f} sd {ours_err.std():.4f}; datasketch mean "
          f"{theirs_err.mean():+.4f} sd {theirs_err.std():.4f}; theory sd {theory:.4f}")


def _update_loop(encoded: list[list[bytes]], minhash_class) -> list:
    out = []
    for shingles in encoded:
        m = minhash_class(num_perm=NUM_PERM)
        for s in shingles:
            m.update(s)
        out.append(m)
    return out


# -- 2. pHash ---------------------------------------------------------------------------------------

def bench_phash(n: int) -> None:
    import imagehash
    from PIL import Image

    from aigc_audit.evaluators.copying.perceptual_hash import perceptual_hashes

    rng = np.random.default_rng(0)
    from sklearn.datasets import load_digits

    digits = np.rint(load_digits().images / 16 * 255).astype(np.uint8)
    kinds = {
        "digits, 16 px gray": [Image.fromarray(digits[i % len(digits)]).resize(
            (16, 16), Image.Resampling.BILINEAR) for i in range(n)],
        "photos, 128 px RGB": [Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8), "RGB")
                               for _ in range(max(1, n // 4))],
        "photos, 512 px RGB": [Image.fromarray(rng.integers(0, 256, (512, 384, 3), dtype=np.uint8), "RGB")
                               for _ in range(max(1, n // 20))],
    }
    print("2. pHash + dHash in batches against a per-image imagehash loop (bit for bit)")
    perceptual_hashes(kinds["digits, 16 px gray"][:4])  # first-call costs (scipy import, pass order)
    for name, images in kinds.items():
        ours, (phash, dhash) = _timed(perceptual_hashes, images)
        loop, baseline = _timed(lambda batch: [(imagehash.phash(i), imagehash.dhash(i)) for i in batch],
                                images)
        same = all(int(str(p), 16) == int(phash[k]) and int(str(d), 16) == int(dhash[k])
                   for k, (p, d) in enumerate(baseline))
        print(f"  {name:20} x{len(images):5}: ours {len(images) / ours:8.0f} images/s, imagehash "
              f"{len(images) / loop:7.0f} images/s -> {loop / ours:4.1f}x; identical: {same}")
    # The same digits read from PNG files: decoding, which both sides need, counts as well.
    folder = Path(tempfile.mkdtemp(prefix="aigc-audit-bench-png-"))
    try:
        paths = []
        for k, image in enumerate(kinds["digits, 16 px gray"]):
            image.save(folder / f"{k}.png")
            paths.append(folder / f"{k}.png")

        def read(path: Path) -> Image.Image:
            with Image.open(path) as image:
                image.load()
                return image

        ours, (phash, _) = _timed(lambda: perceptual_hashes([read(p) for p in paths]))
        loop, baseline = _timed(lambda: [(imagehash.phash(i), imagehash.dhash(i)) for i in map(read, paths)])
        decode, _ = _timed(lambda: [read(p) for p in paths])
        same = all(int(str(p), 16) == int(phash[k]) for k, (p, _) in enumerate(baseline))
        print(f"  {'digits from PNG files':20} x{len(paths):5}: ours {len(paths) / ours:8.0f} images/s, "
              f"imagehash {len(paths) / loop:7.0f} images/s -> {loop / ours:4.1f}x; identical: {same}; "
              f"decoding alone {decode / len(paths) * 1e6:.0f} us an image")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- 3. Hamming search ------------------------------------------------------------------------------

def bench_hamming(sizes: list[int], radius: int = 10, n_queries: int = 1000) -> None:
    rng = np.random.default_rng(0)
    print(f"3. exact Hamming search, radius {radius}, {n_queries} queries (half a training hash with "
          "4 bits flipped)")
    for n in sizes:
        refs = rng.integers(0, 2**64, n, dtype=np.uint64)
        queries = rng.integers(0, 2**64, n_queries, dtype=np.uint64)
        planted = rng.integers(0, n, n_queries // 2)
        flips = rng.integers(0, 64, (n_queries // 2, 4)).astype(np.uint64)
        queries[:n_queries // 2] = refs[planted]
        for c in range(4):
            queries[:n_queries // 2] ^= np.uint64(1) << flips[:, c]
        build, index = _timed(MultiIndexHashing, refs)
        pairs_time, pairs = _timed(index.pairs, queries, radius)
        full_time, full = _timed(index.search, queries, radius)
        check = min(n_queries, max(20, 2_000_000_000 // (n * 40)))  # the scan is slow at 10M
        scan_time, scan = _timed(radius_search, queries[:check], refs, radius, method="scan")
        sub = radius_search(queries[:check], index, radius)
        same = all((getattr(sub, f) == getattr(scan, f)).all()
                   for f in ("query", "reference", "distance", "nearest", "nearest_distance"))
        per_query = (pairs_time * 1e3 / n_queries, full_time * 1e3 / n_queries, scan_time * 1e3 / check)
        print(f"  {n:>10,} hashes: multi-index ({len(index.bits)} substrings) {per_query[0]:6.3f} ms/query "
              f"for the pairs, {per_query[1]:6.3f} with each query's nearest; scan {per_query[2]:7.3f} "
              f"ms/query; same result as the scan on {check} queries: {same}; {len(pairs[0])} pairs; "
              f"build {build:.1f} s, {index.nbytes / n * 1e6 / 2**20:.0f} MiB per million hashes")
        del index, refs
        gc.collect()


# -- 4. The audit ----------------------------------------------------------------------------------

def bench_audit(n_training: int, n_generated: int) -> None:
    from datasketch import MinHash, MinHashLSH

    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex, update_index
    from aigc_audit.evaluators.copying.text_copy import TextCopy
    from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate, jaccard
    from aigc_audit.evaluators.features.tokens import tokenize
    from aigc_audit.sampleset import REFERENCE, SAMPLES, text_set

    training, generated, planted = _synthetic_texts(n_training, n_generated, seed=2)
    reference = text_set(training, role=REFERENCE, prefix="r")
    samples = text_set(generated, role=SAMPLES, prefix="s")
    print(f"4. audit of {n_generated:,} generated texts against {n_training:,} training texts "
          f"(100 words each; {len(planted)} planted copies with 5 % of words changed)")

    def found(evaluation) -> int:
        flagged = {r.item_id for r in evaluation.items if r.flagged}
        return sum(f"s-{i}" in flagged for i in planted)

    ours, result = _timed(TextNearDuplicate(threshold=0.5, shingle_size=SHINGLE).evaluate, samples, reference)

    def datasketch_audit() -> int:
        ref_shingles = [word_shingles(tokenize(t), SHINGLE) for t in training]
        lsh = MinHashLSH(threshold=0.5, num_perm=NUM_PERM)
        with lsh.insertion_session() as session:
            for k, m in enumerate(MinHash.generator([[s.encode() for s in sh] for sh in ref_shingles],
                                                    num_perm=NUM_PERM)):
                session.insert(k, m)
        gen_shingles = [word_shingles(tokenize(t), SHINGLE) for t in generated]
        flagged = set()
        for k, m in enumerate(MinHash.generator([[s.encode() for s in sh] for sh in gen_shingles],
                                                num_perm=NUM_PERM)):
            if any(jaccard(gen_shingles[k], ref_shingles[c]) >= 0.5 for c in lsh.query(m)):
                flagged.add(k)
        return sum(i in flagged for i in planted)

    theirs, theirs_found = _timed(datasketch_audit)
    folder = Path(tempfile.mkdtemp(prefix="aigc-audit-bench-index-"))
    try:
        build, _ = _timed(update_index, folder / "idx", reference.items)
        size = sum(p.stat().st_size for p in (folder / "idx").glob("*.npy"))
        index = ReferenceIndex.load(folder / "idx")
        with_index, indexed = _timed(TextNearDuplicate(threshold=0.5, shingle_size=SHINGLE,
                                                       index=index).evaluate, samples, reference)
        copy_plain, copy_result = _timed(TextCopy().evaluate, samples, reference)
        copy_index, copy_indexed = _timed(TextCopy(index=index).evaluate, samples, reference)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"  text_near_duplicate:           {ours:7.1f} s, {found(result)}/{len(planted)} planted copies "
          "found")
    print(f"  datasketch MinHashLSH + check: {theirs:7.1f} s, {theirs_found}/{len(planted)} found "
          f"-> ours {theirs / ours:.1f}x faster")
    print(f"  text_near_duplicate, index:    {with_index:7.1f} s, {found(indexed)}/{len(planted)} found "
          f"-> {theirs / with_index:.1f}x datasketch")
    print(f"  text_copy:                     {copy_plain:7.1f} s, {found(copy_result)}/{len(planted)} found; "
          f"with the index {copy_index:.1f} s, {found(copy_indexed)}/{len(planted)} found")
    print(f"  index build: {build:.1f} s for {n_training:,} texts, {size / 2**20:.0f} MiB on disk "
          f"({size / n_training * 1e6 / 2**20:.0f} MiB per million texts)")


# -- 5. Training-set scale ------------------------------------------------------------------------

def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _synthetic_texts(n_training: int, n_generated: int, seed: int) -> tuple[list[str], list[str], list[int]]:
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    training = [" ".join(_paragraph(rng, vocabulary)) for _ in range(n_training)]
    generated, planted = [], []
    for i in range(n_generated):
        if i % 10 == 0:
            words = training[rng.randrange(n_training)].split()
            for k in rng.sample(range(len(words)), 5):
                words[k] = rng.choice(vocabulary)
            generated.append(" ".join(words))
            planted.append(i)
        else:
            generated.append(" ".join(_paragraph(rng, vocabulary)))
    return training, generated, planted


def bench_scale(n_training: int, n_generated: int) -> None:
    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex, update_index
    from aigc_audit.evaluators.copying.text_copy import TextCopy
    from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate
    from aigc_audit.sampleset import REFERENCE, SAMPLES, text_set

    made, (training, generated, planted) = _timed(_synthetic_texts, n_training, n_generated, 3)
    reference = text_set(training, role=REFERENCE, prefix="r")
    samples = text_set(generated, role=SAMPLES, prefix="s")
    del training
    print(f"5. stored index of {n_training:,} synthetic training texts (100 words each), audit of "
          f"{n_generated:,} generated ones ({len(planted)} planted copies); texts made in {made:.0f} s, "
          f"peak memory so far {_peak_mib():,.0f} MiB")

    def found(evaluation) -> int:
        flagged = {r.item_id for r in evaluation.items if r.flagged}
        return sum(f"s-{i}" in flagged for i in planted)

    folder = Path(tempfile.mkdtemp(prefix="aigc-audit-bench-scale-"))
    try:
        build, _ = _timed(update_index, folder / "idx", reference.items)
        size = sum(p.stat().st_size for p in (folder / "idx").rglob("*") if p.is_file())
        after_build = _peak_mib()
        load, index = _timed(ReferenceIndex.load, folder / "idx")
        near, near_result = _timed(TextNearDuplicate(threshold=0.5, shingle_size=SHINGLE,
                                                     index=index).evaluate, samples, reference)
        copy, copy_result = _timed(TextCopy(index=index).evaluate, samples, reference)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"  index build: {build:7.1f} s ({n_training / build:,.0f} texts/s), {size / 2**20:,.0f} MiB "
          f"on disk with its chunks ({size / n_training * 1e6 / 2**30:.1f} GiB per million texts); "
          f"peak memory {after_build:,.0f} MiB")
    print(f"  load: {load:.1f} s; text_near_duplicate with the index {near:7.1f} s, {found(near_result)}/"
          f"{len(planted)} planted copies found; text_copy with the index {copy:7.1f} s, "
          f"{found(copy_result)}/{len(planted)} found; peak memory {_peak_mib():,.0f} MiB")


# -- 6. The Dask engine --------------------------------------------------------------------------

def bench_dask(n_training: int, n_generated: int, workers: int) -> None:
    import json

    from aigc_audit.evaluators.copying.distributed_join import (
        BandIndex,
        DaskCandidateJoin,
        build_band_index,
        dask_client,
    )
    from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate
    from aigc_audit.sampleset import REFERENCE, SAMPLES, load_sample_set, text_set

    training, generated, planted = _synthetic_texts(n_training, n_generated, seed=2)
    samples = text_set(generated, role=SAMPLES, prefix="s")
    folder = Path(tempfile.mkdtemp(prefix="aigc-audit-bench-dask-"))
    try:
        path = folder / "training.jsonl"
        path.write_text("".join(json.dumps({"id": f"r-{i}", "text": t}) + "\n"
                                for i, t in enumerate(training)))
        del training
        print(f"6. Dask engine, LocalCluster of {workers} worker processes: {n_training:,} training x "
              f"{n_generated:,} generated texts ({len(planted)} planted copies)")
        read, reference = _timed(load_sample_set, path, role=REFERENCE)
        local, local_result = _timed(TextNearDuplicate().evaluate, samples, reference)
        print(f"  single machine: read {read:.1f} s; text_near_duplicate (hash the training set, join, "
              f"verify) {local:.1f} s")
        started = time.perf_counter()
        with dask_client(workers=workers) as client:
            up = time.perf_counter() - started
            build, summary = _timed(build_band_index, path, folder / "bands", client=client,
                                    partitions=4 * workers)
            size = sum(p.stat().st_size for p in (folder / "bands").rglob("*") if p.is_file())
            join = DaskCandidateJoin(BandIndex.load(folder / "bands"), client, partitions=2 * workers)
            audit, dask_result = _timed(TextNearDuplicate(engine=join).evaluate, samples, reference)
        same = [(r.item_id, r.score, r.evidence) for r in dask_result.items] == \
            [(r.item_id, r.score, r.evidence) for r in local_result.items]
        flagged = {r.item_id for r in dask_result.items if r.flagged}
        print(f"  Dask: cluster up {up:.1f} s; band index build {build:.1f} s ({summary.band_rows:,} band "
              f"rows in {summary.partitions} partitions, {size / 2**20:.0f} MiB of Parquet); join + verify "
              f"{audit:.1f} s; build + join {build + audit:.1f} s = {(build + audit) / local:.1f}x the "
              f"single machine's {local:.1f} s")
        print(f"  same findings as the single machine: {same}; "
              f"{sum(f's-{i}' in flagged for i in planted)}/{len(planted)} planted copies found")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--hashes", default="100000,1000000,10000000")
    parser.add_argument("--training", type=int, default=100_000)
    parser.add_argument("--generated", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="6.: local Dask cluster's worker processes")
    parser.add_argument("--only", default="1,2,3,4,5,6", help="sections to run, by number")
    args = parser.parse_args()
    only = {int(v) for v in args.only.split(",")}
    if 1 in only:
        bench_minhash(args.docs)
    if 2 in only:
        bench_phash(args.images)
    if 3 in only:
        bench_hamming([int(v) for v in args.hashes.split(",")])
    if 4 in only:
        bench_audit(args.training, args.generated)
    if 5 in only and args.scale:
        bench_scale(args.scale, args.generated)
    if 6 in only:
        bench_dask(args.training, args.generated, args.workers)


if __name__ == "__main__":
    main()
