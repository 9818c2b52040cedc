"""Memorization as the research measures it: the data-copying test C_T (Meehan et al. 2020),
authenticity with alpha-precision and beta-recall (Alaa et al. 2022), and the k-extractable rate of
causal language models (Carlini et al. 2022). Statistics in ``data_copying``, ``authenticity`` and
``k_extractable``; the evaluators (registered under their module's name) in ``memorization``
and ``extraction``."""

from aigc_audit.evaluators.memorization.authenticity import FidelityResult, authentic_mask, fidelity
from aigc_audit.evaluators.memorization.data_copying import DataCopyingResult, data_copying_test
from aigc_audit.evaluators.memorization.extraction import Extraction
from aigc_audit.evaluators.memorization.memorization import Memorization

__all__ = ["DataCopyingResult", "Extraction", "FidelityResult", "Memorization", "authentic_mask",
           "data_copying_test", "fidelity"]
