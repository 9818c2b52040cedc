"""``aigc-audit train NAME`` and ``aigc-audit generate NAME``: one sub-command per generator."""

from __future__ import annotations

import argparse

from rich.console import Console

from aigc_audit import generators
from aigc_audit.generators import base as generator_registry


def _train(args: argparse.Namespace, out: Console, err: Console) -> int:
    folder = generator_registry.get(args.generator).train_from_args(args)
    out.print(f"checkpoint: {folder}")
    return 0


def _generate(args: argparse.Namespace, out: Console, err: Console) -> int:
    folder = generator_registry.get(args.generator).generate_from_args(args)
    out.print(f"sample set: {folder}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    generators.register_builtin()
    train = commands.add_parser("train", help="train a built-in generator")
    generate = commands.add_parser("generate", help="write a sample set from a generator")
    for parent, handler, adder in ((train, _train, "add_train_arguments"),
                                   (generate, _generate, "add_generate_arguments")):
        sub = parent.add_subparsers(dest="generator", required=True, metavar="GENERATOR")
        for name in generator_registry.names():
            cls = generator_registry.get(name)
            parser = sub.add_parser(name, help=cls.description)
            getattr(cls, adder)(parser)
            parser.set_defaults(handler=handler)
