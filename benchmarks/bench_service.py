"""The audit service under load, on loopback only: latency percentiles, throughput, errors, memory.

Starts ``aigc-audit serve`` on a free 127.0.0.1 port with the default policy (its per-item rules:
text copies against a training set of ``--reference`` texts, offensive language, unreadable
items) and sends one 100-word text per request from ``--clients`` threads, until ``--requests``
are done or ``--seconds`` have passed, whichever comes first. Prints p50/p90/p99 latency as the
client sees it, throughput, the error count, and the service's resident memory before and after.

    .venv/bin/python benchmarks/bench_service.py [--requests 2000] [--clients 8] [--seconds 60]
                                                  [--reference 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from aigc_audit.governance.api_keys import KeyFile

# A vocabulary of 5,000 made-up words: texts drawn from it share n-grams about as rarely as
# unrelated prose does (a vocabulary of a few words would make every text a near-copy).
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "do", "gu", "hi", "be", "fo")
_RNG = random.Random(0)
WORDS = tuple(dict.fromkeys("".join(_RNG.choice(_SYLLABLES) for _ in range(3 + n % 3))
                            for n in range(20000)))[:5000]


def _text(rng: random.Random, n: int = 100) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long at most")
    parser.add_argument("--reference", type=int, default=1000, help="training texts (0: no copy rule)")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        keys = KeyFile(Path(folder) / "keys.json")
        _, key = keys.add("bench", ("check",))
        command = [str(Path(sys.executable).parent / "aigc-audit"), "serve", "--policy", "default", "--keys",
                   str(keys.path), "--rate-limit", "1000000", "--burst", "1000000"]
        if args.reference:
            ref = Path(folder) / "reference.jsonl"
            ref.write_text("".join(json.dumps({"id": f"r{i}", "modality": "text", "text": _text(rng)}) + "\n"
                                   for i in range(args.reference)))
            command += ["--reference", str(ref)]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(command + ["--host", "127.0.0.1", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            started = time.monotonic()
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
                if server.poll() is not None or time.monotonic() - started > 120:
                    raise SystemExit("the service did not start")
            print(f"service ready in {time.monotonic() - started:.1f} s (policy default, "
                  f"{args.reference} training texts)")
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(headers=headers) as warm:
                for _ in range(20):
                    warm.post(f"{url}/v1/check", json={"text": _text(rng)})
            rss_before = _rss_mib(server.pid)
            latencies: list[float] = []
            errors, lock = [0], threading.Lock()
            remaining = [args.requests]
            stop_at = time.monotonic() + args.seconds

            def client(seed: int) -> None:
                local = random.Random(seed)
                with httpx.Client(headers=headers, timeout=30) as http:
                    while time.monotonic() < stop_at:
                        with lock:
                            if remaining[0] <= 0:
                                return
                            remaining[0] -= 1
                        body = {"text": _text(local)}
                        t0 = time.perf_counter()
                        try:
                            ok = http.post(f"{url}/v1/check", json=body).status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        with lock:
                            latencies.append(time.perf_counter() - t0)
                            errors[0] += not ok

            t0 = time.monotonic()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - t0
            ms = np.array(latencies) * 1000
            print(f"{len(ms)} requests from {args.clients} clients in {wall:.1f} s: "
                  f"{len(ms) / wall:.1f} requests/s, {errors[0]} errors")
            print(f"latency ms  p50 {np.percentile(ms, 50):.1f}  p90 {np.percentile(ms, 90):.1f}  "
                  f"p99 {np.percentile(ms, 99):.1f}  max {ms.max():.1f}")
            print(f"service memory (RSS): {rss_before:.0f} MiB before, {_rss_mib(server.pid):.0f} MiB after")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
