"""``aigc-audit demo``: application code that trains the built-in generators, writes their
releases and audits each one side by side (``run``); ``release`` is what every release is."""

from aigc_audit.demo.release import Release

__all__ = ["Release"]
