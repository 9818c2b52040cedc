"""Probe results: checks of a model run once before release and attached to its audits.

``aigc-audit probe extraction`` writes the probe's evaluation to a JSON file with the model's and
the reference set's sha256; ``aigc-audit audit --probe FILE`` reads it back and hands it to the
runner, which uses it for every rule on its evaluator. A result is attached only to the audit it
belongs to: its reference set must be the audit's, and samples that record the model they came
from must name the probed model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigc_audit.errors import InputError
from aigc_audit.evaluators import registry
from aigc_audit.evaluators.base import Evaluation
from aigc_audit.evaluators.memorization.extraction import KEY_MODEL_SHA256
from aigc_audit.governance.report import EvaluationRecord
from aigc_audit.sampleset import TEXT, SampleSet

PROBE_FORMAT = "aigc-audit-probe"
PROBE_VERSION = 1
_KEYS = ("format", "version", "model", "model_sha256", "reference", "reference_sha256", "evaluation")


@dataclass(frozen=True)
class ProbeResult:
    """One probe of one model against one reference set."""

    evaluation: Evaluation
    model: str
    model_sha256: str
    reference: str
    reference_sha256: str

    def to_dict(self) -> dict[str, Any]:
        e = self.evaluation
        return {"format": PROBE_FORMAT, "version": PROBE_VERSION, "model": self.model,
                "model_sha256": self.model_sha256, "reference": self.reference,
                "reference_sha256": self.reference_sha256,
                "evaluation": EvaluationRecord.of(e.evaluator, e).to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeResult:
        record = EvaluationRecord.from_dict(data["evaluation"])
        metrics = {k: float("nan") if v is None else float(v) for k, v in record.metrics.items()}
        evaluation = Evaluation(record.evaluator, dict(record.params), metrics, [],
                                errors={e.item_id: e.reason for e in record.errors},
                                n_items=record.n_items, notes=list(record.notes), seconds=record.seconds,
                                skip_reason=record.skip_reason)
        return cls(evaluation, data["model"], data["model_sha256"], data["reference"],
                   data["reference_sha256"])


def run_extraction(model: str | Path, reference: SampleSet, *, samples: SampleSet | None = None,
                   **params: Any) -> ProbeResult:
    """Probe ``model`` on ``reference``'s training documents (``params``: the extraction
    evaluator's, e.g. ``n``, ``prefix_tokens``, ``temperature``)."""
    evaluator = registry.get("extraction")(model=str(model), **params)
    evaluation = evaluator.evaluate(samples, reference)
    return ProbeResult(evaluation, str(model), str(evaluation.params.get(KEY_MODEL_SHA256, "")),
                       str(reference.path), reference.sha256)


def save_probe(result: ProbeResult, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=False,
                               default=str) + "\n", encoding="utf-8")
    return path


def load_probe(path: str | Path) -> ProbeResult:
    """Read a probe file; a file that is not one is an ``InputError`` naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read the probe file ({error.strerror or error}); pass the file "
                         "'aigc-audit probe extraction --out' wrote", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        raise InputError(f"not a probe file: malformed JSON ({getattr(error, 'msg', error)})", path=path,
                         line=line) from None
    if not isinstance(data, dict) or data.get("format") != PROBE_FORMAT:
        raise InputError(f"not a probe file: 'format' must be {PROBE_FORMAT!r}; write one with "
                         "'aigc-audit probe extraction --out FILE'", path=path)
    if data.get("version") != PROBE_VERSION or sorted(data) != sorted(_KEYS):
        raise InputError(f"unsupported probe file: version {data.get('version')!r} with keys {sorted(data)}; "
                         f"expected version {PROBE_VERSION} with keys {sorted(_KEYS)}", path=path)
    try:
        result = ProbeResult.from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"malformed probe evaluation ({type(error).__name__}: {error})", path=path) from None
    registry.get(result.evaluation.evaluator)  # an unknown evaluator is a ConfigError naming the valid ones
    return result


def check_attachable(result: ProbeResult, samples: SampleSet, reference: SampleSet | None,
                     origin: str = "") -> None:
    """Refuse a probe of another reference set, or of another model than the samples record."""
    where = f"{origin}: " if origin else ""
    if reference is None or reference.sha256 != result.reference_sha256:
        got = "no reference set" if reference is None else f"reference sha256 {reference.sha256[:12]}"
        raise InputError(f"{where}the probe was run against reference set {result.reference} (sha256 "
                         f"{result.reference_sha256[:12]}), but this audit has {got}; probe again with "
                         "this audit's --reference")
    recorded = {str(i.provenance["model_sha256"]) for i in samples.of_modality(TEXT)
                if i.provenance and i.provenance.get("model_sha256")}
    if recorded and result.model_sha256 not in recorded:
        raise InputError(f"{where}the probe is of model {result.model} (sha256 {result.model_sha256[:12]}), "
                         f"but the samples record model sha256 {sorted(s[:12] for s in recorded)}; probe "
                         "the model that generated them")
