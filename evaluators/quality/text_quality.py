"""Text quality: fluency, diversity and distribution match of generated texts.

Metrics:

- ``perplexity``: corpus perplexity of the samples under a language model fitted on the reference
  set (an interpolated Kneser-Ney word n-gram model), or under a local causal LM (param ``lm``).
  ``reference_perplexity`` is the same model's perplexity on reference texts it was not fitted on
  (``holdout``), and ``perplexity_ratio`` the quotient of the two: about 1 when the samples read
  like unseen reference text, above 1 when they read worse. Gate on the ratio; it carries over
  between reference sets.
- ``distinct_1``/``distinct_2``/``distinct_3`` and ``self_bleu``: diversity; a generator that
  repeats one line has distinct-n near 0 and self-BLEU near 1. distinct-n is the n-gram
  type-token ratio of the whole set (distinct n-grams / n-grams, not Li et al.'s distinct n-grams /
  tokens); self-BLEU is Texygen's, sentence BLEU-N through NLTK with method-1 smoothing (see
  ``evaluators.quality.diversity``).
- ``mauve`` (mean over k-means seeds), ``mauve_std``, ``mauve_min``: how close the generated texts'
  distribution is to the reference texts', on all-MiniLM-L6-v2 sentence embeddings.

Each item's score is its own perplexity (higher reads worse); its evidence adds its self-BLEU
against the other samples. No item is flagged: these are properties of the set.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from aigc_audit.evaluators.base import (
    Evaluation,
    Evaluator,
    ItemResult,
    Metric,
    Note,
    Param,
    Track,
    info,
    no_progress,
)
from aigc_audit.evaluators.features.tokens import tokenize
from aigc_audit.evaluators.quality._cache import cache_root
from aigc_audit.evaluators.quality.diversity import distinct_n, self_bleu
from aigc_audit.evaluators.quality.fluency import CausalLMScorer, KneserNeyLM, Perplexities
from aigc_audit.evaluators.quality.mauve import mauve
from aigc_audit.evaluators.quality.sample_size import counts_note, too_few, too_few_to_compute
from aigc_audit.sampleset import TEXT, Item, SampleSet

KEY_PERPLEXITY = "perplexity"
KEY_REFERENCE_PERPLEXITY = "reference_perplexity"
KEY_PERPLEXITY_RATIO = "perplexity_ratio"
KEY_DISTINCT = {1: "distinct_1", 2: "distinct_2", 3: "distinct_3"}
KEY_SELF_BLEU = "self_bleu"
KEY_MAUVE = "mauve"
KEY_MAUVE_STD = "mauve_std"
KEY_MAUVE_MIN = "mauve_min"
KEY_N_SAMPLES = "n_samples"
KEY_N_REFERENCE = "n_reference"
# Keys of each item's evidence. None of them is in ``evaluators.evidence``, whose keys name a copy's
# training match and a harm category; these are read only by ``describe`` below and by the tests.
EVIDENCE_PERPLEXITY = "perplexity"
EVIDENCE_TOKENS = "tokens"
EVIDENCE_UNIT = "unit"
EVIDENCE_SELF_BLEU = "self_bleu"
EMBEDDINGS_SUBDIR = "text-embeddings"
# Fitted n-gram models and their held-out perplexity, by reference texts and model settings: an
# audit process (the demo, a test session) often evaluates several releases against one reference.
_FITTED: dict[str, tuple[KneserNeyLM, Perplexities]] = {}
_FITTED_MAX = 4


class TextQuality(Evaluator):
    name = "text_quality"
    description = ("Fluency (perplexity under a reference language model), diversity (distinct-n, "
                   "self-BLEU) and distribution match (MAUVE) of generated texts.")
    modalities = (TEXT,)
    needs_reference = True
    params = (
        Param("ngram_order", int, 3, "order of the Kneser-Ney reference language model", minimum=1,
              maximum=6),
        Param("discount", float, 0.75, "Kneser-Ney discount", minimum=0.01, maximum=0.99),
        Param("lm", str, "", "a local causal LM folder (safetensors) to use instead of the n-gram model"),
        Param("holdout", float, 0.1, "share of reference texts kept out of the n-gram model to measure "
              "reference_perplexity", minimum=0.01, maximum=0.5),
        Param("bleu_order", int, 4, "largest n-gram order of self-BLEU", minimum=1, maximum=8),
        Param("mauve", bool, True, "compute MAUVE (loads the sentence-embedding model)"),
        Param("mauve_seeds", int, 5, "k-means seeds MAUVE is computed with", minimum=1, maximum=50),
        Param("mauve_clusters", int, 0, "k-means clusters for MAUVE; 0: min(set sizes) / 10",
              minimum=0, maximum=100_000),
        Param("mauve_reference_size", int, 500, "reference texts MAUVE compares with (a seeded "
              "random subset when the reference set is larger)", minimum=10, maximum=10_000_000),
        Param("min_samples", int, 20, "fewest generated texts to compute anything at all", minimum=2),
        Param("min_reference", int, 20, "fewest reference texts to compute anything at all", minimum=2),
        Param("seed", int, 0, "seed of the held-out split and of the MAUVE reference subset", minimum=0),
        Param("cache_dir", str, "", "cache folder for reference embeddings ($AIGC_AUDIT_CACHE or "
              ".aigc-audit/cache when empty)"),
    )
    metrics = (
        Metric(KEY_PERPLEXITY, "perplexity of the samples under the reference language model "
               "(lower reads better)", minimum=0.0),
        Metric(KEY_REFERENCE_PERPLEXITY, "the same model's perplexity on held-out reference texts",
               minimum=0.0),
        Metric(KEY_PERPLEXITY_RATIO, "perplexity / reference_perplexity (about 1: as fluent as unseen "
               "reference text)", minimum=0.0),
        *(Metric(KEY_DISTINCT[n], f"distinct-{n} as the {n}-gram type-token ratio: distinct {n}-grams "
                 f"over all {n}-grams of the samples, counted within each text (1: no {n}-gram recurs; "
                 f"Li et al. 2016 divide by tokens instead); higher is more diverse", minimum=0.0,
                 maximum=1.0) for n in (1, 2, 3)),
        Metric(KEY_SELF_BLEU, "self-BLEU as Texygen computes it: mean sentence BLEU (up to bleu_order, "
               "NLTK's method-1 smoothing) of each sample with all the other samples as references; 0 "
               "for a sample sharing no word with the others (lower is more diverse)", minimum=0.0,
               maximum=1.0),
        Metric(KEY_MAUVE, "MAUVE against the reference texts, mean over k-means seeds (1: same "
               "distribution)", minimum=0.0, maximum=1.0),
        Metric(KEY_MAUVE_STD, "standard deviation of MAUVE over k-means seeds", minimum=0.0),
        Metric(KEY_MAUVE_MIN, "lowest MAUVE over k-means seeds", minimum=0.0, maximum=1.0),
        Metric(KEY_N_SAMPLES, "generated texts the metrics were computed on", minimum=0.0),
        Metric(KEY_N_REFERENCE, "reference texts available to the metrics", minimum=0.0),
    )

    @classmethod
    def describe(cls, result: ItemResult) -> str:
        e = result.evidence
        return (f"perplexity {result.score:.1f} over {e.get(EVIDENCE_TOKENS)} "
                f"{e.get(EVIDENCE_UNIT, 'word')}s; self-BLEU {e.get(EVIDENCE_SELF_BLEU, float('nan')):.3f} "
                "against the other samples")

    def __init__(self, *, embedder: Any = None, **params: Any):
        """``embedder(texts) -> (N, D)`` replaces the MiniLM sentence embeddings (tests pass a
        fake); the default loads the packaged model on first use."""
        super().__init__(**params)
        self.embedder = embedder

    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        p = self.params_
        items = samples.of_modality(TEXT)
        refs = reference.of_modality(TEXT) if reference is not None else []

        def finish(metrics: dict[str, float], results: list[ItemResult], notes: list[Note | None],
                   skip_reason: str = "") -> Evaluation:
            return Evaluation(self.name, dict(p), metrics, results, n_items=len(items),
                              notes=[n for n in notes if n], seconds=time.perf_counter() - started,
                              skip_reason=skip_reason)

        if not items:
            return finish({}, [], [])
        if len(items) < p["min_samples"]:
            reason = too_few_to_compute(f"{len(items)} generated text(s), fewer than min_samples="
                                        f"{p['min_samples']}; no text quality metric computed")
            return finish({}, [], [info(reason)], reason)
        if len(refs) < p["min_reference"]:
            reason = too_few_to_compute(f"the reference set holds {len(refs)} text(s), fewer than "
                                        f"min_reference={p['min_reference']}; no text quality metric "
                                        "computed")
            return finish({}, [], [info(reason)], reason)

        texts = [item.text or "" for item in items]
        ref_texts = [item.text or "" for item in refs]
        tokens = [tokenize(t) for t in texts]
        n_words = sum(len(t) for t in tokens)
        metrics: dict[str, float] = {KEY_N_SAMPLES: float(len(items)), KEY_N_REFERENCE: float(len(refs))}
        notes: list[Note | None] = []

        sample_ppl, fluency_notes = self._fluency(texts, ref_texts, metrics, track)
        notes += fluency_notes

        for n in (1, 2, 3):
            metrics[KEY_DISTINCT[n]] = distinct_n(tokens, n)
        bleu = self_bleu(list(track(tokens, "Self-BLEU", len(tokens))), max_order=p["bleu_order"])
        metrics[KEY_SELF_BLEU] = bleu.mean
        notes.append(counts_note("distinct_1/2/3, self_bleu", f"{len(items)} generated texts, "
                                 f"{n_words} words (distinct-n falls as a set grows: compare releases "
                                 "of equal size)"))
        notes.append(too_few(KEY_SELF_BLEU, len(items), 20, "each text has few others to be compared "
                             "with, so self-BLEU is biased low"))

        if p["mauve"]:
            notes += self._mauve(texts, refs, metrics)

        results = [ItemResult(item.id, float(sample_ppl.per_text[i]), False, {
            EVIDENCE_PERPLEXITY: round(float(sample_ppl.per_text[i]), 4),
            EVIDENCE_TOKENS: int(sample_ppl.tokens[i]), EVIDENCE_UNIT: sample_ppl.unit,
            EVIDENCE_SELF_BLEU: round(float(bleu.per_sample[i]), 6)})
            for i, item in enumerate(items)]
        return finish(metrics, results, notes)

    def _fluency(self, texts: list[str], ref_texts: list[str], metrics: dict[str, float],
                 track: Track) -> tuple[Perplexities, list[Note | None]]:
        p = self.params_
        order = np.random.default_rng(p["seed"]).permutation(len(ref_texts))
        n_hold = max(1, int(round(p["holdout"] * len(ref_texts))))
        held = [ref_texts[i] for i in sorted(order[:n_hold])]
        fitted = [ref_texts[i] for i in sorted(order[n_hold:])]
        if p["lm"]:
            scorer: KneserNeyLM | CausalLMScorer = CausalLMScorer(path=p["lm"]).fit()
            what = f"the causal LM in {p['lm']} (perplexity per model token)"
            ref_ppl = scorer.perplexities(held)
        else:
            scorer, ref_ppl = _fitted_ngram_model(fitted, held, p["ngram_order"], p["discount"])
            what = (f"an order-{p['ngram_order']} Kneser-Ney model fitted on {len(fitted)} reference "
                    f"texts ({len(scorer.vocabulary_)} word types)")
        sample_ppl = scorer.perplexities(list(track(texts, "Perplexity", len(texts))))
        metrics[KEY_PERPLEXITY] = sample_ppl.corpus
        metrics[KEY_REFERENCE_PERPLEXITY] = ref_ppl.corpus
        metrics[KEY_PERPLEXITY_RATIO] = sample_ppl.corpus / ref_ppl.corpus
        scored = int(sample_ppl.tokens.sum())
        notes = [counts_note(KEY_PERPLEXITY, f"{len(texts)} generated texts ({scored} {sample_ppl.unit}s) "
                             f"under {what}; reference_perplexity on {len(held)} held-out reference "
                             f"texts ({int(ref_ppl.tokens.sum())} {ref_ppl.unit}s)"),
                 too_few(KEY_PERPLEXITY, scored, 1000, "a perplexity from fewer than 1000 tokens moves "
                         "a lot with the choice of texts"),
                 too_few(KEY_REFERENCE_PERPLEXITY, int(ref_ppl.tokens.sum()), 1000,
                         "the held-out reference perplexity, and so perplexity_ratio, is noisy")]
        return sample_ppl, notes

    def _mauve(self, texts: list[str], refs: list[Item], metrics: dict[str, float]) -> list[Note | None]:
        p = self.params_
        chosen = list(range(len(refs)))
        if len(refs) > p["mauve_reference_size"]:
            rng = np.random.default_rng(p["seed"])
            chosen = sorted(rng.choice(len(refs), p["mauve_reference_size"], replace=False).tolist())
        ref_texts = [refs[i].text or "" for i in chosen]
        embed = self.embedder
        cache_note = None
        if embed is None:
            from aigc_audit.evaluators.features.text_embeddings import MiniLMEmbedder

            embed = MiniLMEmbedder()
            ref_embeddings, cache_note = self._cached_reference_embeddings(embed, ref_texts)
        else:
            ref_embeddings = np.asarray(embed(ref_texts), dtype=np.float64)
        sample_embeddings = np.asarray(embed(texts), dtype=np.float64)
        result = mauve(ref_embeddings, sample_embeddings, seeds=tuple(range(p["mauve_seeds"])),
                       clusters=p["mauve_clusters"])
        metrics[KEY_MAUVE] = result.mean
        metrics[KEY_MAUVE_STD] = result.std
        metrics[KEY_MAUVE_MIN] = result.minimum
        subset = f" (a seeded random subset of {len(refs)})" if len(chosen) < len(refs) else ""
        return [counts_note(KEY_MAUVE, f"{len(texts)} generated vs {len(ref_texts)} reference texts"
                            f"{subset}, {result.clusters} k-means clusters on {result.pca_dims} PCA "
                            f"dimensions; per seed " + ", ".join(f"{v:.3f}" for v in result.per_seed)
                            + f" (mean {result.mean:.3f} ± {result.std:.3f}, range "
                            f"{result.minimum:.3f}-{result.maximum:.3f})"),
                too_few(KEY_MAUVE, min(len(texts), len(ref_texts)), 100,
                        "MAUVE quantises into n/10 clusters, so small sets give a coarse, seed-sensitive "
                        "score; read mauve_std"),
                info(cache_note) if cache_note else None]

    def _cached_reference_embeddings(self, embed: Any, ref_texts: Sequence[str]) -> tuple[np.ndarray, str]:
        """Reference embeddings are the same for every release audited against one reference set:
        keep them in the cache, keyed by the model's weights and the exact texts."""
        from aigc_audit.evaluators.features.text_embeddings import WEIGHTS_SHA256

        digest = hashlib.sha256(WEIGHTS_SHA256.encode())
        for text in ref_texts:
            digest.update(len(text.encode()).to_bytes(8, "little"))
            digest.update(text.encode())
        path = cache_root(self.params_["cache_dir"] or None) / EMBEDDINGS_SUBDIR / f"{digest.hexdigest()}.npy"
        if path.is_file():
            try:
                cached = np.load(path, allow_pickle=False)
                if cached.shape[0] == len(ref_texts):
                    return cached, f"reference embeddings loaded from {path}"
            except (OSError, ValueError):
                pass
        table = np.asarray(embed(ref_texts), dtype=np.float64)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".tmp-{time.time_ns()}.npy")
        np.save(staging, table, allow_pickle=False)
        staging.replace(path)
        return table, f"reference embeddings computed and cached in {path}"


def _fitted_ngram_model(fitted: list[str], held: list[str], order: int,
                        discount: float) -> tuple[KneserNeyLM, Perplexities]:
    digest = hashlib.sha256(f"{order}\0{discount}\0{len(fitted)}\0".encode())
    for text in fitted + ["\0held-out\0"] + held:
        digest.update(len(text.encode()).to_bytes(8, "little"))
        digest.update(text.encode())
    key = digest.hexdigest()
    if key not in _FITTED:
        lm = KneserNeyLM(order=order, discount=discount).fit(fitted)
        if len(_FITTED) >= _FITTED_MAX:
            _FITTED.pop(next(iter(_FITTED)))
        _FITTED[key] = (lm, lm.perplexities(held))
    return _FITTED[key]
