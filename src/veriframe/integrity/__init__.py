"""Content integrity: what was signed, segment by segment and region by region, and where a
received copy differs from it.

:mod:`.prints` computes, while a clip is signed, compact perceptual fingerprints of its luma per
time segment (0.5 s, coarser for long clips) and per cell of a 16x16 grid (the mean) and of an
8x8 grid of blocks (the energy of fine detail), and packs them for the manifest.
:mod:`.compare` brings a received copy onto the signed picture and timeline (the watermark's
geometry, else a bounded search; the frame times) and compares it cell by cell, segment by
segment: what differs, where and when, what was not visible, and what is a static overlay.
The decision about what that means (recovered, edited, another clip) is
:func:`veriframe.recovery.judge`'s.
"""

from veriframe.integrity.compare import (
    Comparison,
    Geometry,
    View,
    compare,
    search_geometries,
    watermark_geometries,
)
from veriframe.integrity.prints import (
    ASSERTION_LABEL,
    PrintBuilder,
    SegmentPrints,
    read_prints,
)

__all__ = [
    "ASSERTION_LABEL",
    "Comparison",
    "Geometry",
    "PrintBuilder",
    "SegmentPrints",
    "View",
    "compare",
    "read_prints",
    "search_geometries",
    "watermark_geometries",
]
