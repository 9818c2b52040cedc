"""The checked registry of evaluators: explicit ``register`` calls, no folder scanning."""

from __future__ import annotations

from aigc_audit.errors import ConfigError
from aigc_audit.evaluators.base import Evaluator

_REGISTRY: dict[str, type[Evaluator]] = {}


def register(cls: type[Evaluator]) -> type[Evaluator]:
    """Add ``cls`` under ``cls.name``; refuses a duplicate name or a class of the wrong base.
    Registering the same class again changes nothing."""
    if not (isinstance(cls, type) and issubclass(cls, Evaluator)):
        raise TypeError(f"only Evaluator subclasses can be registered; got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__name__} must set a non-empty class attribute 'name'; got {name!r}")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"an evaluator named {name!r} is already registered "
                         f"({_REGISTRY[name].__module__}.{_REGISTRY[name].__qualname__}); give "
                         f"{cls.__qualname__} another name")
    _REGISTRY[name] = cls
    return cls


def get(name: str) -> type[Evaluator]:
    """The evaluator registered as ``name``; raises ``ConfigError`` listing the valid names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown evaluator {name!r}; valid evaluators are {sorted(_REGISTRY)}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)
