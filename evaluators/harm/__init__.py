"""Harm: classifiers behind one contract (``HarmClassifier``), a checked taxonomy of categories,
and the ``harm_text``/``harm_image`` evaluators that gate a release on an upper confidence bound
of its harmful share. Classifiers are injectable; ``calibration`` and ``linear`` serve the
``aigc-audit harm`` commands."""

from aigc_audit.evaluators.harm._base import HarmEvaluator
from aigc_audit.evaluators.harm.classifier import CategoryScores, HarmCache, HarmClassifier, MissingExtraError
from aigc_audit.evaluators.harm.image import HarmImage
from aigc_audit.evaluators.harm.taxonomy import CATEGORIES, Category
from aigc_audit.evaluators.harm.text import HarmText

__all__ = ["CATEGORIES", "Category", "CategoryScores", "HarmCache", "HarmClassifier", "HarmEvaluator",
           "HarmImage", "HarmText", "MissingExtraError"]
