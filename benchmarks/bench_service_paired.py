"""Two versions of the audit service at once, on loopback: one client alternates each request's text
between them, so that on a machine shared with other work both see the same load. Prints p50/p90/p99
for each and stops if they ever answer one text with different findings.

``--before`` and ``--after`` are checkouts of aigc-audit (each service runs with ``PYTHONPATH`` set
to its checkout); both serve ``--index`` (a stored index of the training set, as
``bench_service.py --folder DIR --index`` leaves in ``DIR/index-N``) with the default policy.

    .venv/bin/python benchmarks/bench_service_paired.py --before OLD --after . --index DIR/index-100000
        [--words english] [--seconds 60] [--threads T]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from bench_service import EXE, WORDS, _english_words, _text

from aigc_audit.governance.api_keys import KeyFile


def _start(tree: str, index: str, keys: Path, threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [EXE, "serve", "--policy", "default", "--keys", str(keys), "--rate-limit", "1000000",
               "--burst", "1000000", "--index", index, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--threads", str(threads)] if threads else []
    server = subprocess.Popen(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(Path(tree).resolve())},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, f"http://127.0.0.1:{port}"


def _wait(server: subprocess.Popen, url: str) -> None:
    started = time.monotonic()
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.5)
        if server.poll() is not None or time.monotonic() - started > 600:
            raise SystemExit(f"the service at {url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout of the first version")
    parser.add_argument("--after", required=True, help="checkout of the second version")
    parser.add_argument("--index", required=True, help="stored index of the training set")
    parser.add_argument("--words", choices=("made-up", "english"), default="made-up")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=0, help="serve --threads (default: serve's)")
    args = parser.parse_args()
    words = _english_words() if args.words == "english" else WORDS
    with tempfile.TemporaryDirectory() as scratch:
        keys = Path(scratch) / "keys.json"
        _, key = KeyFile(keys).add("bench", ("check",))
        servers = {name: _start(tree, args.index, keys, args.threads)
                   for name, tree in (("before", args.before), ("after", args.after))}
        try:
            for server, url in servers.values():
                _wait(server, url)
            load = os.getloadavg()[0]
            rng = random.Random(0)
            latency: dict[str, list[float]] = {name: [] for name in servers}
            with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
                def both(text: str, order: tuple[str, str], record: bool) -> None:
                    answers = {}
                    for name in order:
                        started = time.perf_counter()
                        response = http.post(f"{servers[name][1]}/v1/check", json={"text": text})
                        if record:
                            latency[name].append(time.perf_counter() - started)
                        response.raise_for_status()
                        answers[name] = response.json()["items"]
                    if answers["before"] != answers["after"]:
                        raise SystemExit(f"the two versions gave different findings for: {text[:80]}...")

                for _ in range(20):                                              # warm-up
                    both(_text(rng, words=words), ("before", "after"), record=False)
                stop, n = time.monotonic() + args.seconds, 0
                while time.monotonic() < stop:
                    both(_text(rng, words=words), ("before", "after") if n % 2 else ("after", "before"), True)
                    n += 1
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=60)
    print(f"{args.words} words, {len(latency['after'])} texts each, the same findings for every one; "
          f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    for name, seconds in latency.items():
        ms = np.array(seconds) * 1000
        print(f"  {name:6} p50 {np.percentile(ms, 50):6.1f} ms  p90 {np.percentile(ms, 90):6.1f} ms  "
              f"p99 {np.percentile(ms, 99):6.1f} ms")


if __name__ == "__main__":
    main()
