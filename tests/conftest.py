"""Shared fixtures: small sets written the way users write them, and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
# The published SARIF and JUnit schemas, copied into the repository (origin and licences in
# tests/data/schemas/README.md) so that the schema tests run in every clone instead of skipping.
SCHEMAS = DATA / "schemas"
SARIF_SCHEMA = SCHEMAS / "sarif-schema-2.1.0.json"
JUNIT_XSD = SCHEMAS / "junit.xsd"

REFERENCE_TEXTS = [
    "Now is the winter of our discontent made glorious summer by this sun of York",
    "Shall I compare thee to a summer's day thou art more lovely and more temperate",
    "All the world's a stage and all the men and women merely players",
    "Friends Romans countrymen lend me your ears I come to bury Caesar not to praise him",
    "The quality of mercy is not strained it droppeth as the gentle rain from heaven",
    "Tomorrow and tomorrow and tomorrow creeps in this petty pace from day to day",
]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def provenance(seed: int = 0) -> dict:
    return {"generator": "test", "model_sha256": "0" * 64, "seed": seed,
            "params": {"temperature": 1.0}, "created_at": "2026-11-28T00:00:00Z"}


@pytest.fixture
def reference_set(tmp_path: Path) -> Path:
    folder = tmp_path / "reference"
    write_jsonl(folder / "manifest.jsonl", [
        {"id": f"ref-{i}", "modality": "text", "text": text, "source": f"test corpus line {i}",
         "license": "public domain"} for i, text in enumerate(REFERENCE_TEXTS)])
    return folder


@pytest.fixture
def clean_samples(tmp_path: Path) -> Path:
    texts = ["A quiet river wanders through the meadow under a pale and patient moon",
             "The merchant counted coins while the harbour bells rang out the evening hour",
             "Her letters spoke of distant mountains and of snow that never melts"]
    folder = tmp_path / "clean"
    write_jsonl(folder / "manifest.jsonl", [
        {"id": f"s-{i}", "modality": "text", "text": t, "provenance": provenance(i)}
        for i, t in enumerate(texts)])
    return folder


@pytest.fixture
def copied_samples(tmp_path: Path) -> Path:
    texts = ["A quiet river wanders through the meadow under a pale and patient moon",
             "All the world's a stage and all the men and women merely players",
             "Tomorrow and tomorrow and tomorrow creeps in this petty pace from day to night"]
    folder = tmp_path / "copied"
    write_jsonl(folder / "manifest.jsonl", [
        {"id": f"c-{i}", "modality": "text", "text": t, "provenance": provenance(i)}
        for i, t in enumerate(texts)])
    return folder


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed ``aigc-audit`` entry point, as CI and users run it."""
    exe = Path(sys.executable).parent / "aigc-audit"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"}, timeout=600)


REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    """A real redis-server on a free loopback port, with nothing saved to disk."""

    def __init__(self, folder: Path):
        import shutil
        import socket
        import time

        import redis

        binary = shutil.which("redis-server") or REDIS_SERVER
        if not Path(binary).exists():
            pytest.fail("the shared Redis index's tests need redis-server; install it with 'make test' or "
                        "'apt-get install redis-server'")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = folder / "redis.log"
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(folder)], stdout=sink, stderr=subprocess.STDOUT)
        self.client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.client.ping():
                    break
            except redis.ConnectionError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server did not start: {self.log.read_text()}")
            time.sleep(0.05)
        self._prefixes = 0

    def url(self, prefix: str | None = None) -> str:
        """A URL of a prefix no other test uses (or ``prefix``)."""
        self._prefixes += 1
        return f"redis://127.0.0.1:{self.port}/0?prefix={prefix or f'test-{self._prefixes}'}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of an empty index prefix in the session's redis-server."""
    return redis_server.url()
