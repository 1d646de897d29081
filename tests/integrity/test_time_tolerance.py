"""An excerpt placed a few frames off in time must not get a genuine cell flagged.

Regression (held-out integrity benchmark, a 0.6 s excerpt): an excerpt fitted on one or two
segment means can be placed a few frames off; a cell whose content changes within a segment
(here a light that blinks for 4 frames at a segment's start) then has another segment mean
than the signed one, and was flagged ``edited``. Each cell's segment mean is now also compared
at the offsets within the excerpt's time uncertainty (at most ``TIME_TOLERANCE_S``).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from tests.integrity.synthetic import compare_unmoved, prints_of
from veriframe.integrity import SegmentPrints
from veriframe.integrity.compare import Comparison, _Placement

# the module (the package's ``compare`` is the function)
cmp = importlib.import_module("veriframe.integrity.compare")

FPS = 30
W, H = 320, 240
CELL = (slice(4 * 15, 5 * 15), slice(6 * 20, 7 * 20))  # one cell of the 16 x 16 grid
BLINK = range(30, 34)  # the first 4 frames of the third 0.5 s segment


def _clip() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    bg = gaussian_filter(rng.normal(0, 1, (H, W)), 6)
    bg = np.clip(128 + 60 * bg / np.abs(bg).max(), 0, 255)
    bg[CELL] = 40
    frames = []
    for i in range(90):
        f = bg.copy()
        if i in BLINK:
            f[CELL] = 250
        frames.append(f.astype(np.uint8))
    return frames


@pytest.fixture(scope="module")
def signed() -> tuple[list[np.ndarray], SegmentPrints]:
    frames = _clip()
    prints = prints_of(frames, FPS)
    assert prints.segment_s == 0.5
    return frames, prints


def _compare(prints: SegmentPrints, excerpt: list[np.ndarray], *, placed: float,
             uncertainty: float, monkeypatch: pytest.MonkeyPatch) -> Comparison:
    monkeypatch.setattr(cmp, "_time_offset", lambda walk, prints, frame_s: _Placement(
        placed, (), 0.01, uncertainty))
    return compare_unmoved(prints, excerpt, fps=FPS, sample=excerpt[::3])


@pytest.mark.parametrize(("uncertainty", "flagged"), [(0.0, True), (0.25, False)])
def test_excerpt_placed_four_frames_early_is_compared_within_its_uncertainty(
        signed: tuple[list[np.ndarray], SegmentPrints], monkeypatch: pytest.MonkeyPatch,
        uncertainty: float, flagged: bool) -> None:
    frames, prints = signed
    excerpt = frames[15:36]  # 0.7 s from 0.5 s: spans the second segment wholly
    c = _compare(prints, excerpt, placed=0.5 - 4 / FPS, uncertainty=uncertainty,
                 monkeypatch=monkeypatch)
    assert c.aligned, c.detail
    # with no tolerance the blink, taken into the wrong segment, reads as a changed cell
    assert bool(c.differences) is flagged, c.differences


def test_a_foreign_patch_in_an_uncertain_excerpt_is_still_flagged(
        signed: tuple[list[np.ndarray], SegmentPrints], monkeypatch: pytest.MonkeyPatch) -> None:
    frames, prints = signed
    excerpt = [f.copy() for f in frames[15:36]]
    for f in excerpt:
        f[150:195, 200:260] = 255 - f[150:195, 200:260]  # a change that lasts the excerpt
    c = _compare(prints, excerpt, placed=0.5, uncertainty=0.25, monkeypatch=monkeypatch)
    assert c.aligned, c.detail
    assert c.differences, c
    region = c.differences[0].region
    assert region is not None
    x, y, w, h = region  # shares of the frame
    assert x < 260 / W and x + w > 200 / W and y < 195 / H and y + h > 150 / H


def test_what_an_excerpt_lacks_of_a_segment_is_allowed_for_and_nothing_else() -> None:
    """A certain placement allows nothing for what it lacks; under an excerpt's offsets each
    segment is allowed the share of its frames the copy lacks there, times the value's range
    over the frames it has nearby; a segment it spans wholly is allowed nothing, whatever
    changes within it (a foreign change that lasts the excerpt has nowhere to hide)."""
    prints = SegmentPrints(W, H, 3.0, 0.5, np.zeros((6, 16, 16), np.uint8),
                           np.zeros((6, 8, 8), np.uint8), float(FPS))
    times = np.arange(21) / FPS  # 0.7 s
    walked = np.full((21, 16, 16), 80.0)
    walked[3, 3, 3] = 180.0  # one frame of one cell differs by 100 levels
    full = np.zeros(6, bool)
    full[1] = True
    frame_s = 1 / FPS
    certain, length = cmp._time_shifts(times, _Placement(0.5 - 4 * frame_s), prints, full,
                                       frame_s)
    assert len(certain) == 1 and not certain[0].allowance(walked, full, length).any()

    # placed 3.5 frames early (half a frame keeps frame times off segment bounds), 0.2 s
    # uncertain: offsets -6 ... +6 frames from it, the placement first
    placed = 0.5 - 3.5 * frame_s
    shifts, length = cmp._time_shifts(times, _Placement(placed, uncertainty=0.5), prints, full,
                                      frame_s)
    steps = int(cmp.TIME_TOLERANCE_S * FPS + 1e-9)
    assert len(shifts) == 2 * steps + 1
    for j, shift in zip(sorted(range(-steps, steps + 1), key=abs), shifts, strict=True):
        allow = shift.allowance(walked, full, length)
        # the copy's frame i falls at signed 0.5 + (i + j - 3.5) frames: it holds 3.5 frames
        # before segment 1 and 2.5 after, so the segment lacks frames beyond 4 or 2 steps
        lacking = max(0, j - 4) + max(0, -j - 2)
        assert shift.missing[1] == pytest.approx(lacking)
        assert shift.missing[0] == np.inf and shift.missing[2] == np.inf  # not compared
        idx = np.flatnonzero(shift.k == 1)
        sees_spike = idx[0] - lacking <= 3 <= idx[-1] + lacking
        expected = lacking / 15 * 100.0 if lacking and sees_spike else 0.0
        assert allow[1, 3, 3] == pytest.approx(expected)
        assert np.count_nonzero(allow) == (1 if expected else 0)  # the other cells stay put
