"""End to end: ``aigc-audit dashboard`` serving a real store to a real headless Chromium.

The browser is driven over the DevTools protocol: a plain ``chromium --screenshot`` captures the
page before Streamlit's websocket has delivered anything (the loading skeleton), so the test waits
until the page shows what a reviewer would see, clicks like one, and only then takes screenshots.
Set ``AIGC_AUDIT_SCREENSHOTS=<folder>`` to keep copies of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1400,1300"]
STARTUP_TIMEOUT = 45.0
RENDER_TIMEOUT = 30.0

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed; "
                                "`make test` installs it (apt-get install -y chromium)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (localhost only)
        return response.read()


def _wait_for_http(url: str, process: subprocess.Popen, log: Path) -> bytes:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            return _get(url)
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"nothing answered at {url} within {STARTUP_TIMEOUT} s:\n{log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    # Each was started in its own session: the group holds it and its children (streamlit's).
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class DevTools:
    """The few DevTools protocol calls the test needs, over one page's websocket."""

    def __init__(self, socket):
        self.socket = socket  # a websockets.sync.client.ClientConnection
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=RENDER_TIMEOUT))
            if message.get("id") == self.next_id:  # events (no id) are not needed here
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str) -> None:
        deadline = time.monotonic() + RENDER_TIMEOUT
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return
            time.sleep(0.2)
        text = self.evaluate("document.body ? document.body.innerText.slice(0, 1500) : ''")
        pytest.fail(f"the page never showed {what} within {RENDER_TIMEOUT} s; it shows:\n{text}")

    def screenshot(self, path: Path) -> bytes:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        import base64

        png = base64.b64decode(data)
        path.write_bytes(png)
        return png


# Streamlit is done when no script runs and every element of the run has arrived.
IDLE = ("(() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
        " return !!app && app.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]'); })()")


@contextlib.contextmanager
def serve(store_url: str, reviewers: Path, cwd: Path, log: Path,
          extra: tuple[str, ...] = ()) -> Iterator[str]:
    """``aigc-audit dashboard`` on a free port, started from ``cwd``; yields its address."""
    port = _free_port()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "aigc-audit"), "dashboard", "--store", store_url,
             "--port", str(port), "--reviewers", str(reviewers), *extra],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
    try:
        assert _wait_for_http(f"http://127.0.0.1:{port}/_stcore/health", process, log) == b"ok"
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@pytest.fixture
def dashboard(dashboard_store, tmp_path) -> Iterator[str]:
    log = tmp_path / "dashboard.log"
    with serve(dashboard_store.url, dashboard_store.reviewers, tmp_path, log) as address:
        assert f"dashboard on {address} (2 run(s) in {dashboard_store.url})" in log.read_text()
        yield address


@pytest.fixture
def browser(tmp_path) -> Iterator[DevTools]:
    port = _free_port()
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    log = tmp_path / "chromium.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1", "about:blank"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/json/version", process, log)
        pages = json.loads(_get(f"http://127.0.0.1:{port}/json/list"))
        page = next(p for p in pages if p["type"] == "page")
        from websockets.sync.client import connect

        with connect(page["webSocketDebuggerUrl"], max_size=64 << 20, open_timeout=10) as socket:
            devtools = DevTools(socket)
            devtools.call("Page.enable")
            devtools.call("Emulation.setDeviceMetricsOverride", width=1400, height=1300,
                          deviceScaleFactor=1, mobile=False)
            yield devtools
    finally:
        _stop(process)


def _looks_rendered(png: bytes) -> None:
    """More than a blank page or a skeleton: many colours (text, highlights, charts)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1400, 1300)
    assert len(image.getcolors(maxcolors=1 << 20)) > 200


def test_reviewer_opens_a_flagged_item_in_chromium(dashboard, browser, dashboard_store, tmp_path):
    browser.call("Page.navigate", url=f"{dashboard}/overview")
    browser.wait_for(IDLE + " && document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] "
                     "canvas, [data-testid=\"stVegaLiteChart\"] svg').length >= 2",
                     "the run overview with its charts")
    overview_text = browser.evaluate("document.body.innerText")
    assert dashboard_store.copied_run in overview_text and "Score distributions" in overview_text
    overview = browser.screenshot(tmp_path / "overview.png")
    _looks_rendered(overview)

    browser.call("Page.navigate", url=f"{dashboard}/flagged")
    browser.wait_for(IDLE + " && [...document.querySelectorAll('button')]"
                     ".some(b => b.innerText.trim() === 'Open')", "the gallery of flagged items")
    # The second card, c-2: a training passage with its last word changed.
    browser.evaluate("[...document.querySelectorAll('button')]"
                     ".filter(b => b.innerText.trim() === 'Open')[1].click()")
    browser.wait_for(IDLE + " && document.querySelectorAll('mark').length >= 2",
                     "the flagged item beside its training match")
    text = browser.evaluate("document.body.innerText")
    assert "c-2 under copyright.text.near_duplicate" in text
    assert "Best training match ref-5" in text and "licence: public domain" in text
    marked = browser.evaluate("[...document.querySelectorAll('mark')].map(m => m.innerText)")
    assert marked == ["Tomorrow and tomorrow and tomorrow creeps in this petty pace from day to"] * 2
    flagged = browser.screenshot(tmp_path / "flagged-item.png")
    _looks_rendered(flagged)

    keep = os.environ.get("AIGC_AUDIT_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("overview.png", "flagged-item.png"):
            shutil.copy(tmp_path / name, Path(keep) / f"dashboard-{name}")


def _png(path: Path, pixels) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path)


def _click_open(browser: DevTools, card_text: str) -> None:
    """Click the Open button of the gallery card that shows ``card_text``."""
    clicked = browser.evaluate(
        "(() => { const b = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Open'"
        f" && b.closest('[data-testid=\"stVerticalBlock\"]').innerText.includes({json.dumps(card_text)}));"
        " if (b) b.click(); return !!b; })()")
    assert clicked, f"no card shows {card_text!r}"


def test_an_image_finding_shows_both_images_from_another_working_directory(
        dashboard_store, browser, tmp_path, monkeypatch):
    import numpy as np

    from aigc_audit.governance.report import Finding, SetSummary
    from aigc_audit.sampleset import content_sha256, load_sample_set
    from tests.conftest import write_jsonl

    training = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
    audited = tmp_path / "audit"
    _png(audited / "images" / "s0.png", training)
    _png(audited / "train" / "t0.png", training)
    write_jsonl(audited / "images" / "manifest.jsonl",
                [{"id": "img-0", "modality": "image", "path": "s0.png"}])
    write_jsonl(audited / "train" / "manifest.jsonl",
                [{"id": "train-7", "modality": "image", "path": "t0.png", "source": "photo 7",
                  "license": "CC-BY-4.0"}])
    # The audit ran in audit/ and named its sets relatively, as a user would.
    monkeypatch.chdir(audited)
    samples, reference = load_sample_set("images"), load_sample_set("train", role="reference")
    report = replace(dashboard_store.copied_report, run_id="image-run",
                     created_at="2026-11-03T10:00:00+00:00",
                     samples=SetSummary.of(samples), reference=SetSummary.of(reference),
                     item_sha256={"img-0": content_sha256(samples.get("img-0"))}, waived=(),
                     findings=(Finding("copyright.image.near_duplicate", "img-0", "error", "fail",
                                       "pHash distance 0 to training image train-7", 1.0,
                                       {"match_id": "train-7", "match_source": "photo 7",
                                        "match_license": "CC-BY-4.0"}),))
    assert report.samples.path == "images"
    dashboard_store.store.record(report)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = tmp_path / "dashboard.log"
    with serve(dashboard_store.url, dashboard_store.reviewers, elsewhere, log) as address:
        browser.call("Page.navigate", url=f"{address}/flagged")
        browser.wait_for(IDLE + " && [...document.querySelectorAll('button')]"
                         ".some(b => b.innerText.trim() === 'Open')", "the gallery of flagged items")
        # The gallery's thumbnail is the generated image itself.
        browser.wait_for("[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                         ".some(i => i.complete && i.naturalWidth > 0)", "the thumbnail")
        _click_open(browser, "img-0")
        browser.wait_for(IDLE + " && document.querySelectorAll('[data-testid=\"stImage\"] img')"
                         ".length >= 3",
                         "the generated image, its training match and their difference")
        browser.wait_for("[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                         ".every(i => i.complete && i.naturalWidth > 0)", "every image decoded")
        text = browser.evaluate("document.body.innerText")
        assert "generated, 32x32" in text and "training, 32x32" in text
        assert "not readable" not in text and "any more" not in text
        _looks_rendered(browser.screenshot(tmp_path / "image-finding.png"))


class _Recorder:
    """A loopback HTTP server that records every request made to it."""

    def __init__(self):
        import http.server
        import threading

        requests = self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the standard library's name)
                requests.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_markdown_image_in_a_sample_makes_no_request(browser, tmp_path, monkeypatch, reference_set):
    from aigc_audit.governance.reviewers import add_reviewer
    from aigc_audit.governance.store import RunStore
    from tests.dashboard.conftest import PASSWORD, POLICY, record, review_samples

    recorder = _Recorder()
    try:
        store = RunStore(str(tmp_path / "runs.sqlite"))
        policy = tmp_path / "release.yaml"
        policy.write_text(POLICY)
        record(store, review_samples(tmp_path / "release", port=recorder.port), reference_set, policy,
               "2026-11-03T10:00:00+00:00")
        reviewers = tmp_path / "reviewers"
        add_reviewer(reviewers, "alice", PASSWORD)
        with serve(store.url, reviewers, tmp_path, tmp_path / "dashboard.log") as address:
            browser.call("Page.navigate", url=f"{address}/flagged")
            browser.wait_for(IDLE + " && [...document.querySelectorAll('button')]"
                             ".some(b => b.innerText.trim() === 'Open')", "the gallery of flagged items")
            _click_open(browser, "hostile")
            browser.wait_for(IDLE + " && document.querySelectorAll('mark').length >= 2",
                             "the hostile sample beside its training match")
            time.sleep(1.0)  # time for any request the page would make
            assert recorder.requests == [], "the page fetched a URL written in a sample"
            text = browser.evaluate("document.body.innerText")
            shown = f"![t](http://127.0.0.1:{recorder.port}/x.png)"
            assert shown in text  # shown as the text it is
            assert browser.evaluate(f"document.querySelectorAll('img[src*=\"{recorder.port}\"]').length") == 0
            assert browser.evaluate("document.querySelectorAll('[data-testid=\"stMain\"] h1').length") == 1
    finally:
        recorder.close()
    assert recorder.requests == []
