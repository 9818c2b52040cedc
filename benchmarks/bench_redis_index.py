"""The shared index in Redis against the folder index, on the same synthetic texts, in one process.

``--training`` synthetic training texts (100 words each, as ``bench_copy_scale``'s section 5) are
indexed into a folder and into Redis; then ``text_near_duplicate`` and ``text_copy`` audit
``--generated`` texts (one in ten a planted copy with 5 words changed) with each index. Prints
build and audit times, the ratio Redis / folder, the planted copies found (which must agree), the
Redis memory the index takes (``INFO memory``, before and after) per million texts, and the size of
the folder.

Starts its own redis-server on a free loopback port unless ``--redis URL`` names one.

    .venv/bin/python benchmarks/bench_redis_index.py [--training 100000] [--generated 1000]
        [--redis redis://127.0.0.1:6379/0?prefix=bench]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench_copy_scale import SHINGLE, _peak_mib, _synthetic_texts, _timed


def _start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    import redis

    for _ in range(200):
        try:
            if redis.Redis(port=port).ping():
                break
        except redis.ConnectionError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0?prefix=bench"


def main() -> None:
    import redis

    from aigc_audit.evaluators.copying.redis_index import RedisReferenceIndex, RedisStore, update_redis_index
    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex, update_index
    from aigc_audit.evaluators.copying.text_copy import TextCopy
    from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate
    from aigc_audit.sampleset import REFERENCE, SAMPLES, text_set

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training", type=int, default=100_000)
    parser.add_argument("--generated", type=int, default=1000)
    parser.add_argument("--redis", help="an index URL on a running server (default: start one)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="aigc-audit-bench-redis-"))
    server, url = (None, args.redis) if args.redis else _start_server(folder)
    try:
        made, (training, generated, planted) = _timed(_synthetic_texts, args.training, args.generated, 3)
        reference = text_set(training, role=REFERENCE, prefix="r")
        samples = text_set(generated, role=SAMPLES, prefix="s")
        del training
        print(f"{args.training:,} synthetic training texts (100 words each), {args.generated:,} generated "
              f"({len(planted)} planted copies); texts made in {made:.0f} s")
        store = RedisStore(url)
        client: redis.Redis = store.client
        before = int(client.info("memory")["used_memory"])

        def found(evaluation) -> int:
            flagged = {r.item_id for r in evaluation.items if r.flagged}
            return sum(f"s-{i}" in flagged for i in planted)

        rows = []
        for name, build, load in (("folder", lambda: update_index(folder / "idx", reference.items),
                                   lambda: ReferenceIndex.load(folder / "idx")),
                                  ("redis", lambda: update_redis_index(url, reference.items),
                                   lambda: RedisReferenceIndex.load(url))):
            built, _ = _timed(build)
            loaded, index = _timed(load)
            near, near_result = _timed(TextNearDuplicate(threshold=0.5, shingle_size=SHINGLE,
                                                         index=index).evaluate, samples, reference)
            copy, copy_result = _timed(TextCopy(index=index).evaluate, samples, reference)
            verdicts = [(r.item_id, r.flagged, round(r.score, 9))
                        for r in copy_result.items + near_result.items]
            rows.append((name, built, loaded, near, copy, found(near_result), found(copy_result), verdicts))
            del index
        used = int(client.info("memory")["used_memory"]) - before
        size = sum(p.stat().st_size for p in (folder / "idx").rglob("*") if p.is_file())
        for name, built, loaded, near, copy, near_found, copy_found, _ in rows:
            print(f"  {name:>6}: build {built:7.1f} s, load {loaded:5.2f} s; text_near_duplicate "
                  f"{near:6.1f} s ({near_found}/{len(planted)} found), text_copy {copy:6.1f} s "
                  f"({copy_found}/{len(planted)})")
        folder_row, redis_row = rows
        print(f"  redis / folder: build {redis_row[1] / folder_row[1]:.2f}x, text_near_duplicate "
              f"{redis_row[3] / folder_row[3]:.2f}x, text_copy {redis_row[4] / folder_row[4]:.2f}x; same "
              f"verdicts and scores: {redis_row[7] == folder_row[7]}")
        print(f"  Redis memory {used / 2**20:,.0f} MiB ({used / args.training * 1e6 / 2**30:.2f} GiB per "
              f"million texts); folder {size / 2**20:,.0f} MiB with its chunks; peak memory of this process "
              f"{_peak_mib():,.0f} MiB")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
