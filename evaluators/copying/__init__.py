"""Copy detection against the training (reference) set.

Texts: MinHash signatures of word shingles (computed for many texts at once) in a banded LSH
index, every candidate checked by its exact Jaccard similarity, with the passages the two texts
share. Images: perceptual hashes (computed in batches) searched within a Hamming radius (by a scan,
or by multi-index hashing for large sets), every candidate checked by its pixel distance after
alignment.
"""

from aigc_audit.evaluators.copying.hamming_search import MultiIndexHashing, radius_search
from aigc_audit.evaluators.copying.image_near_duplicate import ImageNearDuplicate
from aigc_audit.evaluators.copying.minhash import shingle_hashes, signatures
from aigc_audit.evaluators.copying.minhash_lsh_index import BandedLSHIndex, candidate_probability, lsh_bands
from aigc_audit.evaluators.copying.perceptual_hash import perceptual_hashes
from aigc_audit.evaluators.copying.text_near_duplicate import TextNearDuplicate

__all__ = ["BandedLSHIndex", "ImageNearDuplicate", "MultiIndexHashing", "TextNearDuplicate",
           "candidate_probability", "lsh_bands", "perceptual_hashes", "radius_search", "shingle_hashes",
           "signatures"]
