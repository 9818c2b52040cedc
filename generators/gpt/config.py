"""How the built-in GPT is trained and sampled: the configs, the training documents, the cache key.

A document is one training record: a passage of the built-in Shakespeare corpus, or one item of a
user's ``.txt``/``.jsonl``/sample or reference set. The same records, unchanged, become the reference
set the audit compares generated text against, so a copy finding names exactly what the model saw.

Torch-free on purpose: checking whether a checkpoint is already trained (``train`` with unchanged
inputs, a warm ``demo``) and refusing a model that is not a local folder must not pay for
importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aigc_audit.errors import InputError
from aigc_audit.generators.base import cache_key, cached, fingerprint
from aigc_audit.generators.corpus import corpus_passages, reference_records
from aigc_audit.sampleset import HELDOUT_SPLIT, TEXT, load_sample_set, write_manifest

SHAKESPEARE = "shakespeare"
QUANTIZE_CHOICES = ("none", "int8")
# Inside a checkpoint: the training documents as a reference set, and the held-out documents marked
# "split": "heldout" (the memorization checks compare the samples with them).
REFERENCE_DIR = "reference"
UNKNOWN_LICENSE = "unknown (no licence given to 'aigc-audit train'; pass --license)"
# Bump when a change to training would change the weights or the checkpoint's reference set, so that
# old caches are not reused. 2: the reference set keeps the held-out documents.
TRAINER_VERSION = 2


@dataclass(frozen=True)
class DataSpec:
    """Which documents to train on.

    ``min_words`` keeps documents long enough to compare with 5-word shingles; ``held_out`` is the
    share of documents (every k-th) kept out of training to measure the held-out loss; ``limit``
    keeps only the first ``limit`` training documents: a small slice, to overfit deliberately.
    """

    corpus: str = SHAKESPEARE
    plays: tuple[str, ...] | None = None
    max_lines: int = 6
    min_words: int = 25
    held_out: float = 0.05
    limit: int | None = None
    license: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plays"] = None if self.plays is None else list(self.plays)
        return data


@dataclass(frozen=True)
class TrainConfig:
    """Everything that, with the data, determines the trained weights: the cache key's input."""

    data: DataSpec = field(default_factory=DataSpec)
    vocab_size: int = 2048
    n_positions: int = 128
    n_embd: int = 96
    n_layer: int = 3
    n_head: int = 4
    dropout: float = 0.0
    steps: int = 300
    batch_size: int = 16
    lr: float = 6e-3
    warmup: int = 20
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1; got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise InputError(f"--n-embd ({self.n_embd}) must be a multiple of --n-head ({self.n_head})")
        if not self.lr > 0:
            raise InputError(f"--lr must be positive; got {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        config = asdict(self)
        config["data"] = self.data.to_dict()
        config["trainer_version"] = TRAINER_VERSION
        return config


@dataclass(frozen=True)
class TrainingData:
    records: list[dict[str, Any]]   # reference-set records of the training documents
    held_out: list[str]             # texts of the held-out documents
    fingerprint: str                # sha256 over the training records
    held_out_records: list[dict[str, Any]] = field(default_factory=list)  # their records

    @property
    def texts(self) -> list[str]:
        return [r["text"] for r in self.records]


def load_training_data(spec: DataSpec) -> TrainingData:
    if not 0.0 <= spec.held_out < 0.5:
        raise InputError(f"--held-out must be in [0, 0.5); got {spec.held_out}")
    if spec.limit is not None and spec.limit < 1:
        raise InputError(f"--limit must be at least 1; got {spec.limit}")
    if spec.corpus == SHAKESPEARE:
        records = reference_records(corpus_passages(list(spec.plays) if spec.plays else None,
                                                    max_lines=spec.max_lines))
    else:
        if spec.plays:
            raise InputError(f"--plays picks plays of the built-in corpus, but --corpus is {spec.corpus}; "
                             f"drop --plays or use --corpus {SHAKESPEARE}")
        records = _user_records(Path(spec.corpus), spec.license)
    records = [r for r in records if len(r["text"].split()) >= spec.min_words]
    if not records:
        raise InputError(f"no document has at least {spec.min_words} words; lower --min-words or give "
                         f"longer documents", path=spec.corpus)
    every = round(1 / spec.held_out) if spec.held_out else 0
    kept_out = {i for i in range(len(records)) if every and i % every == every - 1}
    held_out = [r for i, r in enumerate(records) if i in kept_out]
    train = [r for i, r in enumerate(records) if i not in kept_out][:spec.limit]
    digest = fingerprint(f"{r['id']}\0{r['text']}\0{r['source']}\0{r['license']}".encode() for r in train)
    return TrainingData(train, [r["text"] for r in held_out], digest,
                        [{**r, "split": HELDOUT_SPLIT} for r in held_out])


def _user_records(path: Path, license_: str | None) -> list[dict[str, Any]]:
    """Records from a user's ``.txt``, ``.jsonl`` or sample/reference set folder."""
    items = load_sample_set(path).of_modality(TEXT)
    if not items:
        raise InputError("the corpus holds no text items; the GPT trains on text", path=path)
    return [{"id": item.id, "modality": TEXT, "text": item.text, "source": item.source or item.origin,
             "license": item.license or license_ or UNKNOWN_LICENSE} for item in items]


def checkpoint_key(config: TrainConfig, data: TrainingData) -> str:
    return cache_key(config.to_dict(), data.fingerprint)


def is_trained(config: TrainConfig, folder: Path) -> bool:
    """True when ``folder`` holds a verified checkpoint of ``config`` on its current data."""
    return cached(Path(folder), checkpoint_key(config, load_training_data(config.data)))


def write_reference(folder: Path, data: TrainingData) -> Path:
    """The training documents, then the held-out ones (``"split": "heldout"``), as a reference set:
    the audit's ``--reference``."""
    write_manifest(folder, data.records + data.held_out_records)
    return folder


@dataclass(frozen=True)
class SampleConfig:
    n: int = 200
    seed: int = 0
    temperature: float = 0.8
    top_k: int = 0          # 0: no top-k filtering
    top_p: float = 1.0      # 1.0: no nucleus filtering
    prompt: str = ""
    max_new_tokens: int | None = None  # None: fill the model's context window
    min_new_tokens: int = 32           # no EOS before this many tokens: no trivially short samples
    batch_size: int = 50
    quantize: str = "none"

    def __post_init__(self) -> None:
        if self.n < 1:
            raise InputError(f"--n must be at least 1; got {self.n}")
        if not self.temperature > 0:
            raise InputError(f"--temperature must be positive; got {self.temperature}")
        if self.top_k < 0:
            raise InputError(f"--top-k must be 0 (off) or positive; got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise InputError(f"--top-p must be in (0, 1]; got {self.top_p}")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1; got {self.batch_size}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise InputError(f"--max-new-tokens must be at least 1; got {self.max_new_tokens}")
        if self.min_new_tokens < 0:
            raise InputError(f"--min-new-tokens must be 0 or more; got {self.min_new_tokens}")
        if self.quantize not in QUANTIZE_CHOICES:
            raise InputError(f"--quantize must be one of {list(QUANTIZE_CHOICES)}; got {self.quantize!r}")

    def params(self) -> dict[str, Any]:
        """The sampling parameters a sample's provenance records (seed and prompt have their own keys)."""
        return {k: v for k, v in asdict(self).items() if k not in ("n", "seed", "prompt")}


def local_model_weights(folder: Path) -> list[Path]:
    """The safetensors weights of a local model folder; refuses anything that is not one.

    A name that is not a folder (``gpt2``) is refused here, before transformers could take it for a
    hub model id: aigc-audit never downloads a model.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("model folder not found; pass a local folder (a checkpoint from 'aigc-audit train "
                         "gpt' or a HuggingFace causal-LM folder): aigc-audit never downloads models from a "
                         "hub", path=folder)
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        pickled = sorted(p.name for p in folder.glob("*.bin"))
        raise InputError("no *.safetensors weights in the model folder"
                         + (f" (found {pickled}; pickled weights are refused because loading them can run "
                            "code: convert them to safetensors)" if pickled else ""), path=folder)
    return weights
