"""The memorization evaluator: is the generator closer to its training data than new data is?

On one feature space (sentence embeddings for text, the domain CNN's features for images; see
``features``) it computes, from the reference set's training items and the items it marks
``"split": "heldout"``:

- ``c_t``: the three-sample data-copying statistic of Meehan et al. (``data_copying``): about 0
  when the samples sit as far from the training data as held-out data does, below -3 when they
  sit closer (copying).
- ``authenticity`` and, as its baseline, ``heldout_authenticity``; ``alpha_precision`` and
  ``beta_recall`` (Alaa et al. 2022; ``authenticity``).

Each item's score is ``gap / (gap + distance)``: its distance to its nearest training item against
that item's gap to its own nearest training neighbour (1 for an exact copy, above 1/2 inside the
gap, towards 0 far from it); no item is flagged, as the statistics are properties of the set. A
reference set without held-out items skips the evaluator with the reason, so older reference sets
are audited as before.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
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
    explains,
    info,
    no_progress,
)
from aigc_audit.evaluators.memorization.authenticity import authentic_mask, fidelity
from aigc_audit.evaluators.memorization.data_copying import data_copying_test
from aigc_audit.evaluators.memorization.features import Embedder, FeatureSets, image_features, text_features
from aigc_audit.evaluators.quality._threads import one_thread
from aigc_audit.evaluators.quality.prdc import knn_radii
from aigc_audit.sampleset import HELDOUT_SPLIT, IMAGE, TEXT, TRAIN_SPLIT, Item, SampleSet

KEY_C_T = "c_t"
KEY_AUTHENTICITY = "authenticity"
KEY_HELDOUT_AUTHENTICITY = "heldout_authenticity"
KEY_ALPHA_PRECISION = "alpha_precision"
KEY_BETA_RECALL = "beta_recall"
KEY_CELLS_USED = "cells_used"
KEY_N_SAMPLES = "n_samples"
KEY_N_TRAIN = "n_train"
KEY_N_HELDOUT = "n_heldout"
EVIDENCE_NEAREST_ID = "nearest_training_id"
EVIDENCE_DISTANCE = "distance"
EVIDENCE_GAP = "training_gap"
EVIDENCE_AUTHENTIC = "authentic"
AUTO = "auto"


class Memorization(Evaluator):
    name = "memorization"
    description = ("Whether the generator sits closer to its training data than held-out data does: "
                   "the data-copying test C_T (Meehan et al. 2020), authenticity, alpha-precision and "
                   "beta-recall (Alaa et al. 2022).")
    modalities = (TEXT, IMAGE)
    needs_reference = True
    params = (
        Param("modality", str, AUTO, "items to check: 'text', 'image', or 'auto' (text when the samples "
              "hold any, else images)", choices=(AUTO, TEXT, IMAGE)),
        Param("cells", int, 5, "k-means cells of the training features for C_T", minimum=1, maximum=100),
        Param("min_cell_samples", int, 5, "fewest generated samples a cell needs to enter C_T",
              minimum=1),
        Param("min_samples", int, 20, "fewest generated items to compute anything at all", minimum=2),
        Param("min_heldout", int, 10, "fewest held-out reference items to compute anything at all",
              minimum=2),
        Param("image_size", int, 16, "images: side in pixels the domain CNN sees", minimum=8, maximum=128),
        Param("epochs", int, 15, "images: training epochs of the domain CNN", minimum=1, maximum=200),
        Param("feature_dim", int, 64, "images: width of the domain CNN's feature layer", minimum=4,
              maximum=512),
        Param("label_key", str, "label", "images: key of a reference image's class in its 'meta'"),
        Param("clusters", int, 10, "images: k-means classes when the reference images carry no labels",
              minimum=2, maximum=1000),
        Param("seed", int, 0, "seed of the k-means cells and of the domain CNN", minimum=0),
        Param("cache_dir", str, "", "cache folder for embeddings and the CNN ($AIGC_AUDIT_CACHE or "
              ".aigc-audit/cache when empty)"),
    )
    metrics = (
        Metric(KEY_C_T, "data-copying statistic C_T: held-out-weighted mean over cells of the z-scored "
               "Mann-Whitney U of generated vs held-out distances to the nearest training item (about 0: "
               "as far as new data; below -3: closer, copying)"),
        Metric(KEY_AUTHENTICITY, "share of generated items farther from their nearest training item than "
               "that item is from its own nearest training neighbour (copies lower it)", minimum=0.0,
               maximum=1.0),
        Metric(KEY_HELDOUT_AUTHENTICITY, "the same share for held-out items: the baseline authenticity "
               "compares with", minimum=0.0, maximum=1.0),
        Metric(KEY_ALPHA_PRECISION, "alpha-precision: 1 when the samples fill each alpha-support of the "
               "training data as densely as it does", minimum=0.0, maximum=1.0),
        Metric(KEY_BETA_RECALL, "beta-recall: 1 when the samples cover the training data as densely as "
               "it covers itself; low when there are far fewer samples than training items", minimum=0.0,
               maximum=1.0),
        Metric(KEY_CELLS_USED, "cells with enough generated samples to enter C_T", minimum=0.0),
        Metric(KEY_N_SAMPLES, "generated items the statistics rest on", minimum=0.0),
        Metric(KEY_N_TRAIN, "training items of the reference set", minimum=0.0),
        Metric(KEY_N_HELDOUT, "held-out items of the reference set", minimum=0.0),
    )

    def __init__(self, *, embedder: Embedder | None = None, **params: Any):
        """``embedder(texts) -> (N, D)`` replaces the sentence embeddings (tests pass a fake)."""
        super().__init__(**params)
        self.embedder = embedder

    @classmethod
    def describe(cls, result: ItemResult) -> str:
        e = result.evidence
        return (f"{e.get(EVIDENCE_DISTANCE, float('nan')):.3f} from training item "
                f"{e.get(EVIDENCE_NEAREST_ID)}, whose own nearest training neighbour is "
                f"{e.get(EVIDENCE_GAP, float('nan')):.3f} away")

    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        p = self.params_
        modality = p["modality"]
        if modality == AUTO:
            modality = TEXT if samples.of_modality(TEXT) else IMAGE
        items = samples.of_modality(modality)
        train = reference.of_modality(modality, TRAIN_SPLIT) if reference is not None else []
        heldout = reference.of_modality(modality, HELDOUT_SPLIT) if reference is not None else []

        def finish(metrics: dict[str, float], results: list[ItemResult], errors: dict[str, str],
                   notes: list[Note], skip_reason: str = "") -> Evaluation:
            return Evaluation(self.name, {**p, "modality": modality}, metrics, results, errors=errors,
                              n_items=len(items), notes=notes, seconds=time.perf_counter() - started,
                              skip_reason=skip_reason)

        if not items:
            return finish({}, [], {}, [])
        reason = self._too_few(len(items), len(train), len(heldout), modality)
        if reason:
            return finish({}, [], {}, [info(reason)], reason)
        if modality == TEXT:
            sets = text_features(items, train, heldout, embedder=self.embedder,
                                 cache_dir=p["cache_dir"] or None)
        else:
            sets = image_features(items, train, heldout, params=p, labels=self._labels, track=track,
                                  reference_sha256=reference.sha256 if reference else "")
        notes = [info(n) for n in sets.notes]
        reason = self._too_few(len(sets.generated_items), len(sets.train_items), len(sets.heldout_items),
                               modality, readable=True)
        if reason:
            return finish({}, [], sets.errors, notes + [info(reason)], reason)
        with one_thread():
            metrics, results, more = self._statistics(sets)
        return finish(metrics, results, sets.errors, notes + more)

    def _too_few(self, n_items: int, n_train: int, n_heldout: int, modality: str, *,
                 readable: bool = False) -> str:
        p, what = self.params_, "readable " if readable else ""
        if n_heldout < p["min_heldout"]:
            return (f"the reference set marks {n_heldout} {what}{modality} item(s) as held out "
                    f'("split": "heldout"), fewer than min_heldout={p["min_heldout"]}; the memorization '
                    "checks compare the samples with data the model never saw, so keep some out of "
                    "training and mark them")
        if n_train < 2:
            return f"the reference set holds {n_train} {what}{modality} training item(s); need at least 2"
        if n_items < p["min_samples"]:
            return (f"{n_items} {what}generated {modality} item(s), fewer than min_samples="
                    f"{p['min_samples']}; no memorization statistic computed")
        return ""

    def _labels(self, refs: list[Item], pixels: np.ndarray) -> list[Hashable]:
        """The image quality evaluator's classes for the domain CNN, so both share its cache."""
        from aigc_audit.evaluators.features.image_features import pseudo_labels

        values = [(item.meta or {}).get(self.params_["label_key"]) for item in refs]
        if all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in values):
            return values
        return [int(v) for v in pseudo_labels(pixels, self.params_["clusters"], self.params_["seed"])]

    def _statistics(self, sets: FeatureSets) -> tuple[dict[str, float], list[ItemResult], list[Note]]:
        p = self.params_
        copying = data_copying_test(sets.train, sets.heldout, sets.generated, cells=p["cells"],
                                    min_cell_samples=p["min_cell_samples"], seed=p["seed"])
        quality = fidelity(sets.train, sets.generated)
        heldout_authentic = float(authentic_mask(sets.train, sets.heldout).mean())
        n, n_train, n_heldout = len(sets.generated), len(sets.train), len(sets.heldout)
        metrics = {KEY_C_T: copying.c_t, KEY_AUTHENTICITY: quality.authenticity,
                   KEY_HELDOUT_AUTHENTICITY: heldout_authentic, KEY_ALPHA_PRECISION: quality.alpha_precision,
                   KEY_BETA_RECALL: quality.beta_recall, KEY_CELLS_USED: float(copying.cells_used),
                   KEY_N_SAMPLES: float(n), KEY_N_TRAIN: float(n_train), KEY_N_HELDOUT: float(n_heldout)}
        gap = knn_radii(sets.train, 1)
        results = []
        for j, item in enumerate(sets.generated_items):
            nearest = int(copying.generated_nearest[j])
            distance = float(copying.generated_distance[j])
            total = float(gap[nearest]) + distance
            closeness = float(gap[nearest]) / total if total > 0 else 1.0
            results.append(ItemResult(item.id, closeness, False, {
                EVIDENCE_NEAREST_ID: sets.train_items[nearest].id, EVIDENCE_DISTANCE: round(distance, 6),
                EVIDENCE_GAP: round(float(gap[nearest]), 6), EVIDENCE_AUTHENTIC: bool(quality.authentic[j])}))
        closer = float(np.median(copying.generated_distance) / np.median(copying.heldout_distance))
        notes = [
            explains(f"C_T = {copying.c_t:.2f}: the {n} generated items sit "
                     f"{'closer to' if copying.c_t < 0 else 'as far from or farther from'} their nearest "
                     f"training item than {n_heldout} held-out items the model never saw (median "
                     f"distance {closer:.2f} times theirs); below -3 means the generator reproduces its "
                     f"training data rather than the distribution ({copying.cells_used} of "
                     f"{len(copying.cell_z)} cells used)"),
            explains(f"authenticity = {quality.authenticity:.2f}: the share of generated items that are "
                     "not inside the gap around their nearest training item; held-out data scores "
                     f"{heldout_authentic:.2f}, and copies push the share towards 0"),
            explains(f"alpha-precision = {quality.alpha_precision:.2f}, beta-recall = "
                     f"{quality.beta_recall:.2f}: how faithfully the samples fill the training data's "
                     "typical region, and how much of it they cover (both 1 at best; "
                     f"{n} generated vs {n_train} training items)"),
        ]
        if copying.cells_used == 0:
            notes.append(info(f"no cell holds min_cell_samples={p['min_cell_samples']} generated items; "
                              "C_T is undefined (null): lower min_cell_samples or cells"))
        return metrics, results, notes
