"""A placement a whole tile off must not win because it compares less of the picture.

Regression: on the procedural scene (a gradient whose period is close to the watermark's tile
period, a scrolling texture, a fast disc) an unmodified signed 720p clip was reported
"edited": the placement shifted by one tile on each axis compared half the cells and scored a
smaller distance than the true one.
"""

from __future__ import annotations

import numpy as np
import pytest

from veriframe.demo import scene
from veriframe.integrity import PrintBuilder
from veriframe.integrity.compare import choose_geometry, watermark_geometries


def _luma(rgb: np.ndarray) -> np.ndarray:
    y = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    return np.clip(np.round(y), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    return [_luma(scene(i, 1280, 720)) for i in range(60)]


def test_unmoved_copy_is_placed_where_it_was_signed(clip: list[np.ndarray]) -> None:
    builder = PrintBuilder(fps=30.0)
    for i, y in enumerate(clip):
        builder.add(i, y)
    prints = builder.build()
    assert prints is not None
    alignment = {"period_x": 240.0, "period_y": 240.0, "offset_x": 0.0, "offset_y": 0.0}
    candidates = watermark_geometries(alignment, prints, (1280, 720))
    assert len(candidates) > 1  # whole-tile shifts are candidates too
    sample = [clip[i] for i in np.linspace(0, len(clip) - 1, 32).round().astype(int)]
    geo, _ = choose_geometry(candidates, sample, prints, refine=False)
    assert geo is not None
    assert (geo.offset_x, geo.offset_y) == (0.0, 0.0)
