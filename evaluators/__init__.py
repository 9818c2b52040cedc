"""Evaluators: quality, copying and harm checks behind one contract (``evaluators.base``).

Built-in evaluators are registered here, explicitly; ``registry.get(name)`` looks them up.
"""

from aigc_audit.evaluators import registry
from aigc_audit.evaluators.base import (
    Evaluation,
    Evaluator,
    ItemResult,
    Metric,
    Param,
    ParamProblem,
    Track,
    no_progress,
)
from aigc_audit.evaluators.copying.image_near_duplicate import ImageNearDuplicate
from aigc_audit.evaluators.copying.text_copy import TextCopy
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate
from aigc_audit.evaluators.harm.image import HarmImage
from aigc_audit.evaluators.harm.text import HarmText
from aigc_audit.evaluators.item_integrity import ItemIntegrity
from aigc_audit.evaluators.memorization import Extraction, Memorization
from aigc_audit.evaluators.privacy.personal_data import PersonalDataText
from aigc_audit.evaluators.quality.image_quality import ImageQuality
from aigc_audit.evaluators.quality.text_quality import TextQuality

registry.register(ItemIntegrity)
registry.register(TextNearDuplicate)
registry.register(TextCopy)
registry.register(ImageNearDuplicate)
registry.register(ImageQuality)
registry.register(TextQuality)
registry.register(HarmText)
registry.register(HarmImage)
registry.register(Memorization)
registry.register(Extraction)
registry.register(PersonalDataText)

__all__ = ["Evaluation", "Evaluator", "Extraction", "HarmImage", "HarmText", "ImageNearDuplicate",
           "ImageQuality", "ItemIntegrity", "ItemResult", "Memorization", "Metric", "Param", "ParamProblem",
           "PersonalDataText", "TextCopy", "TextNearDuplicate", "TextQuality", "Track", "no_progress",
           "registry"]
