"""transcode(), remux(), to_mp4(): the platform-style attacks and format conversion."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.clipgen import make_clip
from veriframe.media import probe, read_frames, remux, to_mp4, transcode


@pytest.fixture(scope="module")
def src24(media_dir: Path) -> Path:
    """2 s at 24 fps, 192x108, with audio."""
    return make_clip(media_dir / "src24.mp4", seconds=2.0, width=192, height=108, fps=24)


@pytest.mark.parametrize(
    ("kwargs", "ext", "expect"),
    [
        ({"crf": 35}, "mp4", (192, 108, 24.0, 48, "h264")),
        ({"codec": "libx265", "crf": 28}, "mp4", (192, 108, 24.0, 48, "hevc")),
        ({"bitrate": 200_000}, "webm", (192, 108, 24.0, 48, "vp9")),
        ({"scale": 0.5}, "mp4", (96, 54, 24.0, 48, "h264")),
        ({"scale": 0.75}, "mp4", (144, 80, 24.0, 48, "h264")),
        ({"crop": 0.1}, "mp4", (172, 96, 24.0, 48, "h264")),
        ({"fps": 15}, "mp4", (192, 108, 15.0, 30, "h264")),
        ({"start": 0.5, "duration": 1.0}, "mp4", (192, 108, 24.0, 24, "h264")),
    ],
)
def test_attacks(src24: Path, tmp_path: Path, kwargs, ext, expect):
    out = transcode(src24, tmp_path / f"o.{ext}", preset="ultrafast", **kwargs)
    assert (out.width, out.height, out.fps, out.frame_count, out.video_codec) == expect
    assert out.has_audio
    assert out.audio_codec == ("opus" if ext == "webm" else "aac")
    expected_duration = kwargs.get("duration", 2.0)
    assert out.duration == pytest.approx(expected_duration, abs=0.05)


def test_brightness_contrast_change_luma(src24: Path, tmp_path: Path):
    base = read_frames(src24, rgb=False).luma
    assert base is not None
    for kw, check in [
        ({"brightness": 0.1}, lambda d, r: d == pytest.approx(25.5, abs=2.5)),
        ({"brightness": -0.1}, lambda d, r: d == pytest.approx(-25.5, abs=2.5)),
        ({"contrast": 0.8}, lambda d, r: r == pytest.approx(0.8, abs=0.05)),
        ({"contrast": 1.2}, lambda d, r: r == pytest.approx(1.2, abs=0.05)),
    ]:
        transcode(src24, tmp_path / "o.mp4", crf=12, preset="ultrafast", **kw)
        y = read_frames(tmp_path / "o.mp4", rgb=False).luma
        assert y is not None
        diff = float(y.mean() - base.mean())
        ratio = float((y.astype(float) - 128).std() / (base.astype(float) - 128).std())
        assert check(diff, ratio), (kw, diff, ratio)


def _ramp(path: Path, *, first_pts: int = 0) -> Path:
    """24 lossless 64x64 frames at 24 fps whose luma encodes their index (10 levels apart);
    the first frame's timestamp is ``first_pts`` / 24 s."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 64, 64, "yuv420p"
        vs.options = {"crf": "0", "preset": "ultrafast"}
        for i in range(24):
            vf = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), "rgb24")
            vf.pts = first_pts + i
            vf.time_base = Fraction(1, 24)
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def test_fps_conversion_picks_frames_by_timestamp(tmp_path: Path):
    # Each frame's luma encodes its index: 24 -> 12 fps must keep every other frame.
    src = _ramp(tmp_path / "ramp.mp4")
    out = transcode(src, tmp_path / "half.mp4", fps=12, crf=0, preset="ultrafast")
    assert out.frame_count == 12
    y = read_frames(tmp_path / "half.mp4", rgb=False).luma
    src_y = read_frames(src, rgb=False).luma
    assert y is not None and src_y is not None
    got = [float(f.mean()) for f in y]
    want = [float(f.mean()) for f in src_y[::2]]
    assert got == pytest.approx(want, abs=1.0)


def test_chain(src24: Path, tmp_path: Path):
    a = transcode(src24, tmp_path / "a.mp4", scale=0.5, crf=28, preset="ultrafast")
    b = transcode(tmp_path / "a.mp4", tmp_path / "b.webm", bitrate=150_000, preset="ultrafast")
    assert (a.width, b.width, b.height, b.frame_count) == (96, 96, 54, 48)


def test_remux_is_stream_copy(clips: dict[str, Path], tmp_path: Path):
    out = remux(clips["mp4"], tmp_path / "r.mkv")
    assert out.container == "matroska" and out.frame_count == 10
    with av.open(str(clips["mp4"])) as a, av.open(str(tmp_path / "r.mkv")) as b:
        va = [bytes(p) for p in a.demux(video=0) if p.size]
        vb = [bytes(p) for p in b.demux(video=0) if p.size]
    assert va == vb


@pytest.mark.parametrize("name", ["webm", "mkv", "avi", "gif", "mov", "mp4", "odd"])
def test_to_mp4(clips: dict[str, Path], tmp_path: Path, name):
    out = to_mp4(clips[name], tmp_path / "s.mp4", preset="ultrafast")
    assert out.container == "mp4" and out.video_codec == "h264" and out.pix_fmt == "yuv420p"
    assert out.frame_count == 10
    assert out.width % 2 == 0 and out.height % 2 == 0
    assert out.audio_codec in (None, "aac")
    if name in ("mp4", "mov"):
        assert out.notes == ("remuxed without re-encoding",)
    info = probe(clips[name])
    assert out.has_audio == info.has_audio


def test_excerpt_counts_from_the_first_frame_of_an_offset_stream(tmp_path: Path):
    # A cut file whose video starts at 10 s: start and duration count from its first frame.
    src = _ramp(tmp_path / "offset.mp4", first_pts=240)
    assert probe(src).duration is not None
    src_y = read_frames(src, rgb=False).luma
    assert src_y is not None
    for kw, first, count in (({"duration": 0.5}, 0, 12), ({"start": 0.25, "duration": 0.5}, 6, 12)):
        out = transcode(src, tmp_path / "cut.mp4", crf=0, preset="ultrafast", **kw)
        assert out.frame_count == count, kw
        y = read_frames(tmp_path / "cut.mp4", rgb=False).luma
        assert y is not None
        assert float(y[0].mean()) == pytest.approx(float(src_y[first].mean()), abs=1.0), kw
