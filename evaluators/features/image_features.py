"""Image features for the quality metrics: a domain CNN trained on the reference set, or local
Inception-v3 weights.

Why not Inception by default: its weights cannot be downloaded here, and its ImageNet features
mean little for 8x8 digits upscaled to 16x16. For digit-like data the usual practice is a small
classifier trained on the real data, whose penultimate layer serves as the feature space. The
numbers it gives are comparable between releases audited against the same reference set, and not
comparable to published Inception FIDs.

The trained network is cached in the cache folder under a key that hashes the pixels it was
trained on, their labels and the training config, so a second audit against the same reference
set loads it instead of training again. Weights are safetensors, checked by sha256 on load.

This module imports torch; ``evaluators.quality.image_quality`` imports it only when it runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from aigc_audit.errors import AuditError, InputError, ItemError
from aigc_audit.evaluators.base import Track, no_progress
from aigc_audit.evaluators.features._image_cnn import FeatureCNN, FeatureCNNConfig
from aigc_audit.evaluators.quality._cache import cache_root
from aigc_audit.evaluators.quality._threads import one_thread
from aigc_audit.images import open_image
from aigc_audit.sampleset import Item, sha256_file
from aigc_audit.threads import torch_threads

CACHE_SUBDIR = "image-features"
WEIGHTS_FILE = "model.safetensors"
RECORD_FILE = "model.json"
# Bump when training changes in a way the config does not capture, so old caches are not reused.
CACHE_VERSION = 1
INCEPTION_SIZE = 299
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ---- pixels ---------------------------------------------------------------------------------------

@dataclass
class Pixels:
    """Decoded images, one row each, and the items that could not be decoded."""

    array: np.ndarray                  # (N, S, S) float32 in [0, 1]
    items: list[Item]
    errors: dict[str, str] = field(default_factory=dict)


def square_resize(image: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square, then resize to ``size`` (the generators' own preprocessing)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return image if image.size == (size, size) else image.resize((size, size), Image.Resampling.BILINEAR)


def load_pixels(items: Sequence[Item], *, size: int, track: Track = no_progress,
                what: str = "images") -> Pixels:
    """Decode ``items`` as grayscale ``size x size``; an unreadable image is recorded, not fatal."""
    rows, kept, errors = [], [], {}
    for item in track(items, f"Reading {what}", len(items)):
        try:
            image = open_image(item, mode="L")
        except ItemError as error:
            errors[item.id] = error.reason
            continue
        rows.append(np.asarray(square_resize(image, size), dtype=np.float32) / 255.0)
        kept.append(item)
    array = np.stack(rows) if rows else np.zeros((0, size, size), dtype=np.float32)
    return Pixels(array, kept, errors)


def pseudo_labels(pixels: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """k-means clusters of the pixels: classes for a reference set that carries no labels."""
    from sklearn.cluster import KMeans

    flat = pixels.reshape(len(pixels), -1)
    n_clusters = min(n_clusters, len(np.unique(flat, axis=0)))
    with one_thread():
        return KMeans(n_clusters=n_clusters, n_init=4, random_state=seed).fit(flat).labels_.astype(np.int64)


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def _class_key(value: Hashable) -> tuple[str, str]:
    return type(value).__name__, str(value)


# ---- the domain CNN -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 5e-3
    holdout: float = 0.1      # share of reference images kept out of training to measure accuracy
    seed: int = 0


class DomainFeatures:
    """The domain feature extractor, as a fitted estimator.

    ``fit(pixels, labels)`` trains the CNN (or loads it from the cache); ``transform`` gives
    ``(N, feature_dim)`` float64 features, ``predict`` class indices into ``classes_``.
    """

    def __init__(self, *, image_size: int = 16, feature_dim: int = 64, epochs: int = 15,
                 batch_size: int = 32, learning_rate: float = 5e-3, holdout: float = 0.1,
                 seed: int = 0, cache_dir: str | Path | None = None):
        self.image_size = image_size
        self.feature_dim = feature_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.holdout = holdout
        self.seed = seed
        self.cache_dir = cache_dir

    # -- fitting --
    def fit(self, pixels: np.ndarray, labels: Sequence[Hashable], *, source: str = "",
            track: Track = no_progress) -> DomainFeatures:
        """Train on ``pixels`` ``(N, S, S)`` in [0, 1] with one label per image.

        ``source`` (the reference set's sha256, say) is recorded beside the cached weights.
        """
        pixels = np.asarray(pixels, dtype=np.float32)
        if pixels.ndim != 3 or pixels.shape[1:] != (self.image_size, self.image_size):
            raise ValueError(f"pixels must have shape (N, {self.image_size}, {self.image_size}); "
                             f"got {pixels.shape}")
        if len(labels) != len(pixels):
            raise ValueError(f"got {len(labels)} labels for {len(pixels)} images")
        labels = [label.item() if isinstance(label, np.generic) else label for label in labels]
        classes = sorted(set(labels), key=_class_key)
        if len(classes) < 2:
            raise InputError(f"the domain feature CNN needs reference images of at least 2 classes; "
                             f"got {len(classes)} ({classes!r}); label the reference images "
                             "(meta.label) or use unlabelled ones, which are clustered")
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[label] for label in labels], dtype=np.int64)
        model_config = FeatureCNNConfig(image_size=self.image_size, n_classes=len(classes),
                                        feature_dim=self.feature_dim)
        train_config = TrainingConfig(self.epochs, self.batch_size, self.learning_rate, self.holdout,
                                      self.seed)
        self.fingerprint_ = _digest(
            json.dumps({"version": CACHE_VERSION, "model": model_config.to_dict(),
                        "training": asdict(train_config), "classes": [list(_class_key(c)) for c in classes]},
                       sort_keys=True).encode(),
            pixels.tobytes(), y.tobytes())
        self.classes_ = classes
        self.cache_path_ = cache_root(self.cache_dir) / CACHE_SUBDIR / self.fingerprint_
        self.cache_note_ = ""
        record = self._load_cached(model_config)
        self.cache_hit_ = record is not None
        if record is None:
            record = self._train(pixels, y, model_config, train_config, source, track)
        self.holdout_accuracy_ = record["holdout_accuracy"]
        self.weights_sha256_ = record["weights_sha256"]
        self.model_.eval()
        return self

    def _load_cached(self, config: FeatureCNNConfig) -> dict[str, Any] | None:
        weights, record_path = self.cache_path_ / WEIGHTS_FILE, self.cache_path_ / RECORD_FILE
        if not (weights.is_file() and record_path.is_file()):
            return None
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            if sha256_file(weights) != record["weights_sha256"]:
                self.cache_note_ = (f"cached feature CNN at {self.cache_path_} failed its sha256 check; "
                                    "retrained")
                return None
            model = FeatureCNN(config)
            model.load_state_dict(load_file(weights))
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            self.cache_note_ = f"cached feature CNN at {self.cache_path_} unreadable ({error}); retrained"
            return None
        self.model_ = model
        return record

    def _train(self, pixels: np.ndarray, y: np.ndarray, config: FeatureCNNConfig,
               training: TrainingConfig, source: str, track: Track) -> dict[str, Any]:
        rng = np.random.default_rng(training.seed)
        order = rng.permutation(len(pixels))
        n_hold = int(round(training.holdout * len(pixels))) if len(pixels) >= 20 else 0
        hold, train = order[:n_hold], order[n_hold:]
        x = torch.from_numpy(pixels[:, None])  # (N, 1, S, S)
        targets = torch.from_numpy(y)
        with torch.random.fork_rng(), torch_threads(1):
            torch.manual_seed(training.seed)
            model = FeatureCNN(config)
            optimiser = torch.optim.Adam(model.parameters(), lr=training.learning_rate)
            loss_fn = nn.CrossEntropyLoss()
            model.train()
            for _ in track(range(training.epochs), "Training the domain feature CNN", training.epochs):
                shuffled = rng.permutation(train)
                for start in range(0, len(shuffled), training.batch_size):
                    rows = torch.from_numpy(shuffled[start:start + training.batch_size])
                    optimiser.zero_grad()
                    loss_fn(model(x[rows]), targets[rows]).backward()
                    optimiser.step()
        model.eval()
        self.model_ = model
        accuracy = None
        if n_hold:
            predicted = self.predict(pixels[hold])
            accuracy = float((predicted == y[hold]).mean())
        return self._save(model, training, source, accuracy)

    def _save(self, model: FeatureCNN, training: TrainingConfig, source: str,
              accuracy: float | None) -> dict[str, Any]:
        parent = self.cache_path_.parent
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=".tmp-"))
        try:
            weights = staging / WEIGHTS_FILE
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
            record = {"version": CACHE_VERSION, "model": model.config.to_dict(),
                      "training": asdict(training), "classes": self.classes_,
                      "holdout_accuracy": accuracy, "weights_sha256": sha256_file(weights),
                      "reference": source, "fingerprint": self.fingerprint_}
            (staging / RECORD_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")
            if self.cache_path_.exists():
                shutil.rmtree(self.cache_path_, ignore_errors=True)
            try:
                os.replace(staging, self.cache_path_)
            except OSError:
                pass  # another process cached the same network first; ours is identical
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return record

    # -- applying --
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this DomainFeatures is not fitted yet; call fit(pixels, labels) first")

    def _batches(self, pixels: np.ndarray, batch_size: int,
                 fn: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
        self._check_fitted()
        pixels = np.asarray(pixels, dtype=np.float32)
        out = []
        with torch.inference_mode(), torch_threads(1):
            for start in range(0, len(pixels), batch_size):
                out.append(fn(torch.from_numpy(pixels[start:start + batch_size, None])).double().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0))

    def transform(self, pixels: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """``(N, S, S)`` pixels -> ``(N, feature_dim)`` features in float64."""
        self._check_fitted()
        return self._batches(pixels, batch_size, self.model_.embed)

    def predict_proba(self, pixels: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        return self._batches(pixels, batch_size, lambda x: torch.softmax(self.model_(x), dim=1))

    def predict(self, pixels: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        return self.predict_proba(pixels, batch_size=batch_size).argmax(axis=1)


# ---- local Inception-v3 ---------------------------------------------------------------------------

def _torchvision_inception(state: dict[str, torch.Tensor]) -> nn.Module:
    try:
        from torchvision.models import inception_v3
    except ImportError:
        raise AuditError("features=inception needs torchvision, which is not installed; install the "
                         "torchvision release built for torch " + torch.__version__.split("+")[0]
                         + " (pip install --no-deps torchvision==<matching version>), or use "
                         "features=domain") from None
    aux = any(key.startswith("AuxLogits.") for key in state)
    return inception_v3(weights=None, aux_logits=aux, init_weights=False, transform_input=False)


class InceptionFeatures:
    """2048-d pool features of a torchvision-layout Inception-v3 from a local weights file.

    The file must match the sha256 the user states (a full digest, or at least its first 8 hex
    digits as in torchvision's file names): weights are never fetched, and a file that is not the
    one named is refused. ``.safetensors`` files are read with safetensors, anything else with
    ``torch.load(weights_only=True)``, so nothing is unpickled.

    ``build(state_dict) -> nn.Module`` makes the network (torchvision's ``inception_v3`` by
    default); the tests pass a small stand-in to exercise the loading path without torchvision.
    """

    def __init__(self, *, weights: str | Path, sha256: str, batch_size: int = 32,
                 build: Callable[[dict[str, torch.Tensor]], nn.Module] = _torchvision_inception,
                 input_size: int = INCEPTION_SIZE):
        self.weights = weights
        self.sha256 = sha256
        self.batch_size = batch_size
        self.build = build
        self.input_size = input_size

    def fit(self) -> InceptionFeatures:
        path = Path(self.weights)
        expected = (self.sha256 or "").strip().lower()
        if not path.is_file():
            raise InputError("Inception-v3 weights file not found; pass weights: PATH to a local file "
                             "(nothing is downloaded)", path=path)
        if len(expected) < 8 or any(c not in "0123456789abcdef" for c in expected):
            raise InputError(f"features=inception needs weights_sha256, the file's sha256 (at least its "
                             f"first 8 hex digits); got {self.sha256!r}", path=path)
        actual = sha256_file(path)
        if not actual.startswith(expected):
            raise InputError(f"weights sha256 {actual} does not match the expected {expected}; the file "
                             "is not the one named (corrupt, or other weights)", path=path)
        try:
            state = load_file(str(path)) if path.suffix == ".safetensors" else \
                torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001 - any unreadable file is one user error
            raise InputError(f"cannot read weights ({type(error).__name__}: {error}); pass a "
                             "safetensors file or a plain state_dict", path=path) from None
        if not isinstance(state, dict):
            raise InputError(f"weights must hold a state_dict; got {type(state).__name__}", path=path)
        model = self.build(state)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[1:2] or [str(error)]
            raise InputError(f"weights do not fit an Inception-v3 network: {first[0].strip()}",
                             path=path) from None
        if hasattr(model, "fc"):
            model.fc = nn.Identity()  # the pool3 features, as in FID
        self.model_ = model.eval()
        self.weights_sha256_ = actual
        return self

    def _tensor(self, images: list[Image.Image]) -> torch.Tensor:
        batch = np.stack([np.asarray(square_resize(image, self.input_size), dtype=np.float32) / 255.0
                          for image in images])                       # (B, H, W, 3)
        x = torch.from_numpy(batch).permute(0, 3, 1, 2)               # (B, 3, H, W)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return (x - mean) / std

    def transform_items(self, items: Sequence[Item], *, track: Track = no_progress,
                        what: str = "images") -> tuple[np.ndarray, list[Item], dict[str, str]]:
        """Features of ``items`` read batch by batch (RGB at 299 px would not fit in memory at
        once); returns the features, the items they belong to and the unreadable items."""
        if not hasattr(self, "model_"):
            raise RuntimeError("this InceptionFeatures is not fitted yet; call fit() first")
        rows, kept, errors, pending = [], [], {}, []

        def flush() -> None:
            if pending:
                with torch.inference_mode():
                    out = self.model_(self._tensor([image for _, image in pending]))
                rows.append(torch.flatten(out, 1).double().numpy())
                kept.extend(item for item, _ in pending)
                pending.clear()

        for item in track(items, f"Inception features of {what}", len(items)):
            try:
                pending.append((item, open_image(item, mode="RGB")))
            except ItemError as error:
                errors[item.id] = error.reason
            if len(pending) == self.batch_size:
                flush()
        flush()
        return (np.concatenate(rows) if rows else np.zeros((0, 0))), kept, errors
