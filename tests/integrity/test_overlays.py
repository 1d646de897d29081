"""What recovery allows as an overlay: a change at an edge of the frame that lasts the clip (a
caption band, a logo), as long as the overlays together cover at most ``OVERLAY_MAX_AREA`` of
the frame. Regression: an excerpt with foreign detail over most of its picture came apart into
five groups of changed cells, each at an edge, and read "recovered, with overlays" over 46 % of
the frame. A platform's caption band and logo do not cover that much.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from tests.integrity.synthetic import compare_unmoved, prints_of
from veriframe.integrity import SegmentPrints
from veriframe.integrity.compare import MISMATCH_SHARE, OVERLAY_MAX_AREA, Comparison
from veriframe.integrity.prints import GRID

FPS = 30
W, H = 320, 240
CW, CH = W // GRID, H // GRID  # a cell of the grid: 20 x 15 px
# (rows, cols) in cells, each at an edge of the frame and a few cells from the others
LEFT = (slice(0, 10), slice(0, 4))
RIGHT = (slice(0, 10), slice(12, 16))
BOTTOM = (slice(14, 16), slice(0, 16))


def _clip() -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    bg = gaussian_filter(rng.normal(0, 1, (H, W)), 12)
    bg = np.clip(128 + 110 * bg / np.abs(bg).max(), 0, 255)
    return [np.roll(bg, i // 10, axis=1).astype(np.uint8) for i in range(90)]


@pytest.fixture(scope="module")
def signed() -> tuple[list[np.ndarray], SegmentPrints]:
    frames = _clip()
    return frames, prints_of(frames, FPS)


def _changed(frames: list[np.ndarray], bands: list[tuple[slice, slice]]) -> list[np.ndarray]:
    """Each band's cells moved 25 levels up or down, as a checkerboard (the clip's tone curve,
    fitted on medians, stays put), for the whole clip."""
    step = np.where((np.add.outer(np.arange(GRID), np.arange(GRID)) % 2) == 0, 25.0, -25.0)
    shift = np.zeros((GRID, GRID))
    for band in bands:
        shift[band] = step[band]
    pixels = np.kron(shift, np.ones((CH, CW)))
    return [np.clip(f + pixels, 0, 255).astype(np.uint8) for f in frames]


def _compare(prints: SegmentPrints, frames: list[np.ndarray]) -> Comparison:
    return compare_unmoved(prints, frames, fps=FPS, sample=frames[::10])


def test_a_band_at_the_bottom_is_an_overlay(
        signed: tuple[list[np.ndarray], SegmentPrints]) -> None:
    frames, prints = signed
    c = _compare(prints, _changed(frames, [BOTTOM]))
    assert c.aligned, c.detail
    assert not c.differences and len(c.overlays) == 1, c
    region = c.overlays[0].region
    assert region is not None and region[1] >= 0.8 and region[2] >= 0.9


def test_overlays_that_together_cover_more_than_the_limit_are_changes(
        signed: tuple[list[np.ndarray], SegmentPrints]) -> None:
    frames, prints = signed
    bands = [LEFT, RIGHT, BOTTOM]
    share = sum(np.ones((GRID, GRID))[b].sum() for b in bands) / GRID ** 2
    assert OVERLAY_MAX_AREA < share < MISMATCH_SHARE  # each alone could be an overlay
    c = _compare(prints, _changed(frames, bands))
    assert c.aligned, c.detail
    assert not c.overlays and len(c.differences) == 3, c
    for band in bands:
        rows, cols = band
        box = (cols.start / GRID, rows.start / GRID, (cols.stop - cols.start) / GRID,
               (rows.stop - rows.start) / GRID)
        assert any(d.region is not None and _overlap(d.region, box) for d in c.differences)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
