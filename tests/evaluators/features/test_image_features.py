"""The image feature extractors: the domain CNN (batch-size invariance, cache, fitted contract)
and the loading path of local Inception-v3 weights (sha256, safe formats, strict state dict)."""

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torch import nn

from aigc_audit.errors import AuditError, InputError
from aigc_audit.evaluators.features.image_features import (
    RECORD_FILE,
    WEIGHTS_FILE,
    DomainFeatures,
    InceptionFeatures,
    load_pixels,
    pseudo_labels,
)
from aigc_audit.sampleset import Item
from tests.evaluators.quality.quality_sets import digits


@pytest.fixture(scope="module")
def small_digits():
    images, labels = digits()
    return images[:240].astype(np.float32) / 255.0, labels[:240]


@pytest.fixture(scope="module")
def fitted(small_digits, tmp_path_factory):
    pixels, labels = small_digits
    cache = tmp_path_factory.mktemp("cache")
    return DomainFeatures(epochs=2, cache_dir=cache).fit(pixels, list(labels)), cache


def test_features_do_not_depend_on_the_batch_size(fitted, small_digits):
    extractor, _ = fitted
    pixels = small_digits[0][:60]
    one = extractor.transform(pixels, batch_size=1)
    seven = extractor.transform(pixels, batch_size=7)
    whole = extractor.transform(pixels, batch_size=60)
    assert one.shape == (60, 64) and one.dtype == np.float64
    scale = np.abs(whole).max()
    np.testing.assert_allclose(one, whole, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(seven, whole, rtol=1e-5, atol=1e-5 * scale)


def test_second_fit_loads_the_cache_and_gives_identical_features(fitted, small_digits):
    extractor, cache = fitted
    pixels, labels = small_digits
    again = DomainFeatures(epochs=2, cache_dir=cache).fit(pixels, list(labels))
    assert not extractor.cache_hit_ and again.cache_hit_
    assert again.cache_path_ == extractor.cache_path_ and (again.cache_path_ / WEIGHTS_FILE).is_file()
    record = json.loads((again.cache_path_ / RECORD_FILE).read_text())
    assert record["weights_sha256"] == again.weights_sha256_ and record["classes"] == list(range(10))
    np.testing.assert_array_equal(again.transform(pixels[:20]), extractor.transform(pixels[:20]))
    # Other training data or config: another cache entry.
    other = DomainFeatures(epochs=1, cache_dir=cache).fit(pixels, list(labels))
    assert not other.cache_hit_ and other.cache_path_ != extractor.cache_path_


def test_tampered_cached_weights_are_not_used(small_digits, tmp_path):
    pixels, labels = small_digits[0][:80], list(small_digits[1][:80])
    first = DomainFeatures(epochs=1, cache_dir=tmp_path).fit(pixels, labels)
    weights = first.cache_path_ / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    second = DomainFeatures(epochs=1, cache_dir=tmp_path).fit(pixels, labels)
    assert not second.cache_hit_ and "failed its sha256 check" in second.cache_note_


def test_estimator_contract(small_digits):
    extractor = DomainFeatures(epochs=1)
    with pytest.raises(RuntimeError, match="not fitted yet; call fit"):
        extractor.transform(small_digits[0][:2])
    with pytest.raises(ValueError, match=r"pixels must have shape \(N, 16, 16\); got \(3, 8, 8\)"):
        extractor.fit(np.zeros((3, 8, 8), np.float32), [0, 1, 2])
    with pytest.raises(InputError, match="at least 2 classes; got 1"):
        extractor.fit(np.zeros((3, 16, 16), np.float32), [7, 7, 7])


def test_pseudo_labels_split_distinct_images():
    pixels = np.concatenate([np.zeros((5, 4, 4)), np.ones((5, 4, 4))]).astype(np.float32)
    labels = pseudo_labels(pixels, 2, seed=0)
    assert len(set(labels[:5])) == 1 and len(set(labels[5:])) == 1 and labels[0] != labels[5]


def test_unreadable_images_are_reported_not_dropped(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.full((20, 30), 200, np.uint8)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(good.read_bytes()[:30])
    pixels = load_pixels([Item("a", "image", path=good), Item("b", "image", path=bad)], size=16)
    assert pixels.array.shape == (1, 16, 16) and [i.id for i in pixels.items] == ["a"]
    assert set(pixels.errors) == {"b"} and pixels.array.max() == pytest.approx(200 / 255)


# ---- local Inception-v3 weights, with a small stand-in network (torchvision is optional) ---------

class _StandIn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _image_items(tmp_path, n):
    items = []
    for i in range(n):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(path)
        items.append(Item(f"i{i}", "image", path=path))
    return items


def test_inception_weights_load_only_when_the_sha256_matches(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "inception.safetensors"
    save_file(_StandIn().state_dict(), str(weights))
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()

    def make(**kw):
        return InceptionFeatures(weights=weights, build=lambda state: _StandIn(), input_size=32, **kw)

    with pytest.raises(InputError, match="does not match the expected 00000000"):
        make(sha256="0" * 8).fit()
    with pytest.raises(InputError, match="needs weights_sha256"):
        make(sha256="").fit()
    with pytest.raises(InputError, match="weights file not found"):
        InceptionFeatures(weights=tmp_path / "missing.pth", sha256=digest).fit()
    extractor = make(sha256=digest[:8], batch_size=2).fit()
    features, kept, errors = extractor.transform_items(_image_items(tmp_path, 3))
    assert features.shape == (3, 4) and [i.id for i in kept] == ["i0", "i1", "i2"] and errors == {}


def test_inception_weights_from_a_pth_state_dict_and_a_wrong_network(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save(_StandIn().state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    ok = InceptionFeatures(weights=path, sha256=digest, build=lambda s: _StandIn(), input_size=16).fit()
    assert ok.weights_sha256_ == digest
    with pytest.raises(InputError, match="do not fit an Inception-v3 network"):
        InceptionFeatures(weights=path, sha256=digest, build=lambda s: nn.Linear(2, 2)).fit()


def test_inception_without_torchvision_says_how_to_fix(tmp_path, monkeypatch):
    import builtins

    path = tmp_path / "weights.safetensors"
    save_file(_StandIn().state_dict(), str(path))
    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(AuditError, match="needs torchvision.*or use features=domain"):
        InceptionFeatures(weights=path, sha256=digest).fit()
