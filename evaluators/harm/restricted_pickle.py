"""Loading a third-party joblib pickle that may build only the classes named for it.

A pickle can call anything importable while it loads, so a model file shipped in another package
is code, not data. The house rule is never to unpickle one plainly: :func:`load_joblib` reads it
with joblib's own unpickler (which rebuilds its stored numpy arrays) but looks every global the file
asks for up in ``allowed`` first, and refuses any other before it is imported or called. A changed
or replaced file then fails with its path and the class it asked for, instead of running.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Collection
from pathlib import Path
from typing import Any

from aigc_audit.errors import AuditError

# What any joblib file of numpy arrays needs: joblib's array record and numpy's own reconstructors.
NUMPY_GLOBALS = frozenset({
    ("joblib.numpy_pickle", "NumpyArrayWrapper"), ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
})


def load_joblib(path: Path, allowed: Collection[tuple[str, str]], *, sha256: str | None, fix: str) -> Any:
    """The object in the joblib file ``path``, built from ``allowed`` (module, name) globals and
    numpy's (:data:`NUMPY_GLOBALS`) only; numpy scalar types (``numpy.float64``) are allowed too.
    With ``sha256``, a file of other content is refused before it is unpickled. ``fix`` ends the
    error a refused or unreadable file raises (how to get a good copy)."""
    from joblib.numpy_pickle import NumpyUnpickler

    permitted = frozenset(allowed) | NUMPY_GLOBALS

    class Restricted(NumpyUnpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) not in permitted and not _numpy_scalar_type(module, name):
                raise AuditError(f"{path}: the pickled model asks for {module}.{name}, which it is "
                                 f"not allowed to build; {fix}")
            return super().find_class(module, name)

    try:
        data = Path(path).read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if sha256 is not None and actual != sha256:
            raise AuditError(f"{path}: sha256 {actual} is not the pinned {sha256}; {fix}")
        return Restricted(str(path), io.BytesIO(data), True, mmap_mode=None).load()
    except AuditError:
        raise
    except Exception as error:  # a truncated or foreign file fails inside pickle or joblib
        raise AuditError(f"{path}: cannot read the pickled model ({type(error).__name__}: {error}); "
                         f"{fix}") from None


def _numpy_scalar_type(module: str, name: str) -> bool:
    import numpy as np

    return module == "numpy" and isinstance(getattr(np, name, None), type) and issubclass(
        getattr(np, name), np.generic)
