"""Where in the signed clip an excerpt lies: the search over time offsets.

Regression (held-out integrity benchmark, a 0.6 s excerpt of a juggling clip, 0.5 s segments,
its true place 1.2 s): the coarse offsets (a quarter segment apart) of least cost were 1.875 s
then 1.375 s, only the first was refined (to 1.833 s, cost 0.102) although 1.333 s costs 0.095;
compared 0.63 s off, one cell read as changed. Two things changed: the few best coarse offsets
are all refined, and an offset under which the excerpt spans no whole segment (so it cannot be
compared there) that fits better than the placement, beyond its tolerance, makes the
comparison say that where the excerpt lies is uncertain instead of comparing it elsewhere.

The costs here are a landscape shaped like that clip's (the search's logic is under test; the
end-to-end cases are in test_fast_motion.py and benchmarks/integrity.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import pytest

from veriframe.integrity import SegmentPrints

cmp = importlib.import_module("veriframe.integrity.compare")

FPS = 24
PRINTS = SegmentPrints(320, 240, 3.0, 0.5, np.zeros((6, 16, 16), np.uint8),
                       np.zeros((6, 8, 8), np.uint8), float(FPS))
TIMES = np.arange(15) / FPS  # a 0.625 s excerpt


def _walk() -> object:
    return cmp._Walk(times=list(TIMES), means=[np.zeros((16, 16))] * len(TIMES),
                     cell_ok=np.ones((16, 16), bool))


def _landscape(spanned: Callable[[float], float],
               unspanned: Callable[[float], float]) -> Callable[..., tuple[float, int]]:
    """A stand-in for _time_cost: ``spanned(offset)`` where the excerpt spans a whole segment,
    ``unspanned(offset)`` where it spans none but half or more of one."""
    def cost(means: np.ndarray, times: np.ndarray, offset: float, prints: SegmentPrints,
             ok: np.ndarray, frame_s: float,
             cover_min: float = cmp.MIN_SEGMENT_COVER) -> tuple[float, int]:
        _, full = cmp._segments(times, offset, prints, frame_s)
        if full.any():
            return spanned(offset), int(full.sum())
        _, half = cmp._segments(times, offset, prints, frame_s, cover_min)
        if cover_min < cmp.MIN_SEGMENT_COVER and half.any():
            return unspanned(offset), int(half.sum())
        return float("inf"), 0
    return cost


def _juggle_spanned(o: float) -> float:
    # two valleys a segment apart: 1.333 s (0.095), the truth's nearest spanning place, and
    # 1.833 s (0.102), whose coarse neighbour (1.875 s) beats the first's (1.375 s)
    return min(0.095 + 0.3 * abs(o - 1.333), 0.102 + 0.05 * abs(o - 1.833), 0.25)


def test_the_best_few_coarse_offsets_are_all_refined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmp, "_time_cost", _landscape(_juggle_spanned, lambda o: 1.0))
    coarse = {o: _juggle_spanned(o) for o in (1.375, 1.875)}
    assert coarse[1.875] < coarse[1.375]  # the trap: the best coarse offset is the wrong one
    placed = cmp._time_offset(_walk(), PRINTS, 1 / FPS)
    assert placed.offset == pytest.approx(1.333, abs=0.5 / FPS)
    assert placed.doubt is None


@pytest.mark.parametrize(("truth", "doubted"), [(1.2, False), (0.7, True)])
def test_a_better_fit_where_no_segment_is_spanned_makes_the_place_uncertain(
        monkeypatch: pytest.MonkeyPatch, truth: float, doubted: bool) -> None:
    """Where the excerpt spans no segment, the cost on the segments it half spans is lowest at
    its true place. Near the placement (within its 0.2 s tolerance, which the comparison
    searches) that is no doubt; farther, the placement may be another repetition."""
    monkeypatch.setattr(cmp, "_time_cost", _landscape(
        lambda o: min(0.102 + 0.05 * abs(o - 1.833), 0.095 + 0.3 * abs(o - 1.333)),
        lambda o: 0.059 + 0.2 * abs(o - truth)))
    placed = cmp._time_offset(_walk(), PRINTS, 1 / FPS)
    assert placed.offset == pytest.approx(1.333, abs=0.5 / FPS)
    if doubted:
        assert placed.doubt == pytest.approx(truth, abs=0.5 / FPS)
    else:
        assert placed.doubt is None


def test_a_full_length_copy_is_never_in_doubt() -> None:
    times = np.arange(72) / FPS  # the whole 3 s
    walk = cmp._Walk(times=list(times), means=[np.zeros((16, 16))] * len(times),
                     cell_ok=np.ones((16, 16), bool))
    placed = cmp._time_offset(walk, PRINTS, 1 / FPS)
    assert placed.offset == 0.0 and placed.uncertainty == 0.0 and placed.doubt is None
