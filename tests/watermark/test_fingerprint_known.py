"""Perceptual fingerprint and the known open-generator marks (invisible-watermark)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.clipgen import make_clip
from veriframe.errors import WatermarkError
from veriframe.watermark import (
    MATCH_THRESHOLD,
    fingerprint,
    fingerprint_distance,
    known_marks,
)
from veriframe.watermark.known import SDXL_SVD_BITS, decode_dwtdct

media = pytest.importorskip("veriframe.media")


def test_fingerprint_matches_copies_not_other_clips(wm_clip: Path, tmp_path: Path) -> None:
    fp = fingerprint(media.sample_frames(wm_clip, count=32))
    assert fp.startswith("p2:") and len(fp) == 3 + 8 * 144
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
    with pytest.raises(WatermarkError) as info:  # an older version is refused, clearly
        fingerprint_distance(fp, "p1:" + "0" * 128)
    assert info.value.code == "watermark.fingerprint-version"


def _scene_rgb(n: int = 8, w: int = 640, h: int = 360) -> np.ndarray:
    from veriframe.demo import scene

    return np.stack([scene(3 * i, w, h, seed=5) for i in range(n)])


def _imwatermark_marked(clean: np.ndarray) -> tuple[np.ndarray, Any]:
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    enc = WatermarkEncoder()
    enc.set_watermark("bits", list(SDXL_SVD_BITS))
    marked = np.stack([enc.encode(f[:, :, ::-1].copy(), "dwtDct")[:, :, ::-1] for f in clean])
    return marked, WatermarkDecoder("bits", len(SDXL_SVD_BITS))


@pytest.mark.skipif(
    importlib.util.find_spec("imwatermark") is None,
    reason="invisible-watermark (the reference implementation) is not installed",
)
def test_decoder_matches_imwatermark_bit_for_bit() -> None:
    clean = _scene_rgb()
    marked, reference = _imwatermark_marked(clean)
    odd = _imwatermark_marked(_scene_rgb(2, 389, 291))[0]  # sizes not a multiple of 8
    for frame in [*marked, *clean, *odd]:
        want = np.asarray(reference.decode(np.ascontiguousarray(frame[:, :, ::-1]), "dwtDct"))
        got = decode_dwtdct(frame, len(SDXL_SVD_BITS))
        assert got.tolist() == [bool(b) for b in want]
    found = known_marks(marked)
    assert [m.name for m in found] == ["stability-sdxl-svd"]
    assert found[0].matching_bits >= 40 and found[0].p_value < 1e-6
    assert found[0].frames == len(marked)


@pytest.mark.skipif(importlib.util.find_spec("cv2") is None, reason="OpenCV is not installed")
def test_u_channel_is_opencvs_for_every_colour() -> None:
    import cv2

    from veriframe.watermark.known import _u_channel

    every = np.arange(1 << 24, dtype=np.uint32)
    for part in np.split(every, 16):  # 2^24 colours, 16 frames of 1024 x 1024
        rgb = np.stack([part >> 16, (part >> 8) & 255, part & 255], axis=-1).astype(np.uint8)
        rgb = rgb.reshape(1024, 1024, 3)
        want = cv2.cvtColor(np.ascontiguousarray(rgb[:, :, ::-1]), cv2.COLOR_BGR2YUV)[:, :, 1]
        np.testing.assert_array_equal(_u_channel(rgb), want.astype(np.float64))


def test_clean_frames_carry_no_known_mark() -> None:
    assert known_marks(_scene_rgb(6)) == ()
    assert known_marks(np.full((2, 300, 300, 3), 128, np.uint8)) == ()
    assert known_marks(np.zeros((3, 100, 100, 3), np.uint8)) == ()  # too small to carry one


def test_known_marks_imports_neither_torch_nor_opencv() -> None:
    code = (
        "import sys, numpy as np\n"
        "from veriframe.watermark import known_marks\n"
        "rng = np.random.default_rng(0)\n"
        "known_marks(rng.integers(0, 256, (4, 288, 384, 3), dtype=np.uint8))\n"
        "bad = sorted(m for m in ('torch', 'cv2', 'imwatermark') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("imwatermark") is None,
    reason="invisible-watermark (the reference encoder) is not installed",
)
def test_known_stability_mark_roundtrip() -> None:
    from imwatermark import WatermarkEncoder

    clean = _scene_rgb()
    enc = WatermarkEncoder()
    enc.set_watermark("bits", list(SDXL_SVD_BITS))
    marked = np.stack([enc.encode(f[:, :, ::-1].copy(), "dwtDct")[:, :, ::-1] for f in clean])
    found = known_marks(marked)
    assert [m.name for m in found] == ["stability-sdxl-svd"]
    assert found[0].matching_bits >= 44 and found[0].p_value < 1e-6
    assert known_marks(clean) == ()
    assert known_marks(np.full((2, 300, 300, 3), 128, np.uint8)) == ()


@pytest.mark.skipif(
    importlib.util.find_spec("imwatermark") is None,
    reason="invisible-watermark (the reference encoder) is not installed",
)
def test_verify_reports_a_known_mark_with_and_without_keys(tmp_path: Path) -> None:
    """The known-marks check runs beside the mark search; its finding reaches the report
    whether the search ran (keys present) or could not (no keys)."""
    import av

    from veriframe.credentials import init_keys
    from veriframe.results import WatermarkState
    from veriframe.settings import Settings
    from veriframe.verification import Verifier

    marked, _ = _imwatermark_marked(_scene_rgb(24))
    clip = tmp_path / "sdxl-svd.mp4"
    with av.open(str(clip), "w") as out:  # near-lossless: the dwtDct mark is fragile
        vs = out.add_stream("libx264", rate=12)
        vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
        vs.options = {"crf": "10", "preset": "veryfast"}
        for frame in marked:
            for packet in vs.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    keyed = tmp_path / "home"
    init_keys(home=keyed, org="Known Marks Test", passphrase="known marks test passphrase")
    for home, state in ((tmp_path / "empty", WatermarkState.NOT_CHECKED),
                        (keyed, WatermarkState.ABSENT)):
        report = Verifier(Settings(home=home, detector=None)).verify(clip).report
        assert report.watermark.state is state
        assert [m.name for m in report.watermark.known_generator_marks] == ["stability-sdxl-svd"]
