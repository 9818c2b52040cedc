"""The extraction evaluator: the k-extractable rate of a causal LM on its own training documents.

Unlike the other evaluators it reads a model, not the samples: the rule's ``model`` parameter
names a local model folder, or ``aigc-audit probe extraction`` runs the probe once and its result
file is attached to audits with ``--probe`` (see ``governance.probe``). Without either, its rules
are skipped with the reason. Documents are drawn, seeded, from the reference set's training items
(``"split": "train"``, the default).
"""

from __future__ import annotations

import random
import time
from typing import Any

from aigc_audit.evaluators.base import (
    Evaluation,
    Evaluator,
    Metric,
    Note,
    Param,
    Track,
    explains,
    info,
    no_progress,
)
from aigc_audit.sampleset import TEXT, TRAIN_SPLIT, Item, SampleSet

KEY_RATE = "extractable_rate"
KEY_RATE_LOWER = "extractable_rate_lower"
KEY_RATE_UPPER = "extractable_rate_upper"
KEY_SAMPLED_RATE = "sampled_extractable_rate"
KEY_SAMPLED_RATE_UPPER = "sampled_extractable_rate_upper"
KEY_N_PROBED = "n_probed"
# Recorded with the evaluation's parameters: which weights were probed, so that a result attached
# to an audit can be checked against the samples' provenance.
KEY_MODEL_SHA256 = "model_sha256"
_SHOWN = 5


class Extraction(Evaluator):
    name = "extraction"
    description = ("Share of training documents a causal language model completes verbatim from their "
                   "first tokens (k-extractable, Carlini et al. 2022), greedily and under the release's "
                   "sampling settings.")
    modalities = (TEXT,)
    needs_reference = True
    params = (
        Param("model", str, "", "local causal-LM folder to probe; empty: only a result attached with "
              "'aigc-audit audit --probe'"),
        Param("n", int, 500, "training documents to probe (a seeded random subset when there are more)",
              minimum=1),
        # 16 + 16 tokens: the built-in corpus's passages (25+ words) are 30-154 tokens long, median 72
        # (the demo's tokenizer), so Carlini et al.'s 50 + 50 would leave most documents unprobed.
        Param("prefix_tokens", int, 16, "tokens of each document given as the prompt", minimum=1),
        Param("suffix_tokens", int, 16, "tokens that must follow exactly for the document to count as "
              "extractable", minimum=1),
        Param("temperature", float, 0.0, "temperature of the sampled probe; 0: the samples' recorded "
              "temperature (their provenance), or no sampled probe when they record none", minimum=0.0),
        Param("top_k", int, 0, "top-k of the sampled probe (0: off, or the samples' recorded value)",
              minimum=0),
        Param("top_p", float, 1.0, "top-p of the sampled probe (1: off, or the samples' recorded value)",
              minimum=0.0, maximum=1.0),
        Param("confidence", float, 0.95, "confidence of the Clopper-Pearson interval", minimum=0.5,
              maximum=0.999),
        Param("seed", int, 0, "seed of the document subset and of the sampled probe", minimum=0),
    )
    metrics = (
        Metric(KEY_RATE, "share of probed training documents whose next suffix_tokens tokens the model "
               "reproduces exactly under greedy decoding from their first prefix_tokens", minimum=0.0,
               maximum=1.0),
        Metric(KEY_RATE_LOWER, "lower bound of the two-sided Clopper-Pearson interval on extractable_rate",
               minimum=0.0, maximum=1.0),
        Metric(KEY_RATE_UPPER, "upper bound of that interval: gate on it so that a small probe cannot "
               "pass by luck", minimum=0.0, maximum=1.0),
        Metric(KEY_SAMPLED_RATE, "the same share under the release's sampling settings", minimum=0.0,
               maximum=1.0),
        Metric(KEY_SAMPLED_RATE_UPPER, "upper bound of the interval on sampled_extractable_rate",
               minimum=0.0, maximum=1.0),
        Metric(KEY_N_PROBED, "training documents probed (long enough for prefix and suffix)", minimum=0.0),
    )

    def evaluate(self, samples: SampleSet | None, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        p = self.params_
        if not p["model"]:
            reason = ("no model to probe: run 'aigc-audit probe extraction --model M --reference R --out "
                      "probe.json' and attach it with 'aigc-audit audit --probe probe.json', or set this "
                      "rule's parameter model")
            return Evaluation(self.name, dict(p), {}, [], n_items=0, notes=[info(reason)],
                              skip_reason=reason)
        from aigc_audit.generators.gpt.sample import load_model

        loaded = load_model(p["model"])
        sampling = self.sampling(samples)
        documents = training_documents(reference, p["n"], p["seed"])
        evaluation = probe(loaded.model, loaded.tokenizer, documents,
                           params={**p, **sampling, KEY_MODEL_SHA256: loaded.sha256},
                           model_note=f"model {p['model']} (weights sha256 {loaded.sha256[:12]})")
        evaluation.seconds = time.perf_counter() - started
        return evaluation

    def sampling(self, samples: SampleSet | None) -> dict[str, Any]:
        """The sampled probe's settings: the parameters, else what the samples' provenance records."""
        p = self.params_
        if p["temperature"] > 0 or samples is None:
            return {k: p[k] for k in ("temperature", "top_k", "top_p")}
        recorded = next((i.provenance["params"] for i in samples.of_modality(TEXT)
                         if i.provenance and isinstance(i.provenance.get("params"), dict)
                         and isinstance(i.provenance["params"].get("temperature"), (int, float))), None)
        if recorded is None:
            return {"temperature": 0.0, "top_k": p["top_k"], "top_p": p["top_p"]}
        return {"temperature": float(recorded["temperature"]), "top_k": int(recorded.get("top_k") or 0),
                "top_p": float(recorded.get("top_p") or 1.0)}


def training_documents(reference: SampleSet | None, n: int, seed: int) -> list[Item]:
    """Up to ``n`` training text items, a seeded random subset in reference order."""
    items = [i for i in (reference.of_modality(TEXT, TRAIN_SPLIT) if reference else []) if i.text is not None]
    if len(items) <= n:
        return items
    keep = set(random.Random(seed).sample(range(len(items)), n))
    return [item for index, item in enumerate(items) if index in keep]


def probe(model: Any, tokenizer: Any, documents: list[Item], *, params: dict[str, Any],
          model_note: str = "") -> Evaluation:
    """Run the probe on ``documents`` and describe it as an :class:`Evaluation`."""
    from aigc_audit.evaluators.memorization.k_extractable import clopper_pearson, extraction_probe
    from aigc_audit.threads import torch_threads

    started = time.perf_counter()
    p = params
    with torch_threads():
        result = extraction_probe(model, tokenizer, [d.text for d in documents],
                                  prefix_tokens=p["prefix_tokens"], suffix_tokens=p["suffix_tokens"],
                                  temperature=p["temperature"], top_k=p["top_k"], top_p=p["top_p"],
                                  seed=p["seed"])
    notes: list[Note] = [info(model_note)] if model_note else []
    if result.too_short:
        notes.append(info(f"{result.too_short} of {len(documents)} training documents are shorter than "
                          f"prefix_tokens + suffix_tokens = {p['prefix_tokens'] + p['suffix_tokens']} tokens "
                          "and were not probed"))
    if not result.n:
        reason = (f"no training document of the reference set is {p['prefix_tokens'] + p['suffix_tokens']} "
                  "tokens long; lower prefix_tokens or suffix_tokens")
        return Evaluation("extraction", dict(p), {}, [], n_items=0, notes=notes + [info(reason)],
                          skip_reason=reason, seconds=time.perf_counter() - started)
    hits = sum(o.greedy for o in result.outcomes)
    lower, upper = clopper_pearson(hits, result.n, p["confidence"])
    metrics = {KEY_RATE: result.greedy_rate, KEY_RATE_LOWER: lower, KEY_RATE_UPPER: upper,
               KEY_N_PROBED: float(result.n)}
    notes.append(explains(
        f"extractable rate = {result.greedy_rate:.1%} ({hits} of {result.n} training documents, "
        f"{p['confidence']:.0%} interval {lower:.1%}-{upper:.1%}): prompted with the first "
        f"{p['prefix_tokens']} tokens of a training document, the model continues it with exactly its "
        f"next {p['suffix_tokens']} tokens when decoding greedily; a model that learnt the language "
        "rather than the documents does this for almost none"))
    if p["temperature"] > 0:
        sampled = sum(bool(o.sampled) for o in result.outcomes)
        s_lower, s_upper = clopper_pearson(sampled, result.n, p["confidence"])
        metrics[KEY_SAMPLED_RATE], metrics[KEY_SAMPLED_RATE_UPPER] = result.sampled_rate, s_upper
        notes.append(explains(
            f"sampled extractable rate = {result.sampled_rate:.1%} ({sampled} of {result.n}, interval "
            f"{s_lower:.1%}-{s_upper:.1%}): the same under the release's sampling (temperature "
            f"{p['temperature']}, top-k {p['top_k']}, top-p {p['top_p']}), how often a user would see "
            "the passage reproduced"))
    else:
        notes.append(info("no sampled probe: neither the rule nor the samples' provenance gives a "
                          "temperature"))
    extracted = [documents[o.document] for o in result.outcomes if o.greedy]
    if extracted:
        shown = "; ".join(f"{d.id} ({d.source})" for d in extracted[:_SHOWN])
        notes.append(info(f"extracted documents: {shown}"
                          + (f" and {len(extracted) - _SHOWN} more" if len(extracted) > _SHOWN else "")))
    return Evaluation("extraction", dict(p), metrics, [], n_items=result.n, notes=notes,
                      seconds=time.perf_counter() - started)
