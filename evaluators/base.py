"""The evaluator contract: declared parameters and metrics, and one result type.

An evaluator reads a sample set (and, when it needs one, the reference set) and returns an
:class:`Evaluation`: aggregate metrics under constant keys, a result per item, and the items it
could not read with their reasons. The policy engine reads nothing else, so a new evaluator needs
no change anywhere but its own module and one ``register`` call.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from aigc_audit.errors import ConfigError
from aigc_audit.sampleset import SampleSet

T = TypeVar("T")
PER_ITEM_COUNT = "count"
PER_ITEM_SHARE = "share"
# ``track(iterable, description, total)`` yields the iterable's items while showing progress.
Track = Callable[[Iterable[T], str, int | None], Iterable[T]]


def no_progress(iterable: Iterable[T], description: str, total: int | None = None) -> Iterable[T]:
    return iterable


@dataclass(frozen=True)
class Param:
    """A declared evaluator parameter; the policy validator checks values against it."""

    name: str
    kind: type
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None

    def check(self, value: Any) -> str | None:
        """Return a problem description, or None when ``value`` is valid."""
        expected = (int, float) if self.kind is float else self.kind
        if isinstance(value, bool) and self.kind is not bool or not isinstance(value, expected):
            return f"must be {self.kind.__name__}; got {value!r}"
        # NaN passes every comparison below, and infinity (or an int beyond a float's range) is
        # no setting at all: both would only fail later, inside the run or its report.
        if self.kind is float and not (abs(value) <= sys.float_info.max):
            return f"must be a finite number; got {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {list(self.choices)}; got {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"must be >= {self.minimum}; got {value!r}"
        if self.maximum is not None and value > self.maximum:
            return f"must be <= {self.maximum}; got {value!r}"
        return None


@dataclass(frozen=True)
class ParamProblem:
    """One bad parameter: its ``name``, what is wrong with it phrased to follow the name or a key
    path (``problem``: "must be <= 1.0; got 1.5"), and the same as a sentence of its own
    (``message``), which names the evaluator."""

    name: str
    problem: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Metric:
    """A declared aggregate metric. ``per_item`` is ``"count"`` or ``"share"`` for metrics that
    count flagged items: a rule on them reports each flagged item as a finding, and a reviewer's
    waiver takes the item out of the count."""

    name: str
    doc: str
    per_item: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.per_item not in (None, PER_ITEM_COUNT, PER_ITEM_SHARE):
            raise ValueError(f"per_item of metric {self.name!r} must be None, 'count' or 'share'; "
                             f"got {self.per_item!r}")


# Kinds of note an evaluation carries: a plain remark, the sample counts a metric rests on, a
# warning that a metric was computed on too few samples to mean much, and a metric's value told in
# one sentence a reviewer understands (the reports list these under "What the numbers mean").
NOTE_INFO, NOTE_COUNTS, NOTE_TOO_FEW, NOTE_EXPLAINS = "info", "counts", "too_few", "explains"
NOTE_KINDS = (NOTE_INFO, NOTE_COUNTS, NOTE_TOO_FEW, NOTE_EXPLAINS)


@dataclass(frozen=True)
class Note:
    """A remark on an evaluation, typed so that readers select by ``kind``, never by wording."""

    kind: str
    text: str

    def __post_init__(self) -> None:
        if self.kind not in NOTE_KINDS:
            raise ValueError(f"note kind must be one of {list(NOTE_KINDS)}; got {self.kind!r}")

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Note:
        return cls(data["kind"], data["text"])


def info(text: str) -> Note:
    return Note(NOTE_INFO, text)


def explains(text: str) -> Note:
    return Note(NOTE_EXPLAINS, text)


@dataclass
class ItemResult:
    """What an evaluator found for one item. ``score`` orders items from harmless to worst."""

    item_id: str
    score: float
    flagged: bool
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Evaluation:
    """Everything an evaluator produced in one run; JSON-serialisable through ``to_dict``."""

    evaluator: str
    params: dict[str, Any]
    metrics: dict[str, float]
    items: list[ItemResult]
    errors: dict[str, str] = field(default_factory=dict)
    n_items: int = 0
    notes: list[Note] = field(default_factory=list)
    seconds: float = 0.0
    # Why the evaluator computed nothing although the set holds items of its modality (too few of
    # them to mean anything, say); its rules are then skipped with this reason.
    skip_reason: str = ""

    def flagged(self) -> list[ItemResult]:
        return sorted((r for r in self.items if r.flagged), key=lambda r: (-r.score, r.item_id))

    def worst(self, n: int) -> list[ItemResult]:
        return sorted(self.items, key=lambda r: (-r.score, r.item_id))[:n]


class Evaluator(ABC):
    """Base class. Subclasses declare ``name``, ``modalities``, ``params`` and ``metrics``."""

    name: ClassVar[str]
    description: ClassVar[str]
    modalities: ClassVar[tuple[str, ...]]
    needs_reference: ClassVar[bool] = False
    params: ClassVar[tuple[Param, ...]] = ()
    metrics: ClassVar[tuple[Metric, ...]] = ()

    def __init__(self, **params: Any):
        self.params_ = self.resolve_params(params)

    @classmethod
    def param_problems(cls, given: Mapping[str, Any]) -> list[ParamProblem]:
        """Every problem with the parameters ``given``, in their order; empty when all are valid.
        The one check behind both :meth:`resolve_params` and the policy validator."""
        known = {p.name: p for p in cls.params}
        problems = []
        for name, value in given.items():
            if name not in known:
                valid = f"valid parameters are {sorted(known)}"
                problems.append(ParamProblem(
                    name, f"unknown parameter for evaluator {cls.name!r}; {valid}",
                    f"unknown parameter {name!r} for evaluator {cls.name!r}; {valid}"))
            elif (problem := known[name].check(value)) is not None:
                problems.append(ParamProblem(name, problem,
                                             f"parameter {name!r} of evaluator {cls.name!r} {problem}"))
        return problems

    @classmethod
    def resolve_params(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``given``; raises ``ConfigError`` naming every bad parameter."""
        problems = cls.param_problems(given)
        if len(problems) == 1:
            raise ConfigError(problems[0].message)
        if problems:
            listed = " ".join(f"({i}) {p.message}." for i, p in enumerate(problems, 1))
            raise ConfigError(f"{len(problems)} bad parameters for evaluator {cls.name!r}: {listed}")
        return {**{p.name: p.default for p in cls.params}, **given}

    @classmethod
    def metric(cls, name: str) -> Metric | None:
        return next((m for m in cls.metrics if m.name == name), None)

    @classmethod
    def describe(cls, result: ItemResult) -> str:
        """A one-line message for a flagged item; evaluators override it to name their evidence."""
        return f"score {result.score:.3f}"

    @abstractmethod
    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        """Evaluate ``samples``; items of other modalities are left alone."""
