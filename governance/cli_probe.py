"""``aigc-audit probe ...``: checks of a model rather than of its samples.

- ``probe extraction --model M --reference R --n 500 --out probe.json`` prompts the model with the
  first tokens of ``n`` training documents and reports the share it completes verbatim (see
  ``evaluators.memorization.k_extractable``); ``aigc-audit audit ... --probe probe.json`` attaches
  the result to an audit, where the policy gates on it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from aigc_audit.governance.console import terminal_safe


def _cmd_extraction(args: argparse.Namespace, out: Console, err: Console) -> int:
    from aigc_audit.evaluators.memorization.extraction import (
        KEY_N_PROBED,
        KEY_RATE,
        KEY_RATE_LOWER,
        KEY_RATE_UPPER,
        KEY_SAMPLED_RATE,
    )
    from aigc_audit.governance.probe import run_extraction, save_probe
    from aigc_audit.sampleset import REFERENCE, SAMPLES, load_sample_set

    reference = load_sample_set(args.reference, role=REFERENCE)
    samples = load_sample_set(args.samples, role=SAMPLES) if args.samples else None
    result = run_extraction(args.model, reference, samples=samples, n=args.n,
                            prefix_tokens=args.prefix_tokens, suffix_tokens=args.suffix_tokens,
                            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                            seed=args.seed)
    written = save_probe(result, args.out)
    evaluation, plain = result.evaluation, {"markup": False, "highlight": False, "soft_wrap": True}
    if evaluation.skip_reason:
        out.print(f"extraction probe not run: {terminal_safe(evaluation.skip_reason)}", **plain)
    else:
        m = evaluation.metrics
        sampled = m.get(KEY_SAMPLED_RATE)
        out.print(f"extractable rate {m[KEY_RATE]:.1%} of {int(m[KEY_N_PROBED])} training documents "
                  f"(95% interval {m[KEY_RATE_LOWER]:.1%}-{m[KEY_RATE_UPPER]:.1%})"
                  + ("" if sampled is None else f"; under the release's sampling {sampled:.1%}")
                  + f"; {evaluation.seconds:.1f} s", **plain)
        for note in evaluation.notes:
            out.print(f"  {terminal_safe(note.text)}", **plain)
    out.print(f"probe result: {terminal_safe(written)}; attach it with: aigc-audit audit --samples S "
              f"--reference {terminal_safe(args.reference)} --probe {terminal_safe(written)} --out OUT",
              **plain)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    probe = commands.add_parser("probe", help="probe a model for memorization (extraction)")
    kinds = probe.add_subparsers(dest="probe_command", required=True, metavar="PROBE")
    extraction = kinds.add_parser("extraction", help="share of training documents a causal LM completes "
                                  "verbatim from their first tokens")
    extraction.add_argument("--model", required=True, type=Path, help="local causal-LM folder (a "
                            "checkpoint of 'aigc-audit train gpt', or a HuggingFace folder with safetensors)")
    extraction.add_argument("--reference", required=True, help="the training documents: a reference set "
                            "(items marked \"split\": \"heldout\" are not probed)")
    extraction.add_argument("--n", type=int, default=500, help="documents to probe (default: %(default)s)")
    extraction.add_argument("--prefix-tokens", type=int, default=16, help="prompt length in tokens "
                            "(default: %(default)s)")
    extraction.add_argument("--suffix-tokens", type=int, default=16, help="tokens that must follow exactly "
                            "(default: %(default)s)")
    extraction.add_argument("--samples", help="the release's sample set: its recorded sampling settings "
                            "are probed too")
    extraction.add_argument("--temperature", type=float, default=0.0, help="temperature of the sampled "
                            "probe (default: the samples' recorded one; 0 and no --samples: greedy only)")
    extraction.add_argument("--top-k", type=int, default=0, help="top-k of the sampled probe (0: off)")
    extraction.add_argument("--top-p", type=float, default=1.0, help="top-p of the sampled probe (1: off)")
    extraction.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    extraction.add_argument("--out", required=True, type=Path, help="JSON file for the result")
    extraction.set_defaults(handler=_cmd_extraction)
