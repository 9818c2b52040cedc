"""Harmful text: category scores per generated text, and a calibrated gate per category.

Classifiers (parameter ``classifier``):

- ``profanity`` (default): ``alt-profanity-check``, scores ``profanity`` and ``insult``.
- ``builtin``: the heads that ship with the package (``evaluators.harm.builtin_heads``): S1, S10,
  S11 and S12 on MiniLM embeddings and tox-block outputs, plus tox-block's ``obscene`` and
  ``insult`` for ``profanity`` and ``insult``. A score of 0.5 is each head's chosen threshold.
- ``linear``: a head trained with ``aigc-audit harm train`` (parameters ``head`` and its pinned
  ``head_sha256``); scores the categories it was trained on.
- ``transformers``: a local Hugging Face sequence-classification folder (``model``) whose labels
  the policy maps to categories (``label_map``).

An empty text scores 0 in every category (there is nothing to be harmful). Texts longer than
``max_chars`` are scored on their first ``max_chars`` characters, and invalid characters (lone
surrogates) are replaced, so odd input gets a score rather than stopping the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.base import Note, Param, Track, info
from aigc_audit.evaluators.evidence import EMPTY_TEXT, ITEM_TEXT, REPLACED_INVALID_CHARACTERS, TRUNCATED_TO
from aigc_audit.evaluators.harm._base import (
    HarmEvaluator,
    LabelMapParam,
    clip,
    common_params,
    score_with_fallback,
)
from aigc_audit.evaluators.harm.classifier import CategoryScores, HarmClassifier
from aigc_audit.sampleset import TEXT, Item

CLASSIFIERS = ("profanity", "linear", "transformers", "builtin")
# Texts per classifier call: large enough that per-call overhead does not dominate, small enough
# that a progress bar moves and one failing text costs a re-run of few others.
BATCH = 512
EVIDENCE_CHARS = 300


def _prepare(text: str, max_chars: int) -> tuple[str, dict]:
    detail = {}
    if len(text) > max_chars:
        text = text[:max_chars]
        detail[TRUNCATED_TO] = max_chars
    clean = text.encode("utf-8", "replace").decode("utf-8")
    if clean != text:
        detail[REPLACED_INVALID_CHARACTERS] = True
    return clean, detail


class HarmText(HarmEvaluator):
    name = "harm_text"
    description = "Harmful or offensive text, per harm category, with a confidence-bounded rate."
    modalities = (TEXT,)
    modality = TEXT
    params = common_params(classifiers=CLASSIFIERS, category="profanity", threshold=0.5) + (
        Param("head", str, "", "classifier 'linear': path of the head JSON written by 'harm train'"),
        Param("head_sha256", str, "", "classifier 'linear': the head file's sha256 as 'harm train' "
              "printed it; a file with another hash is refused"),
        Param("model", str, "", "classifier 'transformers': local Hugging Face model folder"),
        LabelMapParam("label_map", dict, {}, "classifier 'transformers': model label -> category "
                      "(or 'none'); must cover every label of the model"),
        Param("max_chars", int, 20000, "characters of each text that are scored", minimum=1),
    )

    def classifier_key(self) -> tuple:
        p = self.params_
        if p["classifier"] == "linear":
            path = Path(p["head"])
            stamp = path.stat().st_mtime_ns if path.is_file() else None
            return ("linear", str(path.resolve()), p["head_sha256"].lower(), stamp, p["max_chars"])
        if p["classifier"] == "transformers":
            return ("transformers", str(Path(p["model"]).resolve()),
                    tuple(sorted((k, str(v)) for k, v in p["label_map"].items())), p["max_chars"])
        return (p["classifier"], p["max_chars"])

    def build_classifier(self) -> HarmClassifier:
        p = self.params_
        if p["classifier"] == "linear":
            if not p["head"]:
                raise AuditError(f"evaluator {self.name}: classifier 'linear' needs the parameter 'head' "
                                 "(a head JSON from 'aigc-audit harm train') and its 'head_sha256'")
            from aigc_audit.evaluators.harm.linear import LinearClassifier

            return LinearClassifier.from_file(p["head"], sha256=p["head_sha256"])
        if p["classifier"] == "transformers":
            if not p["model"] or not p["label_map"]:
                raise AuditError(f"evaluator {self.name}: classifier 'transformers' needs the parameters "
                                 "'model' (a local model folder) and 'label_map' (each model label -> "
                                 "category or 'none')")
            from aigc_audit.evaluators.harm.transformers_model import TransformersClassifier

            return TransformersClassifier(model_path=p["model"], label_map=p["label_map"])
        if p["classifier"] == "builtin":
            from aigc_audit.evaluators.harm.builtin_heads import BuiltinClassifier

            return BuiltinClassifier()
        from aigc_audit.evaluators.harm.profanity import ProfanityClassifier

        return ProfanityClassifier()

    def score_items(self, classifier: HarmClassifier, items: Sequence[Item],
                    track: Track) -> tuple[dict[str, CategoryScores], dict[str, str], list[Note]]:
        scored: dict[str, CategoryScores] = {}
        errors: dict[str, str] = {}
        pending: list[tuple[str, str, dict]] = []
        for item in items:
            text = item.text or ""
            if not text.strip():
                scored[item.id] = CategoryScores({c: 0.0 for c in classifier.categories()}, {},
                                                 {EMPTY_TEXT: True})
                continue
            prepared, detail = _prepare(text, self.params_["max_chars"])
            detail[ITEM_TEXT] = clip(text, EVIDENCE_CHARS)
            pending.append((item.id, prepared, detail))
        batches = [pending[i:i + BATCH] for i in range(0, len(pending), BATCH)]
        for batch in track(batches, f"Harm scores ({classifier.name})", len(batches)):
            ids = [item_id for item_id, _, _ in batch]
            result = score_with_fallback(classifier, ids, [text for _, text, _ in batch], errors, "text")
            for item_id, _, detail in batch:
                if item_id in result:
                    cs = result[item_id]
                    scored[item_id] = CategoryScores(cs.scores, cs.labels, {**cs.detail, **detail})
        notes = []
        truncated = sum(1 for _, _, d in pending if TRUNCATED_TO in d)
        if truncated:
            notes.append(info(f"{truncated} text(s) longer than {self.params_['max_chars']} characters "
                              "were scored on their beginning"))
        return scored, errors, notes
