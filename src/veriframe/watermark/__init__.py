"""veriframe's keyed video watermark, known open-generator marks and a content fingerprint.

Import is light: the keys and the fingerprint load with numpy alone; the embedder, the mark
search and the known-mark reader (SciPy, bchlib; never torch or OpenCV) load on first use of
their names, so that reading keys or building a Verifier does not pay for the search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veriframe._lazy import front

# ``fingerprint`` is both a submodule and a function: the function is bound here, after the
# submodule is imported, so the name keeps meaning the function.
from veriframe.watermark.fingerprint import (
    MATCH_THRESHOLD,
    MIN_STRUCTURE,
    SIGN_KEEP,
    coarse_hashes,
    fine_distance,
    fine_pair_distances,
    fingerprint,
    fingerprint_distance,
    signed_frame_indices,
    structure,
)
from veriframe.watermark.keys import WatermarkKey

if TYPE_CHECKING:
    from veriframe.watermark.embed import embed_luma
    from veriframe.watermark.known import known_marks
    from veriframe.watermark.payload import Payload
    from veriframe.watermark.search import DEFAULT_MAX_FRAMES, DEFAULT_THRESHOLD, detect

_MODULES = {
    "embed": ("embed_luma",),
    "known": ("known_marks",),
    "payload": ("Payload",),
    "search": ("DEFAULT_MAX_FRAMES", "DEFAULT_THRESHOLD", "detect"),
}
__getattr__ = front(__name__, _MODULES)


__all__ = [
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_THRESHOLD",
    "MATCH_THRESHOLD",
    "MIN_STRUCTURE",
    "SIGN_KEEP",
    "Payload",
    "WatermarkKey",
    "coarse_hashes",
    "detect",
    "embed_luma",
    "fine_distance",
    "fine_pair_distances",
    "fingerprint",
    "fingerprint_distance",
    "known_marks",
    "signed_frame_indices",
    "structure",
]
