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
# Text copies: the word Jaccard similarity and the passages the two texts share, each a mapping
# with its length in words, its text, and its ``sample_span`` and ``reference_span`` (character
# offsets ``[start, end]`` in each text).
SIMILARITY = "similarity"
SHARED = "shared"
PASSAGE_WORDS = "words"
PASSAGE_TEXT = "text"
SAMPLE_SPAN = "sample_span"
REFERENCE_SPAN = "reference_span"
# Text copies by alignment (``text_copy``): the share of the item's tokens inside passages aligned
# to training text, the longest such passage and the longest verbatim run (in tokens), and the
# tokenisation used. Each passage also names its training item and whether it is verbatim.
COVERED_SHARE = "covered_share"
LONGEST_PASSAGE = "longest_passage"
LONGEST_VERBATIM = "longest_verbatim"
TOKENIZATION = "tokenization"
PASSAGE_MATCH_ID = "match_id"
PASSAGE_VERBATIM = "verbatim"
# Image copies: the pixel distance after alignment, the (dx, dy) shift that aligned them, the
# Hamming distances of the two perceptual hashes (of 64 bits), whether either was within its
# radius, how many training images were hash candidates, and the sample's hashes in hex.
PIXEL_DISTANCE = "pixel_distance"
SHIFT = "shift"
# The orientation the generated image was turned back from to match ("as is", "flipped
# left-right", "rotated 90", ...; image_near_duplicate.ORIENTATIONS), applied before the shift.
ORIENTATION = "orientation"
# How the match was found: "hash" (perceptual-hash candidates compared as they are) or
# "alignment" (window candidates, the training image turned, enlarged and moved onto the sample:
# image_alignment). For an alignment, the turn in degrees (counter-clockwise), the enlargement, and
# the matched region: the box of the training image (left, top, right, bottom, as shares of its
# sides) that the generated image shows. SHIFT is then in pixels of the generated image.
MATCH_METHOD = "method"
ROTATION = "rotation"
SCALE = "scale"
MATCHED_REGION = "matched_region"
# For an alignment: the pixel distance of the next-closest training image aligned the same way,
# and the region of the generated image left out as an overlay (caption, logo, band), as shares.
NEXT_PIXEL_DISTANCE = "next_pixel_distance"
COVERED_REGION = "covered_region"
# For an alignment, and a match by hash with a training image of one flat grey: its check in colour
# (aligned_agreement.Agreement.to_evidence: whether it agrees, why, the hue turn in degrees, the
# agreement 0..1, the chroma gain); and, on an image not flagged, the match that check dropped
# (its method, training image, distance, transformation and check).
COLOUR_AGREEMENT = "colour_check"
DROPPED_MATCH = "dropped_match"
# For a match by hash whose hashes came within the radius only once the generated image's hue was
# turned back (a colour jitter): by how much, as a signed share of the circle; such a match is
# also checked in colour (COLOUR_AGREEMENT).
HUE_TURNED_BACK = "hue_turned_back"
# For a match by hash: what the pixel distance was taken on ("grey levels", "value channel" after
# a change of colour, "smoothed grey levels" after noise, JPEG or blur, "grey levels matched in
# histogram" or "colour channels matched in histogram" after a change of brightness, contrast or
# gamma, "fine grain" on a faint picture, "block levels of a faint picture" after re-encoding,
# light noise or blur on one: image_near_duplicate.LOOKS; with the fine grain, also
# grain_agreement, how many standard errors the two grains' correlation stands from chance; with
# the block levels, level_distance, how far apart they are in grey levels (RMS over the blocks),
# next_level_distance, the next faint training image's, and blocks_left_out, how many of the blocks
# that differ most were left out, as under an overlay or in the corners a turn filled),
# and the confidence: the share of the training images whose nearest other training image lies
# farther than this match (measured on the reference set in the same run; null when it has no two
# images close enough by hash to measure).
COMPARED_ON = "compared_on"
GRAIN_AGREEMENT = "grain_agreement"
LEVEL_DISTANCE = "level_distance"
NEXT_LEVEL_DISTANCE = "next_level_distance"
BLOCKS_LEFT_OUT = "blocks_left_out"
CONFIDENCE = "confidence"
PHASH_DISTANCE = "phash_distance"
DHASH_DISTANCE = "dhash_distance"
HASH_MATCH = "hash_match"
HASH_CANDIDATES = "hash_candidates"
PHASH = "phash"
DHASH = "dhash"
# Harm: the category judged, its name, the threshold it was judged at, the classifier's label
# behind the score, the classifier's scores per category, and which classifier (and version).
CATEGORY = "category"
CATEGORY_NAME = "category_name"
THRESHOLD = "threshold"
LABEL = "label"
SCORES = "scores"
CLASSIFIER = "classifier"
CLASSIFIER_VERSION = "classifier_version"
# Harm detail: the text scored (clipped), how a text was prepared for the classifier, and the
# detector's boxes for an image.
ITEM_TEXT = "text"
EMPTY_TEXT = "empty_text"
TRUNCATED_TO = "truncated_to"
REPLACED_INVALID_CHARACTERS = "replaced_invalid_characters"
DETECTIONS = "detections"
# Other shapes of per-category scores that readers accept (no built-in evaluator writes them).
CATEGORIES = "categories"
CATEGORY_SCORES = "category_scores"
# Privacy: each personal data match (kind, span, masked value) and the kinds found.
PERSONAL_DATA = "personal_data"
PERSONAL_DATA_KINDS = "personal_data_kinds"
# Item integrity: why an item cannot be read.
REASON = "reason"

# Keys whose values are not figures to tabulate (texts, ids, passages).
NOT_FIGURES = frozenset({MATCH_ID, MATCH_SOURCE, MATCH_LICENSE, MATCH_TEXT, MATCH_PATH, SHARED,
                         TOKENIZATION, ORIENTATION, MATCH_METHOD, MATCHED_REGION,
                         COVERED_REGION, PERSONAL_DATA, PERSONAL_DATA_KINDS})
