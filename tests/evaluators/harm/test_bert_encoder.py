"""MiniLM's forward pass without transformers' module Python: the same hidden states bit for bit."""

import copy

import numpy as np
import pytest
import torch

from aigc_audit.evaluators.harm._bert_encoder import last_hidden_state
from aigc_audit.evaluators.harm._features import shared_minilm

TEXTS = ["The committee approved the budget for the new library.",
         "I am going to stab you to death when you get home tonight.",
         # Made-up words: over 256 pieces, so the tokenizer cuts the text at the model's limit.
         " ".join(f"zorblax{n}quv" for n in range(120))]


@pytest.fixture(scope="module")
def minilm():
    return shared_minilm()


def _module_forward(model, batch):
    return model(**batch).last_hidden_state


@pytest.mark.parametrize("text", TEXTS)
def test_one_text_gives_the_models_own_hidden_states_bit_for_bit(minilm, text):
    batch = minilm.tokenizer_([text], padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        direct, own = last_hidden_state(minilm.model_, batch), _module_forward(minilm.model_, batch)
    assert direct.shape == own.shape == (1, batch["input_ids"].shape[1], 384)
    assert torch.equal(direct, own)


def test_a_batch_of_equal_lengths_is_covered_and_equal(minilm):
    batch = minilm.tokenizer_(["one two three", "four five six"], padding=True, return_tensors="pt")
    assert bool(batch["attention_mask"].all())
    with torch.inference_mode():
        assert torch.equal(last_hidden_state(minilm.model_, batch), _module_forward(minilm.model_, batch))


def test_padding_other_attention_and_quantised_layers_go_to_the_models_own_forward(minilm):
    calls = []

    class Counted(torch.nn.Module):
        """The model, counting calls of its own forward."""

        def __init__(self, model):
            super().__init__()
            self.model, self.config, self.encoder = model, model.config, model.encoder
            self.training = False

        def forward(self, **batch):
            calls.append(1)
            return self.model(**batch)

    padded = minilm.tokenizer_(["short", "a rather longer sentence than that"], padding=True,
                               return_tensors="pt")
    with torch.inference_mode():
        last_hidden_state(Counted(minilm.model_), padded)
        assert len(calls) == 1
        eager = copy.deepcopy(minilm.model_)
        eager.set_attn_implementation("eager")
        one = minilm.tokenizer_(["short"], return_tensors="pt")
        last_hidden_state(Counted(eager), one)
        assert len(calls) == 2
        int8 = torch.ao.quantization.quantize_dynamic(copy.deepcopy(minilm.model_), {torch.nn.Linear},
                                                      dtype=torch.qint8)
        last_hidden_state(Counted(int8), one)
        assert len(calls) == 3


def test_the_featuriser_gives_the_embeddings_of_the_models_own_forward(minilm):
    now = minilm.transform(TEXTS[:2])                 # one batch with padding, then one text each
    singles = np.vstack([minilm.transform([t]) for t in TEXTS[:2]])
    before = copy.copy(minilm)
    before.encode = _module_forward
    assert np.array_equal(now, before.transform(TEXTS[:2]))
    assert np.array_equal(singles, np.vstack([before.transform([t]) for t in TEXTS[:2]]))
