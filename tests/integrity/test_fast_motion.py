"""Fast motion must not make a genuine copy look like other content.

Regression (found timing verify on the procedural scene at 30 fps, where the texture scrolls
about 6 px a frame):

- the placement check compared single sample frames with the averages of the signed segments
  (1 s long in a 10 s clip); in fast motion a frame is far from its segment's average, so the
  watermark's own placement was rejected and a bounded search placed the picture 5 % too large;
- the fine-detail check compared the copy's sampled frames with the signed fingerprint's
  nearest frames, a fraction of a second apart: a genuine re-encode was reported as "the mark
  and a blurred copy of the signed picture were put over other content".

Now the placement gets a second look on time-aligned segment averages, and the fine check
compares the frames of the same moments (the signed clip's frame rate is kept in its prints).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from veriframe import media
from veriframe.credentials.keys import init_keys
from veriframe.demo import scene
from veriframe.integrity import PrintBuilder, SegmentPrints, read_prints
from veriframe.integrity.compare import (
    MAX_ALIGN_DISTANCE,
    choose_geometry,
    compare,
    watermark_geometries,
)
from veriframe.results import RecoveryState, Verdict
from veriframe.settings import Settings
from veriframe.signing import sign_video
from veriframe.verification import Verifier
from veriframe.watermark import signed_frame_indices

PASSPHRASE = "fast motion tests"
FPS = 30


def _luma(rgb: np.ndarray) -> np.ndarray:
    y = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    return np.clip(np.round(y), 0, 255).astype(np.uint8)


def _fast(n: int, width: int, height: int, *, speed: int = 3, seed: int = 3) -> np.ndarray:
    """The procedural scene ``speed`` times faster: (n, height, width, 3) RGB."""
    return np.stack([scene(i * speed, width, height, seed=seed) for i in range(n)])


@pytest.mark.parametrize("total", [1, 7, 8, 9, 63, 64, 65, 128, 129, 300, 1000, 4097])
def test_signed_frame_indices_are_the_frames_the_sign_path_keeps(
        total: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from veriframe import signing, watermark

    monkeypatch.setattr(watermark, "embed_luma", lambda y, **_: y, raising=False)
    marker = signing._Marker(key=None, payload=None, fps=FPS)  # type: ignore[arg-type]
    marker.prints.add = lambda *_: None  # type: ignore[method-assign]
    for i in range(total):
        marker(i, np.array([[i]], dtype=np.int64))  # each frame holds its own number
    kept = [int(k[0, 0]) for k in marker.kept]
    chosen = np.linspace(0, len(kept) - 1, min(len(kept), 8)).round().astype(int)
    assert signed_frame_indices(total) == [kept[i] for i in chosen]


def test_prints_keep_the_frame_rate_and_older_prints_read_without_it() -> None:
    builder = PrintBuilder(fps=29.97)
    for i in range(40):
        builder.add(i, np.full((72, 128), 100 + i, np.uint8))
    prints = builder.build()
    assert prints is not None and prints.fps == pytest.approx(29.97)
    label = "org.veriframe.content-fingerprints"
    data = prints.to_assertion()
    back = read_prints({label: data})
    assert back is not None and back.fps == pytest.approx(29.97)
    older = {k: v for k, v in data.items() if k != "fps"}
    assert read_prints({label: older}) is not None
    assert read_prints({label: older}).fps is None  # type: ignore[union-attr]
    for bad in ("fast", -1.0, 0.0, float("inf")):
        read = read_prints({label: {**data, "fps": bad}})
        assert read is None or read.fps is None


@pytest.fixture(scope="module")
def moving() -> tuple[list[np.ndarray], SegmentPrints]:
    """6 s of fast motion at 320x240 and its prints with 2 s segments (what a long clip's
    budget gives): single frames sit far from their segment's average."""
    luma = [_luma(f) for f in _fast(6 * FPS, 320, 240)]
    builder = PrintBuilder(fps=FPS)
    for i, y in enumerate(luma):
        builder.add(i, y)
    built = builder.build()
    assert built is not None
    k = built.segments // 3
    means = built.means[: 3 * k].reshape(3, k, *built.means.shape[1:]).mean(axis=1)
    energy = built.energy[: 3 * k].reshape(3, k, *built.energy.shape[1:]).mean(axis=1)
    prints = SegmentPrints(built.width, built.height, 6.0, 2.0, means, energy, float(FPS))
    return luma, prints


def _sample(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Runs of 4 frames at 8 spread starts, as verify samples."""
    starts = np.linspace(0, len(frames) - 4, 8).round().astype(int)
    return [frames[s + j] for s in starts for j in range(4)]


def test_watermark_placement_gets_a_second_look_on_segment_averages(
        moving: tuple[list[np.ndarray], SegmentPrints]) -> None:
    luma, prints = moving
    alignment = {"period_x": 80.0, "period_y": 80.0, "offset_x": 0.0, "offset_y": 0.0}
    candidates = watermark_geometries(alignment, prints, (320, 240))
    sample = _sample(luma)
    _, distance = choose_geometry(candidates, sample, prints, refine=False)
    assert distance > MAX_ALIGN_DISTANCE  # the case this test is about: frames look far off
    times = [(i / FPS, y) for i, y in enumerate(luma)]
    c = compare(prints, iter(times), sample=sample, candidates=candidates, size=(320, 240),
                fps=FPS, searched=False)
    assert c.aligned, c.detail
    assert c.geometry is not None and (c.geometry.offset_x, c.geometry.offset_y) == (0.0, 0.0)
    assert c.extra["segment_distance"] < 0.1
    assert c.differences == () and c.differing_share == 0.0


def test_second_look_still_rejects_other_content(
        moving: tuple[list[np.ndarray], SegmentPrints]) -> None:
    """Other moving content under the same watermark placement: the segment averages do not
    match either, so no placement is accepted."""
    _, prints = moving
    other = [_luma(f)[::-1, ::-1].copy() for f in _fast(6 * FPS, 320, 240, speed=2, seed=9)]
    alignment = {"period_x": 80.0, "period_y": 80.0, "offset_x": 0.0, "offset_y": 0.0}
    candidates = watermark_geometries(alignment, prints, (320, 240))
    c = compare(prints, iter([(i / FPS, y) for i, y in enumerate(other)]),
                sample=_sample(other), candidates=candidates, size=(320, 240), fps=FPS,
                searched=False)
    assert not c.aligned
    assert "no placement" in c.detail


def test_fast_moving_copy_is_recovered_not_called_a_forgery(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_keys(org="Fast Motion Desk", passphrase=PASSPHRASE, home=home)
    src = tmp_path / "src.mp4"
    media.write_video(src, _fast(10 * FPS, 320, 240, speed=2), fps=FPS, crf=18)
    signed = tmp_path / "signed.mp4"
    sign_video(src, output=signed, model="camera", home=home, passphrase=PASSPHRASE)
    copy = tmp_path / "copy.mp4"
    media.transcode(signed, copy, crf=23)  # re-encoded, the manifest gone
    report = Verifier(Settings(home=home, detector=None)).verify(copy).report
    rec = report.watermark.recovered
    assert rec is not None, report.watermark
    assert rec.state is RecoveryState.RECOVERED, rec.detail
    assert report.verdict is Verdict.RECOVERED
    assert rec.geometry is not None and rec.geometry["source"] == "watermark"
    # the fine check compared the same moments: a re-encode, not other detail
    assert rec.fingerprint_distance is not None and rec.fingerprint_distance < 0.1
