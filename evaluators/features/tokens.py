"""Word tokens: lower-cased words, apostrophes kept inside words (``don't`` is one token).

The one tokenizer of the package, so that every metric counts the same units: distinct-n,
self-BLEU and the n-gram language model (quality), word shingles and shared passages (copying),
and the TF-IDF features of the trainable harm classifier.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+(?:'\w+)*")


def tokenize(text: str) -> list[str]:
    return [m.group().lower() for m in _WORD.finditer(text)]


def tokenize_with_spans(text: str) -> list[tuple[str, tuple[int, int]]]:
    """The tokens of :func:`tokenize`, each with its ``(start, end)`` character offsets in
    ``text``, so that a passage found in the tokens can be cut out of the original text."""
    return [(m.group().lower(), m.span()) for m in _WORD.finditer(text)]


# ---- tokens for copy detection, by script ---------------------------------------------------------

# Scripts written without spaces between words: every character is a token there (Chinese,
# Japanese kana, Thai, Lao, Khmer, Myanmar), so that one changed character changes one token,
# not a whole run between punctuation marks.
_UNSPACED = ("\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
             "\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f")
# A word character outside those scripts, or a combining accent (a decomposed "é" stays one word).
_LETTER = rf"(?:(?![{_UNSPACED}])[\w\u0300-\u036f])"
# Apostrophes inside a word in any of their usual forms ('’ʼ‘) keep the word whole.
_SCRIPT_TOKEN = re.compile(rf"[{_UNSPACED}]|{_LETTER}+(?:['\u2019\u02bc\u2018]{_LETTER}+)*")
# The same tokens in ASCII text, where no character is of a script without spaces, no accent
# combines and the only apostrophe is "'": a simpler pattern, several times faster.
_ASCII_TOKEN = re.compile(r"\w+(?:'\w+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})
SCRIPT_TOKENIZATION = ("NFKC + case folding; words in space-separated scripts, one token per "
                       "character in scripts without spaces (Chinese, Japanese, Thai, ...)")


class ScriptTokenizer:
    """Tokens for copy detection: words where words are separated by spaces, single characters
    in scripts without spaces (mixed text too), each normalised by NFKC and case folding so that
    full-width forms, ligatures, compatibility characters, case and apostrophe variants do not
    hide a copy. Each token keeps its character span in the original text.

    One instance memoises the normalisation of every distinct raw token it has seen (a text's
    vocabulary repeats); make one per job, not one per process.
    """

    name = SCRIPT_TOKENIZATION

    def __init__(self) -> None:
        self._normal: dict[str, str] = {}

    def normalise(self, raw: str) -> str:
        normal = self._normal.get(raw)
        if normal is None:
            normal = unicodedata.normalize("NFKC", raw).casefold().translate(_APOSTROPHES)
            self._normal[raw] = normal
        return normal

    def tokens(self, text: str) -> list[str]:
        if text.isascii():
            # NFKC leaves ASCII as it is and case folding is lower(), which moves no boundary: the
            # whole text at once, in C, gives the same tokens as normalising each one.
            return _ASCII_TOKEN.findall(text.lower())
        return [self.normalise(m.group()) for m in _SCRIPT_TOKEN.finditer(text)]

    @staticmethod
    def spans(text: str) -> list[tuple[int, int]]:
        """The ``(start, end)`` character offsets in ``text`` of each of its :meth:`tokens`."""
        return [m.span() for m in _SCRIPT_TOKEN.finditer(text)]

    def tokens_with_spans(self, text: str) -> tuple[list[str], list[tuple[int, int]]]:
        return self.tokens(text), self.spans(text)
