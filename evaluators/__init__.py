"""Evaluators: quality, copying and harm checks behind one contract (``evaluators.base``).

Built-in evaluators are registered here, explicitly; ``registry.get(name)`` looks them up.
"""

from evaluators import registry
from evaluators.base import Evaluation, Evaluator, ItemResult, Metric, Param, Track, no_progress
from evaluators.item_integrity import ItemIntegrity
from evaluators.text_near_duplicate import TextNearDuplicate

registry.register(ItemIntegrity)
registry.register(TextNearDuplicate)

__all__ = ["Evaluation", "Evaluator", "ItemIntegrity", "ItemResult", "Metric", "Param",
           "TextNearDuplicate", "Track", "no_progress", "registry"]
