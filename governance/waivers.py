"""Waivers from the review ledger, in the form the audit runner asks for.

The runner calls ``waiver(rule_id, item_id)`` for each flagged item; :class:`LedgerWaivers` answers
from the waive decisions in force on the audit's day (not expired, not revoked by a later approve
or reject), matching the item by its content (:func:`governance.ledger.content_sha256`), and
remembers which ones it applied so the report can say so.

:meth:`LedgerWaivers.from_store` verifies the whole ledger first (hash chain, every reviewer's
signature against the keys file beside the password file ``reviewers``, by default
``$AIGC_AUDIT_REVIEWERS`` or ``.aigc-audit/reviewers``, and every field), from the same read it
takes the waivers from. A ledger that does not verify raises
:class:`~aigc_audit.governance.ledger.LedgerBrokenError` naming the first bad entry, so the audit
stops with exit 2 and applies no decision: a row written or edited straight in the store (a forged
waiver, a changed expiry date) never turns a failing audit into a passing one. (Deleting the newest
entries still leaves a valid chain; see :mod:`~aigc_audit.governance.ledger`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aigc_audit.governance.ledger import Entry, Ledger
from aigc_audit.governance.store import RunStore
from aigc_audit.sampleset import SampleSet, content_sha256


@dataclass
class LedgerWaivers:
    samples: SampleSet
    waivers: dict[tuple[str, str], Entry]
    applied: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_store(cls, store: RunStore, samples: SampleSet, *, day: date | None = None,
                   reviewers: str | Path | None = None) -> LedgerWaivers:
        """The waivers in force on ``day`` in ``store``'s ledger, once it has verified; raises
        ``LedgerBrokenError`` (an ``AuditError``) naming the first bad entry otherwise."""
        day = day or datetime.now(UTC).date()
        return cls(samples, Ledger(store, reviewers=reviewers).active_waivers(day))

    def __call__(self, rule_id: str, item_id: str) -> str | None:
        if not self.waivers:
            return None
        item = self.samples.get(item_id)
        if item is None:
            return None
        entry = self.waivers.get((rule_id, content_sha256(item)))
        if entry is None:
            return None
        self.applied.append({"rule_id": rule_id, "item_id": item_id, "ledger_seq": entry.seq,
                             "reviewer": entry.reviewer, "expires": entry.expires,
                             "reason": entry.reason, "decided_in_run": entry.run_id})
        return (f"waived by {entry.reviewer} until {entry.expires} (ledger entry {entry.seq}): "
                f"{entry.reason}")
