"""The generator contract, its checked registry, and what every checkpoint shares.

A generator trains a checkpoint folder and writes sample sets from it. Each built-in generator
declares its own command-line options, so ``aigc-audit train NAME`` and ``aigc-audit generate NAME``
need no change when a generator is added: only one ``register`` call in ``generators/__init__.py``.

Every checkpoint folder holds ``training.json`` (the training config, the data fingerprint and the
cache key) and ``weights.sha256``; weights are safetensors. ``cache_key`` hashes the training
config with the data fingerprint, so training again on the same inputs is a cache hit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from aigc_audit.errors import ConfigError, InputError
from aigc_audit.sampleset import sha256_file

TRAINING_FILE = "training.json"
WEIGHTS_SHA_FILE = "weights.sha256"


class Generator(ABC):
    """A built-in generator: ``train`` makes a checkpoint folder, ``generate`` a sample set."""

    name: ClassVar[str]
    description: ClassVar[str]

    @classmethod
    @abstractmethod
    def add_train_arguments(cls, parser: argparse.ArgumentParser) -> None: ...

    @classmethod
    @abstractmethod
    def train_from_args(cls, args: argparse.Namespace) -> Path:
        """Train (or load from cache) and return the checkpoint folder."""

    @classmethod
    @abstractmethod
    def add_generate_arguments(cls, parser: argparse.ArgumentParser) -> None: ...

    @classmethod
    @abstractmethod
    def generate_from_args(cls, args: argparse.Namespace) -> Path:
        """Write a sample set and return its folder."""


_REGISTRY: dict[str, type[Generator]] = {}


def register(cls: type[Generator]) -> type[Generator]:
    """Add ``cls`` under ``cls.name``; refuses a duplicate name or a class of the wrong base.
    Registering the same class again changes nothing."""
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        raise TypeError(f"only Generator subclasses can be registered; got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} must set a non-empty class attribute 'name'; got {name!r}")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"a generator named {name!r} is already registered "
                         f"({_REGISTRY[name].__module__}.{_REGISTRY[name].__qualname__}); give "
                         f"{cls.__qualname__} another name")
    _REGISTRY[name] = cls
    return cls


def get(name: str) -> type[Generator]:
    """The generator registered as ``name``; raises ``ConfigError`` listing the valid names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown generator {name!r}; valid generators are {sorted(_REGISTRY)}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


# ---- checkpoints --------------------------------------------------------------------------------

def fingerprint(chunks: Iterable[bytes]) -> str:
    """sha256 over the training data, chunk by chunk, length-prefixed so boundaries count."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(len(chunk).to_bytes(8, "little"))
        digest.update(chunk)
    return digest.hexdigest()


def cache_key(train_config: dict[str, Any], data_fingerprint: str) -> str:
    payload = json.dumps({"config": train_config, "data": data_fingerprint}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def write_training_record(folder: Path, *, generator: str, train_config: dict[str, Any],
                          data_fingerprint: str, weights: Path, metrics: dict[str, Any]) -> str:
    """Write ``training.json`` and ``weights.sha256`` beside the weights; returns the sha256."""
    weights_sha = sha256_file(weights)
    record = {"generator": generator, "config": train_config, "data_fingerprint": data_fingerprint,
              "cache_key": cache_key(train_config, data_fingerprint), "weights": weights.name,
              "weights_sha256": weights_sha, "metrics": metrics}
    (folder / TRAINING_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    (folder / WEIGHTS_SHA_FILE).write_text(f"{weights_sha}  {weights.name}\n")
    return weights_sha


def read_training_record(folder: Path, *, verify: bool = True) -> dict[str, Any]:
    """Read ``training.json``; with ``verify``, refuse weights whose sha256 does not match."""
    path = folder / TRAINING_FILE
    if not path.is_file():
        raise InputError(f"not a checkpoint folder: {TRAINING_FILE} missing; train one with "
                         "'aigc-audit train'", path=folder)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"malformed JSON ({error.msg})", path=path, line=error.lineno) from None
    if verify:
        weights = folder / record["weights"]
        if not weights.is_file():
            raise InputError(f"weights file {record['weights']} missing", path=folder)
        actual = sha256_file(weights)
        if actual != record["weights_sha256"]:
            raise InputError(f"weights sha256 {actual[:12]} does not match the recorded "
                             f"{record['weights_sha256'][:12]}; the checkpoint was modified", path=weights)
    return record


def cached(folder: Path, key: str) -> bool:
    """True when ``folder`` already holds a verified checkpoint trained under ``key``."""
    try:
        return read_training_record(folder)["cache_key"] == key
    except (InputError, KeyError):
        return False
