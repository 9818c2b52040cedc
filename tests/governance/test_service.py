"""The audit service, started for real (``aigc-audit serve``) on a free loopback port."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from aigc_audit.governance.api_keys import KeyFile
from aigc_audit.governance.item_check import CheckResult, ItemVerdict
from aigc_audit.governance.policy import load_policy
from aigc_audit.governance.runner import run_audit
from aigc_audit.governance.service import ServiceConfig, create_app, set_torch_threads
from aigc_audit.sampleset import Item, SampleSet, load_sample_set
from tests.conftest import REFERENCE_TEXTS, write_jsonl

POLICY = """version: 1
name: service-test
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
  - id: harm.text.profanity.items
    evaluator: harm_text
    metric: flagged_rate
    max: 0.0
    level: warning
  - id: harm.text.profanity
    evaluator: harm_text
    metric: flagged_rate_upper
    max: 0.05
    level: warning
  - id: privacy.personal_data
    evaluator: personal_data
    metric: flagged_count
    max: 0
    level: error
"""
COPIED = "All the world's a stage and all the men and women merely players"
HARMFUL = "You are a pathetic loser and everyone knows it, you clueless moron."
CLEAN = "A quiet river wanders through the meadow under a pale and patient moon"
EMAIL, CARD = "jane.doe@example.com", "4111 1111 1111 1111"
KEY_NAMES = ("compare", "policy", "scope", "limits", "rate", "metrics", "privacy", "admin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, keys: dict[str, str], log: Path, policy: Path, reference: Path):
        self.url, self.keys, self.log, self.policy, self.reference = url, keys, log, policy, reference

    def post(self, key: str | None, body: dict, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.post(f"{self.url}/v1/check", json=body, headers=headers, timeout=60, **kwargs)

    def get(self, path: str, key: str | None = None) -> httpx.Response:
        headers = {"X-API-Key": self.keys[key]} if key else {}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("service")
    policy = folder / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    reference = write_jsonl(folder / "reference" / "manifest.jsonl", [
        {"id": f"ref-{i}", "modality": "text", "text": t, "source": "test", "license": "public domain"}
        for i, t in enumerate(REFERENCE_TEXTS)]).parent
    key_file = KeyFile(folder / "keys.json")
    keys = {name: key_file.add(name, ("admin",) if name == "admin" else ("check",))[1] for name in KEY_NAMES}
    port, log = _free_port(), folder / "service.log"
    exe = Path(sys.executable).parent / "aigc-audit"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(exe), "serve", "--policy", str(policy), "--keys", str(key_file.path), "--reference",
             str(reference), "--port", str(port), "--mask", "--rate-limit", "1", "--burst", "4",
             "--max-items", "8", "--max-request-bytes", "20000"],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ})
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the service did not start: {log.read_text()}")
                time.sleep(0.2)
            yield Server(url, keys, log, policy, reference)
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_findings_are_those_the_batch_audit_gives(server: Server) -> None:
    texts = {"copied": COPIED, "harmful": HARMFUL, "clean": CLEAN}
    response = server.post("compare", {"items": [{"id": k, "text": t} for k, t in texts.items()]})
    assert response.status_code == 200, response.text
    body = response.json()
    items = tuple(Item(id=k, modality="text", text=t) for k, t in texts.items())
    batch = run_audit(SampleSet(path=None, kind="t", role="samples", items=items, sha256="0"), server.policy,
                      reference=load_sample_set(server.reference, role="reference")).report
    expected = sorted((f.rule_id, f.item_id, f.message, f.score) for f in batch.findings)
    got = sorted((f["rule_id"], f["item_id"], f["message"], f["score"])
                 for item in body["items"] for f in item["findings"])
    assert got == expected
    assert {r for r, i, _, _ in got} == {"copyright.text.copy", "harm.text.profanity.items"}
    verdicts = {item["id"]: item["verdict"] for item in body["items"]}
    assert verdicts == {"copied": "fail", "harmful": "warn", "clean": "pass"} and body["verdict"] == "fail"
    assert {n["rule_id"]: n["reason"] for n in body["not_applicable"]} == {
        "harm.text.profanity": "not applicable to single items: the rule judges a whole release "
                               "(flagged_rate_upper)"}


def test_policy_is_served_with_its_sha256_and_openapi(server: Server) -> None:
    body = server.get("/v1/policy", "policy").json()
    assert body["name"] == "service-test" and len(body["sha256"]) == 64
    assert body["per_item_rules"] == ["integrity.unreadable_items", "copyright.text.copy",
                                      "harm.text.profanity.items", "privacy.personal_data"]
    assert "/v1/check" in server.get("/openapi.json").json()["paths"]
    assert server.get("/healthz").json() == {"status": "ok"}


def test_refusals_without_a_key_and_with_the_wrong_scope(server: Server) -> None:
    assert server.post(None, {"text": CLEAN}).status_code == 401
    forged = server.keys["scope"][:-4] + "AAAA"
    assert httpx.post(f"{server.url}/v1/check", json={"text": CLEAN},
                      headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    refused = server.get("/v1/keys", "scope")
    assert refused.status_code == 403 and "needs 'admin'" in refused.json()["detail"]
    listed = server.get("/v1/keys", "admin").json()
    assert {k["name"] for k in listed} == set(KEY_NAMES)
    assert all("sha256" not in k and "salt" not in k for k in listed)


def test_size_limits(server: Server) -> None:
    too_big = server.post("limits", {"text": "word " * 5000})
    assert too_big.status_code == 413 and "at most 20000 are allowed" in too_big.json()["detail"]
    too_many = server.post("limits", {"items": [{"text": CLEAN}] * 9})
    assert too_many.status_code == 413 and "at most 8 are allowed" in too_many.json()["detail"]
    both = server.post("limits", {"text": CLEAN, "items": [{"text": CLEAN}]})
    assert both.status_code == 422


def test_rate_limit_per_key(server: Server) -> None:
    codes = [server.post("rate", {"text": CLEAN}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    assert server.post("metrics", {"text": CLEAN}).status_code == 200  # another key has its own bucket
    limited = server.post("rate", {"text": CLEAN})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def _sample(text: str, name: str, labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(part in line for part in labels.split(",")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_what_was_served(server: Server) -> None:
    before = server.get("/metrics").text
    server.post("metrics", {"items": [{"text": HARMFUL}, {"text": CLEAN}]})
    server.post("metrics", {"text": HARMFUL})
    after = server.get("/metrics").text
    flagged = 'rule="harm.text.profanity.items"'
    assert _sample(after, "aigc_audit_items_flagged_total", flagged) - \
        _sample(before, "aigc_audit_items_flagged_total", flagged) == 2
    ok = 'route="/v1/check",status="200"'
    served = "aigc_audit_requests_total"
    assert _sample(after, served, ok) - _sample(before, served, ok) == 2
    assert _sample(after, "aigc_audit_request_seconds_count", 'route="/v1/check"') >= 2


def test_personal_data_is_found_masked_and_never_logged(server: Server) -> None:
    text = f"Write to {EMAIL}, card {CARD}; a card failing Luhn 4111 1111 1111 1112."
    body = server.post("privacy", {"id": "pii", "text": text}).json()
    (item,) = body["items"]
    assert item["verdict"] == "fail"
    (finding,) = [f for f in item["findings"] if f["rule_id"] == "privacy.personal_data"]
    assert [m["kind"] for m in finding["evidence"]["personal_data"]] == ["email", "payment_card"]
    assert finding["evidence"]["personal_data"][1]["masked"] == "**** **** **** 1111"
    served = json.dumps(body)
    assert EMAIL not in served and CARD not in served
    time.sleep(0.2)
    log = server.log.read_text()
    assert '"route": "/v1/check"' in log
    for content in (EMAIL, CARD, HARMFUL, COPIED, "pathetic"):
        assert content not in log


def test_images_are_checked_from_their_bytes(server: Server) -> None:
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(png, format="PNG")
    body = server.post("admin", {"items": [
        {"id": "good", "image_base64": base64.b64encode(png.getvalue()).decode()},
        {"id": "broken", "image_base64": base64.b64encode(b"not an image at all").decode()}]}).json()
    verdicts = {i["id"]: (i["verdict"], [f["rule_id"] for f in i["findings"]]) for i in body["items"]}
    assert verdicts == {"good": ("pass", []), "broken": ("fail", ["integrity.unreadable_items"])}
    bad = server.post("admin", {"image_base64": "%%% not base64"})
    assert bad.status_code == 422 and "not valid base64" in bad.json()["detail"]


class _SlowChecker:
    """A checker that records the thread of each call and how many calls overlap, and waits for
    ``release`` once ``entered`` is set, so a test can look at the service while a check runs."""

    rules: list = []
    not_applicable: dict = {}

    def __init__(self) -> None:
        self.threads: list[tuple[int, str]] = []
        self.running = self.most_at_once = 0
        self.lock = threading.Lock()
        self.entered, self.release = threading.Event(), threading.Event()

    def check(self, items: list[Item]) -> CheckResult:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.threads.append((threading.get_ident(), threading.current_thread().name))
        self.entered.set()
        self.release.wait(timeout=30)
        time.sleep(0.01)
        with self.lock:
            self.running -= 1
        return CheckResult(tuple(ItemVerdict(i.id, "pass") for i in items))


def _in_process(tmp_path: Path) -> tuple[_SlowChecker, Any, str]:
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    _, key = KeyFile(tmp_path / "keys.json").add("test", ("check",))
    config = ServiceConfig(policy=load_policy(tmp_path / "policy.yaml"), keys=KeyFile(tmp_path / "keys.json"))
    checker = _SlowChecker()
    return checker, create_app(config, checker), key


def test_checks_run_one_at_a_time_in_one_thread_that_is_not_the_event_loop(tmp_path: Path) -> None:
    checker, app, key = _in_process(tmp_path)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client, ThreadPoolExecutor(4) as senders:
        first = senders.submit(client.post, "/v1/check", json={"text": "one"}, headers=headers)
        assert checker.entered.wait(timeout=30)
        # A check in progress does not hold up the event loop: probes are answered meanwhile.
        assert client.get("/healthz").status_code == 200 and not first.done()
        rest = [senders.submit(client.post, "/v1/check", json={"text": f"t{n}"}, headers=headers)
                for n in range(5)]
        checker.release.set()
        answers = [first.result(timeout=30)] + [r.result(timeout=30) for r in rest]
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.json()["items"][0]["verdict"] == "pass" for a in answers)
    assert checker.most_at_once == 1 and len(checker.threads) == 6
    assert len(set(checker.threads)) == 1 and checker.threads[0][1].startswith("aigc-audit-check")


def test_torch_gets_the_threads_given_and_is_not_imported_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        set_torch_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.delitem(sys.modules, "torch")
    set_torch_threads(1)                   # a policy without MiniLM rules never loads torch
    assert "torch" not in sys.modules


class _ThreadsChecker(_SlowChecker):
    """Records torch's thread count where MiniLM's forward pass would run: in the check."""

    def __init__(self) -> None:
        super().__init__()
        self.release.set()
        self.torch_threads: list[int] = []

    def check(self, items: list[Item]) -> CheckResult:
        import torch

        self.torch_threads.append(torch.get_num_threads())
        return super().check(items)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_check_thread_runs_torch_with_the_services_threads(tmp_path: Path, threads: int) -> None:
    torch = pytest.importorskip("torch")
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    _, key = KeyFile(tmp_path / "keys.json").add("test", ("check",))
    config = ServiceConfig(policy=load_policy(tmp_path / "policy.yaml"), keys=KeyFile(tmp_path / "keys.json"),
                           threads=threads)
    checker, before = _ThreadsChecker(), torch.get_num_threads()
    # The thread serving requests holds another count, as a process's main thread may.
    torch.set_num_threads(3 - threads)
    try:
        with TestClient(create_app(config, checker)) as client:
            for n in range(3):
                answer = client.post("/v1/check", json={"text": f"t{n}"},
                                     headers={"Authorization": f"Bearer {key}"})
                assert answer.status_code == 200
    finally:
        torch.set_num_threads(before)
    assert checker.torch_threads == [threads] * 3


class _FailingChecker(_SlowChecker):
    def check(self, items: list[Item]) -> CheckResult:
        raise RuntimeError("the checker broke")


def test_each_request_is_counted_and_logged_once_with_its_status_and_key(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    added, key = KeyFile(tmp_path / "keys.json").add("test", ("check",))
    config = ServiceConfig(policy=load_policy(tmp_path / "policy.yaml"), keys=KeyFile(tmp_path / "keys.json"),
                           max_request_bytes=100)
    headers = {"Authorization": f"Bearer {key}"}
    failing = create_app(config, _FailingChecker())
    with caplog.at_level("INFO", logger="aigc_audit.service"), TestClient(failing) as client:
        broke = client.post("/v1/check", json={"text": "secret words"}, headers=headers)
        chunked = client.post("/v1/check", content=iter([b'{"text": "a"}']), headers=headers)
        too_big = client.post("/v1/check", json={"text": "word " * 50}, headers=headers)
        no_key = client.post("/v1/check", json={"text": "a"})
        metrics = client.get("/metrics").text
    assert broke.status_code == 500 and broke.json() == {"detail": "internal error; see the service log"}
    assert chunked.status_code == 411 and "Content-Length" in chunked.json()["detail"]
    assert too_big.status_code == 413 and "at most 100 are allowed" in too_big.json()["detail"]
    assert no_key.status_code == 401
    records = [json.loads(r.getMessage()) for r in caplog.records]
    requests = [r for r in records if r["event"] == "request"]
    assert [(r["route"], r["method"], r["status"], r["key"]) for r in requests] == [
        ("/v1/check", "POST", 500, added.id), ("/v1/check", "POST", 411, None),
        ("/v1/check", "POST", 413, None), ("/v1/check", "POST", 401, None), ("/metrics", "GET", 200, None)]
    (error,) = [r for r in records if r["event"] == "error"]
    assert error == {"event": "error", "route": "/v1/check", "error": "RuntimeError: the checker broke"}
    assert "secret words" not in caplog.text
    for status, count in (("500", 1), ("411", 1), ("413", 1), ("401", 1)):
        assert _sample(metrics, "aigc_audit_requests_total", f'route="/v1/check",status="{status}"') == count
    assert _sample(metrics, "aigc_audit_errors_total", 'route="/v1/check"') == 1
