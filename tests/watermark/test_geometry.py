"""Geometry the detector recovers without side information: mirror, right-angle turns,
letterbox bars and picture-in-picture, reported in ``alignment``; the p-value counts them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from tests.watermark.marking import mark_frames
from veriframe.results import WatermarkState
from veriframe.watermark import Payload, WatermarkKey, detect
from veriframe.watermark.search import (
    DECODES_PER_KEY,
    HYPOTHESES_PER_KEY,
    MAX_REGIONS,
    ORIENTS,
    TILTS,
    find_regions,
    orient_grid,
)

KEY = WatermarkKey(bytes(range(32)))
PAYLOAD = Payload(content_id=0x0012345678ABCD)


def _texture(
    n: int, h: int = 360, w: int = 640, seed: int = 5, sigma: float = 2.0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (h, w + 2 * n)), sigma)
    base = (base - base.min()) / (np.ptp(base) + 1e-9) * 180 + 38
    return np.stack([base[:, 2 * i : 2 * i + w] for i in range(n)]).astype(np.uint8)


@pytest.fixture(scope="module")
def marked() -> np.ndarray:
    return mark_frames(_texture(24), key=KEY, payload=PAYLOAD)[0]


def _resize(stack: np.ndarray, h: int, w: int) -> np.ndarray:
    zoom = (h / stack.shape[1], w / stack.shape[2])
    out = [ndimage.zoom(f.astype(np.float32), zoom, order=1) for f in stack]
    return np.clip(np.rint(np.stack(out)), 0, 255).astype(np.uint8)


def test_hypotheses_are_counted() -> None:
    assert DECODES_PER_KEY * len(ORIENTS) * MAX_REGIONS * TILTS == HYPOTHESES_PER_KEY
    assert sorted(ORIENTS) == list(range(8)) and ORIENTS[0] == 0


def test_orient_grid_is_the_dihedral_group() -> None:
    g = np.arange(12).reshape(3, 4)
    seen = {orient_grid(g, o).tobytes() + bytes(orient_grid(g, o).shape) for o in range(8)}
    assert len(seen) == 8
    assert np.array_equal(orient_grid(g, 4), g[:, ::-1])
    assert np.array_equal(orient_grid(g, 1), np.rot90(g))


@pytest.mark.parametrize(
    ("orient", "mirror", "rotation"),
    [(4, 1.0, 0.0), (2, 0.0, 180.0), (1, 0.0, 90.0), (7, 1.0, -90.0)],
)
def test_mirror_and_right_angles_are_found_and_reported(
    marked: np.ndarray, orient: int, mirror: float, rotation: float
) -> None:
    received = np.ascontiguousarray(orient_grid(marked, orient))
    check = detect(received, keys=[KEY])
    assert check.state == WatermarkState.PRESENT and check.payload_id == PAYLOAD.hex
    assert check.alignment is not None
    assert check.alignment["mirror"] == mirror and check.alignment["rotation"] == rotation
    # scale in the corrected picture's axes: unchanged
    assert abs(check.alignment["scale_x"] - 1.0) < 0.03
    assert abs(check.alignment["scale_y"] - 1.0) < 0.03


def test_upright_mark_reports_no_turn(marked: np.ndarray) -> None:
    check = detect(marked, keys=[KEY])
    assert check.alignment is not None
    assert check.alignment["mirror"] == 0.0 and check.alignment["rotation"] == 0.0
    assert "region_x" not in check.alignment
    # the signed tile grid starts at the picture's corner
    assert check.alignment["offset_x"] == pytest.approx(0.0, abs=1.5) or check.alignment[
        "offset_x"
    ] == pytest.approx(check.alignment["period_x"], abs=1.5)


def test_mirrored_offset_is_given_in_the_corrected_picture(marked: np.ndarray) -> None:
    # a crop from the left then a mirror: in the un-mirrored picture the grid starts 40 px in
    cropped = marked[:, :, 40:]
    check = detect(np.ascontiguousarray(cropped[:, :, ::-1]), keys=[KEY])
    assert check.payload_id == PAYLOAD.hex and check.alignment is not None
    period = check.alignment["period_x"]
    expected = (-40.0) % period
    got = check.alignment["offset_x"]
    assert min(abs(got - expected), period - abs(got - expected)) < 2.5


@pytest.mark.parametrize("degrees", [5.0, -7.0])
def test_small_turn_is_found_from_the_tile_lattice(degrees: float) -> None:
    # Smoother content than the other tests: on busy fine texture everywhere the tile
    # lattice drowns in the content's own autocorrelation (a known limit, see SECURITY.md).
    marked = mark_frames(_texture(24, sigma=8.0), key=KEY, payload=PAYLOAD)[0]
    # scipy turns counter-clockwise (as displayed) for a positive angle with axes (2, 1)
    turned = ndimage.rotate(marked, degrees, axes=(2, 1), reshape=False, order=1)
    check = detect(np.clip(turned, 0, 255).astype(np.uint8), keys=[KEY])
    assert check.payload_id == PAYLOAD.hex and check.alignment is not None
    assert check.alignment["rotation"] == pytest.approx(degrees, abs=0.6)
    assert check.alignment["mirror"] == 0.0


def test_letterbox_region_is_found(marked: np.ndarray) -> None:
    picture = _resize(marked, 304, 540)  # 640x360 scaled into a 540x960 portrait frame
    frame = np.zeros((len(marked), 960, 540), dtype=np.uint8)
    frame[:, 328 : 328 + 304] = picture
    assert find_regions(frame)[0] == (328, 0, 304, 540)
    check = detect(frame, keys=[KEY])
    assert check.payload_id == PAYLOAD.hex and check.alignment is not None
    a = check.alignment
    assert (a["region_y"], a["region_x"], a["region_h"], a["region_w"]) == (328, 0, 304, 540)


def test_picture_in_picture_is_found(marked: np.ndarray) -> None:
    background = _texture(len(marked), seed=11)
    frame = background.copy()
    frame[:, 150:330, 290:610] = _resize(marked, 180, 320)
    regions = find_regions(frame)
    assert (150, 290, 180, 320) in regions
    check = detect(frame, keys=[KEY])
    assert check.payload_id == PAYLOAD.hex and check.alignment is not None
    assert check.alignment["region_w"] == 320.0


def test_unmarked_oriented_and_boxed_content_stays_absent() -> None:
    clean = _texture(24, seed=9)
    frame = np.zeros((24, 960, 540), dtype=np.uint8)
    frame[:, 328 : 328 + 304] = _resize(clean, 304, 540)
    for luma in (clean[:, :, ::-1], np.rot90(clean, axes=(1, 2)), frame):
        check = detect(np.ascontiguousarray(luma), keys=[KEY])
        assert check.state == WatermarkState.ABSENT


def test_full_height_reframe_is_read_as_a_crop_of_a_wider_picture(marked: np.ndarray) -> None:
    # 16:9 -> 9:16: the centre third of the width at full height, upscaled 1.5x
    third = marked[:, :, 220:420]
    reframed = _resize(third, 540, 300)
    check = detect(reframed, keys=[KEY])
    assert check.payload_id == PAYLOAD.hex and check.alignment is not None
    # reported against the received frame's own nominal period: a crop of 0.5625 of the width
    assert check.alignment["scale_x"] == pytest.approx(1.8, abs=0.06)


def test_benchmarks_can_leave_a_hypothesis_family_out_and_put_it_back(
    marked: np.ndarray,
) -> None:
    # benchmarks/_search_families.py: the cost and yield of each family are measured with it
    from benchmarks import _search_families

    reframed = _resize(marked[:, :, 220:420], 540, 300)  # only the long-side reading finds it
    with _search_families.without(["long-side"]):
        assert detect(reframed, keys=[KEY]).state == WatermarkState.ABSENT
    assert detect(reframed, keys=[KEY]).payload_id == PAYLOAD.hex
    with pytest.raises(ValueError, match="unknown search families"):
        _search_families.parse("long-side,bogus")
