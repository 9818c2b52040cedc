"""Waivers in the form the audit runner asks for, from two sources: the repository (a waivers
file, a policy's ``waivers:``) and the review ledger.

The runner calls ``waiver(rule_id, item_id)`` for each flagged item; :class:`Waivers` answers from
the waivers in force on the audit's day (expiry date inclusive), and remembers which ones it
applied so the report can say so. Both sources give the same
:class:`~aigc_audit.governance.waiver_file.Waiver`: a reviewer's waive decision is a waiver of one
item's content (``sha256:``), approved by that reviewer, until the decision's expiry date.

:func:`ledger_waivers` verifies the whole ledger first (hash chain, every reviewer's signature
against the keys file beside the password file ``reviewers``, by default
``$AIGC_AUDIT_REVIEWERS`` or ``.aigc-audit/reviewers``, and every field), from the same read it
takes the waivers from. A ledger that does not verify raises
:class:`~aigc_audit.governance.ledger.LedgerBrokenError` naming the first bad entry, so the audit
stops with exit 2 and applies no decision: a row written or edited straight in the store (a forged
waiver, a changed expiry date) never turns a failing audit into a passing one. (Deleting the newest
entries still leaves a valid chain; see :mod:`~aigc_audit.governance.ledger`.) Only the decisions
in force count there: a later approve or reject revokes a waiver.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aigc_audit.errors import PolicyError
from aigc_audit.governance.ledger import WAIVE, Entry, Ledger
from aigc_audit.governance.policy import Policy
from aigc_audit.governance.store import RunStore
from aigc_audit.governance.waiver_file import SHA256_PREFIX, Waiver, dump_waivers
from aigc_audit.sampleset import SampleSet, content_sha256


def utc_today() -> date:
    return datetime.now(UTC).date()


def entry_waiver(entry: Entry) -> Waiver:
    """A reviewer's waive decision as a waiver of that item's content."""
    if entry.decision != WAIVE or entry.expires is None:
        raise ValueError(f"ledger entry {entry.seq} is a {entry.decision!r} decision, not a waiver")
    return Waiver(entry.rule_id, (SHA256_PREFIX + entry.item_sha256,), entry.reason, entry.reviewer,
                  date.fromisoformat(entry.expires), origin=f"ledger entry {entry.seq}",
                  ledger_seq=entry.seq)


def ledger_waivers(store: RunStore, *, day: date | None = None,
                   reviewers: str | Path | None = None) -> list[Waiver]:
    """The waive decisions in force on ``day`` in ``store``'s ledger, once it has verified; raises
    ``LedgerBrokenError`` (an ``AuditError``) naming the first bad entry otherwise."""
    active = Ledger(store, reviewers=reviewers).active_waivers(day or utc_today())
    return [entry_waiver(e) for e in sorted(active.values(), key=lambda e: e.seq)]


def export_ledger_waivers(ledger: Ledger, *, day: date | None = None) -> tuple[str, int]:
    """The waive decisions in force on ``day`` in a ledger that verifies, as the text of a waivers
    file to commit (each under a comment naming its ledger entry), and their number. Raises
    ``LedgerBrokenError`` when the ledger does not verify."""
    entries = sorted(ledger.active_waivers(day or utc_today()).values(), key=lambda e: e.seq)
    comments = [f"ledger entry {e.seq}: item {e.item_id} in run {e.run_id}, decided {e.created_at[:10]}"
                for e in entries]
    return dump_waivers([entry_waiver(e) for e in entries], comments), len(entries)


def check_rules(waivers: Iterable[Waiver], policy: Policy) -> None:
    """Refuse a waiver for a rule the policy does not have (a typo, or a rule since removed): it
    would silently waive nothing. Raises ``PolicyError`` naming each, with where it was written."""
    ids = [r.id for r in policy.rules]
    problems = [f"{w.origin}: rule: the policy {policy.name!r} has no rule {w.rule_id!r}; its rules are "
                f"{ids} (remove the waiver, or correct its rule)" for w in waivers if w.rule_id not in ids]
    if problems:
        raise PolicyError(problems)


@dataclass
class Waivers:
    """The waivers an audit applies on ``day``: ``in_force`` answer the runner, ``expired`` ones
    (from the repository) are listed in the report; ``applied`` records each waived finding."""

    samples: SampleSet
    in_force: tuple[Waiver, ...]
    expired: tuple[Waiver, ...] = ()
    day: date = field(default_factory=utc_today)
    applied: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, samples: SampleSet, waivers: Iterable[Waiver], *, today: date | None = None) -> Waivers:
        """Split ``waivers`` into those in force on ``today`` (UTC today by default) and expired."""
        today = today or utc_today()
        waivers = list(waivers)
        return cls(samples, tuple(w for w in waivers if w.active_on(today)),
                   tuple(w for w in waivers if not w.active_on(today)), today)

    @classmethod
    def from_store(cls, store: RunStore, samples: SampleSet, *, day: date | None = None,
                   reviewers: str | Path | None = None) -> Waivers:
        """The waivers in force on ``day`` in ``store``'s ledger alone."""
        day = day or utc_today()
        return cls.of(samples, ledger_waivers(store, day=day, reviewers=reviewers), today=day)

    def __call__(self, rule_id: str, item_id: str) -> str | None:
        candidates = [w for w in self.in_force if w.rule_id == rule_id]
        if not candidates:
            return None
        item = self.samples.get(item_id)
        if item is None:
            return None
        sha = content_sha256(item)
        waiver = next((w for w in candidates if w.matches(item_id, sha)), None)
        if waiver is None:
            return None
        self.applied.append({"rule_id": rule_id, "item_id": item_id, "source": waiver.origin,
                             "ledger_seq": waiver.ledger_seq, "approver": waiver.approver,
                             "expires": waiver.expires.isoformat(), "reason": waiver.reason})
        return waiver.describe()


# The name the ledger-only form had; the same class.
LedgerWaivers = Waivers
