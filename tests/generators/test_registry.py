"""The generator registry's refusals: a duplicate name, a class of the wrong base, a missing name,
and an unknown name, whose error lists the valid ones."""

import pytest

from aigc_audit import generators
from aigc_audit.errors import AuditError, ConfigError
from aigc_audit.generators import base


class _Stub(base.Generator):
    description = "a stub"

    @classmethod
    def add_train_arguments(cls, parser):
        pass

    @classmethod
    def train_from_args(cls, args):
        raise NotImplementedError

    @classmethod
    def add_generate_arguments(cls, parser):
        pass

    @classmethod
    def generate_from_args(cls, args):
        raise NotImplementedError


@pytest.fixture
def scratch(monkeypatch):
    """An empty registry for the test, so its registrations do not outlive it."""
    monkeypatch.setattr(base, "_REGISTRY", {})


def test_the_built_in_generators_are_registered_under_their_names(scratch):
    generators.register_builtin()
    generators.register_builtin()  # idempotent
    assert base.names() == ["gan", "gpt", "vae"]
    assert all(base.get(name).name == name for name in base.names())


def test_a_duplicate_name_is_refused_and_the_first_class_kept(scratch):
    first = type("First", (_Stub,), {"name": "toy"})
    second = type("Second", (_Stub,), {"name": "toy"})
    assert base.register(first) is first
    with pytest.raises(ValueError, match=r"a generator named 'toy' is already registered \(.*\.First\); give "
                                         r"Second another name"):
        base.register(second)
    assert base.get("toy") is first
    assert base.register(first) is first  # the same class again changes nothing
    assert base.names() == ["toy"]


@pytest.mark.parametrize("thing, shown", [(int, "<class 'int'>"), (object(), "<object object"),
                                          ("gpt", "'gpt'")])
def test_anything_but_a_generator_class_is_refused(scratch, thing, shown):
    with pytest.raises(TypeError, match=rf"only Generator subclasses can be registered; got {shown}"):
        base.register(thing)
    assert base.names() == []


@pytest.mark.parametrize("name", [None, ""])
def test_a_class_without_a_name_is_refused(scratch, name):
    cls = type("Nameless", (_Stub,), {} if name is None else {"name": name})
    with pytest.raises(TypeError, match=r"Nameless must set a non-empty class attribute 'name'; "
                                        rf"got {name!r}"):
        base.register(cls)
    assert base.names() == []


def test_an_unknown_name_lists_the_valid_ones(scratch):
    generators.register_builtin()
    with pytest.raises(ConfigError, match=r"unknown generator 'gtp'; valid generators are "
                                          r"\['gan', 'gpt', 'vae'\]") as caught:
        base.get("gtp")
    assert isinstance(caught.value, AuditError)
    # Re-exported by the package's face.
    with pytest.raises(ConfigError, match=r"unknown generator 'diffusion'"):
        generators.get("diffusion")
