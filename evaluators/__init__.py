"""Evaluators: quality, copying and harm checks behind one contract (``evaluators.base``).

Built-in evaluators are registered here, explicitly; ``registry.get(name)`` looks them up.
"""

from evaluators import registry
from evaluators.base import Evaluation, Evaluator, ItemResult, Metric, Param, Track, no_progress
from evaluators.harm_image import HarmImage
from evaluators.harm_text import HarmText
from evaluators.image_near_duplicate import ImageNearDuplicate
from evaluators.item_integrity import ItemIntegrity
from evaluators.quality_image import ImageQuality
from evaluators.quality_text import TextQuality
from evaluators.text_near_duplicate import TextNearDuplicate

registry.register(ItemIntegrity)
registry.register(TextNearDuplicate)
registry.register(ImageNearDuplicate)
registry.register(ImageQuality)
registry.register(TextQuality)
registry.register(HarmText)
registry.register(HarmImage)

__all__ = ["Evaluation", "Evaluator", "HarmImage", "HarmText", "ImageNearDuplicate", "ImageQuality", "ItemIntegrity", "ItemResult", "Metric", "Param",
           "TextNearDuplicate", "TextQuality", "Track", "no_progress", "registry"]
