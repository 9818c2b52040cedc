"""The built-in text generator ``gpt``: its command-line options, wired to training and sampling.

This module is imported for every CLI call (the registry builds the ``train``/``generate``
sub-commands), so it must stay light: torch and transformers are imported only inside
``train_from_args`` and ``generate_from_args``, through ``gpt_train`` and ``gpt_sample``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aigc_audit.generators.base import Generator
from aigc_audit.generators.gpt.config import (
    QUANTIZE_CHOICES,
    SHAKESPEARE,
    DataSpec,
    SampleConfig,
    TrainConfig,
    is_trained,
    local_model_weights,
)


def _plays(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


class GPT(Generator):
    name = "gpt"
    description = "small GPT-2-style text model trained from scratch on CPU (BPE, ~0.5M parameters)"

    @classmethod
    def add_train_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--corpus", default=SHAKESPEARE,
                            help=f"'{SHAKESPEARE}' (the built-in corpus), or a .txt (one document per "
                                 "line), .jsonl with a 'text' field, or sample/reference set folder "
                                 "(default: %(default)s)")
        parser.add_argument("--plays", type=_plays, help="comma-separated plays of the built-in corpus "
                            "(file stems such as hamlet,macbeth; default: all)")
        parser.add_argument("--max-lines", type=int, default=6, help="lines per passage of the built-in "
                            "corpus (default: %(default)s)")
        parser.add_argument("--min-words", type=int, default=25, help="shortest document trained on, in "
                            "words (default: %(default)s)")
        parser.add_argument("--limit", type=int, help="train on the first N documents only (a small "
                            "slice: to overfit deliberately)")
        parser.add_argument("--held-out", type=float, default=0.05, help="share of documents kept out of "
                            "training to measure the held-out loss (default: %(default)s)")
        parser.add_argument("--license", help="licence recorded for documents that carry none "
                            "(user corpora)")
        parser.add_argument("--out", required=True, type=Path, help="checkpoint folder")
        parser.add_argument("--steps", type=int, default=300, help="optimizer steps (default: %(default)s)")
        parser.add_argument("--batch-size", type=int, default=16, help="windows per step (default: "
                            "%(default)s)")
        parser.add_argument("--lr", type=float, default=6e-3, help="peak learning rate (default: "
                            "%(default)s)")
        parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
        parser.add_argument("--vocab-size", type=int, default=2048, help="BPE vocabulary size (default: "
                            "%(default)s)")
        parser.add_argument("--n-positions", type=int, default=128, help="context window in tokens "
                            "(default: %(default)s)")
        parser.add_argument("--n-embd", type=int, default=96, help="width (default: %(default)s)")
        parser.add_argument("--n-layer", type=int, default=3, help="layers (default: %(default)s)")
        parser.add_argument("--n-head", type=int, default=4, help="attention heads (default: %(default)s)")
        parser.add_argument("--force", action="store_true", help="train even when the checkpoint is cached")

    @classmethod
    def train_from_args(cls, args: argparse.Namespace) -> Path:
        spec = DataSpec(corpus=args.corpus, plays=args.plays, max_lines=args.max_lines,
                        min_words=args.min_words, held_out=args.held_out, limit=args.limit,
                        license=args.license)
        config = TrainConfig(data=spec, vocab_size=args.vocab_size, n_positions=args.n_positions,
                             n_embd=args.n_embd, n_layer=args.n_layer, n_head=args.n_head, steps=args.steps,
                             batch_size=args.batch_size, lr=args.lr, seed=args.seed)
        if not args.force and is_trained(config, args.out):  # checked before torch is even imported
            print(f"checkpoint {args.out} is up to date; not training again", file=sys.stderr)
            return args.out
        from aigc_audit.generators.gpt.train import train

        return train(config, args.out, force=args.force)

    @classmethod
    def add_generate_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--model", required=True, type=Path, help="checkpoint folder from 'train gpt', "
                            "or any local HuggingFace causal-LM folder (never downloaded)")
        parser.add_argument("--out", required=True, type=Path, help="sample set folder to write")
        parser.add_argument("--n", type=int, default=200, help="number of samples (default: %(default)s)")
        parser.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
        parser.add_argument("--temperature", type=float, default=0.8, help="(default: %(default)s)")
        parser.add_argument("--top-k", type=int, default=0, help="keep the k likeliest tokens; 0: off "
                            "(default: %(default)s)")
        parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling; 1: off "
                            "(default: %(default)s)")
        parser.add_argument("--prompt", default="", help="text every sample starts with")
        parser.add_argument("--max-new-tokens", type=int, help="longest sample (default: fill the "
                            "context window)")
        parser.add_argument("--min-new-tokens", type=int, default=32, help="no end of text before this many "
                            "tokens (default: %(default)s)")
        parser.add_argument("--batch-size", type=int, default=50, help="samples drawn at once (default: "
                            "%(default)s); part of what the seed reproduces")
        parser.add_argument("--quantize", choices=QUANTIZE_CHOICES, default="none",
                            help="int8: dynamic int8 quantization of the linear layers, faster on CPU")

    @classmethod
    def generate_from_args(cls, args: argparse.Namespace) -> Path:
        config = SampleConfig(n=args.n, seed=args.seed, temperature=args.temperature, top_k=args.top_k,
                              top_p=args.top_p, prompt=args.prompt, max_new_tokens=args.max_new_tokens,
                              min_new_tokens=args.min_new_tokens, batch_size=args.batch_size,
                              quantize=args.quantize)
        local_model_weights(args.model)  # a hub name fails here, before torch is imported
        from aigc_audit.generators.gpt.sample import generate

        return generate(args.model, args.out, config)
