"""Image quality: how close the generated images are to the reference set, and how varied.

Metrics (all on the same features; see ``evaluators.features.image_features``):

- ``frechet_distance``: Fréchet distance of Gaussians fitted to the two feature sets (lower is
  better). On the domain CNN's features, *not* comparable to published Inception FIDs.
- ``kid`` / ``kid_std``: unbiased kernel inception distance, mean over random subsets of
  ``kid_subset_size`` images of each set (near 0, possibly negative, for one distribution), and its
  standard deviation over those subsets: how much a KID from that many images moves with the choice
  of images. When the subset size covers both sets every subset is the same, so ``kid_std`` is NaN
  (null in reports) and a note says why; when it covers one set, the spread is the other set's only
  (see ``evaluators.quality.kid``).
- ``precision`` / ``recall``, ``density`` / ``coverage``: k-nearest-neighbour manifold metrics:
  fidelity (are samples realistic?) and diversity (are all kinds of reference images produced?).
- ``class_entropy`` / ``dominant_class_share``: balance of the classes the domain classifier
  predicts for the samples; a generator collapsed to one digit has entropy near 0.
- ``outside_manifold_share``: share of samples outside every reference image's k-NN ball
  (``1 - precision``); those items are flagged, with their nearest reference image as evidence.

Each item's score is its distance to the reference manifold: the smallest ratio of its distance to
a reference image over that image's k-NN radius (below 1: inside the manifold).

Too few samples are handled in two steps: below ``min_samples`` readable generated images nothing
is computed and the policy's rules are skipped with the reason; above it, each metric whose
sample is still small for it says so in the notes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from aigc_audit.evaluators.base import (
    PER_ITEM_SHARE,
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
from aigc_audit.evaluators.quality._threads import one_thread
from aigc_audit.evaluators.quality.class_balance import class_balance
from aigc_audit.evaluators.quality.frechet import frechet_distance_features
from aigc_audit.evaluators.quality.kid import KidResult, kernel_inception_distance
from aigc_audit.evaluators.quality.prdc import PrdcResult, prdc
from aigc_audit.evaluators.quality.sample_size import counts_note, too_few, too_few_to_compute
from aigc_audit.sampleset import IMAGE, Item, SampleSet

KEY_FRECHET = "frechet_distance"
KEY_KID = "kid"
KEY_KID_STD = "kid_std"
KEY_PRECISION = "precision"
KEY_RECALL = "recall"
KEY_DENSITY = "density"
KEY_COVERAGE = "coverage"
KEY_CLASS_ENTROPY = "class_entropy"
KEY_DOMINANT_CLASS_SHARE = "dominant_class_share"
KEY_OUTSIDE_SHARE = "outside_manifold_share"
KEY_CLASSIFIER_ACCURACY = "classifier_accuracy"
KEY_N_SAMPLES = "n_samples"
KEY_N_REFERENCE = "n_reference"
# Keys of each item's evidence. The nearest reference image is the nearest in feature space, not a
# copy's training match, so it is not ``evaluators.evidence.MATCH_ID`` (the dashboard would show it
# as "best training match" with a pixel difference).
EVIDENCE_MANIFOLD_RATIO = "manifold_ratio"
EVIDENCE_NEAREST_ID = "nearest_reference_id"
EVIDENCE_NEAREST_SOURCE = "nearest_reference_source"
EVIDENCE_NEAREST_DISTANCE = "nearest_distance"
EVIDENCE_PREDICTED_CLASS = "predicted_class"
EVIDENCE_CLASS_PROBABILITY = "class_probability"

DOMAIN, INCEPTION = "domain", "inception"
FEATURES_CAVEAT = ("image metrics are on the domain CNN's features (a classifier trained on this "
                   "reference set, standardised by the reference features' mean and standard "
                   "deviation), not comparable to published Inception FID/KID values")


def standardise(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both sets by the reference features' per-dimension mean and standard deviation.

    The domain CNN's feature scale is arbitrary and changes when it is retrained; in reference
    units the distances are stable across retraining, and KID's cubic kernel stays in a sane range.
    """
    mean = real.mean(axis=0)
    std = real.std(axis=0, ddof=1)
    std[std == 0] = 1.0
    return (real - mean) / std, (fake - mean) / std


class ImageQuality(Evaluator):
    name = "image_quality"
    description = ("Fidelity, diversity and class balance of generated images against the reference "
                   "set: Fréchet distance, KID, precision/recall, density/coverage, class entropy.")
    modalities = (IMAGE,)
    needs_reference = True
    params = (
        Param("features", str, DOMAIN, "feature space: 'domain' (a CNN trained on the reference set) or "
              "'inception' (local Inception-v3 weights, see weights and weights_sha256)",
              choices=(DOMAIN, INCEPTION)),
        Param("weights", str, "", "features=inception: path of a local Inception-v3 state_dict "
              "(.safetensors, or a .pth read with weights_only)"),
        Param("weights_sha256", str, "", "features=inception: the weights file's sha256 (or at least its "
              "first 8 hex digits)"),
        Param("image_size", int, 16, "side in pixels the domain CNN sees; images are resized to it",
              minimum=8, maximum=128),
        Param("epochs", int, 15, "training epochs of the domain CNN", minimum=1, maximum=200),
        Param("feature_dim", int, 64, "width of the domain CNN's feature layer", minimum=4, maximum=512),
        Param("k", int, 5, "nearest neighbours for precision/recall/density/coverage", minimum=1,
              maximum=50),
        Param("kid_subsets", int, 100, "random subsets for KID", minimum=2, maximum=1000),
        Param("kid_subset_size", int, 1000, "images per KID subset (at most the smaller set)",
              minimum=2, maximum=100_000),
        Param("label_key", str, "label", "key of a reference image's class in its manifest 'meta'"),
        Param("clusters", int, 10, "classes made by k-means when the reference images carry no labels",
              minimum=2, maximum=1000),
        Param("min_samples", int, 50, "fewest readable generated images to compute anything at all",
              minimum=2),
        Param("seed", int, 0, "seed of the CNN's training, KID's subsets and k-means", minimum=0),
        Param("cache_dir", str, "", "cache folder for the trained CNN ($AIGC_AUDIT_CACHE or "
              ".aigc-audit/cache when empty)"),
    )
    metrics = (
        Metric(KEY_FRECHET, "Fréchet distance of the feature Gaussians (lower is better)", minimum=0.0),
        Metric(KEY_KID, "kernel inception distance, unbiased, mean over subsets (lower is better)"),
        Metric(KEY_KID_STD, "standard deviation of KID over subsets: how much a KID from kid_subset_size "
               "generated and as many reference images moves with the choice of images (not the "
               "standard error of kid); NaN (null) when kid_subset_size covers both sets, as every "
               "subset is then the same", minimum=0.0),
        Metric(KEY_PRECISION, "share of samples inside the reference manifold (fidelity)", minimum=0.0,
               maximum=1.0),
        Metric(KEY_RECALL, "share of reference images inside the samples' manifold (diversity)",
               minimum=0.0, maximum=1.0),
        Metric(KEY_DENSITY, "mean number of reference k-NN balls holding a sample, over k (about 1 "
               "when the distributions match)", minimum=0.0),
        Metric(KEY_COVERAGE, "share of reference images whose k-NN ball holds a sample (about 0.97 at "
               "k=5 when the distributions match)", minimum=0.0, maximum=1.0),
        Metric(KEY_CLASS_ENTROPY, "normalised entropy of predicted classes (1 balanced, 0 one class)",
               minimum=0.0, maximum=1.0),
        Metric(KEY_DOMINANT_CLASS_SHARE, "share of samples predicted as the most frequent class",
               minimum=0.0, maximum=1.0),
        Metric(KEY_OUTSIDE_SHARE, "share of samples outside the reference manifold (1 - precision)",
               per_item=PER_ITEM_SHARE, minimum=0.0, maximum=1.0),
        Metric(KEY_CLASSIFIER_ACCURACY, "domain classifier's accuracy on held-out reference images",
               minimum=0.0, maximum=1.0),
        Metric(KEY_N_SAMPLES, "generated images the metrics were computed on", minimum=0.0),
        Metric(KEY_N_REFERENCE, "reference images the metrics were computed on", minimum=0.0),
    )

    @classmethod
    def describe(cls, result: ItemResult) -> str:
        e = result.evidence
        where = "outside" if result.flagged else "inside"
        return (f"{where} the reference manifold (distance {result.score:.2f} k-NN radii from reference "
                f"image {e.get(EVIDENCE_NEAREST_ID)}); predicted class {e.get(EVIDENCE_PREDICTED_CLASS)!r} "
                f"with probability {e.get(EVIDENCE_CLASS_PROBABILITY, float('nan')):.2f}")

    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        p = self.params_
        items = samples.of_modality(IMAGE)
        refs = reference.of_modality(IMAGE) if reference is not None else []

        def finish(metrics: dict[str, float], results: list[ItemResult], errors: dict[str, str],
                   notes: list[Note | None], skip_reason: str = "") -> Evaluation:
            return Evaluation(self.name, dict(p), metrics, results, errors=errors, n_items=len(items),
                              notes=[n for n in notes if n], seconds=time.perf_counter() - started,
                              skip_reason=skip_reason)

        if not items:
            return finish({}, [], {}, [])
        if len(refs) < max(p["k"] + 1, 2):
            reason = (f"the reference set holds {len(refs)} image(s); image quality needs at least "
                      f"{max(p['k'] + 1, 2)} reference images to compare against")
            return finish({}, [], {}, [info(reason)], reason)

        if len(items) < p["min_samples"]:  # before any heavy import: small sets stay fast
            reason = too_few_to_compute(f"{len(items)} generated image(s), fewer than min_samples="
                                        f"{p['min_samples']}; no image quality metric computed")
            return finish({}, [], {}, [info(reason)], reason)
        # Heavy imports only now: evaluators/__init__ is imported by every CLI call.
        from aigc_audit.evaluators.features.image_features import (
            DomainFeatures,
            InceptionFeatures,
            load_pixels,
            pseudo_labels,
        )

        size = p["image_size"]
        sample_pixels = load_pixels(items, size=size, track=track, what="generated images")
        errors = dict(sample_pixels.errors)
        notes: list[Note | None] = []
        if len(sample_pixels.items) < p["min_samples"]:
            reason = too_few_to_compute(f"{len(sample_pixels.items)} readable generated image(s), "
                                        f"fewer than min_samples={p['min_samples']}; no image quality "
                                        "metric computed")
            return finish({}, [], errors, [info(reason)], reason)
        ref_pixels = load_pixels(refs, size=size, track=track, what="reference images")
        if ref_pixels.errors:
            examples = "; ".join(f"{k}: {v}" for k, v in list(ref_pixels.errors.items())[:2])
            notes.append(info(f"{len(ref_pixels.errors)} reference image(s) unreadable and left out, "
                              f"e.g. {examples}"))
        if len(ref_pixels.items) < p["k"] + 1:
            reason = f"only {len(ref_pixels.items)} readable reference image(s); need at least {p['k'] + 1}"
            return finish({}, [], errors, notes + [info(reason)], reason)

        labels, label_note = self._labels(ref_pixels.items, ref_pixels.array, pseudo_labels)
        notes.append(info(label_note))
        domain = DomainFeatures(image_size=size, feature_dim=p["feature_dim"], epochs=p["epochs"],
                                seed=p["seed"], cache_dir=p["cache_dir"] or None)
        domain.fit(ref_pixels.array, labels, source=reference.sha256 if reference else "", track=track)
        notes.append(info(f"domain CNN {'loaded from' if domain.cache_hit_ else 'trained and cached in'} "
                          f"{domain.cache_path_} (weights sha256 {domain.weights_sha256_[:12]})"))
        if domain.cache_note_:
            notes.append(info(domain.cache_note_))

        if p["features"] == INCEPTION:
            inception = InceptionFeatures(weights=p["weights"], sha256=p["weights_sha256"]).fit()
            fake, fake_items, fake_errors = inception.transform_items(items, track=track, what="samples")
            real, real_items, real_errors = inception.transform_items(refs, track=track, what="reference")
            errors.update(fake_errors)
            if real_errors:
                notes.append(info(f"{len(real_errors)} reference image(s) unreadable as RGB and left out"))
            notes.append(info(f"features: Inception-v3 pool features ({real.shape[1]}-d) from "
                              f"{p['weights']} (sha256 {inception.weights_sha256_[:12]}); class balance "
                              "still uses the domain CNN"))
        else:
            real, fake = standardise(domain.transform(ref_pixels.array),
                                     domain.transform(sample_pixels.array))
            fake_items, real_items = sample_pixels.items, ref_pixels.items
            notes.append(info(FEATURES_CAVEAT))

        with one_thread():
            manifold = prdc(real, fake, k=p["k"])
            metrics, metric_notes = self._metrics(real, fake, manifold, p)
        notes += metric_notes
        proba = domain.predict_proba(sample_pixels.array)
        predicted = proba.argmax(axis=1)
        balance = class_balance(predicted, len(domain.classes_))
        metrics[KEY_CLASS_ENTROPY] = balance.entropy
        metrics[KEY_DOMINANT_CLASS_SHARE] = balance.dominant_share
        notes.append(counts_note(KEY_CLASS_ENTROPY, f"{len(predicted)} generated images, "
                                 f"{len(domain.classes_)} classes; predicted counts "
                                 + ", ".join(f"{c}: {n}" for c, n in zip(domain.classes_, balance.counts))))
        notes.append(too_few(KEY_CLASS_ENTROPY, len(predicted), 10 * len(domain.classes_),
                             "a class histogram needs about 10 samples per class; the entropy is biased low"))
        if domain.holdout_accuracy_ is not None:
            metrics[KEY_CLASSIFIER_ACCURACY] = domain.holdout_accuracy_
            notes.append(info(f"domain classifier accuracy on held-out reference images: "
                              f"{domain.holdout_accuracy_:.3f}"))
        metrics[KEY_N_SAMPLES] = float(len(fake_items))
        metrics[KEY_N_REFERENCE] = float(len(real_items))

        metrics[KEY_OUTSIDE_SHARE] = float((manifold.manifold_ratio >= 1.0).mean())
        class_of = {item.id: i for i, item in enumerate(sample_pixels.items)}
        results = []
        for j, item in enumerate(fake_items):
            ratio = float(manifold.manifold_ratio[j])
            nearest = real_items[int(manifold.nearest_reference[j])]
            evidence: dict[str, Any] = {
                EVIDENCE_MANIFOLD_RATIO: round(ratio, 6),
                EVIDENCE_NEAREST_ID: nearest.id,
                EVIDENCE_NEAREST_SOURCE: nearest.source,
                EVIDENCE_NEAREST_DISTANCE: round(float(manifold.nearest_distance[j]), 6),
            }
            row = class_of.get(item.id)
            if row is not None:  # always, unless the grayscale and RGB decodings disagreed
                evidence[EVIDENCE_PREDICTED_CLASS] = domain.classes_[int(predicted[row])]
                evidence[EVIDENCE_CLASS_PROBABILITY] = round(float(proba[row, predicted[row]]), 6)
            results.append(ItemResult(item.id, ratio, ratio >= 1.0, evidence))
        return finish(metrics, results, errors, notes)

    def _labels(self, refs: list[Item], pixels: np.ndarray,
                cluster: Callable[[np.ndarray, int, int], np.ndarray]) -> tuple[list[Hashable], str]:
        key = self.params_["label_key"]
        values = [(item.meta or {}).get(key) for item in refs]
        if all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in values):
            return values, (f"domain classes: the reference images' meta.{key} "
                            f"({len(set(values))} classes)")
        missing = sum(v is None for v in values)
        labels = cluster(pixels, self.params_["clusters"], self.params_["seed"])
        return [int(v) for v in labels], (
            f"{missing} of {len(refs)} reference images carry no meta.{key}: domain classes are "
            f"{len(set(labels.tolist()))} k-means clusters of the pixels, so class balance is over clusters")

    @staticmethod
    def _metrics(real: np.ndarray, fake: np.ndarray, manifold: PrdcResult,
                 p: dict[str, Any]) -> tuple[dict[str, float], list[Note | None]]:
        n_real, n_fake, dim = real.shape[0], fake.shape[0], real.shape[1]
        metrics: dict[str, float] = {}
        notes = [counts_note(KEY_FRECHET, f"{n_fake} generated vs {n_real} reference images, "
                                          f"{dim} feature dimensions")]
        metrics[KEY_FRECHET] = frechet_distance_features(real, fake)
        smaller = min(n_real, n_fake)
        notes.append(too_few(KEY_FRECHET, smaller, dim + 1,
                             f"with fewer samples than feature dimensions ({dim}) the covariance is "
                             "singular and the distance is dominated by estimation bias")
                     or too_few(KEY_FRECHET, smaller, 10 * dim,
                                "the Fréchet distance is biased upwards at this sample size; compare it "
                                "only between releases with the same number of samples"))
        kid = kernel_inception_distance(real, fake, subsets=p["kid_subsets"],
                                        subset_size=p["kid_subset_size"], seed=p["seed"])
        metrics[KEY_KID], metrics[KEY_KID_STD] = kid.mean, kid.std
        notes += _kid_notes(kid, p["kid_subset_size"])
        metrics.update({KEY_PRECISION: manifold.precision, KEY_RECALL: manifold.recall,
                        KEY_DENSITY: manifold.density, KEY_COVERAGE: manifold.coverage})
        notes.append(counts_note("precision/recall/density/coverage",
                                 f"{n_fake} generated vs {n_real} reference images, k={p['k']}"))
        notes.append(too_few("precision/recall/density/coverage", smaller, 20 * p["k"],
                             "k-NN manifolds from this few points are coarse; the values vary strongly "
                             "between draws"))
        return metrics, notes


def _kid_notes(kid: KidResult, requested_size: int) -> list[Note | None]:
    """The counts KID rests on, what ``kid_std`` measures when a set enters every subset whole (``kid``
    is of the reference set ``x`` against the generated set ``y``), and a warning for small subsets."""
    n = kid.subset_size
    small = too_few(KEY_KID, n, 100, "a KID from this few images moves a lot with the choice of images"
                    + ("; read kid_std" if kid.varies else ""))
    if kid.x_whole and kid.y_whole:
        return [counts_note(KEY_KID, f"all {n} generated and all {n} reference images, once: "
                                     f"{kid.mean:.4g}"),
                info(f"{KEY_KID_STD} not reported (null): kid_subset_size={requested_size} covers both "
                     f"sets ({n} generated and {n} reference images), so every subset would be the same "
                     f"and there is no spread to report; set kid_subset_size below {n} for one"),
                small]
    spread = f" ± {kid.std:.2g}" if kid.varies else ""
    notes = [counts_note(KEY_KID, f"{kid.subsets} subsets of {n} generated and {n} reference images: "
                                  f"{kid.mean:.4g}{spread}")]
    if kid.x_whole or kid.y_whole:
        whole, other = ("generated", "reference") if kid.y_whole else ("reference", "generated")
        notes.append(info(f"{KEY_KID_STD} reflects the choice of {other} images only: every subset holds "
                          f"all {n} {whole} images, so it understates how much KID moves with other "
                          f"{whole} images"))
    return notes + [small]
