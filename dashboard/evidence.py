"""What the flagged-item view shows, as plain data: highlighted passages, image pairs with their
pixel difference, the similarity figures and harm scores in a finding's evidence.

No Streamlit here: pages call these through the cached functions in :mod:`dashboard.data`, and
tests call them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from aigc_audit.dashboard import markup
from aigc_audit.evaluators import evidence as keys
from aigc_audit.evaluators.copying.image_alignment import onto_sample
from aigc_audit.evaluators.copying.image_near_duplicate import as_matched, shifted_copies
from aigc_audit.images import open_image_file

# Images are shown at least this wide: a 32-pixel sample must be readable next to its match.
DISPLAY_SIDE = 320


def merge_spans(spans: Iterable[Iterable[int]], length: int) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ``(start, end)`` spans clipped to ``[0, length]``."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, int(s)), min(length, int(e))) for s, e in spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def highlight_html(text: str, spans: Iterable[Iterable[int]]) -> str:
    """``text`` as escaped HTML with each span in ``<mark>``; safe for untrusted text (no tag and
    no Markdown in it takes effect: :func:`dashboard.markup.html_text`)."""
    return markup.highlight_html(text, merge_spans(spans, len(text)))


def shared_spans(evidence: Mapping[str, Any], side: str) -> list[list[int]]:
    """The character spans of the shared passages in the sample (``side="sample"``) or in the
    training text (``side="reference"``)."""
    if side not in ("sample", "reference"):
        raise ValueError(f"side must be 'sample' or 'reference'; got {side!r}")
    key = keys.SAMPLE_SPAN if side == "sample" else keys.REFERENCE_SPAN
    passages = evidence.get(keys.SHARED) or []
    if side == "reference":
        # Passages can align to several training items; only the shown match's spans are its own.
        passages = [p for p in passages if p.get(keys.PASSAGE_MATCH_ID, evidence.get(keys.MATCH_ID))
                    == evidence.get(keys.MATCH_ID)]
    return [list(p[key]) for p in passages if key in p]


def figures(evidence: Mapping[str, Any]) -> dict[str, float]:
    """The evidence's numbers (similarity, distances, counts) by name."""
    return {key: value for key, value in evidence.items() if key not in keys.NOT_FIGURES
            and isinstance(value, (int, float)) and not isinstance(value, bool)}


def details(evidence: Mapping[str, Any]) -> dict[str, str]:
    """The evidence's short words (category, label, classifier, hashes) by name; long texts are
    shown elsewhere."""
    return {key: value for key, value in evidence.items() if key not in keys.NOT_FIGURES
            and key != "text" and isinstance(value, str) and len(value) <= 80}


def category_scores(evidence: Mapping[str, Any]) -> dict[str, float]:
    """Scores by category (harm classifiers): the first evidence field that maps names to
    numbers, e.g. ``{"scores": {"toxicity": 0.91, "insult": 0.40}}``."""
    for key in (keys.SCORES, keys.CATEGORIES, keys.CATEGORY_SCORES):
        value = evidence.get(key)
        if isinstance(value, Mapping) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
            return {str(k): float(v) for k, v in value.items()}
    for value in evidence.values():
        if isinstance(value, Mapping) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
            return {str(k): float(v) for k, v in value.items()}
    return {}


@dataclass(frozen=True)
class ImagePair:
    """A generated image and its training match at one display size, and their difference."""

    sample: np.ndarray      # (H, W, 3) uint8
    reference: np.ndarray   # (H, W, 3) uint8
    difference: np.ndarray  # (H, W) uint8: |sample - reference|, averaged over channels
    mean_abs_difference: float  # on the 0-255 scale, at the sample's own resolution
    sample_size: tuple[int, int]
    reference_size: tuple[int, int]


def _display(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    # Nearest neighbour when enlarging keeps a small image's pixels visible as pixels.
    resample = Image.Resampling.NEAREST if size[0] >= image.size[0] else Image.Resampling.LANCZOS
    return np.asarray(image.resize(size, resample), dtype=np.uint8)


def _outlined(image: Image.Image, region: Sequence[float]) -> Image.Image:
    """``image`` with the box ``region`` (shares of its sides) drawn in red."""
    out = image.copy()
    width, height = out.size
    left, top, right, bottom = (float(v) for v in region)
    ImageDraw.Draw(out).rectangle((round(left * (width - 1)), round(top * (height - 1)),
                                   round(right * (width - 1)), round(bottom * (height - 1))),
                                  outline=(255, 0, 0))
    return out


def image_pair(sample_path: Path, reference_path: Path, *, side: int = DISPLAY_SIDE,
               shift: tuple[int, int] = (0, 0), orientation: str = "as is",
               alignment: tuple[float, float] | None = None,
               region: Sequence[float] | None = None) -> ImagePair:
    """Open both images (safely, as the audit does) and compare them pixel by pixel at the
    sample's resolution, under the alignment the audit matched them with: the sample turned back
    from ``orientation`` (or, "inside an added frame", its picture without the frame) and moved by
    ``shift`` (dx, dy), or, for a match found by alignment
    (``alignment`` = (rotation, scale)), the training image turned, enlarged and moved by ``shift``
    onto the sample. ``region`` (left, top, right, bottom, as shares) is outlined on the training
    image shown. Raises ``aigc_audit.errors.ItemError`` for an unreadable file."""
    reference = open_image_file(Path(reference_path), item_id="reference", mode="RGB")
    sample = as_matched(open_image_file(Path(sample_path), item_id="sample", mode="RGB"), orientation,
                        reference)
    if alignment is not None:
        aligned = onto_sample(reference, sample.size, alignment[0], alignment[1],
                              (int(shift[0]), int(shift[1])))
    else:
        if any(shift):
            sample = shifted_copies(sample, [tuple(shift)])[0]
        aligned = reference.resize(sample.size, Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(sample, dtype=np.int16) - np.asarray(aligned, dtype=np.int16)).mean(axis=2)
    scale = side / max(sample.size)
    size = (max(1, round(sample.size[0] * scale)), max(1, round(sample.size[1] * scale)))
    diff_image = Image.fromarray(diff.astype(np.uint8), "L").resize(size, Image.Resampling.NEAREST)
    shown = reference.resize(sample.size, Image.Resampling.LANCZOS) if alignment is not None else aligned
    if region is not None:
        shown = _outlined(shown, region)
    return ImagePair(_display(sample, size), _display(shown, size),
                     np.asarray(diff_image, dtype=np.uint8), float(diff.mean()), sample.size,
                     reference.size)
