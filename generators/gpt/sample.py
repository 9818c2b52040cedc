"""Sampling a causal language model into a sample set with full provenance.

Works on the built-in GPT's checkpoints and on any local HuggingFace causal-LM folder. Nothing is
ever downloaded: the folder must exist, and every load passes ``local_files_only=True``; weights are
read from safetensors only (a pickled ``pytorch_model.bin`` could run code when loaded).

Samples are drawn in fixed-size batches, each seeded from ``(seed, batch index)``, so the same seed
gives the same samples, and sample ``i`` does not depend on how many samples were asked for.
Every sample starts at a document boundary (the tokenizer's BOS, else EOS) followed by the prompt,
and ends at EOS or after ``max_new_tokens``.
"""

from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aigc_audit.errors import InputError
from aigc_audit.generators.base import TRAINING_FILE, fingerprint, read_training_record
from aigc_audit.generators.gpt.config import SampleConfig, local_model_weights
from aigc_audit.sampleset import TEXT, sha256_file, write_manifest
from aigc_audit.threads import torch_threads

GENERATOR = "gpt"


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: Any
    sha256: str
    folder: Path


def load_model(folder: str | Path) -> LoadedModel:
    """Load a local causal-LM folder; never contacts a model hub."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = Path(folder)
    weights = local_model_weights(path)
    if (path / TRAINING_FILE).is_file():
        sha = read_training_record(path)["weights_sha256"]  # verifies the weights too
    elif len(weights) == 1:
        sha = sha256_file(weights[0])
    else:  # sharded: one hash over the shards' hashes, in name order
        sha = fingerprint(f"{w.name}\0{sha256_file(w)}".encode() for w in weights)
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"cannot load a causal language model and tokenizer from this folder ({first})",
                         path=path) from None
    model.eval()
    return LoadedModel(model, tokenizer, sha, path)


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of the linear layers, for faster CPU sampling.

    GPT-2 implements its projections as ``Conv1D`` (a transposed linear layer), which dynamic
    quantization does not recognise, so those are first rewritten as ``nn.Linear``.
    """
    from transformers.pytorch_utils import Conv1D

    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Conv1D):
                linear = torch.nn.Linear(child.weight.shape[0], child.weight.shape[1])
                linear.weight.data = child.weight.data.t().contiguous()
                linear.bias.data = child.bias.data.clone()
                setattr(module, name, linear)
    with warnings.catch_warnings():
        # torch marks its eager quantization API deprecated in favour of torchao, which this project
        # does not install; the API works in the pinned torch, and a test covers it.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8,
                                                      inplace=True)


def start_ids(tokenizer: Any, prompt: str) -> list[int]:
    """Document-boundary token, then the prompt."""
    boundary = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    ids = [] if boundary is None else [boundary]
    ids += tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else []
    if not ids:
        raise InputError("the tokenizer has neither a BOS nor an EOS token; pass --prompt to start from")
    return ids


def sample_texts(loaded: LoadedModel, config: SampleConfig, *, console: Console | None = None) -> list[str]:
    """``config.n`` generated texts (prompt included, special tokens removed)."""
    model, tokenizer = loaded.model, loaded.tokenizer
    eos = tokenizer.eos_token_id
    prompt = start_ids(tokenizer, config.prompt)
    hf_config = model.config
    window = getattr(hf_config, "n_positions", None) or getattr(hf_config, "max_position_embeddings", None)
    room = (window - len(prompt)) if window else 256  # a model that declares no window: a passage
    max_new = min(config.max_new_tokens or room, room)
    if max_new < 1:
        raise InputError(f"the prompt ({len(prompt)} tokens) fills the model's {window}-token window; "
                         "shorten --prompt")
    min_new = min(config.min_new_tokens, max_new) if eos is not None else 0
    texts: list[str] = []
    batches = range(0, config.n, config.batch_size)
    with _progress(console or Console(stderr=True)) as progress, torch.no_grad(), torch_threads():
        task = progress.add_task("sampling", total=config.n)
        for index, first in enumerate(batches):
            count = min(config.batch_size, config.n - first)
            # Seeded per batch: sample i depends on (seed, batch size, i) only.
            torch.manual_seed(config.seed * 1_000_003 + index)
            input_ids = torch.tensor([prompt] * config.batch_size)
            output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                    do_sample=True, temperature=config.temperature, top_k=config.top_k,
                                    top_p=config.top_p, max_new_tokens=max_new, min_new_tokens=min_new,
                                    eos_token_id=eos, pad_token_id=eos if eos is not None else 0)
            for row in output[:count]:
                texts.append(tokenizer.decode(row, skip_special_tokens=True).strip())
            progress.update(task, advance=count)
    return texts


def generate(model: str | Path, out: str | Path, config: SampleConfig, *, console: Console | None = None,
             created_at: str | None = None) -> Path:
    """Sample ``model`` into the sample set ``out``; returns the folder."""
    console = console or Console(stderr=True)
    loaded = load_model(model)
    if config.quantize == "int8":
        loaded.model = quantize_int8(loaded.model)
    started = time.perf_counter()
    texts = sample_texts(loaded, config, console=console)
    seconds = time.perf_counter() - started
    created_at = created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    params = {**config.params(), "model": Path(model).name}
    records = [{"id": f"gpt-s{config.seed}-{i:05d}", "modality": TEXT, "text": text,
                "provenance": {"generator": GENERATOR, "model_sha256": loaded.sha256, "seed": config.seed,
                               "params": {**params, "index": i}, "prompt": config.prompt,
                               "created_at": created_at}}
               for i, text in enumerate(texts)]
    write_manifest(out, records)
    console.print(f"sampled {len(texts)} texts in {seconds:.1f} s from {loaded.folder} "
                  f"(sha256 {loaded.sha256[:12]}{', int8' if config.quantize == 'int8' else ''})")
    return Path(out)


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)
