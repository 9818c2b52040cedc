"""Where one text's check goes, inside one process: ``ItemChecker.check`` with the default policy
(and, with ``--index``, the text-copy rules against a stored index), per evaluator, and inside the
built-in harm heads per stage (tokenizing, MiniLM's forward pass, pooling, tox-block, the heads).

Each stage is timed twice per text, the way the package ran it before and the way it runs it now,
alternating which goes first, so both see the same machine; the medians and their ratio are
printed. Before: MiniLM through transformers' tokenizer and ``BertModel`` (now
``evaluators.features.bert_encoder``), tox-block's LSTM inputs as a BLAS product per text (now looked
up; see ``evaluators.harm.toxblock``). The findings of the two ways
are compared on every text: tox-block's lookup moves its outputs in the last bits, so they are
printed when they differ, and the script stops if a rule's decision differs.

    .venv/bin/python benchmarks/bench_check_stages.py [--texts 100] [--words english] [--threads 2]
        [--index DIR/index-100000]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_service import WORDS, _english_words, _text

from aigc_audit.evaluators.features.bert_encoder import BertEncoder
from aigc_audit.evaluators.harm._features import shared_minilm
from aigc_audit.evaluators.harm.builtin_heads import Features, load_builtin
from aigc_audit.governance.item_check import ItemChecker
from aigc_audit.governance.policy import load_policy
from aigc_audit.sampleset import TEXT, Item, SampleSet


class _Transformers(BertEncoder):
    """The same encoder through transformers' tokenizer and model, as the package ran it before."""

    def __init__(self, own: BertEncoder):
        from transformers import AutoModel, AutoTokenizer

        self.hidden_size, self.max_length = own.hidden_size, own.max_length
        self._tokenizer = AutoTokenizer.from_pretrained(str(own.folder), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(own.folder), local_files_only=True,
                                                use_safetensors=True).eval()

    def tokenize(self, texts):
        return dict(self._tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                                    return_tensors="pt"))

    def last_hidden_state(self, batch):
        return self._model(**batch).last_hidden_state


def _projection_per_text(model):
    """tox-block's LSTM inputs as it computed them before: a BLAS product per text."""
    w = model.weights
    kernel, bias = np.stack([w.forward[0], w.backward[0]]), np.stack([w.forward[2], w.backward[2]])

    def project(ids: np.ndarray) -> np.ndarray:
        x = w.embedding[ids]
        return np.stack([x, x[:, ::-1]]) @ kernel[:, None] + bias[:, None, None]
    return project


def _set(text: str) -> SampleSet:
    return SampleSet(path=None, kind="service", role="samples",
                     items=(Item(id="item-1", modality=TEXT, text=text),), sha256="")


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--words", choices=("made-up", "english"), default="english")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch threads (the service's default on 2 cores)")
    parser.add_argument("--index",
                        help="a stored index of the training set (bench_service.py --index leaves one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    reference, index = None, None
    if args.index:
        from aigc_audit.governance.cli_index import audit_index
        from aigc_audit.sampleset import REFERENCE, load_sample_set

        index, reference_path = audit_index(args.index, None)
        reference = load_sample_set(reference_path, role=REFERENCE)
    checker = ItemChecker(load_policy("default"), reference, index)
    checker.warm_up()
    minilm = shared_minilm()
    own, transformers_way = minilm.encoder_, _Transformers(minilm.encoder_)
    toxblock = Features().toxblock()
    document = load_builtin()
    coef, intercept = np.asarray(document["coef"]), np.asarray(document["intercept"])

    def way(before: bool) -> None:
        # The shared models are the ones the checker's heads use.
        if before:
            minilm.encoder_, toxblock.project = transformers_way, _projection_per_text(toxblock)
        else:
            minilm.encoder_ = own
            toxblock.__dict__.pop("project", None)

    def forget() -> None:
        # The harm rules keep the last texts' scores; each timed check must score its text again.
        for evaluator in checker.evaluators.values():
            if hasattr(evaluator, "cache"):
                evaluator.cache.scores.clear()

    def pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> np.ndarray:
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    def heads(embedded: np.ndarray, tox: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(np.hstack([embedded, tox]) @ coef.T + intercept)))

    rng = random.Random(0)
    vocabulary = _english_words() if args.words == "english" else WORDS
    texts = [_text(rng, words=vocabulary) for _ in range(args.texts)]
    times: dict[str, dict[str, list[float]]] = {"before": {}, "now": {}}

    def timed(name: str, stage: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        out = fn(*args, **kwargs)
        times[name].setdefault(stage, []).append(time.perf_counter() - started)
        return out

    for n, text in enumerate(texts):
        findings = {}
        for name in (("before", "now") if n % 2 else ("now", "before")):
            way(name == "before")
            batch = timed(name, "tokenize", minilm.encoder_.tokenize, [text])
            with torch.inference_mode():
                hidden = timed(name, "MiniLM forward", minilm.encoder_.last_hidden_state, batch)
                embedded = timed(name, "pooling", pool, hidden, batch["attention_mask"])
            tox = timed(name, "tox-block", toxblock.predict, [text])
            timed(name, "heads", heads, embedded, tox)
            samples = _set(text)
            forget()
            started = time.perf_counter()
            with checker._lock:
                for evaluator in checker.evaluators.values():
                    label = evaluator.name + "".join(f" {k}={v}" for k, v in sorted(evaluator.params_.items())
                                                     if k in ("classifier", "category"))
                    timed(name, f"  {label}", evaluator.evaluate, samples, reference)
            times[name].setdefault("evaluators, all", []).append(time.perf_counter() - started)
            forget()
            result = timed(name, "ItemChecker.check", checker.check, samples.items)
            findings[name] = [(f.rule_id, f.score, f.message) for i in result.items for f in i.findings]
        if [f[0] for f in findings["before"]] != [f[0] for f in findings["now"]]:
            raise SystemExit(f"text {n}: the rules that flag differ: {findings}")
        if findings["before"] != findings["now"]:
            print(f"text {n}: the same rules flag, with other scores or messages: {findings}")
    way(False)
    print(f"{args.texts} texts of 100 {args.words} words, {args.threads} torch thread(s), "
          f"index: {args.index or 'none'}; load average at the end {os.getloadavg()[0]:.1f}; "
          "the same rules flag")
    print(f"{'stage':40} {'before ms':>10} {'now ms':>10} {'ratio':>7}")
    for stage in times["now"]:
        b, a = np.median(times["before"][stage]) * 1000, np.median(times["now"][stage]) * 1000
        print(f"{stage:40} {b:10.2f} {a:10.2f} {b / a:7.2f}")


if __name__ == "__main__":
    main()
