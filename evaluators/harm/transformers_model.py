"""Any local Hugging Face sequence-classification model as a harm classifier.

The folder is loaded with ``local_files_only=True`` and safetensors weights only (no pickled
``.bin``). The policy's ``label_map`` must map every label in the model's ``config.id2label`` to
a category or to ``none``, so a model label cannot go unmapped. Scores are the softmax over labels,
or per-label sigmoids for a model whose ``problem_type`` is multi-label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aigc_audit.errors import AuditError
from aigc_audit.evaluators.harm.classifier import HarmClassifier
from aigc_audit.evaluators.harm.taxonomy import check_label_map
from aigc_audit.sampleset import TEXT, sha256_file


class TransformersClassifier(HarmClassifier):
    name = "transformers"
    modality = TEXT

    def __init__(self, *, model_path: str | Path, label_map: Mapping[str, Any], max_length: int = 512,
                 batch_size: int = 16):
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        path = Path(model_path)
        if not (path.is_dir() and (path / "config.json").is_file()):
            raise AuditError(f"model folder {path} not found or without config.json; pass a local "
                             "Hugging Face sequence-classification folder (save_pretrained output)")
        weights = sorted(path.glob("*.safetensors"))
        if not weights:
            raise AuditError(f"model folder {path} has no .safetensors weights; only safetensors are "
                             "loaded (pickled .bin weights are refused). Convert with "
                             "model.save_pretrained(folder, safe_serialization=True)")
        try:
            config = AutoConfig.from_pretrained(str(path), local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                str(path), local_files_only=True, use_safetensors=True)
        except (OSError, ValueError, KeyError) as error:
            raise AuditError(f"cannot load the model in {path} as a sequence classifier: "
                             f"{str(error).splitlines()[0]}") from None
        labels = [config.id2label[i] for i in range(config.num_labels)]
        try:
            self.label_map = check_label_map(label_map, classifier=f"model {path.name}", labels=labels)
        except ValueError as error:
            raise AuditError(f"{error} (policy parameter label_map)") from None
        model.eval()
        self._torch, self._tokenizer, self._model = torch, tokenizer, model
        self.labels = labels
        self.multi_label = config.problem_type == "multi_label_classification"
        self.max_length = min(max_length, getattr(tokenizer, "model_max_length", max_length) or max_length)
        self.batch_size = batch_size
        digest = hashlib.sha256()
        for file in weights:
            digest.update(sha256_file(file).encode())
        self._version = f"{path.name} (weights sha256:{digest.hexdigest()[:12]})"

    @property
    def version(self) -> str:
        return self._version

    def label_scores(self, batch: Sequence[str]) -> list[tuple[dict[str, float], dict[str, Any]]]:
        torch = self._torch
        out = []
        texts = list(batch)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                encoded = self._tokenizer(texts[start:start + self.batch_size], padding=True,
                                          truncation=True, max_length=self.max_length,
                                          return_tensors="pt")
                logits = self._model(**encoded).logits.float()  # (B, L)
                probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
                for row in probs.tolist():
                    out.append((dict(zip(self.labels, row)), {}))
        return out
