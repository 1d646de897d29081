"""Segment-and-region fingerprints of the signed content, and their packing in the manifest.

Every frame is reduced to a 128x128 *work image* of the signed picture (each work pixel the
mean luma of its area of the frame, so the same numbers come out of a rescaled or cropped copy
once it is mapped back, see :mod:`.compare`). From it:

* **cell means**: the mean luma of each cell of a 16x16 grid (each 1/256 of the frame);
* **detail energy**: for each block of an 8x8 grid (2x2 cells), the mean absolute difference
  between the work image and its 3x3 box blur, i.e. detail at about 1/60 to 1/20 of the frame.
  A blurred or smoothed region keeps its means but loses this energy; pasted texture adds it.

Both are averaged over each time segment of :data:`SEGMENT_S` seconds. A segment packs to 320
bytes (256 means as uint8, 64 energies as ``round(16 * log2(1 + e))``); segments are
delta-coded along time, deflated and base64-encoded. The budget is :data:`BUDGET_PER_MINUTE`
bytes of that text per minute of video (at least :data:`BUDGET_FLOOR` per clip): a clip whose
fingerprints do not fit gets segments twice as long, until they do.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter

WORK = 128  # work image side (work pixels per side of the signed picture)
GRID = 16  # cells per side for the means
BLOCKS = 8  # blocks per side for the detail energy
CELL = WORK // GRID
BLOCK = WORK // BLOCKS
SEGMENT_S = 0.5
BUDGET_PER_MINUTE = 32 * 1024
BUDGET_FLOOR = 2 * 1024
ENERGY_SCALE = 16.0
VERSION = "s1"
ASSERTION_LABEL = "org.veriframe.content-fingerprints"
_BYTES = GRID * GRID + BLOCKS * BLOCKS


def integral(y: np.ndarray, *, peak: int = 255) -> np.ndarray:
    """The summed-area table of a luma plane whose values are at most ``peak`` (a uint8 plane,
    or block sums of one), with a zero first row and column (exact integers: int32 while the
    total cannot overflow it, which is twice as fast, else int64)."""
    kind = np.int32 if peak * y.size < 2**31 else np.int64
    s = np.zeros((y.shape[0] + 1, y.shape[1] + 1), kind)
    np.cumsum(np.cumsum(y, axis=0, dtype=kind), axis=1, out=s[1:, 1:])
    return s


def box_means(table: np.ndarray, x0: np.ndarray, x1: np.ndarray, y0: np.ndarray,
              y1: np.ndarray, *, slack: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean of every box [y0, y1) x [x0, x1) (integer bounds, broadcast to one grid) of the
    plane behind ``table``, and whether the box lies inside the plane (up to ``slack`` pixels
    out: a rescale's rounding leaves the outermost boxes a pixel short)."""
    h, w = table.shape[0] - 1, table.shape[1] - 1
    valid = ((x0 >= -slack) & (y0 >= -slack) & (x1 <= w + slack) & (y1 <= h + slack)
             & (x1 > x0) & (y1 > y0))
    cx0, cx1 = np.clip(x0, 0, w), np.clip(x1, 0, w)
    cy0, cy1 = np.clip(y0, 0, h), np.clip(y1, 0, h)
    total = table[cy1, cx1] - table[cy0, cx1] - table[cy1, cx0] + table[cy0, cx0]
    area = np.maximum((cx1 - cx0) * (cy1 - cy0), 1)
    return total / area, valid


def features(work: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           np.ndarray]:
    """Cell means (16x16), block energies (8x8) and their validity, from one work image."""
    means = work.reshape(GRID, CELL, GRID, CELL).mean(axis=(1, 3))
    cell_ok = np.asarray(valid.reshape(GRID, CELL, GRID, CELL).all(axis=(1, 3)))
    detail = np.abs(work - uniform_filter(work, 3, mode="nearest"))
    energy = detail.reshape(BLOCKS, BLOCK, BLOCKS, BLOCK).mean(axis=(1, 3))
    # a block's energy needs its whole area and a work pixel of margin for the blur
    grown = ~uniform_filter((~valid).astype(np.float32), 3, mode="constant", cval=1.0).astype(bool)
    block_ok = np.asarray((valid & grown).reshape(BLOCKS, BLOCK, BLOCKS, BLOCK).all(axis=(1, 3)))
    return means, energy, cell_ok, block_ok


def signed_work_image(y: np.ndarray) -> np.ndarray:
    """The work image of a frame of the signed clip itself (its whole picture): the same box
    means a received copy's identity placement gives (:func:`box_means` over the same rounded
    bounds), computed by row and column sums, which is faster than a summed-area table."""
    h, w = y.shape
    if h < WORK or w < WORK:  # small frames: boxes of one pixel or more, as box_means does
        ys = np.round(np.linspace(0.0, h, WORK + 1)).astype(np.int64)
        xs = np.round(np.linspace(0.0, w, WORK + 1)).astype(np.int64)
        y1, x1 = np.maximum(ys[1:], ys[:-1] + 1), np.maximum(xs[1:], xs[:-1] + 1)
        means, _ = box_means(integral(y), xs[:-1][None, :], x1[None, :], ys[:-1][:, None],
                             y1[:, None])
        return means.astype(np.float32)
    ys = np.round(np.linspace(0.0, h, WORK + 1)).astype(np.int64)
    xs = np.round(np.linspace(0.0, w, WORK + 1)).astype(np.int64)
    rows = np.add.reduceat(y, ys[:-1], axis=0, dtype=np.float64) / np.diff(ys)[:, None]
    return (np.add.reduceat(rows, xs[:-1], axis=1) / np.diff(xs)[None, :]).astype(np.float32)


@dataclass(frozen=True)
class SegmentPrints:
    """The signed clip's fingerprints: per segment ``k`` (``[k * segment_s, (k+1) *
    segment_s)`` seconds from the clip's start) the 16x16 cell means and 8x8 block energies,
    and the signed picture's size."""

    width: int
    height: int
    duration_s: float
    segment_s: float
    means: np.ndarray  # (K, 16, 16) float32, luma levels
    energy: np.ndarray  # (K, 8, 8) float32
    fps: float | None = None  # the signed clip's frame rate (None: signed before it was kept)

    @property
    def segments(self) -> int:
        """How many segments."""
        return int(self.means.shape[0])

    def to_assertion(self) -> dict[str, Any]:
        """The ``org.veriframe.content-fingerprints`` assertion's data."""
        return {
            "version": VERSION,
            "width": self.width,
            "height": self.height,
            "duration_ms": round(self.duration_s * 1000),
            "segment_ms": round(self.segment_s * 1000),
            # scalars: c2pa reads a JSON array of small integers back as a byte string
            "grid": GRID,
            "blocks": BLOCKS,
            "data": _pack(self.means, self.energy),
            **({"fps": round(float(self.fps), 6)} if self.fps else {}),
        }


def _quantise(means: np.ndarray, energy: np.ndarray) -> np.ndarray:
    q_means = np.clip(np.rint(means), 0, 255).astype(np.uint8).reshape(len(means), -1)
    q_energy = np.clip(np.rint(ENERGY_SCALE * np.log2(1.0 + energy)), 0, 255).astype(np.uint8)
    return np.concatenate([q_means, q_energy.reshape(len(energy), -1)], axis=1)


def _pack(means: np.ndarray, energy: np.ndarray) -> str:
    rows = _quantise(means, energy)
    deltas = rows.copy()
    deltas[1:] = rows[1:] - rows[:-1]  # uint8 arithmetic wraps: exact to undo
    return base64.b64encode(zlib.compress(deltas.tobytes(), 9)).decode("ascii")


def _unpack(data: str, segments: int) -> tuple[np.ndarray, np.ndarray]:
    raw = zlib.decompress(base64.b64decode(data, validate=True), bufsize=_BYTES * segments)
    deltas = np.frombuffer(raw, np.uint8).reshape(segments, _BYTES)
    rows = np.cumsum(deltas, axis=0, dtype=np.uint8)
    means = rows[:, : GRID * GRID].reshape(segments, GRID, GRID).astype(np.float32)
    q = rows[:, GRID * GRID :].reshape(segments, BLOCKS, BLOCKS).astype(np.float32)
    return means, (np.exp2(q / ENERGY_SCALE) - 1.0).astype(np.float32)


def read_prints(assertions: Mapping[str, Any] | None) -> SegmentPrints | None:
    """The fingerprints in a manifest's assertions (label -> data), or None when the manifest
    has none (signed before they existed) or they are malformed (then nothing is compared)."""
    data = (assertions or {}).get(ASSERTION_LABEL)
    if not isinstance(data, Mapping) or data.get("version") != VERSION:
        return None
    try:
        width, height = int(data["width"]), int(data["height"])
        duration = float(data["duration_ms"]) / 1000.0
        segment = float(data["segment_ms"]) / 1000.0
        if (data.get("grid") != GRID or data.get("blocks") != BLOCKS or width < 16
                or height < 16
                or segment <= 0 or duration <= 0):
            return None
        segments = max(1, int(np.ceil(duration / segment - 1e-6)))
        if segments > 100_000:
            return None
        means, energy = _unpack(str(data["data"]), segments)
        fps: float | None = float(data["fps"]) if "fps" in data else None
    except (KeyError, TypeError, ValueError, binascii.Error, zlib.error):
        return None
    if fps is not None and not 0.0 < fps <= 1000.0:
        fps = None  # malformed: the frame times are then taken from the received clip
    return SegmentPrints(width, height, duration, segment, means, energy, fps)


class PrintBuilder:
    """Collects the fingerprints of a clip frame by frame as it is encoded (the sign path's
    per-frame transform feeds it), then packs them within the budget."""

    def __init__(self, *, fps: float) -> None:
        self.fps = fps if fps and fps > 0 else 25.0
        self.size: tuple[int, int] | None = None
        self._sums: dict[int, list[Any]] = {}  # finest segment -> [means, energy, frames]
        self.frames = 0

    def add(self, index: int, y: np.ndarray) -> None:
        """Add frame ``index`` (presentation order) of the signed clip, as encoded."""
        h, w = y.shape
        if self.size is None:
            self.size = (w, h)
        work = signed_work_image(y)
        means, energy, _, _ = features(work, np.ones(work.shape, bool))
        k = int((index / self.fps) // SEGMENT_S)
        acc = self._sums.get(k)
        if acc is None:
            self._sums[k] = [means.astype(np.float64), energy.astype(np.float64), 1]
        else:
            acc[0] += means
            acc[1] += energy
            acc[2] += 1
        self.frames += 1

    def build(self) -> SegmentPrints | None:
        """The fingerprints, with segments as short as the budget allows (None: no frame)."""
        if self.size is None or not self._sums:
            return None
        duration = self.frames / self.fps
        budget = max(BUDGET_FLOOR, BUDGET_PER_MINUTE * duration / 60.0)
        count = max(self._sums) + 1
        sums = np.zeros((count, GRID, GRID)), np.zeros((count, BLOCKS, BLOCKS)), np.zeros(count)
        for k, (m, e, n) in self._sums.items():
            sums[0][k], sums[1][k], sums[2][k] = m, e, n
        factor = 1
        while True:
            prints = replace(_merged(sums, factor, self.size, duration), fps=self.fps)
            if len(_pack(prints.means, prints.energy)) <= budget or prints.segments == 1:
                return prints
            factor *= 2


def _merged(sums: tuple[np.ndarray, np.ndarray, np.ndarray], factor: int,
            size: tuple[int, int], duration: float) -> SegmentPrints:
    """Segments ``factor`` times as long: sums of ``factor`` neighbours, then means."""
    m, e, n = sums
    count = -(-len(n) // factor)
    pad = count * factor - len(n)
    if pad:
        m = np.concatenate([m, np.zeros((pad, *m.shape[1:]))])
        e = np.concatenate([e, np.zeros((pad, *e.shape[1:]))])
        n = np.concatenate([n, np.zeros(pad)])
    m = m.reshape(count, factor, GRID, GRID).sum(axis=1)
    e = e.reshape(count, factor, BLOCKS, BLOCKS).sum(axis=1)
    n = np.maximum(n.reshape(count, factor).sum(axis=1), 1)
    return SegmentPrints(width=size[0], height=size[1], duration_s=duration,
                         segment_s=SEGMENT_S * factor,
                         means=(m / n[:, None, None]).astype(np.float32),
                         energy=(e / n[:, None, None]).astype(np.float32))
