"""Word tokens for the text quality metrics: lower-cased words, apostrophes kept inside words.

One tokenizer for diversity and fluency, so that distinct-n, self-BLEU and the n-gram language
model count the same units.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+(?:'\w+)*")


def tokenize(text: str) -> list[str]:
    return [m.group().lower() for m in _WORD.finditer(text)]
