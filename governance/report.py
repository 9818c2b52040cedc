"""The audit report: one frozen, typed record of a run that every consumer reads.

The runner builds a :class:`Report`; the report writers, the console, the run store, ``compare``
and the dashboard all take it as it is. It becomes a dict only at the edge (``report.json``, a
database row) through the one ``to_dict``/``from_dict`` pair, with one dialect of field names:
``rule_id`` and ``item_id`` wherever a rule or an item is named.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.base import NOTE_EXPLAINS, NOTE_TOO_FEW, Evaluation, Note
from aigc_audit.governance.policy import limit_text
from aigc_audit.governance.status import FAIL, PASS, WARN, style
from aigc_audit.governance.waiver_file import Waiver
from aigc_audit.sampleset import SampleSet

REPORT_SCHEMA = "aigc-audit/report/v2"
LEVEL_ERROR, LEVEL_WARNING = "error", "warning"
# A finding's status against the baseline, and a baseline finding the run no longer has.
NEW, PERSISTING, RESOLVED = "new", "persisting", "resolved"
# The gates a rule's ``baseline:`` option adds, and how a metric column names them.
GATE_NEW_FINDINGS, GATE_REGRESSION = "new_findings", "regression"
GATE_LABELS = {GATE_NEW_FINDINGS: "new findings of", GATE_REGRESSION: "worsening of"}
NO_BASELINE = "not applicable: no baseline given"


def _number(value: float | None) -> float | None:
    """JSON has no NaN: a metric that could not be computed is stored as null."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """``data`` as strict JSON, whatever numbers it holds: JSON has no NaN or infinity, so NaN (a
    value that could not be computed) becomes null and an infinite value (a ratio over a zero
    radius, say) becomes ``1e999``, a valid JSON number that Python and JavaScript read back as
    infinity. Every JSON file and ``--json`` output of a report goes through here."""
    # A per-call nonce marks the infinities, so no string from a sample can be mistaken for one.
    nonce = secrets.token_hex(16)
    marks = {f'"{nonce}+"': "1e999", f'"{nonce}-"': "-1e999"}

    def safe(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None if math.isnan(value) else f"{nonce}{'+' if value > 0 else '-'}"
        if isinstance(value, Mapping):
            return {key: safe(v) for key, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [safe(v) for v in value]
        return value

    text = json.dumps(safe(data), indent=indent, ensure_ascii=False, allow_nan=False)
    for mark, number in marks.items():
        text = text.replace(mark, number)
    return text


@dataclass(frozen=True, order=True)
class Finding:
    """One flagged item under one rule; sorts by rule, then item, and prints as one line."""

    rule_id: str
    item_id: str
    level: str = field(compare=False)
    status: str = field(compare=False)
    message: str = field(compare=False)
    score: float = field(default=0.0, compare=False)
    evidence: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # new or persisting against the run's baseline (resolved ones live in Baseline.resolved);
    # empty when the run had no baseline.
    baseline: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        """Unique within a run: an item is flagged at most once under a rule."""
        return f"{self.rule_id}\x1f{self.item_id}"

    def __str__(self) -> str:
        mark = f" ({self.baseline})" if self.baseline else ""
        return f"{self.rule_id} [{self.level}/{self.status}]{mark} {self.item_id}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "item_id": self.item_id, "level": self.level,
                "status": self.status, "score": self.score, "message": self.message,
                "evidence": dict(self.evidence), "baseline": self.baseline or None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(data["rule_id"], data["item_id"], data["level"], data["status"], data["message"],
                   data["score"], data.get("evidence") or {}, data.get("baseline") or "")


@dataclass(frozen=True)
class RuleOutcome:
    """A rule applied to the evaluation it read (``evaluation`` is that evaluation's key in
    :attr:`Report.evaluations`). ``status`` is pass, fail or skip (not applicable)."""

    rule_id: str
    evaluation: str
    evaluator: str
    metric: str
    comparator: str
    limit: float
    level: str
    status: str
    value: float | None
    n_items: int
    n_flagged: int = 0
    n_waived: int = 0
    reason: str = ""
    worst_items: tuple[str, ...] = ()
    description: str = ""
    origin: str = ""
    # "" for the rule's own limit; GATE_NEW_FINDINGS or GATE_REGRESSION for a baseline gate of
    # the rule (its rule_id is the rule's, plus ":" and the gate).
    gate: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    @property
    def limit_text(self) -> str:
        return limit_text(self.comparator, self.limit)

    @property
    def base_rule_id(self) -> str:
        """The policy rule this outcome belongs to (a baseline gate's rule, or itself)."""
        return self.rule_id.rsplit(":", 1)[0] if self.gate else self.rule_id

    @property
    def metric_name(self) -> str:
        name = f"{self.evaluator}.{self.metric}"
        return f"{GATE_LABELS.get(self.gate, self.gate)} {name}" if self.gate else name

    def value_text(self) -> str:
        return "n/a" if self.value is None else f"{self.value:.4g}"

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "evaluation": self.evaluation, "evaluator": self.evaluator,
                "metric": self.metric, "comparator": self.comparator, "limit": self.limit,
                "level": self.level, "status": self.status, "value": _number(self.value),
                "n_items": self.n_items, "n_flagged": self.n_flagged, "n_waived": self.n_waived,
                "reason": self.reason, "worst_items": list(self.worst_items),
                "description": self.description, "origin": self.origin, "gate": self.gate}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuleOutcome:
        return cls(**{**data, "worst_items": tuple(data.get("worst_items", ()))})


@dataclass(frozen=True)
class UnreadableItem:
    """An item an evaluator could not read, with the reason; counted, never dropped."""

    item_id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"item_id": self.item_id, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> UnreadableItem:
        return cls(data["item_id"], data["reason"])


@dataclass(frozen=True)
class EvaluationRecord:
    """What an evaluation leaves in the report: metrics, notes, errors and every item's score
    (the per-item evidence travels with the findings)."""

    key: str
    evaluator: str
    params: Mapping[str, Any]
    metrics: Mapping[str, float | None]
    n_items: int
    errors: tuple[UnreadableItem, ...] = ()
    notes: tuple[Note, ...] = ()
    skip_reason: str = ""
    seconds: float = 0.0
    scores: Mapping[str, float | None] = field(default_factory=dict)

    @classmethod
    def of(cls, key: str, evaluation: Evaluation) -> EvaluationRecord:
        return cls(key, evaluation.evaluator, dict(evaluation.params),
                   {k: _number(v) for k, v in evaluation.metrics.items()}, evaluation.n_items,
                   tuple(UnreadableItem(k, v) for k, v in sorted(evaluation.errors.items())),
                   tuple(evaluation.notes), evaluation.skip_reason, round(evaluation.seconds, 3),
                   {r.item_id: _number(r.score) for r in evaluation.items})

    def notes_of(self, kind: str) -> list[Note]:
        return [n for n in self.notes if n.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "evaluator": self.evaluator, "params": dict(self.params),
                "metrics": dict(self.metrics), "n_items": self.n_items,
                "errors": [e.to_dict() for e in self.errors],
                "notes": [n.to_dict() for n in self.notes], "skip_reason": self.skip_reason,
                "seconds": self.seconds, "scores": dict(self.scores)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationRecord:
        return cls(data["key"], data["evaluator"], data["params"], data["metrics"], data["n_items"],
                   tuple(UnreadableItem.from_dict(e) for e in data["errors"]),
                   tuple(Note.from_dict(n) for n in data["notes"]), data["skip_reason"],
                   data["seconds"], data["scores"])


@dataclass(frozen=True)
class SetSummary:
    """A sample or reference set as the audit read it: where (``path`` as given, ``location`` made
    absolute; empty in reports from before it was recorded), what, and its content hash."""

    path: str
    kind: str
    role: str
    sha256: str
    n_items: int
    by_modality: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    location: str = ""

    @classmethod
    def of(cls, sample_set: SampleSet) -> SetSummary:
        counts: dict[str, int] = {}
        for item in sample_set.items:
            counts[item.modality] = counts.get(item.modality, 0) + 1
        return cls(str(sample_set.path), sample_set.kind, sample_set.role, sample_set.sha256,
                   len(sample_set.items), counts, tuple(sample_set.notes),
                   "" if sample_set.path is None else str(Path(sample_set.path).resolve()))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "role": self.role, "sha256": self.sha256,
                "n_items": self.n_items, "by_modality": dict(self.by_modality),
                "notes": list(self.notes), "location": self.location}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SetSummary:
        return cls(**{**data, "notes": tuple(data.get("notes", ()))})


@dataclass(frozen=True)
class Location:
    """Where an item's content is: ``file`` (POSIX, relative to the sample set's ``root`` when it
    lies inside it, else absolute) and, for a text read from a line of a file, that ``line``."""

    file: str
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        return cls(data["file"], data.get("line"))


@dataclass(frozen=True)
class MetricChange:
    """A rule's metric now and in the baseline run; ``worse`` reads the rule's direction (a
    ``max:`` metric gets worse as it rises, a ``min:`` one as it falls)."""

    rule_id: str
    metric: str
    comparator: str
    value: float | None
    baseline_value: float | None

    @property
    def delta(self) -> float | None:
        if self.value is None or self.baseline_value is None:
            return None
        return self.value - self.baseline_value

    @property
    def worse_by(self) -> float | None:
        """How much worse than the baseline (negative when better); None when either is unknown."""
        delta = self.delta
        return None if delta is None else (delta if self.comparator == "max" else -delta)

    def delta_text(self) -> str:
        return "n/a" if self.delta is None else f"{self.delta:+.4g}"

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "metric": self.metric, "comparator": self.comparator,
                "value": _number(self.value), "baseline_value": _number(self.baseline_value),
                "delta": _number(self.delta)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricChange:
        return cls(data["rule_id"], data["metric"], data["comparator"], data["value"],
                   data["baseline_value"])


@dataclass(frozen=True)
class Baseline:
    """The earlier run a report was compared with: which it was, its findings the run no longer
    has (``resolved``), and every rule's metric then and now. Each current finding carries its
    own ``new``/``persisting`` mark."""

    run_id: str
    created_at: str
    source: str
    verdict: str
    resolved: tuple[Finding, ...] = ()
    metrics: tuple[MetricChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "created_at": self.created_at, "source": self.source,
                "verdict": self.verdict, "resolved": [f.to_dict() for f in self.resolved],
                "metrics": [m.to_dict() for m in self.metrics]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        return cls(data["run_id"], data["created_at"], data["source"], data["verdict"],
                   tuple(Finding.from_dict(f) for f in data.get("resolved", ())),
                   tuple(MetricChange.from_dict(m) for m in data.get("metrics", ())))


@dataclass(frozen=True)
class PolicySummary:
    """The policy a run applied, with its rules as written (``Rule.to_dict``)."""

    name: str
    description: str
    path: str
    sha256: str
    rules: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "path": self.path,
                "sha256": self.sha256, "rules": [dict(r) for r in self.rules]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicySummary:
        return cls(**{**data, "rules": tuple(data.get("rules", ()))})


@dataclass(frozen=True)
class Report:
    """A whole audit run. ``findings`` are flagged items that count; ``waived`` those a waiver (in
    the repository or the review ledger) took out of the count; ``expired_waivers`` the waivers
    from the repository that no longer apply; ``item_sha256`` the content hash of every flagged
    item (what decisions are keyed on) and ``item_origins`` where each came from (``file:line``)."""

    run_id: str
    created_at: str
    tool_version: str
    verdict: str
    samples: SetSummary
    reference: SetSummary | None
    policy: PolicySummary
    rules: tuple[RuleOutcome, ...]
    findings: tuple[Finding, ...] = ()
    waived: tuple[Finding, ...] = ()
    item_errors: tuple[UnreadableItem, ...] = ()
    item_origins: Mapping[str, str] = field(default_factory=dict)
    item_sha256: Mapping[str, str] = field(default_factory=dict)
    evaluations: Mapping[str, EvaluationRecord] = field(default_factory=dict)
    expired_waivers: tuple[Waiver, ...] = ()
    schema: str = REPORT_SCHEMA
    # Audited with --strict: a warning fails the run, and every report says so.
    strict: bool = False
    # Where each flagged item is: its own file first, then the manifest line that lists it.
    item_locations: Mapping[str, tuple[Location, ...]] = field(default_factory=dict)
    samples_root: str = ""
    baseline: Baseline | None = None

    def exit_code(self, *, strict: bool | None = None) -> int:
        """0 or 1 as the CLI exits; ``strict`` defaults to how the run was made."""
        return exit_code(self.verdict, strict=self.strict if strict is None else strict)

    @property
    def fails(self) -> bool:
        """Whether the run fails its gate: the verdict is fail, or warn under --strict."""
        return self.exit_code() == 1

    @property
    def verdict_label(self) -> str:
        """The verdict as every report heads it: ``WARN (fails under --strict)`` when it does."""
        label = style(self.verdict).label
        return f"{label} (fails under --strict)" if self.strict and self.verdict == WARN else label

    def rule_fails(self, outcome: RuleOutcome) -> bool:
        """Whether a rule's outcome fails the run: a failed error rule, or a failed warning rule
        under --strict."""
        return outcome.failed and (outcome.level == LEVEL_ERROR or self.strict)

    def new_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.baseline == NEW]

    def rule(self, rule_id: str) -> RuleOutcome:
        for outcome in self.rules:
            if outcome.rule_id == rule_id:
                return outcome
        raise AuditError(f"run {self.run_id} has no rule {rule_id!r}; its rules are "
                         f"{[r.rule_id for r in self.rules]}")

    def findings_of(self, rule_id: str) -> list[Finding]:
        return [f for f in self.findings if f.rule_id == rule_id]

    def findings_behind(self, outcome: RuleOutcome) -> list[Finding]:
        """The findings an outcome rests on: a rule's own, the new ones of a new-findings gate's
        rule, none for a regression gate (a whole-set metric)."""
        if outcome.gate == GATE_NEW_FINDINGS:
            return [f for f in self.findings_of(outcome.base_rule_id) if f.baseline == NEW]
        return [] if outcome.gate else self.findings_of(outcome.rule_id)

    def all_findings(self) -> list[Finding]:
        """Findings and waived findings together, worst first."""
        return sorted(self.findings + self.waived, key=lambda f: (-f.score, f.rule_id, f.item_id))

    def explanations(self) -> list[tuple[str, Note]]:
        """(evaluator, note) for every metric an evaluator told in one sentence for a reviewer."""
        return [(e.evaluator, n) for e in self.evaluations.values() for n in e.notes_of(NOTE_EXPLAINS)]

    def too_few_notes(self) -> list[tuple[str, Note]]:
        """(evaluator, note) for every metric computed on too few samples to mean much."""
        return [(e.evaluator, n) for e in self.evaluations.values() for n in e.notes_of(NOTE_TOO_FEW)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "tool": {"name": "aigc-audit", "version": self.tool_version},
            "verdict": self.verdict,
            "inputs": {"samples": self.samples.to_dict(),
                       "reference": None if self.reference is None else self.reference.to_dict()},
            "policy": self.policy.to_dict(),
            "rules": [r.to_dict() for r in self.rules],
            "findings": [f.to_dict() for f in self.findings],
            "waived": [f.to_dict() for f in self.waived],
            "item_errors": [e.to_dict() for e in self.item_errors],
            "item_origins": dict(self.item_origins),
            "item_sha256": dict(self.item_sha256),
            "evaluations": {k: e.to_dict() for k, e in self.evaluations.items()},
            "expired_waivers": [w.to_dict() for w in self.expired_waivers],
            "strict": self.strict,
            "exit_code": self.exit_code(),
            "samples_root": self.samples_root,
            "item_locations": {k: [loc.to_dict() for loc in v] for k, v in self.item_locations.items()},
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """The report ``to_dict`` wrote; raises ``AuditError`` for another schema."""
        schema = data.get("schema") if isinstance(data, Mapping) else None
        if schema != REPORT_SCHEMA:
            raise AuditError(f"report schema {schema!r} is not {REPORT_SCHEMA!r}, the one this "
                             f"aigc-audit reads; run the audit again to get a current report")
        inputs = data["inputs"]
        return cls(
            run_id=data["run_id"], created_at=data["created_at"],
            tool_version=data["tool"]["version"], verdict=data["verdict"],
            samples=SetSummary.from_dict(inputs["samples"]),
            reference=None if inputs["reference"] is None else SetSummary.from_dict(inputs["reference"]),
            policy=PolicySummary.from_dict(data["policy"]),
            rules=tuple(RuleOutcome.from_dict(r) for r in data["rules"]),
            findings=tuple(Finding.from_dict(f) for f in data["findings"]),
            waived=tuple(Finding.from_dict(f) for f in data["waived"]),
            item_errors=tuple(UnreadableItem.from_dict(e) for e in data["item_errors"]),
            item_origins=data["item_origins"], item_sha256=data["item_sha256"],
            evaluations={k: EvaluationRecord.from_dict(e) for k, e in data["evaluations"].items()},
            # Reports stored before waivers files have none.
            expired_waivers=tuple(Waiver.from_dict(w) for w in data.get("expired_waivers", ())),
            schema=schema, strict=bool(data.get("strict", False)),
            item_locations={k: tuple(Location.from_dict(loc) for loc in v)
                            for k, v in (data.get("item_locations") or {}).items()},
            samples_root=data.get("samples_root") or "",
            baseline=None if not data.get("baseline") else Baseline.from_dict(data["baseline"]))


def verdict(outcomes: list[RuleOutcome] | tuple[RuleOutcome, ...]) -> str:
    """fail when an error-level rule fails, warn when only warning-level rules fail, else pass."""
    if any(r.failed and r.level == LEVEL_ERROR for r in outcomes):
        return FAIL
    if any(r.failed for r in outcomes):
        return WARN
    return PASS


def exit_code(result_verdict: str, *, strict: bool = False) -> int:
    """The CI contract: 0 pass (warnings too), 1 failed (or warned under ``strict``)."""
    if result_verdict == FAIL or (strict and result_verdict == WARN):
        return 1
    return 0

