"""aigc-audit: audit generative-AI output for quality, copying and harm before release.

This package is the lowest layer: the project's errors, version and the sample-set format that
generators write and evaluators read. It imports nothing from the other packages.
"""

from aigc_audit.errors import AuditError, InputError, ItemError, PolicyError

__version__ = "0.1.0"

__all__ = ["AuditError", "InputError", "ItemError", "PolicyError", "__version__"]
