"""The contract every harm classifier meets, so that evaluators and calibration treat them alike.

A classifier turns a batch of inputs (texts, or RGB images as ``(H, W, 3)`` uint8 arrays) into
scores per *label* of its own; its checked label map (``evaluators.harm.taxonomy``) turns those
into scores per *category*. It also says which version of itself produced them, so a finding
can name it.

Heavy libraries are imported by each classifier when it first scores something, never when its
module is imported: the evaluator registry is built on every CLI call.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, ClassVar

from aigc_audit import __version__
from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm.taxonomy import LabelMap, categories_of, map_label_scores


@functools.cache
def installed_version(package: str) -> str | None:
    """``package``'s installed version, or None; read once per process, since it parses the
    package's metadata (0.3 ms) and a classifier's ``version`` is asked on every evaluation (a
    process keeps the code it imported, whatever is installed later)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


class MissingExtraError(AuditError):
    """A policy asks for a classifier whose optional dependency is not installed."""

    def __init__(self, classifier: str, extra: str, package: str, why: str = ""):
        # aigc-audit is not on a package index: the extra is installed from a checkout or a wheel.
        super().__init__(f"the policy asks for the {classifier!r} classifier, which needs the optional "
                         f"package {package!r}; install it with: pip install -e '.[{extra}]' in a "
                         f"checkout of aigc-audit, or pip install "
                         f"'dist/aigc_audit-{__version__}-py3-none-any.whl[{extra}]' from a built wheel"
                         f"{f' ({why})' if why else ''}, or remove the rule")


@dataclass(frozen=True)
class CategoryScores:
    """One input's scores per category, the label behind each, and classifier-specific detail."""

    scores: dict[str, float]
    labels: dict[str, str] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


class HarmClassifier(ABC):
    """Subclasses set ``name`` and ``modality`` and a checked ``label_map`` in ``__init__``."""

    name: ClassVar[str]
    modality: ClassVar[str]
    label_map: LabelMap

    @property
    @abstractmethod
    def version(self) -> str:
        """What produced the scores: package version, or model file hash."""

    @abstractmethod
    def label_scores(self, batch: Sequence[Any]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        """For each input, its score per label (every score in [0, 1]) and any detail to keep."""

    def categories(self) -> tuple[str, ...]:
        return categories_of(self.label_map)

    def model_card(self, category: str) -> str | None:
        """One line on how well this classifier scores ``category`` (held-out figures), for the
        report's notes; None when it has no such figures."""
        return None

    def predict(self, batch: Sequence[Any]) -> list[CategoryScores]:
        """Category scores for each input of ``batch``, through the label map."""
        if not batch:
            return []
        out = []
        for label_scores, detail in self.label_scores(batch):
            scores, fired = map_label_scores(label_scores, self.label_map)
            out.append(CategoryScores(scores, fired, detail))
        return out


class LRUCache:
    """A small bounded cache: loaded models and score tables are reused across the rules of one
    run (each category is its own evaluation) without growing without bound. Always held by an
    object its caller owns (a :class:`HarmCache`), never at module level."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = build()
        self._data[key] = value
        while len(self._data) > self.size:
            self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


class HarmCache:
    """Loaded harm classifiers and their score tables, owned by whoever builds the evaluators.

    An audit run that gives one cache to every harm evaluator it builds loads each classifier, and
    scores the sample set with it, once however many category rules read it; the next run makes a
    new cache, so two runs share nothing. An evaluator given no cache keeps one of its own.
    """

    def __init__(self, *, classifiers: int = 4, scores: int = 8):
        self.classifiers = LRUCache(classifiers)
        self.scores = LRUCache(scores)

    def clear(self) -> None:
        self.classifiers.clear()
        self.scores.clear()
