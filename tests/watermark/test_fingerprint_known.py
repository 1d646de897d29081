"""Perceptual fingerprint and the known open-generator marks (invisible-watermark)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.clipgen import make_clip
from veriframe.errors import WatermarkError
from veriframe.watermark import (
    MATCH_THRESHOLD,
    fingerprint,
    fingerprint_distance,
    known_marks,
    known_marks_available,
)
from veriframe.watermark.known import SDXL_SVD_BITS

media = pytest.importorskip("veriframe.media")


def test_fingerprint_matches_copies_not_other_clips(wm_clip: Path, tmp_path: Path) -> None:
    fp = fingerprint(media.sample_frames(wm_clip, count=32))
    assert fp.startswith("p1:") and len(fp) == 3 + 8 * 16
    small = tmp_path / "small.mp4"
    media.transcode(wm_clip, small, crf=30, scale=0.5, preset="veryfast")
    d_copy = fingerprint_distance(fp, fingerprint(media.sample_frames(small, count=32)))
    other = make_clip(tmp_path / "other.mp4", width=640, height=360, fps=15, seed=99)
    flipped = media.sample_frames(other, count=32).luma[:, ::-1, :]  # different content
    d_other = fingerprint_distance(fp, fingerprint(flipped))
    assert d_copy <= MATCH_THRESHOLD < d_other
    assert fingerprint_distance(fp, fp) == 0.0
    with pytest.raises(WatermarkError):
        fingerprint_distance(fp, "nope")


def _rgb_frames(n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:288, 0:384]
    frames = []
    for i in range(n):
        base = 120 + 50 * np.sin(xx / 23.0 + i) * np.cos(yy / 31.0)
        noise = rng.normal(0, 10, (288, 384, 3))
        frames.append(np.clip(base[..., None] + noise, 0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.mark.skipif(not known_marks_available(), reason="invisible-watermark not installed")
def test_known_stability_mark_roundtrip() -> None:
    from imwatermark import WatermarkEncoder

    clean = _rgb_frames()
    enc = WatermarkEncoder()
    enc.set_watermark("bits", list(SDXL_SVD_BITS))
    marked = np.stack([enc.encode(f[:, :, ::-1].copy(), "dwtDct")[:, :, ::-1] for f in clean])
    found = known_marks(marked)
    assert [m.name for m in found] == ["stability-sdxl-svd"]
    assert found[0].matching_bits >= 44 and found[0].p_value < 1e-6
    assert known_marks(clean) == ()
    assert known_marks(np.full((2, 300, 300, 3), 128, np.uint8)) == ()
