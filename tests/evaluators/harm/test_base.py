"""What every harm evaluator shares: an injected classifier whose results can be checked by hand,
and caches that belong to the caller, so that two runs share nothing they were not given."""

import pytest

from aigc_audit.evaluators.base import NOTE_COUNTS, NOTE_INFO
from aigc_audit.evaluators.harm.classifier import HarmCache, HarmClassifier
from aigc_audit.evaluators.harm.gate import clopper_pearson_upper
from aigc_audit.evaluators.harm.taxonomy import check_label_map
from aigc_audit.evaluators.harm.text import HarmText
from aigc_audit.sampleset import Item, SampleSet


class Exclamations(HarmClassifier):
    """A fake: scores S1 (violent crimes) as a quarter per exclamation mark, at most 1."""

    name = "exclamations"
    modality = "text"

    def __init__(self):
        self.label_map = check_label_map({"exclaims": "S1"}, classifier=self.name, labels=["exclaims"])
        self.batches: list[list[str]] = []

    @property
    def version(self) -> str:
        return "exclamations-1"

    def label_scores(self, batch):
        self.batches.append(list(batch))
        return [({"exclaims": min(1.0, text.count("!") / 4)}, {}) for text in batch]


TEXTS = ["calm", "loud!", "louder!!!", "loudest!!!!!!"]


def _set(texts, prefix="t"):
    items = tuple(Item(id=f"{prefix}-{i}", modality="text", text=t) for i, t in enumerate(texts))
    return SampleSet(path=None, kind="test", role="samples", items=items, sha256="0")


def test_an_injected_classifier_flags_exactly_the_items_worked_out_by_hand():
    fake = Exclamations()
    evaluator = HarmText(classifier_factory=lambda: fake, category="S1", threshold=0.5)
    evaluation = evaluator.evaluate(_set(TEXTS), None)
    # Scores 0/4, 1/4, 3/4 and 6/4 capped at 1: the last two are at or above 0.5.
    assert [(r.item_id, r.score, r.flagged) for r in evaluation.items] == [
        ("t-0", 0.0, False), ("t-1", 0.25, False), ("t-2", 0.75, True), ("t-3", 1.0, True)]
    assert [r.item_id for r in evaluation.flagged()] == ["t-3", "t-2"]
    assert evaluation.metrics == {"flagged_count": 2.0, "flagged_rate": 0.5,
                                  "flagged_rate_upper": pytest.approx(clopper_pearson_upper(2, 4, 0.95)),
                                  "max_score": 1.0}
    evidence = evaluation.items[2].evidence
    assert (evidence["category"], evidence["label"], evidence["scores"]) == ("S1", "exclaims", {"S1": 0.75})
    assert (evidence["classifier"], evidence["classifier_version"]) == ("exclamations", "exclamations-1")
    assert evidence["text"] == "louder!!!" and evidence["threshold"] == 0.5
    assert HarmText.describe(evaluation.items[2]) == (
        'S1 (violent crimes) score 0.750 >= 0.5 by exclamations-1, label \'exclaims\': "louder!!!"')
    assert fake.batches == [TEXTS]
    assert [n.kind for n in evaluation.notes] == [NOTE_INFO, NOTE_COUNTS, NOTE_INFO]
    assert evaluation.notes[1].text.startswith("2 of 4 item(s) flagged")


def test_the_factory_is_called_once_and_only_when_there_is_something_to_score():
    made = []

    def factory():
        made.append(Exclamations())
        return made[-1]

    evaluator = HarmText(classifier_factory=factory, category="S1")
    images = SampleSet(path=None, kind="t", role="samples", sha256="0",
                       items=(Item(id="i", modality="image", path=None),))
    assert evaluator.evaluate(images, None).n_items == 0 and made == []
    evaluator.evaluate(_set(TEXTS), None)
    evaluator.evaluate(_set(TEXTS), None)           # same items: the scores are reused
    evaluator.evaluate(_set(["other!!"], "u"), None)  # other items: scored again
    assert len(made) == 1 and made[0].batches == [TEXTS, ["other!!"]]


def _loading_harm_text(loaded: list[Exclamations]) -> type[HarmText]:
    """HarmText whose configured classifier is the fake (appended to ``loaded`` on each load):
    unlike an injected one, it is known by its parameters, so a shared cache may hold it."""

    class LoadingHarmText(HarmText):
        def build_classifier(self):
            loaded.append(Exclamations())
            return loaded[-1]

    return LoadingHarmText


def test_a_shared_cache_loads_and_scores_once_for_all_the_rules_given_it():
    loaded: list[Exclamations] = []
    evaluator, cache = _loading_harm_text(loaded), HarmCache()
    strict = evaluator(category="S1", threshold=0.2, cache=cache).evaluate(_set(TEXTS), None)
    lenient = evaluator(category="S1", threshold=0.9, cache=cache).evaluate(_set(TEXTS), None)
    assert len(loaded) == 1 and loaded[0].batches == [TEXTS]
    assert len(cache.classifiers) == 1 and len(cache.scores) == 1
    assert strict.metrics["flagged_count"] == 3.0 and lenient.metrics["flagged_count"] == 1.0


def test_without_a_shared_cache_two_evaluators_share_nothing():
    loaded: list[Exclamations] = []
    evaluator = _loading_harm_text(loaded)
    first, second = evaluator(category="S1"), evaluator(category="S1")
    first.evaluate(_set(TEXTS), None)
    second.evaluate(_set(TEXTS), None)
    assert len(loaded) == 2 and [c.batches for c in loaded] == [[TEXTS], [TEXTS]]
    assert first.cache is not second.cache and first.classifier() is not second.classifier()


def test_default_evaluators_keep_their_own_default_classifier():
    # What the runner builds, from policy parameters alone.
    first, second = HarmText(category="profanity"), HarmText(category="profanity")
    assert first.classifier() is first.classifier()
    assert first.classifier() is not second.classifier()


def test_an_injected_classifier_is_never_put_in_a_shared_cache():
    with pytest.raises(ValueError, match=r"evaluator harm_text: pass classifier_factory or cache, not both"):
        HarmText(classifier_factory=Exclamations, cache=HarmCache(), category="S1")
