"""The policy applied to single items as they are generated, by the evaluators a batch audit uses.

A :class:`ItemChecker` loads the policy (and the training set, when rules compare against one)
once and keeps one evaluator per evaluation key, so classifiers load once. Each call evaluates the
given items with every rule whose metric counts flagged items, and turns each flagged item into
the same :class:`~aigc_audit.governance.report.Finding` (message, score, evidence) a batch audit
gives it. Rules on a whole release (a rate bound, a distribution) cannot judge one item; they are
listed as not applicable, with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aigc_audit.evaluators import registry
from aigc_audit.evaluators.base import Evaluator
from aigc_audit.evaluators.harm import HarmCache, HarmEvaluator
from aigc_audit.governance.policy import Policy, Rule
from aigc_audit.governance.report import Finding
from aigc_audit.governance.runner import evaluation_key
from aigc_audit.governance.status import FAIL, PASS, WARN
from aigc_audit.sampleset import TEXT, Item, SampleSet

if TYPE_CHECKING:
    from aigc_audit.evaluators.copying.reference_index import ReferenceIndex

NOT_PER_ITEM = "not applicable to single items: the rule judges a whole release ({metric})"
NEEDS_REFERENCE = ("not applicable: the rule compares against a training set; start the service with "
                   "--reference")


@dataclass(frozen=True)
class ItemVerdict:
    """One item's findings (each carries its rule's level), its verdict, and why it could not be
    read, if so."""

    item_id: str
    verdict: str
    findings: tuple[Finding, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class CheckResult:
    items: tuple[ItemVerdict, ...]
    not_applicable: dict[str, str] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        verdicts = {i.verdict for i in self.items}
        return FAIL if FAIL in verdicts else WARN if WARN in verdicts else PASS


class ItemChecker:
    """``check(items)`` judges items under ``policy``'s per-item rules. Thread-safe: evaluations
    run one at a time, since evaluators keep caches. ``index``, a stored index of ``reference``
    (``aigc-audit index build``), goes to the evaluators that take one, as in a batch audit."""

    def __init__(self, policy: Policy, reference: SampleSet | None = None,
                 index: ReferenceIndex | None = None):
        self.policy, self.reference, self.index = policy, reference, index
        self.rules: list[Rule] = []
        self._keys: dict[str, str] = {}  # rule id -> evaluation key, made once, not per request
        self.not_applicable: dict[str, str] = {}
        self.evaluators: dict[str, Evaluator] = {}
        # As in a batch audit, the harm rules share one cache: a classifier that scores several
        # categories is loaded once and scores each request once, not once per category rule. Its
        # score tables are a small LRU, so a long-running service does not grow with it.
        harm_cache = HarmCache()
        for rule in policy.rules:
            cls = registry.get(rule.evaluator)
            metric = cls.metric(rule.metric)
            if metric is None or not metric.per_item:
                self.not_applicable[rule.id] = NOT_PER_ITEM.format(metric=rule.metric)
            elif cls.needs_reference and reference is None:
                self.not_applicable[rule.id] = NEEDS_REFERENCE
            else:
                self.rules.append(rule)
                key = self._keys[rule.id] = evaluation_key(rule)
                if key not in self.evaluators:
                    extra: dict[str, object] = {"cache": harm_cache} if issubclass(cls, HarmEvaluator) else {}
                    if index is not None and getattr(cls, "accepts_index", False):
                        extra["index"] = index
                    self.evaluators[key] = cls(**rule.params, **extra)
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load every classifier now, by checking one harmless text, so the first request is fast."""
        self.check([Item(id="warm-up", modality=TEXT, text="warm up")])

    def check(self, items: Sequence[Item]) -> CheckResult:
        samples = SampleSet(path=None, kind="service", role="samples", items=tuple(items), sha256="")
        with self._lock:
            evaluations = {key: e.evaluate(samples, self.reference) for key, e in self.evaluators.items()}
        per_item: dict[str, list[Finding]] = {item.id: [] for item in items}
        errors: dict[str, str] = {}
        for evaluation in evaluations.values():
            for item_id, reason in evaluation.errors.items():
                errors.setdefault(item_id, reason)
        for rule in self.rules:
            evaluator = registry.get(rule.evaluator)
            for result in evaluations[self._keys[rule.id]].flagged():
                per_item[result.item_id].append(Finding(rule.id, result.item_id, rule.level, FAIL,
                                                        evaluator.describe(result), round(result.score, 6),
                                                        result.evidence))
        verdicts = []
        for item in items:
            findings = tuple(sorted(per_item[item.id]))
            levels = {f.level for f in findings}
            verdict = FAIL if "error" in levels else WARN if levels else PASS
            verdicts.append(ItemVerdict(item.id, verdict, findings, errors.get(item.id, "")))
        return CheckResult(tuple(verdicts), dict(self.not_applicable))
