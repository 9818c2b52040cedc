"""Loaded harm models shared within one process, keyed by the sha256 of the files they come from.

Loading MiniLM and tox-block takes seconds; a process that audits more than once (the service, a
test session, a notebook) should pay that once. The key is the content hash of the model files, so
a changed file is a new entry, never a stale hit. What is shared is only read: tox-block's weights
are made read-only and MiniLM runs in eval mode under ``torch.inference_mode``, so one run cannot
change another's scores. Nothing is loaded at import; :func:`clear` empties the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def shared(kind: str, sha256: str, load: Callable[[], T]) -> T:
    """The model of ``kind`` loaded from files whose content hash is ``sha256``: from the cache, or
    ``load()`` once (under a lock, so two threads do not load it twice)."""
    key = (kind, sha256)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = load()
        return _LOADED[key]


def loaded() -> list[tuple[str, str]]:
    """The (kind, sha256) of every model held now."""
    with _LOCK:
        return sorted(_LOADED)


def clear() -> None:
    with _LOCK:
        _LOADED.clear()
