"""The built-in harm heads on sentences they never saw, in four sets, none of them in the training
data:

- ``benchmarks/data/harm_heldout.csv``: 30 hand-written harmful sentences per category (S1, S10,
  S11, S12) and 60 benign ones, 30 plain and 30 hard (idioms, jargon, news, history, fiction,
  clinical and educational mentions, pointing to help). Its misses were read while the training
  sentences were being extended, so its figures can flatter the heads;
- ``benchmarks/data/harm_heldout_s1_fresh.csv``: 30 S1 sentences (threats and violent plans in
  styles the first set has few of), 20 plain and 20 hard benign ones, written after the heads were
  frozen and run once. Its misses, too, were read while the next round of training sentences was
  written, so it is no longer blind;
- ``benchmarks/data/harm_heldout_s1_blind.csv``: 32 S1 sentences, 12 plain and 24 hard benign ones,
  written before that round changed anything and scored once, at its end: the unbiased S1 figure
  of that round. It, too, was scored while the next round chose its settings;
- ``benchmarks/data/harm_heldout_blind2.csv``: 30 sentences per category (S1, S10, S11, S12), 30
  plain and 30 hard benign ones, written before the round that added everyday text and hard
  negatives to the training sentences and weighted them, and scored once, at its end.

Prints for each set, with exact 95% (Clopper-Pearson) intervals: per category the recall (its
harmful sentences flagged for that category) and its false-positive rate on plain and on hard
benign sentences; and any category flagging a benign sentence, i.e. the release-level
false-positive rate. Then latency per text (cold: first call including model load; warm: per text
of a second call) and per image for open_nsfw.

    .venv/bin/python benchmarks/eval_harm_builtin.py
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from aigc_audit.evaluators.harm.builtin_heads import HEAD_CATEGORIES, BuiltinClassifier, proportion
from aigc_audit.evaluators.harm.open_nsfw import OpenNsfwClassifier

DATA = Path(__file__).parent / "data"
SETS = ("harm_heldout.csv", "harm_heldout_s1_fresh.csv", "harm_heldout_s1_blind.csv",
        "harm_heldout_blind2.csv")


def read_rows(name: str = SETS[0]) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def report(name: str, rows: list[dict[str, str]], flagged: list[set[str]]) -> None:
    print(f"{name}: {len(rows)} held-out sentences; flagged at score >= 0.5 (each head's chosen threshold)")
    print(f"{'category':9} {'recall':>26} {'FPR plain benign':>26} {'FPR hard benign':>26}")
    plain = [i for i, r in enumerate(rows) if r["kind"] == "plain"]
    hard = [i for i, r in enumerate(rows) if r["kind"] == "hard"]
    codes = [c for c in HEAD_CATEGORIES if any(r["category"] == c for r in rows)]
    for code in codes:
        positives = [i for i, r in enumerate(rows) if r["category"] == code]
        cells = []
        for group in (positives, plain, hard):
            k = sum(code in flagged[i] for i in group)
            p = proportion(k, len(group))
            cells.append(f"{k:2}/{len(group)} {p.value:.2f} [{p.low:.2f}, {p.high:.2f}]")
        print(f"{code:9} {cells[0]:>26} {cells[1]:>26} {cells[2]:>26}")
    for kind, group in (("plain", plain), ("hard", hard)):
        k = sum(bool(flagged[i]) for i in group)
        p = proportion(k, len(group))
        print(f"any category on {kind} benign: {k}/{len(group)} {p.value:.2f} [{p.low:.2f}, {p.high:.2f}]")
        for i in group:
            if flagged[i]:
                print(f"    {sorted(flagged[i])}: {rows[i]['text']}")
    for code in codes:
        missed = [r["text"] for i, r in enumerate(rows) if r["category"] == code and code not in flagged[i]]
        for text in missed:
            print(f"    missed {code}: {text}")


def main() -> None:
    classifier = BuiltinClassifier()
    sets = {name: read_rows(name) for name in SETS}
    started = time.perf_counter()
    classifier.predict([sets[SETS[0]][0]["text"]])
    cold = time.perf_counter() - started
    warm = {}
    for name, rows in sets.items():
        texts = [r["text"] for r in rows]
        started = time.perf_counter()
        scores = classifier.predict(texts)
        warm[len(texts)] = (time.perf_counter() - started) / len(texts)
        report(name, rows, [{c for c in HEAD_CATEGORIES if s.scores[c] >= 0.5} for s in scores])
    print(f"latency per text: cold {cold:.2f} s (first text, loading MiniLM and tox-block), "
          + ", ".join(f"warm {t * 1000:.1f} ms (batch of {n})" for n, t in warm.items()))

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(8)]
    nsfw = OpenNsfwClassifier()
    started = time.perf_counter()
    nsfw.predict(images[:1])
    cold = time.perf_counter() - started
    started = time.perf_counter()
    result = nsfw.predict(images)
    warm = (time.perf_counter() - started) / len(images)
    top = max(r.scores["S12"] for r in result)
    print(f"latency per image (open_nsfw, 256x256 noise, max score {top:.3f}): "
          f"cold {cold:.2f} s, warm {warm * 1000:.1f} ms")


if __name__ == "__main__":
    main()
