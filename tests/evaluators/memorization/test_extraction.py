"""The extractable rate is 1 for a GPT that memorised its training passages and 0 for the same GPT
before training; the interval and the evaluator's parameters behave as documented."""

import pytest

from aigc_audit.evaluators.memorization.extraction import (
    KEY_N_PROBED,
    KEY_RATE,
    KEY_RATE_UPPER,
    KEY_SAMPLED_RATE,
    Extraction,
)
from aigc_audit.evaluators.memorization.k_extractable import extraction_probe
from aigc_audit.generators.gpt.config import REFERENCE_DIR
from aigc_audit.generators.gpt.sample import load_model
from aigc_audit.generators.gpt.train import train
from aigc_audit.sampleset import REFERENCE, load_sample_set
from tests.generators.gpt.gpt_helpers import memorising_config

PROBE = {"prefix_tokens": 8, "suffix_tokens": 8}


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    return train(memorising_config(), tmp_path_factory.mktemp("gpt") / "memorised")


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    return train(memorising_config(steps=1), tmp_path_factory.mktemp("gpt") / "untrained")


def _documents(model):
    return [i.text for i in load_sample_set(model / REFERENCE_DIR, role=REFERENCE)]


def test_a_model_that_memorised_its_prompts_completes_every_one(memorised):
    loaded = load_model(memorised)
    result = extraction_probe(loaded.model, loaded.tokenizer, _documents(memorised), **PROBE)
    assert result.n == 4 and result.too_short == 0
    assert result.greedy_rate == 1.0
    assert all(o.matched_tokens == 8 for o in result.outcomes)


def test_a_model_that_did_not_memorise_completes_none(untrained):
    loaded = load_model(untrained)
    result = extraction_probe(loaded.model, loaded.tokenizer, _documents(untrained), temperature=0.8,
                              **PROBE)
    assert result.greedy_rate == 0.0 and result.sampled_rate == 0.0
    assert all(o.matched_tokens < 8 for o in result.outcomes)


def test_documents_shorter_than_prefix_and_suffix_are_counted_not_probed(memorised):
    loaded = load_model(memorised)
    result = extraction_probe(loaded.model, loaded.tokenizer, ["too short", *_documents(memorised)], **PROBE)
    assert (result.n, result.too_short) == (4, 1)
    assert [o.document for o in result.outcomes] == [1, 2, 3, 4]


def test_evaluator_reports_rates_interval_and_sampled_rate(memorised):
    reference = load_sample_set(memorised / REFERENCE_DIR, role=REFERENCE)
    evaluation = Extraction(model=str(memorised), temperature=0.5, **PROBE).evaluate(None, reference)
    m = evaluation.metrics
    assert (m[KEY_RATE], m[KEY_N_PROBED], evaluation.n_items) == (1.0, 4.0, 4)
    assert m[KEY_RATE_UPPER] == 1.0 and 0.0 <= m[KEY_SAMPLED_RATE] <= 1.0
    texts = " ".join(n.text for n in evaluation.notes)
    assert "extractable rate = 100.0% (4 of 4 training documents" in texts
    assert "extracted documents: macbeth-L" in texts


def test_evaluator_without_a_model_is_skipped_with_how_to_attach_one():
    evaluation = Extraction().evaluate(None, None)
    assert evaluation.skip_reason.startswith("no model to probe: run 'aigc-audit probe extraction")
