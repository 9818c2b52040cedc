"""How long the image copy check takes at training-set scale, stage by stage.

Writes ``--train`` training images and ``--generated`` generated ones (drawn shapes, 64x64 RGB PNG,
one seed each; one generated image in ten a training image cropped to 80 % and turned by 5 degrees)
into a temporary folder, reads both back as the CLI does, and times ``image_near_duplicate`` with
the default parameters, split into its stages from the progress it reports: hashing the training
images, hashing the generated ones, the hash stage's pixel check, and the alignment of the items the
hashes did not confirm (spread over worker processes, one per core, when there are many), with the
CPU time of this process and its workers and the load average beside the wall clock. The anchor,
in the same run: ``imagehash.phash`` of every file in a per-image loop (the cost of hashing alone,
the floor of any hash-based check). Then the stored
index (``aigc-audit index build``): its build time and size, and the same audit with it, which
reads the training images only for their SHA-256 and the candidates it aligns (same findings).

    .venv/bin/python benchmarks/bench_image_copy_scale.py [--train 100000] [--generated 1000]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import imagehash
import numpy as np
from detect_image_copy import crop, rotate, shape_image  # the sibling benchmark: same drawings, same edits
from PIL import Image

from aigc_audit.evaluators.copying.image_near_duplicate import ImageNearDuplicate
from aigc_audit.evaluators.copying.reference_index import ReferenceIndex, update_index
from aigc_audit.sampleset import IMAGE, REFERENCE, SAMPLES, load_sample_set, write_manifest
from aigc_audit.threads import available_cores

COPY_EVERY = 10


def write(folder: Path, images: Iterable[Image.Image], prefix: str, role: str) -> None:
    folder.mkdir(parents=True)
    records = []
    for index, image in enumerate(images):
        name = f"{index:06d}.png"
        image.save(folder / name, compress_level=1)
        record = {"id": f"{prefix}-{index:06d}", "modality": IMAGE, "path": name}
        if role == REFERENCE:
            record.update(source=f"shapes seed {index}", license="generated")
        records.append(record)
    write_manifest(folder, records)


class StageClock:
    """A progress tracker that records when each stage (by its label) starts and ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def __call__(self, iterable, label: str, total: int | None = None):
        started = time.perf_counter()
        yield from iterable
        self.seconds[label] += time.perf_counter() - started


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the alignment's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg()) + " (1 / 5 / 15 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--generated", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        training = (shape_image(np.random.default_rng([7, i])) for i in range(args.train))
        write(root / "training", training, "train", REFERENCE)

        def generated() -> Iterable[Image.Image]:
            for i in range(args.generated):
                if i % COPY_EVERY == 0:
                    rng = np.random.default_rng([7, i])
                    yield rotate(crop(shape_image(rng), rng, area=0.8), rng, degrees=5, fill="edge")
                else:
                    yield shape_image(np.random.default_rng([8, i]))

        write(root / "generated", generated(), "gen", SAMPLES)
        print(f"{args.train:,} training and {args.generated:,} generated images (64x64 PNG) written in "
              f"{time.perf_counter() - started:.1f} s")
        reference = load_sample_set(root / "training", role=REFERENCE)
        samples = load_sample_set(root / "generated", role=SAMPLES)

        clock = StageClock()
        started, cpu = time.perf_counter(), _cpu_seconds()
        result = ImageNearDuplicate().evaluate(samples, reference, track=clock)
        ours, ours_cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        planted = {f"gen-{i:06d}": f"train-{i:06d}" for i in range(0, args.generated, COPY_EVERY)}
        caught = sum(r.flagged and r.evidence.get("match_id") == planted.get(r.item_id)
                     for r in result.items if r.item_id in planted)
        others = sum(r.flagged for r in result.items if r.item_id not in planted)
        print(f"image_near_duplicate: {ours:.1f} s in all ({ours_cpu:.1f} s of CPU with its workers, on "
              f"{available_cores()} cores; load average {_load()}); planted copies (crop 80 % + turn 5 "
              f"degrees) caught {caught}/{len(planted)}; other items flagged {others}")
        for label, seconds in clock.seconds.items():
            print(f"   {label}: {seconds:.1f} s")

        started = time.perf_counter()
        for item in list(reference.items) + list(samples.items):
            with Image.open(item.path) as image:
                imagehash.phash(image)
        anchor = time.perf_counter() - started
        # Throughputs, images a second: ours hashes the training images (pHash, dHash and the
        # thumbnails the pixel check reads) on every core; the loop computes pHash alone, in turn.
        hashed = clock.seconds["Hashing reference images"]
        loop_rate, our_rate = (args.train + args.generated) / anchor, args.train / hashed
        print(f"imagehash.phash loop over the same {args.train + args.generated:,} files: {anchor:.1f} s, "
              f"{loop_rate:,.0f} images/s; hashing the training images here {hashed:.1f} s, {our_rate:,.0f} "
              f"images/s ({our_rate / loop_rate:.2f} times the loop's throughput); the whole audit "
              f"{ours / anchor:.1f} times the loop's time")

        started = time.perf_counter()
        update_index(root / "index", reference.items)
        build = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (root / "index").rglob("*") if p.is_file())
        index = ReferenceIndex.load(root / "index")
        clock = StageClock()
        started, cpu = time.perf_counter(), _cpu_seconds()
        indexed = ImageNearDuplicate(index=index).evaluate(samples, reference, track=clock)
        with_index, index_cpu = time.perf_counter() - started, _cpu_seconds() - cpu
        same = [(r.item_id, r.flagged, r.evidence) for r in indexed.items] == \
            [(r.item_id, r.flagged, r.evidence) for r in result.items]
        print(f"stored index of the {args.train:,} training images: built in {build:.1f} s, "
              f"{size / 2**20:.0f} MiB on disk with its chunks "
              f"({size / args.train * 1e6 / 2**30:.2f} GiB per million images); the audit with it "
              f"{with_index:.1f} s ({index_cpu:.1f} s of CPU; without: {ours:.1f} s); same findings: {same}; "
              f"load average {_load()}")
        for label, seconds in clock.seconds.items():
            print(f"   {label}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
