"""Synthetic luma clips for the comparison's tests: their prints, and a comparison of a copy
placed where the watermark says the picture is unmoved (no search, no decoding)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veriframe.integrity import PrintBuilder, SegmentPrints
from veriframe.integrity.compare import Comparison, compare, watermark_geometries

UNMOVED = {"period_x": 80.0, "period_y": 80.0, "offset_x": 0.0, "offset_y": 0.0}


def prints_of(frames: Sequence[np.ndarray], fps: float) -> SegmentPrints:
    """The segment prints signing would embed for these luma frames."""
    builder = PrintBuilder(fps=fps)
    for i, y in enumerate(frames):
        builder.add(i, y)
    prints = builder.build()
    assert prints is not None
    return prints


def compare_unmoved(prints: SegmentPrints, frames: Sequence[np.ndarray], *, fps: float,
                    sample: Sequence[np.ndarray]) -> Comparison:
    """Compare the copy ``frames`` (luma, at ``fps``) with ``prints``, placed unmoved."""
    h, w = frames[0].shape
    return compare(prints, iter([(i / fps, y) for i, y in enumerate(frames)]), sample=sample,
                   candidates=watermark_geometries(UNMOVED, prints, (w, h)), size=(w, h),
                   fps=fps, searched=False)
