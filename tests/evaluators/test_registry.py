"""The evaluator registry's refusals: a duplicate name, a class of the wrong base, a missing name,
and an unknown name, whose error lists the valid ones."""

import pytest

from aigc_audit.errors import AuditError, ConfigError
from aigc_audit.evaluators import registry
from aigc_audit.evaluators.base import Evaluator
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate

BUILT_IN = ["extraction", "harm_image", "harm_text", "image_near_duplicate", "image_quality",
            "item_integrity", "memorization", "personal_data", "text_copy", "text_near_duplicate",
            "text_quality"]


class _Stub(Evaluator):
    description = "a stub"
    modalities = ("text",)

    def evaluate(self, samples, reference, *, track=None):
        raise NotImplementedError


@pytest.fixture
def scratch(monkeypatch):
    """A copy of the registry, so registrations made by a test do not outlive it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_the_built_in_evaluators_are_registered_under_their_names():
    assert registry.names() == BUILT_IN
    assert all(registry.get(name).name == name for name in BUILT_IN)


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_built_in_lives_in_the_module_its_name_points_to(name):
    # harm_text in evaluators/harm/text.py, text_copy in evaluators/copying/text_copy.py: the
    # registered name is the module's name, or its package's and module's names joined.
    module = registry.get(name).__module__.removeprefix("aigc_audit.evaluators.").split(".")
    assert name in (module[-1], "_".join(module[-2:])), f"{name} is defined in {'.'.join(module)}"


def test_a_duplicate_name_is_refused_and_the_first_class_kept():
    class Impostor(_Stub):
        name = "text_near_duplicate"

    with pytest.raises(ValueError, match=r"an evaluator named 'text_near_duplicate' is already registered "
                                         r"\(aigc_audit\.evaluators\.copying\.text_near_duplicate\."
                                         r"TextNearDuplicate\); give .*Impostor another name"):
        registry.register(Impostor)
    assert registry.get("text_near_duplicate") is TextNearDuplicate


def test_registering_the_same_class_again_changes_nothing():
    assert registry.register(TextNearDuplicate) is TextNearDuplicate
    assert registry.names() == BUILT_IN


@pytest.mark.parametrize("thing, shown", [(int, "<class 'int'>"), (object(), "<object object"),
                                          ("text_near_duplicate", "'text_near_duplicate'")])
def test_anything_but_an_evaluator_class_is_refused(thing, shown):
    with pytest.raises(TypeError, match=rf"only Evaluator subclasses can be registered; got {shown}"):
        registry.register(thing)
    assert registry.names() == BUILT_IN


@pytest.mark.parametrize("name", [None, ""])
def test_a_class_without_a_name_is_refused(name):
    cls = type("Nameless", (_Stub,), {} if name is None else {"name": name})
    with pytest.raises(TypeError, match=r"Nameless must set a non-empty class attribute 'name'; "
                                        rf"got {name!r}"):
        registry.register(cls)
    assert registry.names() == BUILT_IN


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown evaluator 'text_near_dup'; valid evaluators are "
                                          r"\['extraction', 'harm_image', 'harm_text', "
                                          r"'image_near_duplicate', 'image_quality', 'item_integrity', "
                                          r"'memorization', 'personal_data', 'text_copy', "
                                          r"'text_near_duplicate', 'text_quality'\]") as caught:
        registry.get("text_near_dup")
    # The CLI turns the project's errors into one line and exit code 2.
    assert isinstance(caught.value, AuditError)


def test_a_new_evaluator_is_found_under_its_name(scratch):
    class Fresh(_Stub):
        name = "fresh"

    assert registry.register(Fresh) is Fresh
    assert registry.get("fresh") is Fresh and "fresh" in registry.names()
