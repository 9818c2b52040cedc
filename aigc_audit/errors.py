"""The project's exceptions.

``AuditError`` is the one base class the CLI turns into a one-line message and exit code 2.
``ItemError`` is different: it is raised for a single unreadable item, caught by the evaluator,
reported with its reason and counted; it never stops a run.
"""

from __future__ import annotations

from pathlib import Path


class AuditError(Exception):
    """A run cannot be made: bad input, bad configuration. The CLI exits 2 with ``str(error)``."""


def _where(path: str | Path | None, line: int | None) -> str:
    if path is None:
        return ""
    return f"{path}:{line}: " if line is not None else f"{path}: "


class InputError(AuditError):
    """A sample or reference set cannot be read; names the file and, where known, the line."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = message
        super().__init__(f"{_where(path, line)}{message}")


class PolicyError(AuditError):
    """A policy is invalid. ``problems`` holds every problem found, each already located."""

    def __init__(self, problems: list[str]):
        if not problems:
            raise ValueError("PolicyError needs at least one problem")
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


class ConfigError(AuditError, ValueError):
    """A name or parameter the configuration gives is invalid: an unknown evaluator or generator,
    an unknown parameter, a value of the wrong type or out of range. The message says what was
    wrong, what was received and what is valid.

    It is also a ``ValueError``, so code written against the plain exception keeps working.
    """


class ItemError(Exception):
    """One item cannot be evaluated (a corrupt image, say). Counted and reported, never fatal."""

    def __init__(self, item_id: str, reason: str):
        self.item_id = item_id
        self.reason = reason
        super().__init__(f"item {item_id}: {reason}")
