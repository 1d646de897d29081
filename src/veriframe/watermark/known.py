"""Known marks of open generators, read with ``invisible-watermark`` (the [marks] extra).

Stability AI's SDXL and Stable Video Diffusion sampling scripts (Stability-AI/generative-models,
``sgm/inference/helpers.py``) embed the fixed 48-bit message ``0xB3EC907BB19E`` with the
``dwtDct`` method into every frame (the frames handed over as BGR); diffusers' SDXL watermarker
uses the same bits. Stability's ``scripts/demo/detect.py`` reads 34-35 matching bits as "likely"
and >= 36 as "very likely". ``imwatermark`` imports torch at import time, so it is imported
only inside :func:`known_marks`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np

from veriframe.results import KnownMark
from veriframe.watermark.stats import binomial_tail

SDXL_SVD_BITS = tuple(int(b) for b in f"{0xB3EC907BB19E:048b}")
DEFAULT_THRESHOLD = 1e-4  # binomial p-value: >= 38 of 48 matching bits
MAX_FRAMES = 16


@dataclass(frozen=True)
class _Known:
    name: str
    method: str
    bits: tuple[int, ...]


KNOWN: tuple[_Known, ...] = (
    _Known(name="stability-sdxl-svd", method="invisible-watermark/dwtDct", bits=SDXL_SVD_BITS),
)


def known_marks_available() -> bool:
    """True when ``invisible-watermark`` (the [marks] extra) is installed (nothing imported)."""
    return importlib.util.find_spec("imwatermark") is not None


def _decoder(n_bits: int) -> Any:
    from imwatermark import WatermarkDecoder  # heavy: pulls torch

    return WatermarkDecoder("bits", n_bits)


def known_marks(
    sample: Any, *, threshold: float = DEFAULT_THRESHOLD, max_frames: int = MAX_FRAMES
) -> tuple[KnownMark, ...]:
    """Known generator marks found in ``sample`` (a FrameSample, or (N, H, W, 3) RGB uint8).

    Each message is read from up to ``max_frames`` evenly spread frames and voted bit by bit;
    a mark is reported when the voted word matches its message with a binomial p-value (chance
    of that many matching bits by luck) at or below ``threshold``. Returns ``()`` when
    ``invisible-watermark`` is not installed: the caller reports "not checked" (see
    :func:`known_marks_available`). Frames under 256x256 cannot carry these marks.
    """
    if not known_marks_available():
        return ()
    rgb = np.asarray(getattr(sample, "rgb", sample))
    if rgb.ndim == 3:
        rgb = rgb[None]
    if rgb.ndim != 4 or rgb.shape[0] == 0 or min(rgb.shape[1:3]) < 256:
        return ()
    n = rgb.shape[0]
    idx = np.linspace(0, n - 1, min(n, max_frames)).round().astype(np.int64)
    found: list[KnownMark] = []
    for mark in KNOWN:
        decoder = _decoder(len(mark.bits))
        votes = np.zeros(len(mark.bits), dtype=np.float64)
        for i in idx:
            bgr = np.ascontiguousarray(rgb[i][:, :, ::-1])
            bits = np.asarray(decoder.decode(bgr, "dwtDct"), dtype=np.float64)
            votes += bits
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
