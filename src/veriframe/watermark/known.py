"""Known marks of open generators, read with a numpy port of ``invisible-watermark``'s decoder.

Stability AI's SDXL and Stable Video Diffusion sampling scripts (Stability-AI/generative-models,
``sgm/inference/helpers.py``) embed the fixed 48-bit message ``0xB3EC907BB19E`` with the
``dwtDct`` method into every frame (the frames handed over as BGR); diffusers' SDXL watermarker
uses the same bits. Stability's ``scripts/demo/detect.py`` reads 34-35 matching bits as "likely"
and >= 36 as "very likely".

``imwatermark`` imports torch at import time and decodes block by block in Python, so this module
re-implements its ``dwtDct`` decoder (``imwatermark/maxDct.py``, ``EmbedMaxDct.decode`` with the
default ``scales=[0, 36, 36]``, ``block=4``), vectorised, with numpy only:

* OpenCV's 8-bit ``COLOR_BGR2YUV`` in its fixed-point form (14-bit coefficients, round half
  up, saturate); only U is needed, because the loop over ``range(2)`` skips Y (scale 0) and
  never reaches V;
* ``pywt.dwt2(U[:rows//4*4, :cols//4*4], "haar")``, approximation band only, computed with
  the same double-precision products and sums as PyWavelets (bit-identical);
* 4x4 blocks of that band in raster order, block ``k`` voting for bit ``k % n_bits``; in each
  block the largest-magnitude coefficient other than the first (first index on ties) gives
  ``1`` when ``|c| % 36 > 18`` (despite the name, no DCT is applied on decode or encode);
* a bit is set when the mean of its votes times 255 exceeds 127.

The result equals ``WatermarkDecoder("bits", n).decode(bgr, "dwtDct")`` bit for bit (the test
suite compares them when ``invisible-watermark`` is installed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from veriframe.results import KnownMark
from veriframe.watermark.stats import binomial_tail

SDXL_SVD_BITS = tuple(int(b) for b in f"{0xB3EC907BB19E:048b}")
DEFAULT_THRESHOLD = 1e-4  # binomial p-value: >= 38 of 48 matching bits
MAX_FRAMES = 8
MIN_SIDE = 256  # imwatermark refuses images under 256x256 pixels
_SCALE = 36.0  # EmbedMaxDct default scale of the U channel
_BLOCK = 4


@dataclass(frozen=True)
class _Known:
    name: str
    method: str
    bits: tuple[int, ...]


KNOWN: tuple[_Known, ...] = (
    _Known(name="stability-sdxl-svd", method="invisible-watermark/dwtDct", bits=SDXL_SVD_BITS),
)


_HAAR = 0.7071067811865476  # pywt's haar filter taps (1/sqrt(2) as a double)
# U as a function of B - Y (in -255..255): OpenCV's ((B - Y) * 8061 + 128 * 2**14 + 2**13) >> 14
_U_OF_DIFF = np.clip(
    ((np.arange(-255, 256, dtype=np.int32) * 8061) + (128 << 14) + (1 << 13)) >> 14, 0, 255
).astype(np.float64)


def _u_channel(rgb: np.ndarray) -> np.ndarray:
    """U of OpenCV's 8-bit BGR2YUV (fixed point, exact), from an RGB uint8 frame, as float."""
    # each channel is widened inside the products (no int32 copy of the whole frame)
    y = np.multiply(rgb[:, :, 2], 1868, dtype=np.int32)
    y += np.multiply(rgb[:, :, 1], 9617, dtype=np.int32)
    y += np.multiply(rgb[:, :, 0], 4899, dtype=np.int32)
    y += 1 << 13
    y >>= 14
    diff = np.subtract(rgb[:, :, 2], y, dtype=np.int32)
    diff += 255
    return _U_OF_DIFF[diff]


def _haar_approx(u: np.ndarray) -> np.ndarray:
    """``pywt.dwt2(u, "haar")[0]``, bit for bit (rows first, then columns, as pywt does)."""
    t = u[0::2] * _HAAR + u[1::2] * _HAAR
    return np.asarray(t[:, 0::2] * _HAAR + t[:, 1::2] * _HAAR)


def decode_dwtdct(rgb: np.ndarray, n_bits: int) -> np.ndarray:
    """Bits (bool, length ``n_bits``) that ``imwatermark``'s ``dwtDct`` decoder reads from one
    RGB uint8 frame (it is handed the BGR frame, as the generators' scripts do)."""
    rows, cols = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    ca = _haar_approx(_u_channel(rgb[:rows, :cols]))
    br, bc = ca.shape[0] // _BLOCK, ca.shape[1] // _BLOCK
    blocks = (
        ca[: br * _BLOCK, : bc * _BLOCK]
        .reshape(br, _BLOCK, bc, _BLOCK)
        .transpose(0, 2, 1, 3)
        .reshape(br * bc, _BLOCK * _BLOCK)
    )
    rest = np.abs(blocks[:, 1:])
    val = rest[np.arange(len(rest)), np.argmax(rest, axis=1)]
    votes = (np.mod(val, _SCALE) > 0.5 * _SCALE).astype(np.float64)
    which = np.arange(len(votes)) % n_bits
    sums = np.bincount(which, weights=votes, minlength=n_bits)
    counts = np.bincount(which, minlength=n_bits)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts  # a bit with no block is NaN, read as 0 (as imwatermark does)
    return np.asarray(means * 255 > 127)


def known_marks(
    sample: Any, *, threshold: float = DEFAULT_THRESHOLD, max_frames: int = MAX_FRAMES
) -> tuple[KnownMark, ...]:
    """Known generator marks found in ``sample`` (a FrameSample, or (N, H, W, 3) RGB uint8).

    Each message is read from up to ``max_frames`` evenly spread frames and voted bit by bit;
    a mark is reported when the voted word matches its message with a binomial p-value (chance
    of that many matching bits by luck) at or below ``threshold``. Frames under 256x256 pixels
    cannot carry these marks. Imports neither torch nor OpenCV.
    """
    rgb = np.asarray(getattr(sample, "rgb", sample))
    if rgb.ndim == 3:
        rgb = rgb[None]
    if rgb.ndim != 4 or rgb.shape[0] == 0 or rgb.shape[3] != 3:
        return ()
    if rgb.shape[1] * rgb.shape[2] < MIN_SIDE * MIN_SIDE or min(rgb.shape[1:3]) < 8:
        return ()
    n = rgb.shape[0]
    idx = np.unique(np.linspace(0, n - 1, min(n, max(1, max_frames))).round().astype(np.int64))
    found: list[KnownMark] = []
    for mark in KNOWN:
        votes = np.zeros(len(mark.bits), dtype=np.float64)
        for i in idx:
            votes += decode_dwtdct(np.asarray(rgb[i], dtype=np.uint8), len(mark.bits))
        voted = (votes / len(idx)) > 0.5
        matching = int(np.count_nonzero(voted == np.array(mark.bits, dtype=bool)))
        p = binomial_tail(n=len(mark.bits), k=matching)
        if p <= threshold:
            found.append(
                KnownMark(
                    name=mark.name,
                    method=mark.method,
                    matching_bits=matching,
                    total_bits=len(mark.bits),
                    p_value=p,
                    frames=len(idx),
                )
            )
    return tuple(found)
