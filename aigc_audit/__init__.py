"""aigc-audit: audit generative-AI output for quality, copying and harm before release.

This folder is the lowest layer: the project's errors, version and the sample-set format that
generators write and evaluators read. It imports nothing from the other packages.

Installed, the whole distribution is this one import name: ``aigc_audit.evaluators``,
``aigc_audit.generators``, ``aigc_audit.governance``, ``aigc_audit.dashboard``, ``aigc_audit.demo``
and the package data ``aigc_audit.policies`` and ``aigc_audit.examples``. In a checkout those
folders sit at the repository's root (pyproject.toml maps them in); so that a plain ``pytest`` or
``python -m aigc_audit`` from the checkout imports the same files an editable install does, the
root is added to this package's search path when, and only when, this folder sits in a checkout.
"""

from pathlib import Path as _Path

from aigc_audit.errors import AuditError, InputError, ItemError, PolicyError

__version__ = "0.1.0"

_here = _Path(__file__).resolve().parent
if not (_here / "governance").is_dir() and (_here.parent / "governance" / "__init__.py").is_file():
    __path__.append(str(_here.parent))  # noqa: F821 (set by the import system for a package)

__all__ = ["AuditError", "InputError", "ItemError", "PolicyError", "__version__"]
