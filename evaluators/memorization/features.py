"""The feature spaces the memorization checks measure distances in.

Text: all-MiniLM-L6-v2 sentence embeddings (the ones MAUVE uses), cached per exact list of texts
in the same cache folder as the text quality evaluator's reference embeddings, so one reference set
is embedded once. Images: the image quality evaluator's domain CNN, fitted on the whole reference
set exactly as that evaluator fits it (so both share one cached network), standardised by the
training items' features.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aigc_audit.evaluators.base import Track, no_progress
from aigc_audit.evaluators.quality._cache import cache_root
from aigc_audit.sampleset import Item

EMBEDDINGS_SUBDIR = "text-embeddings"  # shared with evaluators.quality.text_quality
Embedder = Callable[[Sequence[str]], np.ndarray]


@dataclass
class FeatureSets:
    """Features of the generated, training and held-out items (rows align with the item lists),
    the items that could not be read, and remarks for the report."""

    generated: np.ndarray
    train: np.ndarray
    heldout: np.ndarray
    generated_items: list[Item]
    train_items: list[Item]
    heldout_items: list[Item]
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def cached_embeddings(embed: Embedder, texts: Sequence[str], cache_dir: str | None,
                      key: str) -> tuple[np.ndarray, str]:
    """``embed(texts)``, from the cache when these exact texts were embedded by the model ``key``."""
    digest = hashlib.sha256(key.encode())
    for text in texts:
        digest.update(len(text.encode()).to_bytes(8, "little"))
        digest.update(text.encode())
    path = cache_root(cache_dir) / EMBEDDINGS_SUBDIR / f"{digest.hexdigest()}.npy"
    if path.is_file():
        try:
            table = np.load(path, allow_pickle=False)
            if table.shape[0] == len(texts):
                return table, f"embeddings of {len(texts)} texts loaded from {path}"
        except (OSError, ValueError):
            pass  # a damaged cache file is computed again
    table = np.asarray(embed(texts), dtype=np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(f".tmp-{time.time_ns()}.npy")
    np.save(staging, table, allow_pickle=False)
    staging.replace(path)
    return table, f"embeddings of {len(texts)} texts computed and cached in {path}"


def text_features(generated: list[Item], train: list[Item], heldout: list[Item], *,
                  embedder: Embedder | None, cache_dir: str | None) -> FeatureSets:
    """Sentence embeddings; a text over the size limit (no text) is an error, not a silent gap."""
    errors = {i.id: i.unreadable or "no text" for i in generated if i.text is None}
    generated = [i for i in generated if i.text is not None]
    train = [i for i in train if i.text is not None]
    heldout = [i for i in heldout if i.text is not None]
    notes = []
    if embedder is None:
        from aigc_audit.evaluators.features.text_embeddings import WEIGHTS_SHA256, MiniLMEmbedder

        embed, key = MiniLMEmbedder(), WEIGHTS_SHA256
        notes.append("features: all-MiniLM-L6-v2 sentence embeddings (384-d, unit norm)")
    else:
        embed, key = embedder, f"injected:{id(embedder)}"
    tables = []
    for items in (train, heldout):
        table, note = (cached_embeddings(embed, [i.text for i in items], cache_dir, key)
                       if embedder is None else (np.asarray(embed([i.text for i in items]), float), ""))
        tables.append(table)
        if note:
            notes.append(note)
    fake = np.asarray(embed([i.text for i in generated]), dtype=np.float64) if generated else np.zeros((0, 1))
    return FeatureSets(fake, tables[0], tables[1], generated, train, heldout, errors, notes)


def image_features(generated: list[Item], train: list[Item], heldout: list[Item], *, params: dict[str, Any],
                   reference_sha256: str, labels: Callable[[list[Item], np.ndarray], list[Hashable]],
                   track: Track = no_progress) -> FeatureSets:
    """Domain-CNN features, standardised by the training items' mean and standard deviation."""
    from aigc_audit.evaluators.features.image_features import DomainFeatures, load_pixels

    size = params["image_size"]
    fake = load_pixels(generated, size=size, track=track, what="generated images")
    real = load_pixels(train + heldout, size=size, track=track, what="reference images")
    notes = []
    if real.errors:
        notes.append(f"{len(real.errors)} reference image(s) unreadable and left out")
    domain = DomainFeatures(image_size=size, feature_dim=params["feature_dim"], epochs=params["epochs"],
                            seed=params["seed"], cache_dir=params["cache_dir"] or None)
    domain.fit(real.array, labels(real.items, real.array), source=reference_sha256, track=track)
    notes.append(f"features: the image quality evaluator's domain CNN ({params['feature_dim']}-d), "
                 f"{'loaded from' if domain.cache_hit_ else 'trained and cached in'} {domain.cache_path_}")
    heldout_ids = {i.id for i in heldout}
    is_heldout = np.array([i.id in heldout_ids for i in real.items], dtype=bool)
    real_features = domain.transform(real.array)
    train_features = real_features[~is_heldout]
    mean, std = train_features.mean(axis=0), train_features.std(axis=0, ddof=1)
    std[~(std > 0)] = 1.0

    def scaled(x: np.ndarray) -> np.ndarray:
        return (x - mean) / std

    fake_features = domain.transform(fake.array) if len(fake.items) else np.zeros((0, real_features.shape[1]))
    return FeatureSets(scaled(fake_features), scaled(train_features), scaled(real_features[is_heldout]),
                       fake.items, [i for i, h in zip(real.items, is_heldout) if not h],
                       [i for i, h in zip(real.items, is_heldout) if h], dict(fake.errors), notes)
