"""The audit service under load, on loopback only: latency percentiles, throughput, errors, memory,
start-up time.

Starts ``aigc-audit serve`` on a free 127.0.0.1 port with ``--policy`` (the default policy's
per-item rules: text copies against a training set of ``--reference`` texts, offensive language
and the built-in harm heads on MiniLM embeddings, unreadable items; for images, the image rules)
and sends one 100-word text (or, with ``--image``, one 256×256 PNG) per request from
``--clients`` threads, until ``--requests`` are done or ``--seconds`` have passed, whichever
comes first. Prints p50/p90/p99 latency as the client sees
it, throughput, the error count, and the service's memory (see :func:`_memory_mib`) every
``--memory-every`` requests, so that growth shows; at the end the first, last and largest
reading, the growth per 10,000 requests (least squares, over all readings and over the second
half), and whether the service's own (anonymous) memory stayed within ``--memory-bound`` MiB of
its first reading. For a run of 100,000 requests in tens of minutes rather than hours,
``--policy benchmarks/service_policy_memory.yaml`` keeps the request path (keys, rate limit,
metrics, log, the copy index) and leaves out the classifiers.

With ``--index`` the training set is indexed first (``aigc-audit index build``, timed) and the
service started from the stored index; ``--startup`` only starts the service both ways, from the
training set and from its stored index, and prints the two start-up times.

    .venv/bin/python benchmarks/bench_service.py [--policy default] [--requests 2000] [--clients 8]
        [--seconds 60] [--reference 1000] [--index] [--workers 1] [--threads T] [--words english] [--image]
        [--probes] [--startup]
        [--folder DIR] [--memory-every N] [--memory-bound MIB]
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from aigc_audit.governance.api_keys import KeyFile

# A vocabulary of 5,000 made-up words: texts drawn from it share n-grams about as rarely as
# unrelated prose does (a vocabulary of a few words would make every text a near-copy).
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "gu", "hi", "be", "fo")
_RNG = random.Random(0)
WORDS = tuple(dict.fromkeys("".join(_RNG.choice(_SYLLABLES) for _ in range(3 + n % 3))
                            for n in range(20000)))[:5000]
EXE = str(Path(sys.executable).parent / "aigc-audit")


def _text(rng: random.Random, n: int = 100, words: tuple[str, ...] = WORDS) -> str:
    return " ".join(rng.choice(words) for _ in range(n))


def _english_words() -> tuple[str, ...]:
    """The words of the built-in harm heads' own English sentences (shipped in the package, 2,365
    distinct words). MiniLM splits a made-up word into 3 to 4 pieces, so a 100-word text of them
    is about 360 pieces, cut at the model's 256: its slowest input. 100 English words are about
    125 pieces, as prose is, and take a third of the time."""
    from aigc_audit.evaluators.harm.builtin_heads import EXTRA_FILE, builtin_file

    with builtin_file(EXTRA_FILE).open("r", encoding="utf-8", newline="") as handle:
        return tuple(word for row in csv.DictReader(handle) for word in row["text"].split())


def _image(rng: random.Random, size: int = 256) -> str:
    """A 256×256 PNG of smooth random shapes (noise would be an unusually large file)."""
    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    for _ in range(8):
        x, y, r = rng.randrange(size), rng.randrange(size), rng.randrange(10, 80)
        yy, xx = np.ogrid[:size, :size]
        pixels[(xx - x) ** 2 + (yy - y) ** 2 < r * r] = [rng.randrange(256) for _ in range(3)]
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def _processes(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers are children of the serve process)."""
    found = [pid]
    for p in found:
        try:
            found += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            pass
    return found


def _memory_mib(pid: int) -> tuple[float, float, float]:
    """Summed over the service's processes, in MiB: proportional set size (shared pages split
    between their users), anonymous resident memory (the processes' own: where a leak shows) and
    file-backed resident memory (mostly the memory-mapped index, which grows as requests touch
    more of it, up to the index's size, and is shared by the workers through the page cache)."""
    pss = anon = file = 0
    for p in _processes(pid):
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
            pss += sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    anon += int(line.split()[1])
                elif line.startswith("RssFile:"):
                    file += int(line.split()[1])
        except OSError:
            pass
    return pss / 1024, anon / 1024, file / 1024


def _memory_text(pss: float, anon: float, file: float) -> str:
    return f"PSS {pss:.0f} MiB (resident: {anon:.0f} MiB anonymous, {file:.0f} MiB file-backed)"


def _memory_line(pid: int) -> str:
    return _memory_text(*_memory_mib(pid))


def _start(command: list[str]) -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    server = subprocess.Popen(command + ["--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return server, url, time.monotonic() - started
        except httpx.TransportError:
            time.sleep(0.2)
        if server.poll() is not None or time.monotonic() - started > 600:
            raise SystemExit("the service did not start")


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=60)


def _load(url: str, key: str, body: Callable[[random.Random], dict], args: argparse.Namespace,
          pid: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors, lock = [0], threading.Lock()
    remaining = [args.requests]
    started = time.monotonic()
    stop_at = started + args.seconds
    every = args.memory_every or max(1, args.requests // 10)
    memory: list[tuple[int, tuple[float, float, float]]] = []

    def client(seed: int) -> None:
        local = random.Random(seed)
        with httpx.Client(headers=headers, timeout=30) as http:
            while time.monotonic() < stop_at:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                payload = body(local)
                t0 = time.perf_counter()
                try:
                    ok = http.post(f"{url}/v1/check", json=payload).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    errors[0] += not ok
                    if len(latencies) % every == 0:
                        memory.append((len(latencies), _memory_mib(pid)))
                        # As it is read, so that a long run shows its progress.
                        print(f"  after {len(latencies):>7} requests ({time.monotonic() - started:.0f} s): "
                              f"service {_memory_text(*memory[-1][1])}", flush=True)

    probes: list[float] = []
    done = threading.Event()

    def probe() -> None:
        # A health probe every 100 ms while the checks run: torch's threads must leave the event
        # loop room to answer (an orchestrator restarts a service whose probes time out).
        with httpx.Client(timeout=30) as http:
            while not done.wait(0.1):
                t0 = time.perf_counter()
                ok = http.get(f"{url}/healthz").status_code == 200
                probes.append(time.perf_counter() - t0 if ok else float("inf"))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    prober = threading.Thread(target=probe)
    for t in threads + ([prober] if args.probes else []):
        t.start()
    for t in threads:
        t.join()
    done.set()
    if args.probes:
        prober.join()
    wall = time.monotonic() - t0
    ms = np.array(latencies) * 1000
    print(f"{len(ms)} requests from {args.clients} clients in {wall:.1f} s: "
          f"{len(ms) / wall:.1f} requests/s, {errors[0]} errors")
    print(f"latency ms  p50 {np.percentile(ms, 50):.1f}  p90 {np.percentile(ms, 90):.1f}  "
          f"p99 {np.percentile(ms, 99):.1f}  max {ms.max():.1f}")
    if probes:
        probe_ms = np.array(probes) * 1000
        print(f"/healthz meanwhile: {len(probe_ms)} probes, p50 {np.percentile(probe_ms, 50):.1f} ms  "
              f"p99 {np.percentile(probe_ms, 99):.1f}  max {probe_ms.max():.1f}")
    if len(memory) >= 2:
        _memory_summary(memory, args.memory_bound)


def _slope(done: np.ndarray, mib: np.ndarray) -> float:
    """Least-squares growth in MiB per 10,000 requests."""
    return float(np.polyfit(done, mib, 1)[0] * 10_000) if len(done) >= 2 else 0.0


def _memory_summary(memory: list[tuple[int, tuple[float, float, float]]], bound: float) -> None:
    """First, last and largest reading and the growth per 10,000 requests, over all readings and over
    the second half (where a leak still grows and a cache that filled up has stopped), and whether
    the anonymous memory (the service's own) stayed within ``bound`` MiB of its first reading."""
    done = np.array([n for n, _ in memory], dtype=float)
    readings = np.array([m for _, m in memory])                             # (S, 3): PSS, anon, file
    half = len(done) // 2
    for column, name in ((0, "PSS"), (1, "anonymous"), (2, "file-backed")):
        mib = readings[:, column]
        print(f"memory {name:>11}: first {mib[0]:.0f} MiB, last {mib[-1]:.0f}, max {mib.max():.0f}; "
              f"slope {_slope(done, mib):+.2f} MiB per 10k requests (second half "
              f"{_slope(done[half:], mib[half:]):+.2f})")
    growth = readings[:, 1].max() - readings[0, 1]
    print(f"anonymous memory grew {growth:.1f} MiB over {int(done[-1] - done[0])} requests after the first "
          f"reading: {'within' if growth <= bound else 'OVER'} the bound of {bound:g} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="default", help="policy file or shipped name")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long at most")
    parser.add_argument("--reference", type=int, default=1000, help="training texts (0: no copy rule)")
    parser.add_argument("--index", action="store_true", help="serve from a stored index of the training set")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads per worker (serve --threads; "
                        "default: serve's, the cores shared among the workers)")
    parser.add_argument("--words", choices=("made-up", "english"), default="made-up",
                        help="the requests' words: made-up (as the training set's; MiniLM's slowest input, "
                        "cut at 256 pieces) or English (as prose: about 125 pieces per 100 words)")
    parser.add_argument("--image", action="store_true", help="send one 256×256 PNG per request")
    parser.add_argument("--probes", action="store_true", help="also time a /healthz probe every 100 ms "
                        "during the load")
    parser.add_argument("--memory-every", type=int, default=0, help="requests between two memory readings "
                        "(default: a tenth of --requests)")
    parser.add_argument("--memory-bound", type=float, default=32.0,
                        help="MiB the service's anonymous memory may grow after its first reading")
    parser.add_argument("--folder", help="keep the training set and its index here, to reuse in later runs")
    parser.add_argument("--startup", action="store_true",
                        help="only time the start from the training set and from its stored index")
    args = parser.parse_args()
    # The figures depend on what else the machine runs; say how busy it was.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or scratch
        Path(folder).mkdir(parents=True, exist_ok=True)
        keys = KeyFile(Path(scratch) / "keys.json")
        _, key = keys.add("bench", ("check",))
        command = [EXE, "serve", "--policy", args.policy, "--keys", str(keys.path), "--rate-limit", "1000000",
                   "--burst", "1000000", "--workers", str(args.workers)]
        command += ["--threads", str(args.threads)] if args.threads else []
        ref = Path(folder) / f"reference-{args.reference}.jsonl"
        index = f"{folder}/index-{args.reference}"
        reuse = args.folder and (Path(index) / "manifest.json").exists()
        if args.reference and not reuse:
            ref.write_text("".join(json.dumps({"id": f"r{i}", "modality": "text", "text": _text(rng),
                                               "source": "bench", "license": "test"}) + "\n"
                                   for i in range(args.reference)))
        if args.reference and (args.index or args.startup) and not reuse:
            t0 = time.monotonic()
            subprocess.run([EXE, "index", "build", "--reference", str(ref), "--out", index],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(f"index of {args.reference} training texts built in {time.monotonic() - t0:.1f} s")
        if args.startup:
            for how, extra in (("the training set", ["--reference", str(ref)]),
                               ("its stored index", ["--index", index])):
                server, _, seconds = _start(command + extra)
                line = _memory_line(server.pid)
                _stop(server)
                print(f"ready in {seconds:.1f} s from {how} ({args.reference} texts, {args.workers} "
                      f"worker(s); {line})")
            return
        if args.reference:
            command += ["--index", index] if args.index else ["--reference", str(ref)]
        server, url, seconds = _start(command)
        try:
            print(f"service ready in {seconds:.1f} s (policy {args.policy}, {args.reference} training texts"
                  f"{' from a stored index' if args.index else ''}, {args.workers} worker(s))")
            image = _image(rng)
            words = _english_words() if args.words == "english" else WORDS
            if args.image:
                body, what = (lambda r: {"image_base64": image}), "one 256×256 PNG image"
            else:
                body, what = (lambda r: {"text": _text(r, words=words)}), f"one 100-word text ({args.words})"
            print(f"each request: {what}")
            with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as warm:
                for _ in range(20):
                    warm.post(f"{url}/v1/check", json=body(rng))
            print(f"  after warm-up: service {_memory_line(server.pid)}")
            _load(url, key, body, args, server.pid)
        finally:
            _stop(server)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
