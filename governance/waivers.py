"""Waivers from the review ledger, in the form the audit runner asks for.

The runner calls ``waiver(rule_id, item_id)`` for each flagged item; :class:`LedgerWaivers` answers
from the waive decisions in force on the audit's day (not expired, not revoked by a later approve
or reject), matching the item by its content (:func:`governance.ledger.content_sha256`), and
remembers which ones it applied so the report can say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
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
    def from_store(cls, store: RunStore, samples: SampleSet, *, day: date | None = None) -> LedgerWaivers:
        day = day or datetime.now(UTC).date()
        return cls(samples, Ledger(store).active_waivers(day))

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
