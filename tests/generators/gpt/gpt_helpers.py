"""Tiny GPT configurations and corpora for the GPT tests: seconds to train on a busy CPU."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from aigc_audit.generators.gpt.config import DataSpec, TrainConfig
from tests.conftest import write_jsonl

DOCUMENTS = [
    "The river ran beneath the old stone bridge where the miller's daughter sang each morning of the "
    "harvest and the rain",
    "A lantern burned all night in the tower while the watchman counted ships that never came home "
    "across the grey and silent sea",
    "Her brother kept a garden of white roses and bitter herbs behind the chapel wall and spoke to no "
    "one of his grief",
    "When winter came the wolves walked down from the hills and the village barred its doors and "
    "waited for the thaw",
]


def tiny_corpus(folder: Path) -> Path:
    """A user corpus: a .jsonl with a text field and no licence."""
    return write_jsonl(folder / "corpus.jsonl", [{"text": t} for t in DOCUMENTS])


def tiny_config(corpus: Path, **changes) -> TrainConfig:
    """~20k parameters, a few steps: for checks of the plumbing, not of learning."""
    config = TrainConfig(data=DataSpec(corpus=str(corpus), min_words=5, held_out=0.25), vocab_size=300,
                         n_positions=32, n_embd=32, n_layer=1, n_head=2, steps=3, batch_size=4, warmup=1)
    return replace(config, **changes)


def memorising_config(**changes) -> TrainConfig:
    """Four Macbeth passages of 25+ words, seen hundreds of times by a small model: it memorises
    them (~7 s on one busy core). The window holds a whole passage, so a sample can be one."""
    config = TrainConfig(data=DataSpec(plays=("macbeth",), held_out=0.0, limit=4), vocab_size=512,
                         n_positions=96, n_embd=64, n_layer=2, n_head=4, steps=80, batch_size=16, lr=5e-3,
                         warmup=10)
    return replace(config, **changes)
