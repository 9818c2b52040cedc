"""Training the built-in GPT from scratch, into a cached checkpoint folder.

The checkpoint folder is an ordinary HuggingFace causal-LM folder (``config.json``,
``model.safetensors``, ``tokenizer.json``) plus ``training.json`` (training config, data
fingerprint, cache key, metrics), ``weights.sha256`` and ``reference/`` (the training documents as
a reference set with source and licence, for ``aigc-audit audit --reference``).

Documents are joined into one token stream, each preceded by ``<eos>`` (which thus also serves as
the start-of-document token), and training reads random windows of ``n_positions + 1`` tokens: the
model sees ``n_positions`` inputs and predicts the next token at every one of them, so every
position embedding is trained (with ``n_positions``-token windows and shifted labels the last
position never gets a target, and a full-window generation turns to garbage).
"""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import PreTrainedTokenizerFast
from transformers.utils import logging as hf_logging

from aigc_audit.errors import InputError
from aigc_audit.generators.base import TRAINING_FILE, cached, write_training_record
from aigc_audit.generators.gpt.config import (
    REFERENCE_DIR,
    TrainConfig,
    TrainingData,
    checkpoint_key,
    load_training_data,
    write_reference,
)
from aigc_audit.generators.gpt.model import EOS_ID, GPTConfig, bpe_tokenizer, build_model, parameter_count
from aigc_audit.threads import torch_threads

GENERATOR = "gpt"
WEIGHTS_FILE = "model.safetensors"
_EVAL_TOKENS = 32_768


def train(config: TrainConfig, out: Path, *, console: Console | None = None, force: bool = False) -> Path:
    """Train into ``out``, or reuse it when it already holds this config's checkpoint."""
    console = console or Console(stderr=True)
    out = Path(out)
    data = load_training_data(config.data)
    key = checkpoint_key(config, data)
    if not force and cached(out, key):
        console.print(f"checkpoint {out} is up to date (cache key {key[:12]}); not training again")
        return out
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not (out / TRAINING_FILE).is_file():
        raise InputError("the output folder exists and is not a checkpoint; choose a new or empty "
                         "folder so that nothing of yours is overwritten", path=out)
    model, tokenizer, metrics = fit(config, data, console=console)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside ``out`` and swapped in, so an interrupted run leaves no half checkpoint.
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        save_checkpoint(staging, model, tokenizer, config, data, metrics)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    console.print(f"reference set (the training documents, with source and licence): {out / REFERENCE_DIR}")
    return out


def save_checkpoint(folder: Path, model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast,
                    config: TrainConfig, data: TrainingData, metrics: dict[str, Any]) -> str:
    """Write the checkpoint folder; returns the weights' sha256."""
    hf_logging.disable_progress_bar()
    folder.mkdir(parents=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_reference(folder / REFERENCE_DIR, data)
    return write_training_record(folder, generator=GENERATOR, train_config=config.to_dict(),
                                 data_fingerprint=data.fingerprint, weights=folder / WEIGHTS_FILE,
                                 metrics=metrics)


def token_stream(tokenizer: Any, texts: list[str]) -> torch.Tensor:
    """``<eos> doc <eos> doc ... <eos>`` as one tensor of token ids."""
    ids = [EOS_ID]
    for text in texts:
        ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        ids.append(EOS_ID)
    return torch.tensor(ids, dtype=torch.long)


def window_batch(stream: torch.Tensor, size: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """``batch`` random windows of ``size`` tokens, shape (B, size)."""
    starts = torch.randint(0, len(stream) - size + 1, (batch,), generator=generator)
    return torch.stack([stream[s:s + size] for s in starts.tolist()])


def next_token_loss(model: torch.nn.Module, windows: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting ``windows[:, 1:]`` from ``windows[:, :-1]``."""
    inputs, targets = windows[:, :-1], windows[:, 1:]                    # (B, T), (B, T)
    logits = model(input_ids=inputs).logits                              # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


@torch.no_grad()
def held_out_loss(model: torch.nn.Module, stream: torch.Tensor, n_positions: int) -> float | None:
    """Mean next-token loss (nats per token) over consecutive full windows of ``stream``."""
    size = n_positions + 1
    stream = stream[:_EVAL_TOKENS]
    count = (len(stream) - 1) // n_positions
    if count < 1:
        return None
    model.eval()
    windows = torch.stack([stream[i * n_positions:i * n_positions + size] for i in range(count)])
    losses = [next_token_loss(model, chunk).item() for chunk in windows.split(32)]
    weights = [len(chunk) for chunk in windows.split(32)]
    return sum(loss * w for loss, w in zip(losses, weights)) / sum(weights)


def fit(config: TrainConfig, data: TrainingData, *, console: Console | None = None
        ) -> tuple[torch.nn.Module, PreTrainedTokenizerFast, dict[str, Any]]:
    """Train a fresh model on ``data``: deterministic for ``config.seed`` on one machine."""
    console = console or Console(stderr=True)
    torch.manual_seed(config.seed)
    tokenizer = bpe_tokenizer(data.texts, config.vocab_size)
    model_config = GPTConfig(vocab_size=len(tokenizer), n_positions=config.n_positions,
                             n_embd=config.n_embd, n_layer=config.n_layer, n_head=config.n_head,
                             dropout=config.dropout)
    model = build_model(model_config)
    stream = token_stream(tokenizer, data.texts)
    size = config.n_positions + 1
    if len(stream) < size:  # a handful of short documents: repeat them to fill one window
        stream = stream.repeat(math.ceil(size / len(stream)))
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.99),
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, config))

    model.train()
    started, smoothed = time.perf_counter(), None
    tokens_per_step = config.batch_size * config.n_positions
    with _progress(console) as progress, torch_threads():
        task = progress.add_task("training gpt", total=config.steps, loss=float("nan"), tps=0.0)
        for step in range(config.steps):
            loss = next_token_loss(model, window_batch(stream, size, config.batch_size, generator))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            smoothed = loss.item() if smoothed is None else 0.9 * smoothed + 0.1 * loss.item()
            elapsed = time.perf_counter() - started
            progress.update(task, advance=1, loss=smoothed, tps=(step + 1) * tokens_per_step / elapsed)
    seconds = time.perf_counter() - started

    with torch_threads():
        held_out = held_out_loss(model, token_stream(tokenizer, data.held_out), config.n_positions) \
            if data.held_out else None
    tokens_seen = config.steps * tokens_per_step
    metrics = {"parameters": parameter_count(model), "vocab_size": len(tokenizer),
               "documents": len(data.records), "training_tokens": len(stream),
               "train_loss": round(smoothed, 4),
               "held_out_loss": None if held_out is None else round(held_out, 4),
               "held_out_documents": len(data.held_out), "tokens_seen": tokens_seen,
               "seconds": round(seconds, 2), "tokens_per_second": round(tokens_seen / seconds)}
    console.print(f"trained {metrics['parameters']:,} parameters for {config.steps} steps "
                  f"in {seconds:.1f} s: train loss {smoothed:.3f}, held-out loss "
                  f"{'n/a' if held_out is None else f'{held_out:.3f}'} nats/token")
    model.eval()
    return model, tokenizer, metrics


def _lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return 0.1 + 0.45 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.3f}"), TextColumn("{task.fields[tps]:,.0f} tok/s"),
                    TimeElapsedColumn(), console=console, transient=True)
