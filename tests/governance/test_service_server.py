"""``aigc-audit serve`` as a process: a stored index, several workers, and a graceful stop on SIGTERM.

Each server here is started for real on a free loopback port, with a policy whose per-item rules
load no classifier (unreadable items, text copies), so that it starts in seconds.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.copying.reference_index import ReferenceIndex
from aigc_audit.governance.api_keys import KeyFile
from aigc_audit.governance.runner import run_audit
from aigc_audit.governance.service_server import (
    ServeSettings,
    build_app,
    load_service,
    worker_threads,
)
from aigc_audit.sampleset import Item, SampleSet, load_sample_set
from tests.conftest import REFERENCE_TEXTS, run_cli, write_jsonl

POLICY = """version: 1
name: workers-test
rules:
  - id: integrity.unreadable_items
    evaluator: item_integrity
    metric: unreadable_count
    max: 0
    level: error
  - id: copyright.text.copy
    evaluator: text_copy
    metric: share_flagged
    max: 0.0
    level: error
"""
COPIED = "All the world's a stage and all the men and women merely players"
CLEAN = "A quiet river wanders through the meadow under a pale and patient moon"


class Setup:
    def __init__(self, folder: Path):
        self.folder = folder
        self.policy = folder / "policy.yaml"
        self.policy.write_text(POLICY, encoding="utf-8")
        self.reference = write_jsonl(folder / "reference" / "manifest.jsonl", [
            {"id": f"ref-{i}", "modality": "text", "text": t, "source": "test", "license": "public domain"}
            for i, t in enumerate(REFERENCE_TEXTS)]).parent
        self.keys = folder / "keys.json"
        self.key = KeyFile(self.keys).add("test", ("check",))[1]
        self.index = folder / "index"
        built = run_cli("index", "build", "--reference", str(self.reference), "--out", str(self.index))
        assert built.returncode == 0, built.stderr


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("serve"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, process: subprocess.Popen, port: int, log: Path, key: str):
        self.process, self.port, self.log, self.key = process, port, log, key
        self.url = f"http://127.0.0.1:{port}"

    def check(self, text: str) -> httpx.Response:
        # A new connection per call, so that calls spread over the workers.
        return httpx.post(f"{self.url}/v1/check", json={"text": text}, timeout=60,
                          headers={"Authorization": f"Bearer {self.key}", "Connection": "close"})

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


@contextmanager
def serving(setup: Setup, *extra: str) -> Iterator[Running]:
    port, log = _free_port(), setup.folder / f"serve-{time.monotonic_ns()}.log"
    exe = Path(sys.executable).parent / "aigc-audit"
    with log.open("w") as sink:
        process = subprocess.Popen([str(exe), "serve", "--policy", str(setup.policy), "--keys",
                                    str(setup.keys), "--port", str(port), *extra],
                                   stdout=sink, stderr=subprocess.STDOUT, env={**os.environ})
    running = Running(process, port, log, setup.key)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{running.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: {log.read_text()}")
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def _counter(metrics: str, name: str, labels: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(f"{name}{{") and labels in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_workers_share_the_stored_index_answer_alike_and_sum_their_metrics(setup: Setup) -> None:
    reference = load_sample_set(setup.reference, role="reference")
    items = (Item(id="item-1", modality="text", text=COPIED),)
    batch = run_audit(SampleSet(path=None, kind="t", role="samples", items=items, sha256="0"), setup.policy,
                      reference=reference, index=ReferenceIndex.load(setup.index)).report
    expected = [f.to_dict() for f in batch.findings]
    assert [f["rule_id"] for f in expected] == ["copyright.text.copy"]
    with serving(setup, "--index", str(setup.index), "--workers", "2") as server:
        bodies, workers = [], set()
        # The kernel hands each new connection to whichever worker accepts it first; send in
        # parallel until both have answered (bounded, so a worker that never serves fails the test).
        with ThreadPoolExecutor(4) as pool:
            for _ in range(25):
                bodies += [r.json() for r in pool.map(server.check, [COPIED] * 4)]
                time.sleep(0.3)
                workers = {line["worker"] for line in server.log_lines() if line["route"] == "/v1/check"}
                if len(workers) == 2:
                    break
        assert len(workers) == 2, f"one worker answered every request: {workers}"
        assert all(body == bodies[0] for body in bodies)
        (item,) = bodies[0]["items"]
        assert item["verdict"] == "fail" and item["findings"] == expected
        served = len(bodies)
        # Whichever worker answers /metrics reports the requests of both.
        for _ in range(4):
            metrics = httpx.get(f"{server.url}/metrics", headers={"Connection": "close"}).text
            assert _counter(metrics, "aigc_audit_requests_total", 'route="/v1/check",status="200"') == served
            assert _counter(metrics, "aigc_audit_items_flagged_total", 'rule="copyright.text.copy"') == served
            assert _counter(metrics, "aigc_audit_request_seconds_count", 'route="/v1/check"') == served


def test_two_workers_answer_from_one_index_in_redis_as_from_the_folder(setup: Setup, redis_url: str) -> None:
    built = run_cli("index", "build", "--reference", str(setup.reference), "--out", redis_url)
    assert built.returncode == 0, built.stderr
    reference = load_sample_set(setup.reference, role="reference")
    items = (Item(id="item-1", modality="text", text=COPIED),)
    expected = [f.to_dict() for f in run_audit(
        SampleSet(path=None, kind="t", role="samples", items=items, sha256="0"), setup.policy,
        reference=reference, index=ReferenceIndex.load(setup.index)).report.findings]
    with serving(setup, "--index", redis_url, "--workers", "2") as server:
        answers: dict[str, list[dict]] = {}
        with ThreadPoolExecutor(4) as pool:
            for _ in range(25):
                for text, response in zip([COPIED, CLEAN] * 2, pool.map(server.check, [COPIED, CLEAN] * 2)):
                    answers.setdefault(text, []).append(response.json())
                time.sleep(0.3)
                workers = {line["worker"] for line in server.log_lines() if line["route"] == "/v1/check"}
                if len(workers) == 2:
                    break
        assert len(workers) == 2, f"one worker answered every request: {workers}"
        assert all(body == answers[COPIED][0] for body in answers[COPIED])
        (copied,) = answers[COPIED][0]["items"]
        assert copied["verdict"] == "fail" and copied["findings"] == expected
        assert all(body["items"][0]["verdict"] == "pass" for body in answers[CLEAN])


def test_workers_share_each_keys_rate_limit(setup: Setup) -> None:
    burst = 6
    with serving(setup, "--workers", "2", "--rate-limit", "1", "--burst", str(burst)) as server:
        # In parallel, on new connections, until both workers have answered (with a bucket per
        # worker, the second would then admit more than the burst); one token a minute comes back
        # over the test, far from a whole one.
        codes: list[int] = []
        with ThreadPoolExecutor(3) as pool:
            for _ in range(30):
                codes += [r.status_code for r in pool.map(server.check, [CLEAN] * 3)]
                answered = {line["worker"] for line in server.log_lines() if line["route"] == "/v1/check"}
                if len(answered) == 2 and len(codes) >= burst + 3:
                    break
        assert len(answered) == 2, f"one worker answered every request: {answered}"
        assert sorted(codes) == [200] * burst + [429] * (len(codes) - burst), codes
        refused = server.check(CLEAN)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def _send_head_and_part(port: int, key: str, body: bytes, part: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (f"POST /v1/check HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    sock.sendall(head.encode() + body[:part])
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_finishes_requests_in_flight_refuses_new_ones_and_exits_0(setup: Setup, workers: str) -> None:
    with serving(setup, "--index", str(setup.index), "--workers", workers) as server:
        body = json.dumps({"text": COPIED}).encode()
        # A request whose headers are in but whose body is not: it is in flight when SIGTERM comes.
        in_flight = _send_head_and_part(server.port, server.key, body, 10)
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        deadline, refused = time.monotonic() + 20, False
        while not refused and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
                time.sleep(0.05)
            except ConnectionRefusedError:
                refused = True
        assert refused, "the service still accepted connections 20 s after SIGTERM"
        assert server.process.poll() is None, "the service stopped before its request in flight was answered"
        in_flight.sendall(body[10:])
        status, answer = _read_response(in_flight)
        in_flight.close()
        assert status == 200 and answer["verdict"] == "fail"
        assert answer["items"][0]["findings"][0]["rule_id"] == "copyright.text.copy"
        assert server.process.wait(timeout=60) == 0


def test_a_wrong_index_stops_the_start_with_one_line(setup: Setup, tmp_path: Path) -> None:
    missing = run_cli("serve", "--policy", str(setup.policy), "--keys", str(setup.keys), "--index",
                      str(tmp_path / "nowhere"), "--workers", "2")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "no index here" in missing.stderr
    other = write_jsonl(tmp_path / "other" / "manifest.jsonl",
                        [{"id": "ref-0", "modality": "text", "text": CLEAN, "source": "test",
                          "license": "public domain"}]).parent
    wrong = run_cli("serve", "--policy", str(setup.policy), "--keys", str(setup.keys), "--index",
                    str(setup.index), "--reference", str(other))
    assert wrong.returncode == 2
    assert "are not the index's 6" in wrong.stderr and wrong.stderr.strip().count("\n") == 0
    # With workers the reference set is read by the workers; one that cannot start stops them all.
    in_workers = run_cli("serve", "--policy", str(setup.policy), "--keys", str(setup.keys), "--index",
                         str(setup.index), "--reference", str(other), "--workers", "2", "--port",
                         str(_free_port()))
    assert in_workers.returncode == 2, in_workers.stderr
    reasons = [line for line in in_workers.stderr.splitlines() if "could not start" in line]
    assert reasons and "are not the index's 6" in reasons[0]
    assert in_workers.stderr.strip().splitlines()[-1] == (
        "aigc-audit: error: a worker could not start (its reason is printed above); fix it and start again")


def test_a_worker_refuses_a_policy_changed_since_the_start(setup: Setup) -> None:
    settings = ServeSettings(policy=str(setup.policy), keys=str(setup.keys), index=str(setup.index))
    config, checker = load_service(settings)
    assert checker.index is not None and checker.reference is not None and len(checker.reference.items) == 6
    assert checker.check([Item(id="a", modality="text", text=COPIED)]).verdict == "fail"
    moved = ServeSettings.from_json(json.dumps({**json.loads(settings.to_json()), "policy_sha256": "0" * 64}))
    with pytest.raises(AuditError, match=r"changed since the service started \(sha256 000000000000, now "
                                         rf"{config.policy.sha256[:12]}\); restart the service"):
        load_service(moved)


@pytest.mark.parametrize(("workers", "cores", "threads"),
                         [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 16, 8), (3, 16, 5)])
def test_each_worker_gets_its_share_of_the_cores(workers: int, cores: int, threads: int) -> None:
    assert worker_threads(workers, cores) == threads


def test_threads_below_one_are_refused(setup: Setup) -> None:
    result = run_cli("serve", "--policy", str(setup.policy), "--keys", str(setup.keys), "--threads", "0")
    assert result.returncode == 2 and "--threads: must be >= 1; got 0" in result.stderr



def test_what_the_service_loaded_is_left_out_of_garbage_collections(setup: Setup) -> None:
    gc.unfreeze()
    try:
        app = build_app(ServeSettings(policy=str(setup.policy), keys=str(setup.keys), index=str(setup.index),
                                      threads=1))
        reference = app.state.config.reference
        assert reference is not None and len(reference) == len(REFERENCE_TEXTS)
        # Frozen objects are in no generation a collection walks.
        walked = {id(o) for o in gc.get_objects()}
        assert gc.get_freeze_count() > 0 and gc.is_tracked(reference.items[0])
        assert not any(id(item) in walked for item in reference.items)
    finally:
        gc.unfreeze()
