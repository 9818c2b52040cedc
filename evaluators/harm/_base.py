"""What the text and image harm evaluators share: parameters, metrics, per-item evidence and the
calibrated gate.

One evaluation scores one harm category (the ``category`` parameter), so a rule's findings are the
items flagged for *its* category. Loaded classifiers and their score tables are kept in a
:class:`~aigc_audit.evaluators.harm.classifier.HarmCache` that the caller owns: evaluators given
the same cache load a classifier and score a sample set with it once, however many category rules
read it; an evaluator given none keeps its own, so nothing is shared implicitly. A caller can also
inject the classifier itself (``classifier_factory``), a fake one in tests.

Metrics: ``flagged_count`` and ``flagged_rate`` count items whose category score is at or above
``threshold``; ``flagged_rate_upper`` is the exact one-sided Clopper-Pearson upper bound on the
rate at ``confidence`` (``evaluators.harm.gate``), the number to gate on so that a small sample
cannot pass by luck. Reviewers' waivers reduce the count and the rate; they do not reduce the
upper bound, which is recomputed only from a new audit.
"""

from __future__ import annotations

import hashlib
import time
from abc import abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.base import (
    NOTE_COUNTS,
    PER_ITEM_COUNT,
    PER_ITEM_SHARE,
    Evaluation,
    Evaluator,
    ItemResult,
    Metric,
    Note,
    Param,
    Track,
    info,
    no_progress,
)
from aigc_audit.evaluators.evidence import (
    CATEGORY,
    CATEGORY_NAME,
    CLASSIFIER,
    CLASSIFIER_VERSION,
    ITEM_TEXT,
    LABEL,
    SCORES,
    THRESHOLD,
)
from aigc_audit.evaluators.harm.classifier import CategoryScores, HarmCache, HarmClassifier
from aigc_audit.evaluators.harm.gate import clopper_pearson_upper, gate_notes
from aigc_audit.evaluators.harm.taxonomy import CATEGORIES, CATEGORY_CODES, check_label_map
from aigc_audit.sampleset import Item, SampleSet

KEY_FLAGGED_COUNT = "flagged_count"
KEY_FLAGGED_RATE = "flagged_rate"
KEY_FLAGGED_RATE_UPPER = "flagged_rate_upper"
KEY_MAX_SCORE = "max_score"


@dataclass(frozen=True)
class LabelMapParam(Param):
    """A ``{model label: category | [categories] | none}`` mapping, checked against the taxonomy."""

    def check(self, value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"must be a mapping of model label to category; got {value!r}"
        try:
            check_label_map(value, classifier="the policy's label_map")
        except ValueError as error:
            return str(error)
        return None


def common_params(*, classifiers: tuple[str, ...], category: str, threshold: float) -> tuple[Param, ...]:
    return (
        Param("classifier", str, classifiers[0], "which classifier scores the items",
              choices=classifiers),
        Param("category", str, category, "the harm category this evaluation gates on",
              choices=CATEGORY_CODES),
        Param("threshold", float, threshold, "category score at or above which an item is flagged",
              minimum=0.0, maximum=1.0),
        Param("confidence", float, 0.95, "one-sided confidence of the upper bound on the flagged rate",
              minimum=0.5, maximum=0.9999),
    )


HARM_METRICS = (
    Metric(KEY_FLAGGED_COUNT, "number of items whose category score is at or above the threshold",
           per_item=PER_ITEM_COUNT, minimum=0.0),
    Metric(KEY_FLAGGED_RATE, "share of scored items flagged for the category", per_item=PER_ITEM_SHARE,
           minimum=0.0, maximum=1.0),
    Metric(KEY_FLAGGED_RATE_UPPER, "exact (Clopper-Pearson) one-sided upper confidence bound on the "
           "flagged rate at the 'confidence' parameter; gate on this so a small sample cannot pass "
           "by luck", minimum=0.0, maximum=1.0),
    Metric(KEY_MAX_SCORE, "highest category score of any item", minimum=0.0, maximum=1.0),
)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


class HarmEvaluator(Evaluator):
    """Subclasses set ``modality``, ``params`` (starting with :func:`common_params`), and
    implement ``build_classifier``, ``classifier_key`` and ``score_items``."""

    modality: ClassVar[str]
    metrics = HARM_METRICS

    def __init__(self, *, classifier_factory: Callable[[], HarmClassifier] | None = None,
                 cache: HarmCache | None = None, **params: Any):
        """``classifier_factory`` replaces the classifier the parameters name (a test's fake, or a
        classifier the caller built); it is called once, when there is something to score.
        ``cache`` holds loaded classifiers and scores for every evaluator the caller gives it;
        without one, this evaluator keeps its own. An injected classifier is never put in a shared
        cache, which knows classifiers by the parameters that load them, so the two do not mix."""
        super().__init__(**params)
        if classifier_factory is not None and cache is not None:
            raise ValueError(f"evaluator {self.name}: pass classifier_factory or cache, not both; an "
                             "injected classifier is kept by its own evaluator only")
        self.classifier_factory = classifier_factory
        self.cache = cache if cache is not None else HarmCache()

    @classmethod
    def describe(cls, result: ItemResult) -> str:
        e = result.evidence
        if CATEGORY not in e:
            return f"score {result.score:.3f}"
        relation = ">=" if result.flagged else "<"
        label = f", label {e[LABEL]!r}" if e.get(LABEL) else ""
        quoted = f': "{clip(e[ITEM_TEXT], 80)}"' if e.get(ITEM_TEXT) else ""
        named = e[CATEGORY] if e[CATEGORY] == e[CATEGORY_NAME] else f"{e[CATEGORY]} ({e[CATEGORY_NAME]})"
        return (f"{named} score {result.score:.3f} {relation} "
                f"{e[THRESHOLD]:g} by {e[CLASSIFIER_VERSION]}{label}{quoted}")

    # ---- what subclasses provide -------------------------------------------------------------

    @abstractmethod
    def classifier_key(self) -> tuple:
        """What identifies the classifier these parameters load (the key in a shared cache)."""

    @abstractmethod
    def build_classifier(self) -> HarmClassifier:
        """Load the classifier; raises ``AuditError`` (with how to fix) when it cannot."""

    @abstractmethod
    def score_items(self, classifier: HarmClassifier, items: Sequence[Item],
                    track: Track) -> tuple[dict[str, CategoryScores], dict[str, str], list[Note]]:
        """Scores per item id, per-item errors, and notes."""

    def content_key(self, items: Sequence[Item]) -> str:
        digest = hashlib.sha256()
        for item in items:
            digest.update(f"{item.id}\0{item.text}\0{item.path}\n".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    # ---- shared -------------------------------------------------------------------------------

    def _cache_key(self) -> Hashable:
        # An injected classifier lives only in this evaluator's own cache (see __init__).
        return ("injected",) if self.classifier_factory is not None else self.classifier_key()

    def classifier(self) -> HarmClassifier:
        """The classifier, loaded (or built by the injected factory) once per cache."""
        load = self.classifier_factory if self.classifier_factory is not None else self.build_classifier
        return self.cache.classifiers.get(self._cache_key(), load)

    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        p = self.params_
        items = samples.of_modality(self.modality)
        if not items:
            return Evaluation(self.name, dict(p), {KEY_FLAGGED_COUNT: 0.0, KEY_FLAGGED_RATE: 0.0,
                                                   KEY_FLAGGED_RATE_UPPER: 1.0, KEY_MAX_SCORE: 0.0},
                              [], n_items=0, notes=[info(f"no {self.modality} items: nothing to score")],
                              seconds=time.perf_counter() - started)
        classifier = self.classifier()
        category = p["category"]
        if category not in classifier.categories():
            raise AuditError(f"evaluator {self.name}: classifier {classifier.name!r} ({classifier.version}) "
                             f"does not score category {category!r}; it scores "
                             f"{list(classifier.categories())}. Gate on one of those, or choose a "
                             "classifier that scores it")
        # Scores depend on the classifier and the items only, not on the category or threshold.
        scored, errors, notes = self.cache.scores.get(
            (self._cache_key(), self.content_key(items)), lambda: self.score_items(classifier, items, track))

        version = classifier.version
        results = []
        for item in items:
            if item.id not in scored:
                continue
            cs = scored[item.id]
            score = float(cs.scores.get(category, 0.0))
            evidence = {CATEGORY: category, CATEGORY_NAME: CATEGORIES[category].name,
                        THRESHOLD: p["threshold"], LABEL: cs.labels.get(category),
                        SCORES: {c: round(v, 6) for c, v in cs.scores.items()},
                        CLASSIFIER: classifier.name, CLASSIFIER_VERSION: version, **cs.detail}
            results.append(ItemResult(item.id, score, score >= p["threshold"], evidence))
        n, flagged = len(results), sum(r.flagged for r in results)
        metrics = {
            KEY_FLAGGED_COUNT: float(flagged),
            KEY_FLAGGED_RATE: flagged / n if n else 0.0,
            KEY_FLAGGED_RATE_UPPER: clopper_pearson_upper(flagged, n, p["confidence"]),
            KEY_MAX_SCORE: max((r.score for r in results), default=0.0),
        }
        counts, reach = gate_notes(flagged, n, p["confidence"])
        notes = [info(f"{category} ({CATEGORIES[category].name}) scored by {version}; flagged "
                      f"at score >= {p['threshold']:g}"), Note(NOTE_COUNTS, counts), info(reach), *notes]
        card = classifier.model_card(category)
        if card:
            notes.append(info(card))
        if errors:
            notes.append(info(f"{len(errors)} {self.modality} item(s) could not be scored and are not in "
                              "the rate (see errors); an integrity rule gates on them"))
        return Evaluation(self.name, dict(p), metrics, results, errors=dict(errors),
                          n_items=len(items), notes=notes, seconds=time.perf_counter() - started)


def score_with_fallback(classifier: HarmClassifier, ids: Sequence[str], inputs: Sequence[Any],
                        errors: dict[str, str], what: str) -> dict[str, CategoryScores]:
    """Score a batch; if the batch fails, score its inputs one by one so that one bad input
    becomes that item's error instead of failing the run."""
    try:
        return dict(zip(ids, classifier.predict(inputs), strict=True))
    except AuditError:
        raise
    except Exception as error:  # noqa: BLE001 - one input's failure is that item's error
        if len(inputs) > 1:
            out: dict[str, CategoryScores] = {}
            for item_id, value in zip(ids, inputs):
                out.update(score_with_fallback(classifier, [item_id], [value], errors, what))
            return out
        message = str(error).splitlines()[0] if str(error) else ""
        errors[ids[0]] = f"{classifier.name} could not score this {what}: {type(error).__name__}: {message}"
        return {}
