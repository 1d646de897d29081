"""sample_frames(), sample_runs() and read_frames(): shapes, indices, luma as stored, seeking."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tests.clipgen import make_clip
from veriframe.media import (
    FrameSample,
    frames_at,
    probe,
    read_frames,
    sample_frames,
    sample_runs,
)
from veriframe.media.decode import _run_targets, _seek_cost, _seek_plan, _target_indices


@pytest.mark.parametrize("name", ["mp4", "mov", "webm", "mkv", "avi", "gif"])
def test_read_all_frames_every_container(clips: dict[str, Path], name):
    s = read_frames(clips[name])
    assert isinstance(s, FrameSample)
    assert s.rgb is not None and s.luma is not None
    assert s.rgb.shape == (10, 120, 160, 3) and s.rgb.dtype == np.uint8
    assert s.luma.shape == (10, 120, 160) and s.luma.dtype == np.uint8
    assert s.indices == tuple(range(10))
    assert np.all(np.diff(s.timestamps) > 0)
    assert s.timestamps[0] == pytest.approx(0.0, abs=0.02)
    assert s.info.container == probe(clips[name]).container
    # The content moves: consecutive frames differ.
    assert np.abs(s.luma[0].astype(int) - s.luma[-1]).mean() > 1


@pytest.mark.parametrize("name", ["mp4", "webm", "gif"])
def test_sample_spreads_first_to_last(clips: dict[str, Path], name):
    s = sample_frames(clips[name], count=4)
    assert s.indices == (0, 3, 6, 9)
    full = read_frames(clips[name])
    assert s.luma is not None and full.luma is not None and s.rgb is not None
    assert full.rgb is not None
    for k, i in enumerate(s.indices):
        np.testing.assert_array_equal(s.luma[k], full.luma[i])
        np.testing.assert_array_equal(s.rgb[k], full.rgb[i])


def test_sample_more_than_frames_gives_all(clips: dict[str, Path]):
    s = sample_frames(clips["mp4"], count=32, rgb=False)
    assert s.indices == tuple(range(10)) and s.rgb is None
    assert s.luma is not None and s.luma.shape[0] == 10


def test_luma_is_y_plane_as_stored(clips: dict[str, Path]):
    s = sample_frames(clips["mp4"], count=1, rgb=False)
    with av.open(str(clips["mp4"])) as c:
        f = next(c.decode(video=0))
        y = f.to_ndarray(format="yuv420p")[: f.height]  # the stored Y rows
    assert s.luma is not None
    np.testing.assert_array_equal(s.luma[0], y)
    assert 16 <= s.luma.mean() <= 235


@pytest.mark.parametrize("name", ["mp4", "tenbit", "odd", "gif"])
def test_frames_are_pyavs_own_conversions(clips: dict[str, Path], name):
    # One converter is kept across a stream's frames: every frame still gets its own pixels,
    # the same as a fresh conversion of that frame alone gives.
    s = read_frames(clips[name])
    assert s.rgb is not None and s.luma is not None
    with av.open(str(clips[name])) as c:
        for i, f in enumerate(c.decode(video=0)):
            np.testing.assert_array_equal(s.rgb[i], f.to_ndarray(format="rgb24"))
            y = f.reformat(format="yuv420p") if name in ("tenbit", "gif") else f
            plane = y.planes[0]
            rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            np.testing.assert_array_equal(s.luma[i], rows[: f.height, : f.width])
    assert i + 1 == len(s.indices)


def test_tenbit_and_444_odd_sources(clips: dict[str, Path]):
    ten = sample_frames(clips["tenbit"], count=3)
    assert ten.luma is not None and ten.luma.dtype == np.uint8 and ten.luma.shape == (3, 120, 160)
    odd = sample_frames(clips["odd"], count=3)
    assert odd.rgb is not None and odd.rgb.shape == (3, 121, 161, 3)
    assert odd.luma is not None and odd.luma.shape == (3, 121, 161)


def test_passing_info_skips_probe(clips: dict[str, Path]):
    info = probe(clips["mp4"])
    s = sample_frames(clips["mp4"], count=2, info=info)
    assert s.info is info


def test_target_indices():
    assert _target_indices(10, 4) == [0, 3, 6, 9]
    assert _target_indices(3, 8) == [0, 1, 2]
    assert _target_indices(0, 8) == []
    t = _target_indices(300, 32)
    assert t[0] == 0 and t[-1] == 299 and len(t) == 32


def test_seek_plan_decides_by_cost():
    targets = _target_indices(3000, 8)
    assert _seek_plan(list(range(0, 3000, 30)), targets)  # short GOPs: seek
    assert not _seek_plan([0, 2500], _target_indices(3000, 32))  # long GOPs: read through
    assert not _seek_plan(None, targets)


def _short_gops(tmp_path: Path) -> Path:
    """6 s at 10 fps with a keyframe every 10 frames (make_clip uses x264's keyint 250)."""
    p = make_clip(tmp_path / "gop.mp4", seconds=6.0, width=96, height=64, fps=10, audio=False)
    q = tmp_path / "short_gop.mp4"
    with av.open(str(p)) as inp, av.open(str(q), "w") as out:
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        vs.options = {"g": "10", "keyint_min": "10", "preset": "ultrafast", "bf": "0"}
        for f in inp.decode(video=0):
            f.pict_type = av.video.frame.PictureType.NONE
            for pk in vs.encode(f):
                out.mux(pk)
        for pk in vs.encode():
            out.mux(pk)
    return q


def test_seeking_sample_matches_sequential(tmp_path: Path):
    q = _short_gops(tmp_path)
    seeking = sample_frames(q, count=4)
    assert seeking.indices == (0, 20, 39, 59)
    full = read_frames(q)
    assert seeking.luma is not None and full.luma is not None
    for k, i in enumerate(seeking.indices):
        np.testing.assert_array_equal(seeking.luma[k], full.luma[i])
        assert seeking.timestamps[k] == pytest.approx(full.timestamps[i])


def test_run_targets_start_at_key_frames():
    keys = list(range(0, 300, 30))  # 10 key frames
    t = _run_targets(300, 32, 8, keys)
    assert len(t) == 32
    starts = [i for i in t if i - 1 not in t]
    assert len(starts) == 8 and all(s in keys for s in starts)
    assert starts[0] == 0 and starts[-1] == 270  # spread over the whole clip
    # each run costs its own frames: far less than reading up to the last one
    cost = _seek_cost(keys, t)
    assert cost is not None and cost < 0.25 * (t[-1] + 1)
    # fewer key frames than runs: fewer, longer runs, each from a key frame
    t = _run_targets(300, 32, 8, [0, 250])
    assert t == list(range(0, 16)) + list(range(250, 266))
    # no index: evenly spaced runs, each whole
    t = _run_targets(300, 32, 8, None)
    assert len(t) == 32 and t[-1] == 299
    # a clip no longer than the sample: every frame
    assert _run_targets(20, 32, 8, [0]) == list(range(20))


def test_sample_runs_decode_exact_frames_at_key_frames(tmp_path: Path):
    q = _short_gops(tmp_path)  # 60 frames, key frames every 10
    runs = sample_runs(q, count=12, runs=3)
    assert runs.indices == (0, 1, 2, 3, 20, 21, 22, 23, 50, 51, 52, 53)
    full = read_frames(q)
    assert runs.luma is not None and runs.rgb is not None and full.luma is not None
    for k, i in enumerate(runs.indices):
        np.testing.assert_array_equal(runs.luma[k], full.luma[i])
        assert runs.timestamps[k] == pytest.approx(full.timestamps[i])


def test_frames_at_decodes_exactly_the_frames_named(tmp_path: Path):
    q = _short_gops(tmp_path)  # 60 frames, key frames every 10
    got = frames_at(q, [57, 3, 33, 3, 200])  # unordered, repeated, past the end
    assert got.indices == (3, 33, 57)
    assert got.rgb is None and got.luma is not None
    full = read_frames(q)
    assert full.luma is not None
    for k, i in enumerate(got.indices):
        np.testing.assert_array_equal(got.luma[k], full.luma[i])
    with pytest.raises(ValueError):
        frames_at(q, [-1])


@pytest.mark.parametrize("name", ["mp4", "webm", "gif"])
def test_sample_runs_every_container(clips: dict[str, Path], name):
    s = sample_runs(clips[name], count=8, runs=2)
    assert 1 <= len(s) <= 8
    assert list(s.indices) == sorted(s.indices)
    assert s.luma is not None and s.luma.shape[0] == len(s)
