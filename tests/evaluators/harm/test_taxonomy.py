"""The harm taxonomy and the checked label maps of every built-in classifier."""

import pytest

from aigc_audit.evaluators.harm.nudenet import LABEL_MAP as NUDENET_MAP
from aigc_audit.evaluators.harm.profanity import ProfanityClassifier
from aigc_audit.evaluators.harm.taxonomy import (
    CATEGORIES,
    CATEGORY_CODES,
    HAZARD_CODES,
    categories_of,
    category,
    check_label_map,
    map_label_scores,
)

# Llama Guard 3 / MLCommons hazard categories, as the model card lists them.
EXPECTED = {"S1": "violent crimes", "S2": "non-violent crimes", "S3": "sex-related crimes",
            "S4": "child sexual exploitation", "S5": "defamation", "S6": "specialized advice",
            "S7": "privacy", "S8": "intellectual property", "S9": "indiscriminate weapons",
            "S10": "hate", "S11": "suicide & self-harm", "S12": "sexual content", "S13": "elections",
            "S14": "code interpreter abuse"}


def test_taxonomy_is_mlcommons_s1_to_s14_plus_style_categories():
    assert HAZARD_CODES == tuple(f"S{i}" for i in range(1, 15))
    assert {code: CATEGORIES[code].name for code in HAZARD_CODES} == EXPECTED
    assert CATEGORY_CODES[-2:] == ("profanity", "insult")
    assert {CATEGORIES[c].kind for c in ("profanity", "insult")} == {"style"}


@pytest.mark.parametrize("spelling, code", [("S10", "S10"), ("s10", "S10"), ("hate", "S10"),
                                            (" Sexual Content ", "S12"), ("INSULT", "insult")])
def test_category_accepts_codes_and_names(spelling, code):
    assert category(spelling) == code


def test_unknown_category_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown harm category 'S15'; valid categories are \['S1'"):
        category("S15")


def test_label_map_normalises_and_checks_coverage():
    normalised = check_label_map({"toxic": "insult", "hate": ["S10", "insult"], "ok": "none", "face": None},
                                 classifier="m", labels=["toxic", "hate", "ok", "face"])
    assert normalised == {"toxic": ("insult",), "hate": ("S10", "insult"), "ok": (), "face": ()}
    assert categories_of(normalised) == ("S10", "insult")
    with pytest.raises(ValueError, match=r"does not map label\(s\) \['ok'\]; map each"):
        check_label_map({"toxic": "insult"}, classifier="m", labels=["toxic", "ok"])
    with pytest.raises(ValueError, match=r"names label\(s\) \['extra'\] the classifier does not emit"):
        check_label_map({"toxic": "insult", "extra": "S1"}, classifier="m", labels=["toxic"])
    with pytest.raises(ValueError, match=r"label 'toxic': unknown harm category 'rude'"):
        check_label_map({"toxic": "rude"}, classifier="m")


def test_category_score_is_the_highest_mapped_label_and_names_it():
    label_map = {"a": ("S12",), "b": ("S12",), "c": (), "d": ("profanity",)}
    scores, fired = map_label_scores({"a": 0.3, "b": 0.8, "c": 0.99}, label_map)
    assert scores == {"S12": 0.8, "profanity": 0.0} and fired == {"S12": "b"}


def test_builtin_label_maps_are_checked():
    assert ProfanityClassifier().categories() == ("profanity", "insult")
    checked = check_label_map(NUDENET_MAP, classifier="nudenet", labels=list(NUDENET_MAP))
    assert categories_of(checked) == ("S12",)
    exposed = {label for label, codes in checked.items() if codes}
    assert exposed == {"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED",
                       "BUTTOCKS_EXPOSED", "ANUS_EXPOSED"}


def test_nudenet_map_covers_the_installed_nudenet_labels():
    module = pytest.importorskip("nudenet.nudenet", reason="the optional nsfw extra is not installed")
    assert set(getattr(module, "__labels")) == set(NUDENET_MAP)
