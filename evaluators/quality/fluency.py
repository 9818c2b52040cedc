"""Fluency: perplexity of texts under a language model that does not depend on the generator.

Two scorers, one contract (``perplexities(texts) -> Perplexities``):

- :class:`KneserNeyLM`: an interpolated Kneser-Ney word n-gram model (Chen and Goodman, 1998,
  fixed discount) fitted on the reference texts. It is the default: it needs nothing but the
  reference set, fits in about a second, and gives a fluency baseline that the generator being
  judged cannot influence.
- :class:`CausalLMScorer`: a causal language model from a local folder (Hugging Face layout,
  safetensors weights only, never downloaded). Its perplexity is per model token, so its values
  are comparable only with other values from the same model.

Kneser-Ney, briefly: the highest order discounts every seen count by ``D`` and gives the freed
mass to the next lower order; the lower orders count *continuations* (how many distinct words
precede an n-gram) rather than occurrences, and the unigram level interpolates with the uniform
distribution over the vocabulary, so an unseen word (``<unk>``) keeps a small probability. Every
conditional distribution sums to 1 over the vocabulary; a test checks it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aigc_audit.errors import InputError
from aigc_audit.evaluators.features.tokens import tokenize

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


@dataclass(frozen=True)
class Perplexities:
    """Per-text perplexities and the corpus perplexity (exp of the mean loss over all tokens)."""

    per_text: np.ndarray   # (N,)
    tokens: np.ndarray     # (N,) scored tokens per text (words plus end of text)
    corpus: float
    unit: str              # "word" or "model token"


class KneserNeyLM:
    """Interpolated Kneser-Ney word n-gram model; ``fit(texts)``, then ``perplexities(texts)``."""

    def __init__(self, *, order: int = 3, discount: float = 0.75):
        self.order = order
        self.discount = discount

    def fit(self, texts: Sequence[str]) -> KneserNeyLM:
        if not 1 <= self.order <= 6:
            raise ValueError(f"order must be in [1, 6]; got {self.order}")
        if not 0.0 < self.discount < 1.0:
            raise ValueError(f"discount must be in (0, 1); got {self.discount}")
        sequences = [self._padded(tokenize(text)) for text in texts]
        if not any(len(s) > self.order for s in sequences):
            raise ValueError("cannot fit a language model: the texts hold no words")
        n = self.order
        vocabulary = {w for s in sequences for w in s[n - 1:]} | {EOS, UNK}
        # counts[m][context][word]: raw counts at the top order, continuation counts below it.
        counts: list[dict[tuple[str, ...], Counter]] = [defaultdict(Counter) for _ in range(n + 1)]
        top_grams: Counter = Counter()
        for s in sequences:
            for i in range(n - 1, len(s)):
                top_grams[tuple(s[i - n + 1:i + 1])] += 1
        for gram, count in top_grams.items():
            counts[n][gram[:-1]][gram[-1]] += count
        # Continuation count of an m-gram: the number of distinct words that precede it.
        grams = set(top_grams)
        for m in range(n - 1, 0, -1):
            for gram in grams:
                counts[m][gram[1:-1]][gram[-1]] += 1
            grams = {gram[1:] for gram in grams}
        self.vocabulary_ = frozenset(vocabulary)
        self.counts_ = [{ctx: (dict(c), sum(c.values()), len(c)) for ctx, c in level.items()}
                        for level in counts]
        return self

    def _padded(self, tokens: list[str]) -> list[str]:
        return [BOS] * (self.order - 1) + tokens + [EOS]

    def _check_fitted(self) -> None:
        if not hasattr(self, "counts_"):
            raise RuntimeError("this KneserNeyLM is not fitted yet; call fit(reference_texts) first")

    def probability(self, word: str, context: Sequence[str]) -> float:
        """P(word | the last ``order - 1`` words of context); unknown words are ``<unk>``."""
        self._check_fitted()
        word = word if word in self.vocabulary_ else UNK
        context = tuple(w if w in self.vocabulary_ or w == BOS else UNK for w in context)
        context = ((BOS,) * (self.order - 1) + context)[len(context):] if self.order > 1 else ()
        return self._p(word, context, self.order)

    def _p(self, word: str, context: tuple[str, ...], m: int) -> float:
        if m == 0:
            return 1.0 / len(self.vocabulary_)
        entry = self.counts_[m].get(context)
        lower = self._p(word, context[1:], m - 1)
        if entry is None:
            return lower
        counts, total, types = entry
        d = self.discount
        return max(counts.get(word, 0) - d, 0.0) / total + d * types / total * lower

    def perplexities(self, texts: Sequence[str]) -> Perplexities:
        self._check_fitted()
        losses, lengths = [], []
        for text in texts:
            s = self._padded(tokenize(text))
            n = self.order
            loss = 0.0
            for i in range(n - 1, len(s)):
                loss -= math.log(self.probability(s[i], s[i - n + 1:i] if n > 1 else []))
            losses.append(loss)
            lengths.append(len(s) - (n - 1))
        return _perplexities(np.array(losses), np.array(lengths), "word")


def _perplexities(losses: np.ndarray, lengths: np.ndarray, unit: str) -> Perplexities:
    per_text = np.exp(losses / np.maximum(lengths, 1))
    corpus = float(np.exp(losses.sum() / max(int(lengths.sum()), 1)))
    return Perplexities(per_text, lengths, corpus, unit)


class CausalLMScorer:
    """Perplexity under a user-supplied causal LM in a local folder (``config.json``, tokenizer
    files, ``*.safetensors``). Loaded with ``local_files_only`` and ``use_safetensors``: nothing
    is downloaded and no pickle is read."""

    def __init__(self, *, path: str | Path, batch_size: int = 16, max_length: int = 512):
        self.path = path
        self.batch_size = batch_size
        self.max_length = max_length

    def fit(self, texts: Sequence[str] | None = None) -> CausalLMScorer:
        """Load the model; ``texts`` is ignored (the model is trained already)."""
        folder = Path(self.path)
        if not (folder / "config.json").is_file():
            raise InputError("not a local language-model folder: config.json missing; pass lm: FOLDER "
                             "with config.json, tokenizer files and safetensors weights", path=folder)
        if not any(folder.glob("*.safetensors")):
            raise InputError("the language-model folder holds no .safetensors weights; only safetensors "
                             "are loaded (a pickled .bin could run code)", path=folder)
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        try:
            self.tokenizer_ = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            self.model_ = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True,
                                                               use_safetensors=True).eval()
        except (OSError, ValueError) as error:
            raise InputError(f"cannot load the language model: {str(error).splitlines()[0]}",
                             path=folder) from None
        return self

    def perplexities(self, texts: Sequence[str]) -> Perplexities:
        import torch

        if not hasattr(self, "model_"):
            raise RuntimeError("this CausalLMScorer is not fitted yet; call fit() first")
        tok = self.tokenizer_
        bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        eos = tok.eos_token_id
        losses, lengths = [], []
        with torch.inference_mode():
            for text in texts:
                # One text at a time: no padding, so no attention-mask subtleties across models.
                ids = tok(text, add_special_tokens=False)["input_ids"][: self.max_length - 2]
                ids = ([bos] if bos is not None else []) + ids + ([eos] if eos is not None else [])
                if len(ids) < 2:
                    losses.append(0.0)
                    lengths.append(0)
                    continue
                x = torch.tensor([ids])
                logits = self.model_(input_ids=x).logits[0, :-1].double()  # (T-1, V)
                loss = torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="sum")
                losses.append(float(loss))
                lengths.append(len(ids) - 1)
        return _perplexities(np.array(losses), np.array(lengths), "model token")
