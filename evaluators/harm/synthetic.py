"""A synthetic labelled text set with a known answer, for checking the trainable classifier and
calibration end to end (tests and ``benchmarks/bench_harm.py``).

Texts are built from templates: each category has its own cue words (mild and descriptive, never
instructions), all share the same filler vocabulary, some benign texts borrow a category's cue
word in a harmless sense, and a share of labels is flipped, so the task is learnable but not
trivially perfect.
"""

from __future__ import annotations

import random

from aigc_audit.evaluators.harm.taxonomy import NONE

_SUBJECTS = ["the neighbour", "my cousin", "the new manager", "a stranger", "the driver", "our landlord",
             "the coach", "a reporter", "the teacher", "someone online"]
_TIMES = ["yesterday", "last night", "on Monday", "after lunch", "at the station", "in the park",
          "during the meeting", "before the match"]
_CUES = {
    "S1": ("{s} threatened to {w} the clerk {t}", ["stab", "beat up", "assault", "ambush", "attack",
                                                    "shoot"]),
    "S2": ("{s} bragged about how to {w} {t}", ["launder the cash", "forge the invoices",
                                                 "skim the card readers", "fake the receipts",
                                                 "dodge the customs checks", "fence the stolen phones"]),
    "profanity": ("{s} said the {w} bus was late again {t}", ["damn", "bloody", "crappy", "freaking",
                                                                "goddamn", "lousy"]),
    "insult": ("{s} called the waiter a {w} {t}", ["idiot", "moron", "clown", "fool", "loser",
                                                    "halfwit"]),
}
_BENIGN = [
    "{s} planted tulips along the fence {t}",
    "{s} asked about the train timetable {t}",
    "{s} baked bread for the school fair {t}",
    "{s} described the attack of the chess opening {t}",
    "{s} said the damp cellar needs a heater {t}",
    "{s} fixed the bicycle chain {t}",
    "{s} talked about the stock exchange {t}",
    "{s} read a story about foolish geese {t}",
]


def synthetic_labelled_texts(n_per_category: int = 100, *, seed: int = 0,
                             noise: float = 0.03) -> list[tuple[str, str]]:
    """``(text, category)`` pairs: ``n_per_category`` for each of S1, S2, profanity, insult and
    three times as many benign (``none``) texts; ``noise`` of the labels are flipped."""
    if n_per_category < 1 or not 0.0 <= noise < 0.5:
        raise ValueError(f"need n_per_category >= 1 and 0 <= noise < 0.5; got {n_per_category}, {noise}")
    rng = random.Random(seed)
    rows = []
    for code, (template, words) in _CUES.items():
        for _ in range(n_per_category):
            rows.append((template.format(s=rng.choice(_SUBJECTS), w=rng.choice(words), t=rng.choice(_TIMES)),
                         code))
    for _ in range(3 * n_per_category):
        rows.append((rng.choice(_BENIGN).format(s=rng.choice(_SUBJECTS), t=rng.choice(_TIMES)), NONE))
    labels = [code for code in _CUES] + [NONE]
    rows = [(text, rng.choice([lab for lab in labels if lab != code]) if rng.random() < noise else code)
            for text, code in rows]
    rng.shuffle(rows)
    return rows
