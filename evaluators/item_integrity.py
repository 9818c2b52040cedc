"""Item integrity: how many items cannot be read at all. A policy can fail on that count.

An item is unreadable when the sample set marked it so while loading (a text over the size limit,
``Item.unreadable``), when its image cannot be opened (:func:`aigc_audit.images.open_image`), or
when its text is empty.
"""

from __future__ import annotations

import time

from aigc_audit.errors import ItemError
from aigc_audit.evaluators.base import (
    PER_ITEM_COUNT,
    PER_ITEM_SHARE,
    Evaluation,
    Evaluator,
    ItemResult,
    Metric,
    Track,
    no_progress,
)
from aigc_audit.evaluators.evidence import REASON
from aigc_audit.images import open_image
from aigc_audit.sampleset import IMAGE, TEXT, SampleSet

KEY_UNREADABLE_COUNT = "unreadable_count"
KEY_UNREADABLE_SHARE = "unreadable_share"


class ItemIntegrity(Evaluator):
    name = "item_integrity"
    description = ("Items that cannot be read (corrupt, truncated or oversized images, oversized or "
                   "empty texts).")
    modalities = (TEXT, IMAGE)
    metrics = (
        Metric(KEY_UNREADABLE_COUNT, "number of items that cannot be read", per_item=PER_ITEM_COUNT,
               minimum=0.0),
        Metric(KEY_UNREADABLE_SHARE, "share of items that cannot be read", per_item=PER_ITEM_SHARE,
               minimum=0.0, maximum=1.0),
    )

    def evaluate(self, samples: SampleSet, reference: SampleSet | None, *,
                 track: Track = no_progress) -> Evaluation:
        started = time.perf_counter()
        results, errors = [], {}
        for item in track(samples.items, "Reading items", len(samples)):
            reason = None
            if item.unreadable is not None:
                reason = item.unreadable
            elif item.modality == IMAGE:
                try:
                    open_image(item)
                except ItemError as error:
                    reason = error.reason
            elif not (item.text or "").strip():
                reason = "empty text"
            if reason is not None:
                errors[item.id] = reason
            results.append(ItemResult(item.id, float(reason is not None), reason is not None,
                                      {REASON: reason} if reason else {}))
        count = len(errors)
        metrics = {KEY_UNREADABLE_COUNT: float(count),
                   KEY_UNREADABLE_SHARE: count / len(samples) if len(samples) else 0.0}
        return Evaluation(self.name, dict(self.params_), metrics, results, errors=errors,
                          n_items=len(samples), seconds=time.perf_counter() - started)
