"""A local Hugging Face sequence classifier, loaded by the real code from a folder the test writes."""

import json

import pytest

from aigc_audit.errors import AuditError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = ["the", "a", "cat", "sat", "on", "mat", "sun", "is", "warm", "you", "are", "idiot", "moron",
         "fool", "stupid", "garden", "bread", "lake"]
POSITIVE = ["you are idiot", "you are stupid fool", "stupid moron", "you idiot", "moron fool"]
NEGATIVE = ["the cat sat on the mat", "the sun is warm", "a garden lake", "bread is warm", "the lake"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A two-layer BERT trained for a few steps to tell the insults above from the rest."""
    folder = tmp_path_factory.mktemp("tiny-insult-model")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    tokenizer = transformers.BertTokenizer(vocab={word: i for i, word in enumerate(vocab)})
    assert tokenizer.unk_token_id not in tokenizer("you are idiot")["input_ids"]
    config = transformers.BertConfig(vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, num_labels=2,
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                     id2label={0: "ok", 1: "toxic"}, label2id={"ok": 0, "toxic": 1})
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    batch = tokenizer(POSITIVE + NEGATIVE, padding=True, return_tensors="pt")
    target = torch.tensor([1] * len(POSITIVE) + [0] * len(NEGATIVE))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(40):
        optimizer.zero_grad()
        model(**batch, labels=target).loss.backward()
        optimizer.step()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def test_local_model_scores_clear_examples_through_the_label_map(model_dir):
    from aigc_audit.evaluators.harm.transformers_model import TransformersClassifier

    clf = TransformersClassifier(model_path=model_dir, label_map={"toxic": "insult", "ok": "none"})
    assert clf.categories() == ("insult",) and "weights sha256:" in clf.version
    scored = clf.predict(["you are idiot", "the cat sat on the mat", "", "ünïcödé 日本語 \x00"])
    assert scored[0].scores["insult"] > 0.8 and scored[0].labels["insult"] == "toxic"
    assert scored[1].scores["insult"] < 0.2
    assert all(0.0 <= s.scores["insult"] <= 1.0 for s in scored)


def test_label_map_must_cover_the_model_labels(model_dir):
    from aigc_audit.evaluators.harm.transformers_model import TransformersClassifier

    with pytest.raises(AuditError, match=r"does not map label\(s\) \['ok'\].*\(policy parameter label_map\)"):
        TransformersClassifier(model_path=model_dir, label_map={"toxic": "insult"})


def test_refuses_folders_without_safetensors_or_config(tmp_path, model_dir):
    from aigc_audit.evaluators.harm.transformers_model import TransformersClassifier

    with pytest.raises(AuditError, match=r"not found or without config.json"):
        TransformersClassifier(model_path=tmp_path / "nope", label_map={"toxic": "insult"})
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(AuditError, match=r"has no .safetensors weights; only safetensors are loaded"):
        TransformersClassifier(model_path=pickled, label_map={"toxic": "insult"})


def test_harm_text_evaluator_runs_the_local_model(model_dir):
    from aigc_audit.evaluators.harm.text import HarmText
    from aigc_audit.sampleset import Item, SampleSet

    items = tuple(Item(id=f"t{i}", modality="text", text=t)
                  for i, t in enumerate(["stupid moron", "bread is warm", "the sun is warm"]))
    samples = SampleSet(path=None, kind="test", role="samples", items=items, sha256="0")
    evaluation = HarmText(classifier="transformers", model=str(model_dir), category="insult",
                          label_map={"toxic": "insult", "ok": "none"}).evaluate(samples, None)
    assert [r.flagged for r in evaluation.items] == [True, False, False]
    assert evaluation.items[0].evidence["label"] == "toxic"
    assert evaluation.metrics["flagged_count"] == 1.0
