"""Where quality evaluators keep what they fit once per reference set (feature networks, reference
embeddings): ``$AIGC_AUDIT_CACHE``, else ``.aigc-audit/cache`` in the working directory."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "AIGC_AUDIT_CACHE"
DEFAULT_CACHE = Path(".aigc-audit") / "cache"


def cache_root(given: str | Path | None = None) -> Path:
    """``given`` when set, else the environment's or the default cache folder."""
    if given:
        return Path(given)
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
