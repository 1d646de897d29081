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

from veriframe.integrity import PrintBuilder, SegmentPrints
from veriframe.integrity.compare import Comparison, _Placement, compare, watermark_geometries

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
    builder = PrintBuilder(fps=FPS)
    for i, y in enumerate(frames):
        builder.add(i, y)
    prints = builder.build()
    assert prints is not None and prints.segment_s == 0.5
    return frames, prints


def _compare(prints: SegmentPrints, excerpt: list[np.ndarray], *, placed: float,
             uncertainty: float, monkeypatch: pytest.MonkeyPatch) -> Comparison:
    monkeypatch.setattr(cmp, "_time_offset", lambda walk, prints, frame_s: _Placement(
        placed, (), 0.01, uncertainty))
    geo = watermark_geometries(
        {"period_x": 80.0, "period_y": 80.0, "offset_x": 0.0, "offset_y": 0.0}, prints, (W, H))
    return compare(prints, iter([(i / FPS, y) for i, y in enumerate(excerpt)]),
                   sample=excerpt[::3], candidates=geo, size=(W, H), fps=FPS, searched=False)


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


def test_placement_slack_is_the_range_of_what_a_few_frames_off_could_swap() -> None:
    """A certain placement has none; an excerpt's is the share of a segment's frames its
    uncertainty (at most TIME_TOLERANCE_S) could swap, times the cell's range nearby; a cell
    that does not change has none."""
    prints = SegmentPrints(W, H, 3.0, 0.5, np.zeros((6, 16, 16), np.uint8),
                           np.zeros((6, 8, 8), np.uint8), float(FPS))
    times = np.arange(21) / FPS
    walked = np.full((21, 16, 16), 80.0)
    walked[10, 3, 3] = 180.0  # one frame of one cell differs by 100 levels
    full = np.zeros(6, bool)
    full[1] = True
    k = np.floor((times + 0.5) / 0.5).astype(np.int64)
    k[k != 1] = -1  # frames 0..14 fall in segment 1, all of it
    certain = cmp._placement_slack(walked, k, full, _Placement(0.5), prints, 1 / FPS)
    assert not certain.any()
    slack = cmp._placement_slack(walked, k, full, _Placement(0.5, uncertainty=0.5), prints,
                                 1 / FPS)
    off_by = int(cmp.TIME_TOLERANCE_S * FPS + 1e-9)
    assert slack[1, 3, 3] == pytest.approx(off_by / 15 * 100.0)
    assert np.count_nonzero(slack) == 1  # the other cells and segments stay put
