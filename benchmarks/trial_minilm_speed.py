"""Trial: ways to make MiniLM's forward pass (under the built-in harm heads) faster, and what each
does to the heads' decisions.

For each variant of the packaged all-MiniLM-L6-v2 (as the heads use it: fp32, SDPA attention,
``torch.inference_mode``, cut at 256 pieces) it prints the time of one 100-word text (made-up
words: about 360 pieces, cut at 256; English words: about 125 pieces) with 1 and 2 torch
threads, the variants interleaved text by text so that they see the same machine state; the
largest deviation of its embeddings from the shipped model's on the held-out sets of
``benchmarks/eval_harm_builtin.py`` and on the heads' own training sentences; and every head
decision (score >= 0.5) that changes on those sets. A variant that changes one decision, or the
embeddings by more than float rounding, would change findings and is not for the shipped path.

Variants: ``int8`` (``torch.ao.quantization.quantize_dynamic`` of every ``nn.Linear`` to qint8,
weights quantised once, activations per call), ``eager`` (the attention written out instead of
SDPA), ``cut128`` (a cut at 128 pieces: the heads' training sentences are all shorter than that).

    .venv/bin/python benchmarks/trial_minilm_speed.py [--texts 40]
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import bench_service  # noqa: E402
import eval_harm_builtin  # noqa: E402

from aigc_audit.evaluators.harm._features import MiniLMFeatures, shared_minilm  # noqa: E402
from aigc_audit.evaluators.harm.builtin_heads import (  # noqa: E402
    EXTRA_FILE,
    HEAD_CATEGORIES,
    BuiltinClassifier,
    Features,
    builtin_file,
)


def variant(name: str, base: MiniLMFeatures) -> MiniLMFeatures:
    """A copy of the fitted featuriser ``base`` with one change."""
    import torch

    out = copy.copy(base)
    if name == "int8":
        out.model_ = torch.ao.quantization.quantize_dynamic(copy.deepcopy(base.model_), {torch.nn.Linear},
                                                            dtype=torch.qint8)
    elif name == "eager":
        model = copy.deepcopy(base.model_)
        model.set_attn_implementation("eager")
        out.model_ = model
    elif name == "cut128":
        out.max_length = 128
    elif name != "shipped":
        raise ValueError(f"unknown variant {name!r}")
    return out


class _Fixed(Features):
    """The heads' features with a given MiniLM featuriser."""

    def __init__(self, minilm: MiniLMFeatures) -> None:
        super().__init__()
        self._minilm = minilm


def _training_texts() -> list[str]:
    with builtin_file(EXTRA_FILE).open("r", encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def decisions(features: MiniLMFeatures, texts: list[str]) -> np.ndarray:
    scores = BuiltinClassifier(features=_Fixed(features)).predict(texts)
    return np.array([[s.scores[c] >= 0.5 for c in HEAD_CATEGORIES] for s in scores])   # (N, K)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=40, help="timed texts per kind of words")
    parser.add_argument("--variants", default="shipped,int8,eager,cut128")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; torch {torch.__version__}")
    base = shared_minilm()
    names = args.variants.split(",")
    models = {name: variant(name, base) for name in names}
    held_out = [r["text"] for name in eval_harm_builtin.SETS for r in eval_harm_builtin.read_rows(name)]
    sets = {"held-out sets": held_out, "training sentences": _training_texts()}
    reference = {what: (base.transform(texts), decisions(base, texts)) for what, texts in sets.items()}
    for name in names[1:]:
        for what, texts in sets.items():
            embedded, decided = models[name].transform(texts), decisions(models[name], texts)
            changed = np.argwhere(decided != reference[what][1])
            cosine = (embedded * reference[what][0]).sum(1)
            print(f"{name:8} on {len(texts)} {what}: largest embedding deviation "
                  f"{np.abs(embedded - reference[what][0]).max():.2e}, lowest cosine {cosine.min():.6f}; "
                  f"{len(changed)} head decisions changed")
            for row, head in changed[:10]:
                now = "on" if decided[row, head] else "off"
                print(f"    {HEAD_CATEGORIES[head]} {now}: {texts[row][:90]}")
    rng = random.Random(0)
    english = bench_service._english_words()
    for words, vocabulary in (("made-up", bench_service.WORDS), ("English", english)):
        texts = [bench_service._text(rng, words=vocabulary) for _ in range(args.texts)]
        pieces = np.median([len(base.tokenizer_(t)["input_ids"]) for t in texts])
        for threads in (1, 2):
            torch.set_num_threads(threads)
            times: dict[str, list[float]] = {name: [] for name in names}
            for text in texts[:3]:
                for name in names:
                    models[name].transform([text])
            for n, text in enumerate(texts):
                order = names if n % 2 else names[::-1]
                for name in order:
                    started = time.perf_counter()
                    models[name].transform([text])
                    times[name].append(time.perf_counter() - started)
            shipped = np.median(times[names[0]])
            print(f"{words} words ({pieces:.0f} pieces at the median), {threads} thread(s), "
                  f"load {os.getloadavg()[0]:.1f}: " + ", ".join(
                      f"{name} {np.median(t) * 1000:.1f} ms (x{shipped / np.median(t):.2f})"
                      for name, t in times.items()))


if __name__ == "__main__":
    main()
