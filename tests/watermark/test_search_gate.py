"""The evidence gate of the mark search: the hypotheses beyond the upright whole frame run
only where a picture shows a sign of a mark; the p-value counts them whether they ran or not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import veriframe.watermark.search as search
from tests.watermark.marking import mark_frames
from veriframe.results import WatermarkState
from veriframe.watermark import Payload, WatermarkKey, detect
from veriframe.watermark.pattern import chip_px
from veriframe.watermark.payload import ID_BITS
from veriframe.watermark.search import (
    DECODES_PER_KEY,
    HYPOTHESES_PER_KEY,
    MAX_REGIONS,
    ORIENTS,
    TILTS,
    orient_grid,
)
from veriframe.watermark.stats import correlation_p_value

KEY = WatermarkKey(bytes(range(32)))
OTHER = WatermarkKey(bytes(range(1, 33)))
PAYLOAD = Payload(content_id=0x0012345678ABCD)


def _texture(n: int, h: int = 360, w: int = 640, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (h, w + 2 * n)), 2.0)
    base = (base - base.min()) / (np.ptp(base) + 1e-9) * 180 + 38
    return np.stack([base[:, 2 * i : 2 * i + w] for i in range(n)]).astype(np.uint8)


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return _texture(24)


@pytest.fixture(scope="module")
def marked(clean: np.ndarray) -> np.ndarray:
    return mark_frames(clean, key=KEY, payload=PAYLOAD)[0]


def _frames(luma: np.ndarray) -> search._Frames:
    return search._prepare(luma, chip_px(luma.shape[1], luma.shape[2]))


def test_every_hypothesis_is_still_counted() -> None:
    # the gate skips work, never hypotheses: the bound is the same
    assert DECODES_PER_KEY * len(ORIENTS) * MAX_REGIONS * TILTS == HYPOTHESES_PER_KEY


def test_gate_is_shut_without_a_mark(clean: np.ndarray) -> None:
    assert not search._gate_open(_frames(clean), [KEY])


@pytest.mark.parametrize("orient", [0, 4, 1, 6])
def test_gate_opens_for_a_mark_in_any_orientation(marked: np.ndarray, orient: int) -> None:
    received = np.ascontiguousarray(orient_grid(marked, orient))
    assert search._gate_open(_frames(received), [OTHER, KEY])


def test_unmarked_sample_is_searched_upright_only(
    clean: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real = search._varying_candidates

    def spy(fr: search._Frames, key: WatermarkKey, orient: int = 0, **kw: object) -> object:
        seen.append(orient)
        return real(fr, key, orient, **kw)

    monkeypatch.setattr(search, "_varying_candidates", spy)
    check = detect(clean, keys=[KEY])
    assert check.state == WatermarkState.ABSENT
    # the whole frame and its full-height-crop reading, upright only
    assert seen == [0, 0]


def test_mirrored_mark_is_still_found_with_the_full_bound(marked: np.ndarray) -> None:
    check = detect(np.ascontiguousarray(marked[:, :, ::-1]), keys=[KEY])
    assert check.state == WatermarkState.PRESENT and check.payload_id == PAYLOAD.hex
    assert check.alignment is not None and check.alignment["mirror"] == 1.0
    # the p-value is the union over every hypothesis, gated or not (payload_z is rounded to
    # 0.01, and the p-value falls as z grows)
    z = check.alignment["payload_z"]
    full = correlation_p_value(z=z + 0.006, data_bits=ID_BITS, hypotheses=HYPOTHESES_PER_KEY)
    assert check.p_value >= full


def test_fold_matches_its_definition_on_a_frame_stack() -> None:
    rng = np.random.default_rng(9)
    stack = rng.normal(size=(4, 50, 77)).astype(np.float32)
    ty, tx, nbins = 17.3, 23.9, 32
    by = search._phase_bins(50, ty, nbins)
    bx = search._phase_bins(77, tx, nbins)
    got = search._fold_frames(stack, ty, tx, nbins)
    for b in (0, 5, 31):
        for c in (0, 7, 30):
            cell = stack[:, by == b][:, :, bx == c]
            want = cell.reshape(4, -1).mean(axis=1) if cell.size else np.zeros(4)
            np.testing.assert_allclose(got[:, b, c], want, atol=1e-5)


def test_flipped_v1_mark_opens_the_gate_through_the_averaged_residual(clean: np.ndarray) -> None:
    # a constant (v1) mark cancels in the centred frames; the averaged residual shows it
    v1 = Payload(content_id=0x0012345678ABCD, version=1)
    flipped = np.ascontiguousarray(mark_frames(clean, key=KEY, payload=v1)[0][:, :, ::-1])
    assert search._gate_open(_frames(flipped), [KEY])
    check = detect(flipped, keys=[KEY])
    assert check.payload_id == v1.hex and check.alignment is not None
    assert check.alignment["mirror"] == 1.0
