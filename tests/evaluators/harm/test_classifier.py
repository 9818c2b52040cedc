"""The classifier contract's helpers."""

from importlib import metadata

import pytest

from aigc_audit.evaluators.harm import classifier
from aigc_audit.evaluators.harm.classifier import installed_version
from aigc_audit.evaluators.harm.profanity import PACKAGE, ProfanityClassifier


def test_installed_version_is_the_package_metadata_read_once(monkeypatch):
    installed_version.cache_clear()
    assert installed_version("numpy") == metadata.version("numpy")
    assert installed_version("no-such-package-aigc-audit-test") is None
    monkeypatch.setattr(classifier.metadata, "version", lambda name: pytest.fail("metadata read again"))
    assert installed_version("numpy") == metadata.distribution("numpy").version
    assert installed_version("no-such-package-aigc-audit-test") is None
    monkeypatch.undo()
    installed_version.cache_clear()


def test_a_classifier_names_its_installed_version():
    assert ProfanityClassifier().version == f"{PACKAGE}=={metadata.version(PACKAGE)}"
