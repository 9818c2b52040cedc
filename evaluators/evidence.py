"""Keys of the per-item evidence that evaluators write and reports and the dashboard read.

Evidence is a JSON object per flagged item; these names are its contract, so a reader never
spells a key that an evaluator does not write.
"""

from __future__ import annotations

# The closest training (reference) item, for every copy evaluator.
MATCH_ID = "match_id"
MATCH_SOURCE = "match_source"
MATCH_LICENSE = "match_license"
MATCH_TEXT = "match_text"
MATCH_PATH = "match_path"
# Text copies: the word Jaccard similarity and the passages the two texts share, each with its
# ``sample_span`` and ``reference_span`` (character offsets).
SIMILARITY = "similarity"
SHARED = "shared"
SAMPLE_SPAN = "sample_span"
REFERENCE_SPAN = "reference_span"
# Image copies: the pixel distance after alignment, and the (dy, dx) shift that aligned them.
PIXEL_DISTANCE = "pixel_distance"
SHIFT = "shift"
# Harm: the category judged and the classifier's scores per label or category.
CATEGORY = "category"
SCORES = "scores"
CATEGORIES = "categories"
CATEGORY_SCORES = "category_scores"

# Keys whose values are not figures to tabulate (texts, ids, passages).
NOT_FIGURES = frozenset({MATCH_ID, MATCH_SOURCE, MATCH_LICENSE, MATCH_TEXT, MATCH_PATH, SHARED})
