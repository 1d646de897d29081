"""The tone curve (brightness, contrast and gamma are not edits) must not bend to an edit.

Regression (held-out integrity benchmark: a juggling clip, a 13 % patch of darker content over
its brightest cells for 1 of its 3 s): each bin of the curve took the median of the received
values, which a patch over some of a bin's cells moves by the ranks it displaces; the top of
the curve bent 25 levels down, every bright cell of the clip read as changed, and they were
grouped as one overlay all clip long: `recovered`. The curve now takes, per bin, the median
of the cells' shifts.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from tests.integrity.synthetic import compare_unmoved, prints_of

cmp = importlib.import_module("veriframe.integrity.compare")

FPS = 30
W, H = 320, 240


@pytest.mark.parametrize("name", ["identity", "brighter", "contrast", "gamma"])
def test_the_curve_follows_a_global_tone_change(name: str) -> None:
    rng = np.random.default_rng(1)
    signed = rng.uniform(20, 230, 4000)
    change = {"identity": lambda x: x, "brighter": lambda x: x + 20,
              "contrast": lambda x: 128 + 1.15 * (x - 128),
              "gamma": lambda x: 255 * (x / 255) ** 0.8}[name]
    received = change(signed) + rng.normal(0, 1, signed.size)
    curve = cmp._tone_curve(signed, received)
    xs = np.linspace(40, 210, 18)
    assert np.abs(curve(xs) - change(xs)).max() < 3.0


def test_a_patch_over_a_bins_brightest_cells_does_not_bend_the_curve() -> None:
    rng = np.random.default_rng(2)
    signed = rng.uniform(20, 230, 4000)
    received = signed - 1 + rng.normal(0, 1, signed.size)
    top = np.flatnonzero(signed > np.quantile(signed, 0.875))
    patched = rng.choice(top, size=len(top) * 2 // 5, replace=False)  # 40 % of the top bin
    received[patched] = rng.uniform(40, 90, patched.size)  # darker foreign content
    curve = cmp._tone_curve(signed, received)
    xs = np.linspace(40, 225, 20)
    assert np.abs(curve(xs) - (xs - 1)).max() < 3.0


def _clip(n: int) -> list[np.ndarray]:
    """3 s of slowly drifting texture under a light that is brightest at the top-left corner:
    the curve's top bins are the corner's cells."""
    rng = np.random.default_rng(3)
    bg = gaussian_filter(rng.normal(0, 1, (H, W + n)), 5)
    bg = 80 + 30 * bg / np.abs(bg).max()
    yy, xx = np.mgrid[0:H, 0:W]
    light = 140 * np.clip(1 - np.hypot(yy / 130, xx / 170), 0, 1)
    return [np.clip(bg[:, i // 3: i // 3 + W] + light, 0, 255).astype(np.uint8)
            for i in range(n)]


def test_a_patch_over_the_brightest_content_is_found_when_and_where_it_is() -> None:
    """With the received values' median per bin, the patch bent the curve's top: the corner's
    cells read as changed all clip long, one overlay at the edge (`recovered`)."""
    frames = _clip(90)
    prints = prints_of(frames, FPS)
    assert prints.segment_s == 0.5
    rows, cols = slice(0, 60), slice(0, 80)  # the brightest 6 % of the frame
    rng = np.random.default_rng(4)
    foreign = np.clip(gaussian_filter(rng.normal(0, 1, (H, W)), 4) * 30 + 70, 0, 255)
    copy = [f.copy() for f in frames]
    for i in range(15, 60):  # 0.5 - 2.0 s: three of the six segments
        copy[i][rows, cols] = foreign[rows, cols].astype(np.uint8)
    c = compare_unmoved(prints, copy, fps=FPS, sample=copy[::8])
    assert c.aligned, c.detail
    assert not c.overlays, c.overlays
    assert c.differences, c
    for d in c.differences:
        assert d.start_s >= 0.5 - 1e-6 and d.end_s <= 2.0 + 1e-6, d
        assert d.region is not None
        x, y, w, h = d.region
        assert x < 80 / W and x + w > 0 and y < 60 / H and y + h > 0, d
