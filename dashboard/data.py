"""Everything the pages read and write, cached the way Streamlit means it.

``st.cache_resource`` holds the shared, unpicklable handles (the run store's engine, the ledger,
loaded sample sets); ``st.cache_data`` holds copies of stored results: a report never changes once
stored, so it is cached without expiry, while the run list and the ledger expire after a few
seconds (and the ledger's caches are cleared as soon as this session writes to it).

The store's URL comes from ``$AIGC_AUDIT_STORE`` and the reviewers' password file from
``$AIGC_AUDIT_REVIEWERS``, which ``aigc-audit dashboard`` sets.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from aigc_audit.dashboard.evidence import ImagePair, image_pair
from aigc_audit.errors import AuditError
from aigc_audit.governance.compare import Comparison, compare_reports
from aigc_audit.governance.ledger import Entry, Ledger, Verification
from aigc_audit.governance.locations import items_roots, locate
from aigc_audit.governance.report import Finding, Report
from aigc_audit.governance.reviewers import Reviewer, authenticate, default_path
from aigc_audit.governance.store import RunStore
from aigc_audit.governance.store import store_url as resolve_store_url
from aigc_audit.governance.waivers import export_ledger_waivers
from aigc_audit.sampleset import (
    MANIFEST_NAME,
    REFERENCE,
    SAMPLES,
    Item,
    SampleSet,
    content_sha256,
    load_sample_set,
)

LIVE_TTL = 5  # seconds: how stale the run list and the ledger may be on screen


def store_url() -> str:
    return resolve_store_url(None)


def reviewers_path() -> Path:
    return default_path()


@st.cache_resource(show_spinner=False)
def get_store(url: str) -> RunStore:
    """The store opened read-only: viewing never writes to it (nor creates it)."""
    return RunStore(url, read_only=True)


@st.cache_resource(show_spinner=False)
def get_ledger(url: str) -> Ledger:
    """The ledger for reading: empty until the first decision creates its table."""
    return Ledger(get_store(url))


@st.cache_resource(show_spinner=False)
def _ledger_to_write(url: str) -> Ledger:
    # Opened only when a reviewer records a decision: this creates the ledger's tables.
    return Ledger(RunStore(url))


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def runs(url: str) -> list[dict[str, Any]]:
    """Every run, newest first, with its rules' statuses and flagged counts."""
    return get_store(url).list_runs(with_rules=True)


@st.cache_data(max_entries=64, show_spinner=False)
def report(url: str, run_id: str) -> Report:
    return get_store(url).report(run_id)


@st.cache_data(max_entries=64, show_spinner=False)
def findings(url: str, run_id: str) -> list[Finding]:
    """The run's findings, waived ones included, worst first; ``Finding.key`` names one."""
    return report(url, run_id).all_findings()


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def ledger_entries(url: str) -> list[Entry]:
    return get_ledger(url).entries()


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def verify_ledger(url: str) -> Verification:
    return get_ledger(url).verify()


@st.cache_data(ttl=LIVE_TTL, show_spinner=False)
def waivers_file(url: str) -> tuple[str, int]:
    """The waive decisions in force, as a waivers file to commit beside the policy, and their
    number; raises ``LedgerBrokenError`` when the ledger does not verify."""
    return export_ledger_waivers(get_ledger(url))


def decisions_in_force(url: str) -> dict[tuple[str, str], Entry]:
    """The newest decision for each (rule, item content)."""
    return {(e.rule_id, e.item_sha256): e for e in ledger_entries(url)}


def _modified(path: Path) -> float:
    # A manifest folder's own time does not change when its manifest is rewritten.
    try:
        return max(p.stat().st_mtime for p in (path, path / MANIFEST_NAME) if p.exists())
    except (OSError, ValueError):
        return -1.0


@st.cache_resource(max_entries=32, show_spinner=False)
def _load_set(path: str, role: str, modified: float) -> tuple[SampleSet | None, str]:
    # ``modified`` is part of the key only: a set rewritten on disk is loaded again.
    try:
        return load_sample_set(path, role=role), ""
    except AuditError as error:
        return None, str(error)


def sample_set(run_report: Report, role: str = SAMPLES) -> tuple[SampleSet | None, str]:
    """The run's sample (or reference) set as it is on disk now, found from any working
    directory (:func:`~aigc_audit.governance.locations.locate`), and a note when it has moved,
    changed since the audit or cannot be found."""
    described = run_report.samples if role == SAMPLES else run_report.reference
    if not described:
        return None, "the run had no reference set"
    loaded: dict[Path, SampleSet] = {}

    def digest(path: Path) -> str | None:
        found, _ = _load_set(str(path), role, _modified(path))
        if found is None:
            return None
        loaded[path] = found
        return found.sha256

    where = locate(described, digest, items_roots())
    return (loaded[where.path] if where.path is not None else None), where.note


def item_texts(samples: SampleSet | None) -> dict[str, str]:
    """Generated text by item id, for searching (empty when the set cannot be read)."""
    if samples is None:
        return {}
    return {item.id: item.text for item in samples.items if item.text is not None}


def item_sha256(run_report: Report, item_id: str) -> str:
    """The content hash a decision about ``item_id`` is keyed on."""
    stored = run_report.item_sha256.get(item_id)
    if stored:
        return stored
    samples, problem = sample_set(run_report)
    item = samples.get(item_id) if samples is not None and not problem else None
    if item is None:
        raise AuditError(f"cannot identify the content of item {item_id!r}: the report predates "
                         f"content hashes and {problem or 'the sample set lacks it'}; audit again")
    return content_sha256(item)


def generated_item(run_report: Report, item_id: str) -> tuple[Item | None, str]:
    samples, problem = sample_set(run_report)
    item = samples.get(item_id) if samples is not None else None
    if item is None:
        return None, problem or f"item {item_id} is not in the sample set any more"
    stored = run_report.item_sha256.get(item_id)
    if stored and stored != content_sha256(item):
        return item, f"item {item_id} changed on disk since this audit"
    return item, problem


def training_item(run_report: Report, match_id: str | None) -> tuple[Item | None, str]:
    if not match_id:
        return None, "the evidence names no training item"
    reference, problem = sample_set(run_report, REFERENCE)
    item = reference.get(match_id) if reference is not None else None
    if item is None:
        return None, problem or f"training item {match_id} is not in the reference set any more"
    return item, problem


@st.cache_data(max_entries=256, show_spinner=False)
def compared_images(sample_path: str, reference_path: str, shift: tuple[int, int] = (0, 0),
                    orientation: str = "as is", alignment: tuple[float, float] | None = None,
                    region: tuple[float, ...] | None = None) -> ImagePair:
    return image_pair(Path(sample_path), Path(reference_path), shift=shift, orientation=orientation,
                      alignment=alignment, region=region)


@st.cache_data(max_entries=64, show_spinner=False)
def rule_source(origin: str) -> str | None:
    """The policy file's text of the rule that starts at ``origin`` (``path:line``), or None
    when that file is gone."""
    path, _, line = origin.rpartition(":")
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        start = int(line) - 1
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not 0 <= start < len(lines):
        return None
    dash = len(lines[start]) - len(lines[start].lstrip())
    block = [lines[start]]
    for text in lines[start + 1:]:
        # The rule ends where a line is indented no deeper than its own "- " (the next rule,
        # a comment before it, or a top-level key).
        if text.strip() and len(text) - len(text.lstrip()) <= dash:
            break
        block.append(text)
    while block and not block[-1].strip():
        block.pop()
    return textwrap.dedent("\n".join(block))


@st.cache_data(max_entries=32, show_spinner=False)
def comparison(url: str, old_run: str, new_run: str) -> Comparison:
    return compare_reports(report(url, old_run), report(url, new_run))


def login(name: str, password: str) -> Reviewer | None:
    return authenticate(reviewers_path(), name, password)


def record_decision(url: str, reviewer: Reviewer | None, run_report: Report,
                    finding: Finding, decision: str | None, reason: str,
                    expires: date | None) -> Entry:
    """Append a decision on ``finding`` to the ledger; raises ``AuditError`` (shown to the
    reviewer) without a login or with an invalid decision."""
    return record_decisions(url, reviewer, run_report, [finding], decision, reason, expires)[0]


def record_decisions(url: str, reviewer: Reviewer | None, run_report: Report,
                     chosen: list[Finding], decision: str | None, reason: str,
                     expires: date | None) -> list[Entry]:
    """Append one decision, with one reason, on each of ``chosen``, in order; raises
    ``AuditError`` (shown to the reviewer) without a login, a decision, or a finding, or with an
    invalid decision. Every finding's content is identified before anything is written."""
    if reviewer is None:
        raise AuditError("log in to record a decision: decisions are never anonymous")
    if decision is None:
        raise AuditError("choose a decision (approve, waive or reject): none is preselected")
    if not chosen:
        raise AuditError("select at least one finding to decide on")
    shas = [item_sha256(run_report, finding.item_id) for finding in chosen]
    entries = []
    try:
        ledger = _ledger_to_write(url)
        for finding, sha in zip(chosen, shas, strict=True):
            entries.append(ledger.append(
                reviewer, decision=decision, rule_id=finding.rule_id, item_id=finding.item_id,
                item_sha256=sha, run_id=run_report.run_id, samples_sha256=run_report.samples.sha256,
                reason=reason, expires=expires if decision == "waive" else None))
    finally:
        ledger_entries.clear()
        verify_ledger.clear()
        waivers_file.clear()
    return entries


RELEASE = "the same sample set (release)"
TRAINING = "the same training data (reference set)"


def history(url: str, run_id: str, same: str) -> list[Report]:
    """The stored runs of ``run_id``'s release (``same=RELEASE``: its sample set, by location) or
    of its training data (``same=TRAINING``: its reference set), oldest first."""
    chosen = report(url, run_id)

    def where(r: Report, role: str) -> str | None:
        summary = r.samples if role == SAMPLES else r.reference
        return (summary.location or summary.path) if summary else None

    role = SAMPLES if same == RELEASE else REFERENCE
    wanted = where(chosen, role)
    if wanted is None:
        return [chosen]
    reports = [report(url, r["run_id"]) for r in runs(url)]
    return sorted((r for r in reports if where(r, role) == wanted), key=lambda r: (r.created_at, r.run_id))
