"""Quality: how a release compares with its reference set as a distribution.

``image_quality`` (Fréchet distance, KID, precision/recall/density/coverage, class balance) and
``text_quality`` (perplexity ratio, distinct-n, self-BLEU, MAUVE); each metric module holds one
estimator, and ``sample_size`` says when a sample is too small for a metric to mean much.
"""

from aigc_audit.evaluators.quality.diversity import distinct_n, self_bleu
from aigc_audit.evaluators.quality.frechet import frechet_distance
from aigc_audit.evaluators.quality.image_quality import ImageQuality
from aigc_audit.evaluators.quality.kid import kernel_inception_distance
from aigc_audit.evaluators.quality.mauve import mauve
from aigc_audit.evaluators.quality.prdc import prdc
from aigc_audit.evaluators.quality.text_quality import TextQuality

__all__ = ["ImageQuality", "TextQuality", "distinct_n", "frechet_distance", "kernel_inception_distance",
           "mauve", "prdc", "self_bleu"]
