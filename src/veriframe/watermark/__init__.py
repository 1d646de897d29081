"""veriframe's keyed video watermark, known open-generator marks and a content fingerprint.

Import is light: numpy, SciPy and bchlib only (no torch, no OpenCV); :func:`known_marks`
imports ``imwatermark`` inside the call.
"""

from __future__ import annotations

from veriframe.watermark.embed import embed_luma
from veriframe.watermark.fingerprint import (
    MATCH_THRESHOLD,
    MIN_STRUCTURE,
    coarse_hashes,
    fine_distance,
    fingerprint,
    fingerprint_distance,
    structure,
)
from veriframe.watermark.keys import WatermarkKey
from veriframe.watermark.known import known_marks
from veriframe.watermark.payload import Payload
from veriframe.watermark.search import DEFAULT_MAX_FRAMES, DEFAULT_THRESHOLD, detect

__all__ = [
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_THRESHOLD",
    "MATCH_THRESHOLD",
    "MIN_STRUCTURE",
    "Payload",
    "WatermarkKey",
    "coarse_hashes",
    "detect",
    "embed_luma",
    "fine_distance",
    "fingerprint",
    "fingerprint_distance",
    "known_marks",
    "structure",
]
