"""Word tokens: lower-cased words, apostrophes kept inside words (``don't`` is one token).

The one tokenizer of the package, so that every metric counts the same units: distinct-n,
self-BLEU and the n-gram language model (quality), word shingles and shared passages (copying),
and the TF-IDF features of the trainable harm classifier.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+(?:'\w+)*")


def tokenize(text: str) -> list[str]:
    return [m.group().lower() for m in _WORD.finditer(text)]


def tokenize_with_spans(text: str) -> list[tuple[str, tuple[int, int]]]:
    """The tokens of :func:`tokenize`, each with its ``(start, end)`` character offsets in
    ``text``, so that a passage found in the tokens can be cut out of the original text."""
    return [(m.group().lower(), m.span()) for m in _WORD.finditer(text)]
