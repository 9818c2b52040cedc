"""A run store with two audits (a clean release, then one that copies), a reviewer, and the
environment the dashboard reads its store and password file from."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from aigc_audit.governance.report import Report
from aigc_audit.governance.reviewers import REVIEWERS_ENV, add_reviewer
from aigc_audit.governance.runner import run_audit
from aigc_audit.governance.store import STORE_ENV, RunStore
from tests.conftest import write_jsonl

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PASSWORD = "correct horse battery"
# The text rules of the shipped policy, fixed here so that the pages' tests do not move with it.
POLICY = """\
version: 1
name: release
rules:
  - id: integrity.unreadable_items
    description: Every item must be readable.
    evaluator: item_integrity
    metric: unreadable_count
    max: 0
    level: error

  - id: copyright.text.near_duplicate
    description: No generated text may copy a training text.
    evaluator: text_near_duplicate
    metric: share_flagged
    max: 0.0
    level: error
    params:
      threshold: 0.5
      shingle_size: 5

  - id: copyright.text.max_similarity
    description: Warn when any generated text comes close to a training text.
    evaluator: text_near_duplicate
    metric: max_similarity
    max: 0.35
    level: warning
    params:
      threshold: 0.5
      shingle_size: 5
"""


@dataclass(frozen=True)
class DashboardStore:
    url: str
    store: RunStore
    reviewers: Path
    clean_run: str
    copied_run: str
    copied_report: Report


def record(store: RunStore, samples: Path, reference: Path, policy: Path, created_at: str) -> Report:
    # Fixed times: the run list's order is known.
    report = replace(run_audit(samples, policy, reference=reference).report, created_at=created_at)
    store.record(report)
    return report


@pytest.fixture
def dashboard_store(tmp_path, monkeypatch, clean_samples, copied_samples, reference_set) -> DashboardStore:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    store = RunStore(url)
    policy = tmp_path / "release.yaml"
    policy.write_text(POLICY)
    clean = record(store, clean_samples, reference_set, policy, "2026-11-01T10:00:00+00:00")
    copied = record(store, copied_samples, reference_set, policy, "2026-11-02T10:00:00+00:00")
    reviewers = tmp_path / "reviewers"
    add_reviewer(reviewers, "alice", PASSWORD)
    monkeypatch.setenv(STORE_ENV, url)
    monkeypatch.setenv(REVIEWERS_ENV, str(reviewers))
    return DashboardStore(url, store, reviewers, clean.run_id, copied.run_id, copied)


def open_app(timeout: float = 60):
    """The dashboard as ``streamlit run`` starts it, driven in-process by AppTest."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP), default_timeout=timeout).run()


def open_page(page: str):
    app = open_app()
    assert not app.exception, app.exception
    app.switch_page(f"views/{page}.py").run()
    assert not app.exception, app.exception
    return app


def log_in(app, name: str = "alice", password: str = PASSWORD):
    app.text_input(key="login_name").input(name)
    app.text_input(key="login_password").input(password)
    app.button(key="login_submit").click()
    return app.run()


def plain(markdown: str) -> str:
    """What a page's Markdown shows, for comparing: data on the pages is backslash-escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


# A release that copies three training passages many times over (9 findings under the copying
# rule, from ref-5, ref-2 and ref-1), and one text that is Markdown aimed at the reviewer.
COPIES = {"ref-5": ["Tomorrow and tomorrow and tomorrow creeps in this petty pace from day to {}"] * 4,
          "ref-2": ["All the world's a stage and all the men and women merely {}"] * 3,
          "ref-1": ["Shall I compare thee to a summer's day thou art more lovely and more {}"] * 2}
ENDINGS = ["night", "dawn", "noon", "dusk"]
# A copy of ref-0 (so it is flagged and shown) that ends in a Markdown image.
HOSTILE = ("Now is the winter of our discontent made glorious summer by this sun of York\n\n"
           "![t](http://127.0.0.1:{port}/x.png)")


def review_samples(folder: Path, port: int = 9) -> Path:
    records = []
    for match, texts in COPIES.items():
        for index, text in enumerate(texts):
            records.append({"id": f"{match}-copy-{index}", "modality": "text",
                            "text": text.format(ENDINGS[index])})
    records.append({"id": "hostile", "modality": "text", "text": HOSTILE.format(port=port)})
    records.append({"id": "fresh", "modality": "text",
                    "text": "A quiet river wanders through the meadow under a pale and patient moon"})
    write_jsonl(folder / "manifest.jsonl", records)
    return folder


@dataclass(frozen=True)
class ReviewStore:
    url: str
    path: Path
    reviewers: Path
    run_id: str
    report: Report


@pytest.fixture
def review_store(tmp_path, monkeypatch, reference_set) -> ReviewStore:
    """A store with one run of :func:`review_samples` (and a reviewer)."""
    path = tmp_path / "review.sqlite"
    store = RunStore(str(path))
    policy = tmp_path / "release.yaml"
    policy.write_text(POLICY)
    report = record(store, review_samples(tmp_path / "release"), reference_set, policy,
                    "2026-11-03T10:00:00+00:00")
    store.engine.dispose()
    reviewers = tmp_path / "reviewers"
    add_reviewer(reviewers, "alice", PASSWORD)
    monkeypatch.setenv(STORE_ENV, f"sqlite:///{path}")
    monkeypatch.setenv(REVIEWERS_ENV, str(reviewers))
    return ReviewStore(f"sqlite:///{path}", path, reviewers, report.run_id, report)
