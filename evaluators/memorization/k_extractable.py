"""The k-extractable rate of Carlini et al. (2022): does the model complete its training data?

For each probed training document, the model is prompted with a document boundary and the first
``prefix_tokens`` tokens of the document, and decodes ``suffix_tokens`` tokens; the document is
extractable when those are exactly its next ``suffix_tokens`` tokens. Greedy decoding gives the
paper's measure; decoding under the release's sampling settings (``temperature``, ``top_k``,
``top_p``) gives the rate at which a user of the release would see the passage reproduced. Each
rate comes with a two-sided Clopper-Pearson interval.

The model is passed as a loaded HuggingFace causal LM and its tokenizer (see
``generators.gpt.sample.load_model``); torch is imported only here, where it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProbeOutcome:
    document: int          # index into the documents probed
    greedy: bool           # the greedy continuation equals the document's next tokens
    sampled: bool | None   # the same under the sampling settings; None when not sampled
    matched_tokens: int    # leading tokens of the greedy continuation that match


@dataclass(frozen=True)
class ExtractionResult:
    outcomes: tuple[ProbeOutcome, ...]
    too_short: int         # documents with fewer than prefix + suffix tokens, not probed

    @property
    def n(self) -> int:
        return len(self.outcomes)

    @property
    def greedy_rate(self) -> float:
        return sum(o.greedy for o in self.outcomes) / self.n if self.n else float("nan")

    @property
    def sampled_rate(self) -> float:
        sampled = [o.sampled for o in self.outcomes if o.sampled is not None]
        return sum(sampled) / len(sampled) if sampled else float("nan")


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided exact binomial interval for ``successes`` out of ``n``."""
    from scipy.stats import beta

    if n == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    lower = 0.0 if successes == 0 else float(beta.ppf(tail, successes, n - successes + 1))
    upper = 1.0 if successes == n else float(beta.ppf(1.0 - tail, successes + 1, n - successes))
    return lower, upper


def extraction_probe(model: Any, tokenizer: Any, documents: Sequence[str], *, prefix_tokens: int = 16,
                     suffix_tokens: int = 16, temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0,
                     batch_size: int = 64, seed: int = 0) -> ExtractionResult:
    """Probe ``documents`` (training texts); ``temperature`` 0 skips the sampled probe."""
    import torch

    if prefix_tokens < 1 or suffix_tokens < 1:
        raise ValueError(f"prefix_tokens and suffix_tokens must be >= 1; got {prefix_tokens} and "
                         f"{suffix_tokens}")
    boundary = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    head = [] if boundary is None else [boundary]
    config = model.config
    window = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    if window and len(head) + prefix_tokens + suffix_tokens > window:
        raise ValueError(f"prefix_tokens + suffix_tokens ({prefix_tokens + suffix_tokens}) does not fit the "
                         f"model's {window}-token window")
    probes: list[tuple[int, list[int], list[int]]] = []
    too_short = 0
    for index, text in enumerate(documents):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) < prefix_tokens + suffix_tokens:
            too_short += 1
            continue
        probes.append((index, head + ids[:prefix_tokens], ids[prefix_tokens:prefix_tokens + suffix_tokens]))
    outcomes: list[ProbeOutcome] = []
    pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    with torch.no_grad():
        for start in range(0, len(probes), batch_size):
            batch = probes[start:start + batch_size]
            prompts = torch.tensor([prompt for _, prompt, _ in batch])              # (B, P)
            targets = torch.tensor([target for _, _, target in batch])              # (B, K)
            common = dict(attention_mask=torch.ones_like(prompts), max_new_tokens=suffix_tokens,
                          min_new_tokens=suffix_tokens, pad_token_id=pad)
            greedy = model.generate(input_ids=prompts, do_sample=False, **common)[:, prompts.shape[1]:]
            matches = (greedy == targets)                                            # (B, K)
            leading = matches.int().cumprod(dim=1).sum(dim=1)
            sampled_hit = [None] * len(batch)
            if temperature > 0:
                torch.manual_seed(seed * 1_000_003 + start // batch_size)
                sampled = model.generate(input_ids=prompts, do_sample=True, temperature=temperature,
                                         top_k=top_k, top_p=top_p, **common)[:, prompts.shape[1]:]
                sampled_hit = (sampled == targets).all(dim=1).tolist()
            for row, (index, _, _) in enumerate(batch):
                outcomes.append(ProbeOutcome(index, bool(matches[row].all()), sampled_hit[row],
                                             int(leading[row])))
    return ExtractionResult(tuple(outcomes), too_short)
