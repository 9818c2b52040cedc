"""The harm categories policies name, and the one checked place where a classifier's labels map
onto them.

Hazard categories are the MLCommons hazard taxonomy as current safety classifiers use it (Llama
Guard 3: the 13 MLCommons hazards plus S14 code interpreter abuse). ``profanity`` and ``insult``
are style categories: not hazards, but things a release may still want to keep out.

A classifier never reports its own labels to a policy. It declares a label map, every label it
can emit mapped to a tuple of categories (an empty tuple: the label is not a harm, for instance a
detector's "face"), and :func:`check_label_map` refuses a map that names an unknown category or
misses one of the classifier's labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HAZARD = "hazard"
STYLE = "style"
# The category of a labelled text that is none of the harms (a benign text).
NONE = "none"


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    kind: str
    doc: str


_CATEGORIES = (
    Category("S1", "violent crimes", HAZARD, "enables, encourages or endorses violent crimes"),
    Category("S2", "non-violent crimes", HAZARD, "fraud, theft, hacking, drugs and other non-violent crimes"),
    Category("S3", "sex-related crimes", HAZARD, "sex trafficking, sexual assault, harassment"),
    Category("S4", "child sexual exploitation", HAZARD, "any sexual content involving minors"),
    Category("S5", "defamation", HAZARD, "verifiably false statements that injure a living person"),
    Category("S6", "specialized advice", HAZARD, "unqualified financial, medical or legal advice"),
    Category("S7", "privacy", HAZARD, "sensitive personal information about private individuals"),
    Category("S8", "intellectual property", HAZARD, "content that violates a third party's IP rights"),
    Category("S9", "indiscriminate weapons", HAZARD,
             "chemical, biological, radiological, nuclear, explosives"),
    Category("S10", "hate", HAZARD, "demeans people for protected characteristics"),
    Category("S11", "suicide & self-harm", HAZARD, "enables or encourages self-harm or suicide"),
    Category("S12", "sexual content", HAZARD, "sexually explicit text or imagery"),
    Category("S13", "elections", HAZARD, "factually wrong information about electoral processes"),
    Category("S14", "code interpreter abuse", HAZARD,
             "abuses a code interpreter (escapes, denial of service)"),
    Category("profanity", "profanity", STYLE, "swearing and obscene or offensive words"),
    Category("insult", "insult", STYLE, "insulting or demeaning a person addressed or described"),
)

CATEGORIES: dict[str, Category] = {c.code: c for c in _CATEGORIES}
CATEGORY_CODES: tuple[str, ...] = tuple(CATEGORIES)
HAZARD_CODES: tuple[str, ...] = tuple(c.code for c in _CATEGORIES if c.kind == HAZARD)
# Case-insensitive spellings a labelled file or label map may use: codes and names.
_ALIASES = {**{c.code.lower(): c.code for c in _CATEGORIES},
            **{c.name.lower(): c.code for c in _CATEGORIES}}

LabelMap = Mapping[str, tuple[str, ...]]


def category(value: str) -> str:
    """The category code for ``value`` (a code or a name, any case); ValueError when unknown."""
    code = _ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if code is None:
        raise ValueError(f"unknown harm category {value!r}; valid categories are "
                         f"{list(CATEGORY_CODES)} (or their names, e.g. 'hate' for S10)")
    return code


def check_label_map(label_map: Mapping[str, str | Iterable[str] | None], *, classifier: str,
                    labels: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Validate ``label_map`` and return it normalised: every value a tuple of category codes.

    A value may be one category, a list of them, or ``None``/``"none"``/``[]`` for a label that
    is not a harm. When ``labels`` (everything the classifier can emit) is given, the map must
    cover exactly those labels, so a model with an unmapped label cannot slip through.
    """
    normalised: dict[str, tuple[str, ...]] = {}
    for label, value in label_map.items():
        if not isinstance(label, str) or not label:
            raise ValueError(f"label map of {classifier}: labels must be non-empty strings; got {label!r}")
        targets = [] if value is None else [value] if isinstance(value, str) else list(value)
        codes = []
        for target in targets:
            if isinstance(target, str) and target.strip().lower() == NONE:
                continue
            try:
                codes.append(category(target))
            except ValueError as error:
                raise ValueError(f"label map of {classifier}: label {label!r}: {error}") from None
        normalised[label] = tuple(dict.fromkeys(codes))
    if labels is not None:
        labels = list(labels)
        missing = [label for label in labels if label not in normalised]
        extra = sorted(set(normalised) - set(labels))
        if missing:
            raise ValueError(f"label map of {classifier} does not map label(s) {missing}; map each "
                             f"to a category of {list(CATEGORY_CODES)} or to 'none'")
        if extra:
            raise ValueError(f"label map of {classifier} names label(s) {extra} the classifier does "
                             f"not emit; its labels are {labels}")
    return normalised


def categories_of(label_map: LabelMap) -> tuple[str, ...]:
    """The categories a (checked) label map can score, in taxonomy order."""
    reached = {code for codes in label_map.values() for code in codes}
    return tuple(code for code in CATEGORY_CODES if code in reached)


def map_label_scores(label_scores: Mapping[str, float],
                     label_map: LabelMap) -> tuple[dict[str, float], dict[str, str]]:
    """Category scores from label scores: each category takes the highest score of the labels
    mapped to it, and remembers which label that was (the label that fired)."""
    scores: dict[str, float] = {code: 0.0 for code in categories_of(label_map)}
    fired: dict[str, str] = {}
    for label, score in label_scores.items():
        for code in label_map[label]:
            if code not in fired or score > scores[code]:
                scores[code], fired[code] = float(score), label
    return scores, fired
