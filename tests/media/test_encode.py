"""rewrite_video() and write_video(): frames, timing, audio, luma-only changes, atomicity."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from veriframe.errors import MediaError
from veriframe.media import probe, read_frames, rewrite_video, write_video


def _identity(i: int, y: np.ndarray) -> np.ndarray:
    return y


def _audio_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(audio=0))


def test_identity_keeps_frames_fps_duration_audio(clips: dict[str, Path], tmp_path: Path):
    src = clips["mp4"]
    out = rewrite_video(src, tmp_path / "o.mp4", transform=_identity, preset="ultrafast")
    before = probe(src)
    assert (out.frame_count, out.fps, out.width, out.height) == (10, 10.0, 160, 120)
    assert out.duration == pytest.approx(before.duration, abs=0.01)
    assert out.video_codec == "h264" and out.pix_fmt == "yuv420p"
    assert out.audio_codec == "aac" and _audio_frames(tmp_path / "o.mp4") > 0
    # Copied, not re-encoded: the audio packets are byte-identical.
    with av.open(str(src)) as a, av.open(str(tmp_path / "o.mp4")) as b:
        pa = [bytes(p) for p in a.demux(audio=0) if p.size]
        pb = [bytes(p) for p in b.demux(audio=0) if p.size]
    assert pa == pb
    # +faststart: moov before mdat.
    head = (tmp_path / "o.mp4").read_bytes()
    assert head.find(b"moov") < head.find(b"mdat")
    a_ts = read_frames(src, rgb=False).timestamps
    b_ts = read_frames(tmp_path / "o.mp4", rgb=False).timestamps
    assert a_ts == pytest.approx(b_ts)


def test_luma_change_propagates_chroma_stays(clips: dict[str, Path], tmp_path: Path):
    src = clips["noaudio"]
    seen: list[int] = []

    def brighten(i: int, y: np.ndarray) -> np.ndarray:
        seen.append(i)
        return np.clip(y.astype(np.int16) + 20, 0, 255).astype(np.uint8)

    rewrite_video(src, tmp_path / "b.mp4", transform=brighten, crf=10, preset="ultrafast")
    assert seen == list(range(10))
    with av.open(str(src)) as a, av.open(str(tmp_path / "b.mp4")) as b:
        fa = [f.to_ndarray(format="yuv420p") for f in a.decode(video=0)]
        fb = [f.to_ndarray(format="yuv420p") for f in b.decode(video=0)]
    h = 120
    dy = np.mean([fb[i][:h].astype(float) - fa[i][:h] for i in range(10)])
    duv = np.mean([np.abs(fb[i][h:].astype(float) - fa[i][h:]) for i in range(10)])
    assert dy == pytest.approx(20, abs=1.5)
    assert duv < 1.5  # chroma carried through (only re-encoding noise)


@pytest.mark.parametrize("name", ["webm", "avi", "gif", "tenbit", "mov", "mkv"])
def test_rewrite_other_inputs(clips: dict[str, Path], tmp_path: Path, name):
    out = rewrite_video(clips[name], tmp_path / "o.mp4", transform=_identity, preset="ultrafast")
    assert out.container == "mp4" and out.video_codec == "h264" and out.pix_fmt == "yuv420p"
    assert out.frame_count == 10
    expected_audio = {
        "webm": "aac",
        "avi": "aac",
        "gif": None,
        "tenbit": "aac",
        "mov": "aac",
        "mkv": "aac",
    }[name]
    assert out.audio_codec == expected_audio
    if name in ("webm", "avi", "tenbit"):
        assert any("converted" in n for n in out.notes) or name != "tenbit"


def test_rewrite_odd_size_crops_to_even(clips: dict[str, Path], tmp_path: Path):
    shapes: list[tuple[int, int]] = []

    def rec(i: int, y: np.ndarray) -> np.ndarray:
        shapes.append(y.shape)
        return y

    out = rewrite_video(clips["odd"], tmp_path / "o.mp4", transform=rec, preset="ultrafast")
    assert (out.width, out.height) == (160, 120)
    assert set(shapes) == {(120, 160)}
    assert any("cropped 161x121 to 160x120" in n for n in out.notes)


def test_rewrite_keeps_rotation(clips: dict[str, Path], tmp_path: Path):
    out = rewrite_video(clips["rot90"], tmp_path / "o.mp4", transform=_identity, preset="ultrafast")
    assert out.rotation == 90


def test_bad_transform_leaves_no_output(clips: dict[str, Path], tmp_path: Path):
    dst = tmp_path / "o.mp4"
    with pytest.raises(ValueError, match="uint8"):
        rewrite_video(
            clips["mp4"], dst, transform=lambda i, y: y.astype(np.float32), preset="ultrafast"
        )
    assert list(tmp_path.iterdir()) == []


def test_rewrite_refuses_to_overwrite_input(clips: dict[str, Path], tmp_path: Path):
    src = tmp_path / "in.mp4"
    src.write_bytes(clips["mp4"].read_bytes())
    before = src.read_bytes()
    with pytest.raises(MediaError) as e:
        rewrite_video(src, src, transform=_identity)
    assert e.value.code == "media.output-is-input"
    assert src.read_bytes() == before


def test_write_video_with_audio(clips: dict[str, Path], tmp_path: Path):
    frames = read_frames(clips["mp4"]).rgb
    assert frames is not None
    out = write_video(
        tmp_path / "w.mp4", frames, fps=10, audio_from=clips["webm"], preset="ultrafast"
    )
    assert (out.frame_count, out.fps, out.width, out.height) == (10, 10.0, 160, 120)
    assert out.audio_codec == "aac"  # opus re-encoded for MP4
    back = read_frames(tmp_path / "w.mp4").rgb
    assert back is not None
    assert np.abs(back.astype(int) - frames).mean() < 6


def test_write_video_iterable_odd_and_empty(tmp_path: Path):
    gen = (np.full((33, 47, 3), 100 + i, np.uint8) for i in range(5))
    out = write_video(tmp_path / "g.mp4", gen, fps=24, preset="ultrafast")
    assert (out.width, out.height, out.frame_count, out.has_audio) == (46, 32, 5, False)
    assert out.notes
    with pytest.raises(MediaError) as e:
        write_video(tmp_path / "e.mp4", [], fps=24)
    assert e.value.code == "media.no-frames"
    with pytest.raises(ValueError):
        write_video(tmp_path / "f.mp4", np.zeros((2, 8, 8), np.uint8), fps=24)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.mp4"]
