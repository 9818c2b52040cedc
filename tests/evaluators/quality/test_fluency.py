"""Fluency: the Kneser-Ney model is a proper distribution, shuffled words read worse than the
reference, and the local causal-LM path loads only safetensors folders."""

import json
import random

import numpy as np
import pytest

from aigc_audit.errors import InputError
from aigc_audit.evaluators.quality.fluency import EOS, UNK, CausalLMScorer, KneserNeyLM
from aigc_audit.generators.corpus import corpus_passages

TRAIN_PLAYS = ["hamlet", "macbeth"]
HELD_OUT_PLAY = "the-tempest"


@pytest.fixture(scope="module")
def corpus():
    train = [p.text for p in corpus_passages(TRAIN_PLAYS)]
    held = [p.text for p in corpus_passages([HELD_OUT_PLAY]) if len(p.text.split()) >= 8][:200]
    return train, held


@pytest.fixture(scope="module")
def trigram(corpus):
    return KneserNeyLM(order=3).fit(corpus[0])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_conditional_probabilities_sum_to_one(order, corpus):
    lm = KneserNeyLM(order=order).fit(corpus[0][:300])
    vocabulary = sorted(lm.vocabulary_)
    for context in (["to", "be", "or"], ["my", "lord"], ["zzz", "qqq", "xxx"], []):
        total = sum(lm.probability(w, context) for w in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-9), context
    assert lm.probability("neverseenword", ["my"]) == lm.probability(UNK, ["my"]) > 0
    assert EOS in lm.vocabulary_


def test_shuffled_words_read_worse_than_unseen_reference_text(trigram, corpus):
    rng = random.Random(0)
    held = corpus[1]
    shuffled = [" ".join(rng.sample(t.split(), len(t.split()))) for t in held]
    natural = trigram.perplexities(held)
    scrambled = trigram.perplexities(shuffled)
    assert scrambled.corpus > 1.5 * natural.corpus
    assert np.mean(scrambled.per_text > natural.per_text) > 0.8
    assert natural.unit == "word" and natural.tokens.sum() > 1000


def test_perplexity_by_hand_for_a_unigram_model():
    lm = KneserNeyLM(order=1, discount=0.5).fit(["a a b"])
    # Raw counts a:2 b:1 </s>:1 (total 4, 3 types); vocabulary a, b, </s>, <unk>.
    p_a = (2 - 0.5) / 4 + 0.5 * 3 / 4 / 4
    p_eos = (1 - 0.5) / 4 + 0.5 * 3 / 4 / 4
    result = lm.perplexities(["a"])
    assert result.per_text[0] == pytest.approx(np.exp(-(np.log(p_a) + np.log(p_eos)) / 2))


def test_estimator_contract():
    with pytest.raises(RuntimeError, match="not fitted yet; call fit"):
        KneserNeyLM().perplexities(["x"])
    with pytest.raises(ValueError, match="the texts hold no words"):
        KneserNeyLM().fit(["", "  "])
    with pytest.raises(ValueError, match=r"order must be in \[1, 6\]; got 9"):
        KneserNeyLM(order=9).fit(["a b"])


def test_causal_lm_folder_must_hold_config_and_safetensors(tmp_path):
    with pytest.raises(InputError, match="config.json missing"):
        CausalLMScorer(path=tmp_path).fit()
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(InputError, match="no .safetensors weights; only safetensors are loaded"):
        CausalLMScorer(path=tmp_path).fit()


def test_a_local_causal_lm_scores_per_model_token(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = ["<eos>", "<unk>", "to", "be", "or", "not", "the", "question"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>", unk_token="<unk>")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(words), n_positions=32, n_embd=16, n_layer=1,
                                       n_head=2, bos_token_id=0, eos_token_id=0))
    model.save_pretrained(tmp_path, safe_serialization=True)
    tokenizer.save_pretrained(tmp_path)
    scorer = CausalLMScorer(path=tmp_path).fit()
    result = scorer.perplexities(["to be or not to be", "the question"])
    assert result.unit == "model token" and list(result.tokens) == [7, 3]  # words + <eos>, shifted
    # An untrained model is close to uniform over its 8 tokens.
    assert 4 < result.corpus < 16
