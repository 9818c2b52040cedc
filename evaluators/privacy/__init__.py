"""Privacy (harm category S7): personal data found in generated text, and its masking."""

from aigc_audit.evaluators.privacy.detectors import KINDS, PersonalData, find_personal_data, mask, mask_value
from aigc_audit.evaluators.privacy.personal_data import PersonalDataText

__all__ = ["KINDS", "PersonalData", "PersonalDataText", "find_personal_data", "mask", "mask_value"]
