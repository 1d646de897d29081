"""Compare a received copy with the signed fingerprints: align, then cell by cell, segment by
segment.

1. **Geometry** (:class:`Geometry`): where the signed picture lies in the received frame,
   ``received = scale * signed + offset`` per axis, the signed picture mirrored first when
   ``mirror``. Candidates come from the watermark (its tile period gives the scale, its tile
   phase the offset up to whole periods) or, without one, from a bounded search over the
   rescales and crops a platform makes; each is scored on the frames verify already decoded
   against every signed segment, and the best is refined to the pixel.
2. **Time**: the received clip's frames are walked once; the offset between its timeline and
   the signed one is searched (an excerpt starts anywhere), and only signed segments the
   received clip covers wholly are compared.
3. **Comparison**: the signed cell means go through the received clip's tone curve (a
   monotone fit of received against signed over all compared cells: brightness, contrast and
   gamma changes are not edits); a cell differs when its residual exceeds
   :data:`MEAN_THRESHOLD` plus a share of the motion there, and a block differs when its
   detail energy changed by more than :data:`ENERGY_THRESHOLD` (log2) against the clip's
   median change (blur removes detail, pasted texture adds it). Cells outside the received
   frame are *not compared*, which is not a difference.
4. **Where**: differing cells are grouped in time and space; a group present in >= 90 % of the
   compared time at an edge of the frame is an **overlay** (a caption band, a logo), as long
   as the overlays together cover at most :data:`OVERLAY_MAX_AREA` of the frame.

Thresholds were set on platform-transformed copies of the design clips of
``benchmarks/integrity.py`` (see docs/internals.md); they are not tuned per clip.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import ndimage

from veriframe.integrity.prints import (
    GRID,
    WORK,
    SegmentPrints,
    box_means,
    features,
    integral,
)
from veriframe.results import ContentDifference

MEAN_THRESHOLD = 14.0  # luma levels a cell's segment mean may differ after the tone curve
MOTION_SHARE = 0.5  # plus this share of the cell's change between neighbouring segments
ENERGY_THRESHOLD = 1.0  # log2 change of a block's detail energy beyond the clip's median
ENERGY_FLOOR = 1.5  # blocks with less detail than this on both sides: energy not compared
MIN_SEGMENT_COVER = 0.9  # a signed segment is compared when the copy spans this share of it
OVERLAY_TIME = 0.9  # a group present this share of the compared time ...
OVERLAY_MAX_AREA = 0.4  # ... at an edge, at most this share of the frame (all of them): overlay
MISMATCH_SHARE = 0.5  # more than this share of compared cells differ: another clip
MAX_ALIGN_DISTANCE = 0.33  # best geometry still this far (z-scored): not the signed content
COVER_SLACK = 0.05  # placements covering less of the received picture than the best, by more
EDGE_SLACK = 2  # received pixels a box may reach past the frame and still count as visible
ALIGN_TRIM = 0.6  # share of cells (the closest) that the placement distance averages
SEARCH_TOLERANCE = 0.25  # cells a searched placement may be off, tolerated per cell
REFINE_TOP = 3  # searched placements refined to the pixel
SEARCH_FRAMES = 12  # sample frames the placement is chosen on (6 let smooth content slip a cell)
SEARCH_SEGMENTS = 64
SEARCH_CROPS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


@dataclass(frozen=True)
class View:
    """How a received frame becomes the picture the watermark was read in (the "corrected
    picture" of :mod:`veriframe.watermark.search`): the region that shows the signed picture
    (letterbox, picture-in-picture), turned clockwise by ``tilt`` degrees, then by ``quarter``
    right angles clockwise, then flipped left-right when ``mirror``. A :class:`Geometry` then
    places the signed picture in it without turns."""

    region: tuple[int, int, int, int] | None = None  # x, y, w, h in received pixels
    tilt: float = 0.0
    quarter: int = 0
    mirror: bool = False

    @classmethod
    def from_alignment(cls, alignment: dict[str, float] | None) -> View:
        """The view a watermark alignment describes (the identity without one)."""
        a = alignment or {}
        region = None
        if all(k in a for k in ("region_x", "region_y", "region_w", "region_h")):
            region = (round(a["region_x"]), round(a["region_y"]),
                      round(a["region_w"]), round(a["region_h"]))
        tilt = float(a.get("tilt", 0.0) or 0.0)
        right = float(a.get("rotation", 0.0) or 0.0) - tilt
        return cls(region, tilt, round(right / 90.0) % 4, bool(a.get("mirror", 0.0)))

    @property
    def identity(self) -> bool:
        """Whether the view leaves the frame as it is."""
        return self.region is None and abs(self.tilt) < 0.05 and not self.quarter \
            and not self.mirror

    def apply(self, y: np.ndarray) -> np.ndarray:
        """The corrected picture of one received luma plane."""
        if self.identity:
            return y
        if self.region is not None:
            x0, y0, w, h = self.region
            y = y[max(0, y0):y0 + h, max(0, x0):x0 + w]
        if abs(self.tilt) >= 0.05:
            y = ndimage.rotate(y, -self.tilt, reshape=False, order=1, mode="nearest")
        if self.quarter:
            y = np.rot90(y, -self.quarter)
        if self.mirror:
            y = y[:, ::-1]
        return np.ascontiguousarray(y)

    def to_received(self, rect: tuple[float, float, float, float], corrected: tuple[int, int],
                    received: tuple[int, int]) -> tuple[float, float, float, float]:
        """A rectangle given as fractions of the corrected picture, as fractions of the
        received frame (its bounding box; a small tilt is not undone)."""
        if self.identity:
            return rect
        cw, ch = corrected
        x, y, w, h = rect
        xs = np.array([x, x + w, x, x + w]) * cw
        ys = np.array([y, y, y + h, y + h]) * ch
        if self.mirror:
            xs = cw - xs
        for _ in range(self.quarter):  # undo one clockwise quarter turn at a time
            xs, ys = ys, cw - xs
            cw, ch = ch, cw
        rx, ry = (self.region[0], self.region[1]) if self.region is not None else (0, 0)
        xs, ys = xs + rx, ys + ry
        w_r, h_r = received
        x0, x1 = float(np.clip(xs.min(), 0, w_r)), float(np.clip(xs.max(), 0, w_r))
        y0, y1 = float(np.clip(ys.min(), 0, h_r)), float(np.clip(ys.max(), 0, h_r))
        return (round(x0 / w_r, 3), round(y0 / h_r, 3), round((x1 - x0) / w_r, 3),
                round((y1 - y0) / h_r, 3))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (only what is not the identity)."""
        out: dict[str, Any] = {}
        if self.region is not None:
            out["region"] = list(self.region)
        if self.tilt:
            out["tilt"] = round(self.tilt, 2)
        if self.quarter:
            out["quarter_turns"] = self.quarter
        if self.mirror:
            out["view_mirror"] = True
        return out


@dataclass(frozen=True)
class Geometry:
    """Where the signed picture lies in the received frame (pixels of each)."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    mirror: bool = False
    source: str = "identity"  # watermark | search | identity

    def boxes(self, prints: SegmentPrints, side: int) -> tuple[np.ndarray, ...]:
        """Integer received-frame boxes (x0, x1, y0, y1) of a side x side grid of the signed
        picture, broadcast to (side, side)."""
        xs = np.linspace(0.0, prints.width, side + 1)
        ys = np.linspace(0.0, prints.height, side + 1)
        if self.mirror:
            xs = prints.width - xs[::-1]
            lo_x, hi_x = xs[:-1][::-1], xs[1:][::-1]
        else:
            lo_x, hi_x = xs[:-1], xs[1:]
        x0 = np.round(self.offset_x + self.scale_x * lo_x).astype(np.int64)
        x1 = np.round(self.offset_x + self.scale_x * hi_x).astype(np.int64)
        y0 = np.round(self.offset_y + self.scale_y * ys[:-1]).astype(np.int64)
        y1 = np.round(self.offset_y + self.scale_y * ys[1:]).astype(np.int64)
        x1, y1 = np.maximum(x1, x0 + 1), np.maximum(y1, y0 + 1)
        return x0[None, :], x1[None, :], y0[:, None], y1[:, None]

    def region(self, prints: SegmentPrints, cells: tuple[int, int, int, int],
               size: tuple[int, int]) -> tuple[float, float, float, float]:
        """The received-frame rectangle (fractions x, y, w, h) of grid cells
        ``(row0, row1, col0, col1)`` (exclusive ends), clipped to the frame."""
        r0, r1, c0, c1 = cells
        w_r, h_r = size
        u0, u1 = c0 * prints.width / GRID, c1 * prints.width / GRID
        if self.mirror:
            u0, u1 = prints.width - u1, prints.width - u0
        x0 = max(0.0, self.offset_x + self.scale_x * u0)
        x1 = min(float(w_r), self.offset_x + self.scale_x * u1)
        y0 = max(0.0, self.offset_y + self.scale_y * r0 * prints.height / GRID)
        y1 = min(float(h_r), self.offset_y + self.scale_y * r1 * prints.height / GRID)
        return (round(x0 / w_r, 3), round(y0 / h_r, 3), round(max(0.0, x1 - x0) / w_r, 3),
                round(max(0.0, y1 - y0) / h_r, 3))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"scale_x": round(self.scale_x, 4), "scale_y": round(self.scale_y, 4),
                "offset_x": round(self.offset_x, 1), "offset_y": round(self.offset_y, 1),
                "mirror": self.mirror, "source": self.source}


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing a received copy with the signed fingerprints."""

    aligned: bool  # a geometry and time offset were found where the copy shows the content
    geometry: Geometry | None
    time_offset_s: float  # signed time = received time + time_offset_s
    frame_coverage: float  # share of the signed picture compared
    compared_s: float  # seconds of the received clip compared
    received_s: float
    signed_s: float
    differing_share: float  # share of compared cell-segments that differ
    differences: tuple[ContentDifference, ...] = ()
    overlays: tuple[ContentDifference, ...] = ()
    detail: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    view: View = field(default_factory=lambda: View())
    # other time offsets as plausible as time_offset_s (the content repeats: where in the
    # signed clip an excerpt lies is ambiguous), best first
    other_offsets_s: tuple[float, ...] = ()
    # nothing could be compared (a copy shorter than the signed segments): not a mismatch
    undecided: bool = False
    # how far from time_offset_s offsets as good lie (seconds; 0 for a full-length copy)
    time_uncertainty_s: float = 0.0
    # how well the segment means fit at time_offset_s (None: a full-length copy, not searched)
    time_cost: float | None = None


# --- geometry ------------------------------------------------------------------------------

def _zscore(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Standardise the masked entries of the last axis (others set to 0)."""
    n = np.maximum(mask.sum(axis=-1, keepdims=True), 1)
    mean = np.where(mask, x, 0.0).sum(axis=-1, keepdims=True) / n
    dev = np.where(mask, x - mean, 0.0)
    std = np.sqrt((dev * dev).sum(axis=-1, keepdims=True) / n)
    return dev / np.maximum(std, 1.0)


def _robust_z(x: np.ndarray) -> np.ndarray:
    """Standardise each row by its median and interquartile range (an overlay or an edit moves
    a minority of cells and must not move the scale of the rest)."""
    q1, med, q3 = np.percentile(x, [25, 50, 75], axis=-1, keepdims=True)
    return (x - med) / np.maximum((q3 - q1) / 1.349, 1.0)


def _row_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance between robustly standardised rows of ``a`` (..., n) and ``b`` (..., n): the
    mean absolute difference over the closest :data:`ALIGN_TRIM` share of entries."""
    diff = np.abs(_robust_z(a) - _robust_z(b))
    keep = max(1, int(diff.shape[-1] * ALIGN_TRIM))
    return np.partition(diff, keep - 1, axis=-1)[..., :keep].mean(axis=-1)


def _alignment_distance(cells: np.ndarray, ok: np.ndarray, signed: np.ndarray) -> float:
    """Median over frames of the z-scored cell distance to the nearest signed segment (the
    median: a spliced-in stretch is a minority of the frames and must not hide the rest)."""
    if ok.sum() < 16:
        return float("inf")
    flat_ok = ok.ravel()
    rec = cells.reshape(len(cells), -1)[:, flat_ok]
    sig = signed.reshape(len(signed), -1)[:, flat_ok]
    # trimmed: the cells an overlay or a local edit changed are a minority
    d = _row_distance(rec[:, None, :], sig[None, :, :])
    return float(np.median(d.min(axis=1)))


def _cells(tables: Sequence[np.ndarray], geo: Geometry,
           prints: SegmentPrints) -> tuple[np.ndarray, np.ndarray]:
    x0, x1, y0, y1 = geo.boxes(prints, GRID)
    out, ok = [], None
    for table in tables:
        means, valid = box_means(table, x0, x1, y0, y1, slack=EDGE_SLACK)
        out.append(means)
        ok = valid
    assert ok is not None
    return np.stack(out), ok


def watermark_geometries(alignment: dict[str, float] | None, prints: SegmentPrints,
                         size: tuple[int, int]) -> list[Geometry]:
    """Geometries the watermark's alignment allows in its corrected picture (of ``size``; see
    :class:`View`): its period gives the scale, its tile phase the offset up to whole periods
    (every period that keeps the pictures overlapping)."""
    if not alignment or not alignment.get("period_x") or not alignment.get("period_y"):
        return []
    period_s = min(prints.width, prints.height) / 3.0  # the tile period of the signed picture
    px, py = float(alignment["period_x"]), float(alignment["period_y"])
    sx, sy = px / period_s, py / period_s
    w_r, h_r = size

    def offsets(phase: float, period: float, span_r: int, span_s: float) -> list[float]:
        lo = min(0.0, span_r - span_s) - period
        hi = max(0.0, span_r - span_s) + period
        first = phase + np.ceil((lo - phase) / period) * period
        return [float(v) for v in np.arange(first, hi + 1e-6, period)]

    return [Geometry(sx, sy, ox, oy, False, "watermark")
            for ox in offsets(float(alignment.get("offset_x", 0.0)), px, w_r, sx * prints.width)
            for oy in offsets(float(alignment.get("offset_y", 0.0)), py, h_r,
                              sy * prints.height)]


def search_geometries(prints: SegmentPrints, size: tuple[int, int]) -> list[Geometry]:
    """Without a watermark: the full frame stretched, and aspect-keeping rescales with centred
    or off-centre crops of up to 30 % (a grid of offsets, refined later)."""
    w_r, h_r = size
    out = [Geometry(w_r / prints.width, h_r / prints.height, 0.0, 0.0, source="search")]
    fill = max(w_r / prints.width, h_r / prints.height)
    for crop in SEARCH_CROPS:
        s = fill / (1.0 - crop)
        span_x, span_y = s * prints.width - w_r, s * prints.height - h_r
        step = max(1.0, s * min(prints.width, prints.height) / GRID / 4)
        xs = np.arange(-span_x, 1e-6, step) if span_x > 0 else np.array([-span_x / 2])
        ys = np.arange(-span_y, 1e-6, step) if span_y > 0 else np.array([-span_y / 2])
        out += [Geometry(s, s, float(x), float(y), source="search") for x in xs for y in ys]
    return out


def _cover(g: Geometry, prints: SegmentPrints, w_r: int, h_r: int) -> float:
    """The share of the received picture (``w_r`` x ``h_r``) that ``g`` places the signed
    picture over."""
    x0, x1 = g.offset_x, g.offset_x + g.scale_x * prints.width
    y0, y1 = g.offset_y, g.offset_y + g.scale_y * prints.height
    ix = max(0.0, min(x1, float(w_r)) - max(x0, 0.0))
    iy = max(0.0, min(y1, float(h_r)) - max(y0, 0.0))
    return ix * iy / float(max(1, w_r * h_r))


def choose_geometry(candidates: Sequence[Geometry], frames: Sequence[np.ndarray],
                    prints: SegmentPrints, *, refine: bool) -> tuple[Geometry | None, float]:
    """The candidate whose picture best matches some signed segment on ``frames`` (luma), and
    its distance; refined to the pixel when ``refine`` (a searched geometry)."""
    if not candidates or not frames:
        return None, float("inf")
    idx = np.linspace(0, len(frames) - 1, min(len(frames), SEARCH_FRAMES)).round().astype(int)
    tables = [integral(frames[i]) for i in sorted(set(idx.tolist()))]
    seg = np.linspace(0, prints.segments - 1, min(prints.segments, SEARCH_SEGMENTS))
    signed = prints.means[np.unique(seg.round().astype(int))]

    def score(g: Geometry) -> float:
        cells, ok = _cells(tables, g, prints)
        return _alignment_distance(cells, ok, signed)

    # A placement that leaves part of the received picture outside the signed one compares
    # fewer cells, and content that repeats (a texture, a pattern with about the tile's
    # period) can then match a whole tile off: among the placements, only those that show
    # the signed picture over (nearly) as much of the received one as the best are scored.
    h_r, w_r = frames[0].shape[:2]
    cover = [_cover(g, prints, w_r, h_r) for g in candidates]
    floor = max(cover) - COVER_SLACK
    scored = sorted(((score(g), i) for i, g in enumerate(candidates) if cover[i] >= floor),
                    key=lambda t: t[0])
    if not scored:
        return None, float("inf")
    best_d, best = scored[0][0], candidates[scored[0][1]]
    if not refine:
        return best, best_d
    for d0, i in scored[:REFINE_TOP]:  # the closest few, each refined to the pixel
        g0, d_g = candidates[i], d0
        step = max(1.0, g0.scale_x * min(prints.width, prints.height) / GRID / 4)
        while step >= 0.5:
            improved = True
            while improved:
                improved = False
                for dx, dy in ((step, 0), (-step, 0), (0, step), (0, -step)):
                    g = Geometry(g0.scale_x, g0.scale_y, g0.offset_x + dx, g0.offset_y + dy,
                                 g0.mirror, g0.source)
                    d = score(g)
                    if d < d_g - 1e-4:
                        g0, d_g, improved = g, d, True
            step /= 2
        if d_g < best_d:
            best, best_d = g0, d_g
    return best, best_d


# --- time and the comparison --------------------------------------------------------------

@dataclass
class _Walk:
    times: list[float] = field(default_factory=list)
    means: list[np.ndarray] = field(default_factory=list)
    energy: list[np.ndarray] = field(default_factory=list)
    shifted: list[np.ndarray] = field(default_factory=list)  # (S, 16, 16) per frame
    cell_ok: np.ndarray | None = None
    block_ok: np.ndarray | None = None


def _shifts(geo: Geometry, prints: SegmentPrints, tolerance: float) -> list[Geometry]:
    """``geo`` moved by up to ``tolerance`` of a cell each way (a searched placement is only
    that precise: the signed fingerprints resolve 1/16 of the frame)."""
    if tolerance <= 0:
        return []
    dx = tolerance * geo.scale_x * prints.width / GRID
    dy = tolerance * geo.scale_y * prints.height / GRID
    return [Geometry(geo.scale_x, geo.scale_y, geo.offset_x + i * dx, geo.offset_y + j * dy,
                     geo.mirror, geo.source) for i in (-1, 0, 1) for j in (-1, 0, 1)
            if i or j]


def _reduction(height: int, width: int) -> int:
    """The block size the timeline walk sums a received frame by first: as large as keeps
    every work pixel at least 2x2 reduced pixels of a frame that shows the whole picture (a
    box edge then moves by under a reduced pixel: a fraction of a work pixel)."""
    return max(1, min(height, width) // (2 * WORK))


def _block_sums(y: np.ndarray, r: int) -> np.ndarray:
    """Sums of ``r`` x ``r`` blocks of ``y`` (the last partial rows and columns dropped)."""
    h, w = (y.shape[0] // r) * r, (y.shape[1] // r) * r
    kind = np.uint16 if r * r * 255 < 2**16 else np.uint32
    rows: np.ndarray = y[0:h:r, :w].astype(kind)
    for i in range(1, r):  # strided adds: much faster than summing a short last axis
        np.add(rows, y[i:h:r, :w], out=rows)
    out: np.ndarray = rows[:, 0::r].copy()
    for j in range(1, r):
        np.add(out, rows[:, j::r], out=out)
    return out


def _reduced(boxes: tuple[np.ndarray, ...], r: int) -> tuple[np.ndarray, ...]:
    x0, x1, y0, y1 = (np.round(b / r).astype(np.int64) for b in boxes)
    return x0, np.maximum(x1, x0 + 1), y0, np.maximum(y1, y0 + 1)


def _walk(frames: Iterable[tuple[float, np.ndarray]], geo: Geometry,
          prints: SegmentPrints, *, tolerance: float = 0.0) -> _Walk:
    """Cell means and block energies of every received frame under ``geo``.

    A large frame is summed by blocks first (:func:`_reduction`: 2x2 for 720p, 4x4 for
    1080p), which makes the walk several times cheaper than a summed-area table of every
    pixel and moves box edges by under a pixel of the reduced frame."""
    walk = _Walk()
    boxes: tuple[np.ndarray, ...] | None = None
    others: list[tuple[np.ndarray, ...]] = []
    r = 1
    for t, y in frames:
        if boxes is None:
            r = _reduction(*y.shape)
            boxes = _reduced(geo.boxes(prints, WORK), r)
            others = [_reduced(g.boxes(prints, GRID), r)
                      for g in _shifts(geo, prints, tolerance)]
        table = (integral(_block_sums(y, r), peak=255 * r * r) / float(r * r) if r > 1
                 else integral(y))
        work, valid = box_means(table, *boxes, slack=max(1, EDGE_SLACK // r))
        means, energy, cell_ok, block_ok = features(work.astype(np.float32), valid)
        walk.times.append(float(t))
        walk.means.append(means)
        walk.energy.append(energy)
        if others:
            walk.shifted.append(np.stack([box_means(table, *b)[0] for b in others]))
        walk.cell_ok, walk.block_ok = cell_ok, block_ok
    return walk


def _segments(times: np.ndarray, offset: float, prints: SegmentPrints, frame_s: float,
              cover_min: float = MIN_SEGMENT_COVER) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's signed segment under ``offset`` (-1 outside), and which segments the
    received clip spans wholly (>= ``cover_min`` of them)."""
    seg_len = prints.segment_s
    k = np.floor((times + offset) / seg_len).astype(np.int64)
    k[(k < 0) | (k >= prints.segments)] = -1
    first, last = times[0] + offset, times[-1] + offset + frame_s
    starts = np.arange(prints.segments) * seg_len
    ends = np.minimum(starts + seg_len, prints.duration_s)
    cover = (np.minimum(ends, last) - np.maximum(starts, first)) / np.maximum(ends - starts, 1e-9)
    present = np.bincount(k[k >= 0], minlength=prints.segments) > 0
    return k, (cover >= cover_min) & present


def _segment_means(values: np.ndarray, k: np.ndarray, full: np.ndarray) -> np.ndarray:
    out = np.zeros((len(full), *values.shape[1:]), np.float64)
    counts = np.zeros(len(full))
    use = k >= 0
    np.add.at(out, k[use], values[use])
    np.add.at(counts, k[use], 1)
    shape = (len(full),) + (1,) * (values.ndim - 1)
    return out / np.maximum(counts, 1).reshape(shape)


def _segment_distance(rec: np.ndarray, signed: np.ndarray, full: np.ndarray,
                      ok: np.ndarray) -> float:
    """The placement distance of :func:`_alignment_distance`, on time-aligned segment means
    instead of single frames against the nearest segment: the median over the segments the
    copy covers of the trimmed, z-scored cell distance to the same signed segment."""
    ids = np.flatnonzero(full)
    flat_ok = ok.ravel()
    rec_rows = rec[ids].reshape(len(ids), -1)[:, flat_ok]
    sig_rows = signed[ids].reshape(len(ids), -1)[:, flat_ok]
    return float(np.median(_row_distance(rec_rows, sig_rows)))


def _time_cost(means: np.ndarray, times: np.ndarray, offset: float, prints: SegmentPrints,
               ok: np.ndarray, frame_s: float,
               cover_min: float = MIN_SEGMENT_COVER) -> tuple[float, int]:
    """How well the copy's segment means match the signed ones under ``offset``: the median
    over covered segments (>= ``cover_min`` of each) of the mean standardised cell distance
    (all cells: a time shift shows where things move), and how many segments are covered."""
    k, full = _segments(times, offset, prints, frame_s, cover_min)
    if not full.any():
        return float("inf"), 0
    rec = _segment_means(means, k, full)[full].reshape(int(full.sum()), -1)[:, ok.ravel()]
    sig = prints.means[full].reshape(int(full.sum()), -1)[:, ok.ravel()]
    per_segment = np.abs(_robust_z(rec) - _robust_z(sig)).mean(axis=1)
    return float(np.median(per_segment)), int(full.sum())


ALTERNATIVE_OFFSETS = 3  # other placements in time kept for a clip whose content repeats
REFINE_OFFSETS = 3  # the coarse time offsets of least cost refined to the frame
UNSPANNED_COVER = 0.5  # an offset spanning no segment is weighed on those it half spans
# An excerpt's place in time is trusted for a frame-exact check (recovery's fine detail) when
# its segment cost is at most this: correct placements of 1-2 s excerpts of the design clips
# and of fast synthetic motion cost 0.003-0.054; a place a repeating scene's excerpt could only
# be given at a wrong repetition (its true place covering no whole segment) cost >= 0.49.
TIME_TRUST = 0.25


# An excerpt's segment means are also compared at offsets up to this far from its place (and
# no farther than its uncertainty): fitted on one or two segment means, an excerpt can be
# placed a few frames off, which moves the mean of a cell whose content changes fast within a
# segment (a 0.6 s held-out excerpt: one moving cell flagged). A full-length copy is certain.
TIME_TOLERANCE_S = 0.2


@dataclass(frozen=True)
class _Placement:
    """Where in the signed clip the copy lies: ``offset`` (signed time minus copy time), other
    offsets as plausible (a segment or more away, within 5 % of its cost: the content repeats),
    best first, its ``cost`` (None: not searched) and its ``uncertainty`` in seconds."""

    offset: float = 0.0
    others: tuple[float, ...] = ()
    cost: float | None = None
    uncertainty: float = 0.0
    doubt: float | None = None  # an unspanned offset that fits better (see _better_unspanned)

    def frames_off(self, frame_s: float) -> int:
        """How many frames off this placement may be, as the comparison allows for it: its
        uncertainty, at most ``TIME_TOLERANCE_S`` (0 for a full-length copy)."""
        return int(min(self.uncertainty, TIME_TOLERANCE_S) / frame_s + 1e-9)


def _frame_steps(centre: float, half: float, frame_s: float) -> np.ndarray:
    """Offsets from ``centre - half`` to ``centre + half`` in frame steps (at least 10 ms)."""
    return np.arange(centre - half, centre + half + 1e-9, max(frame_s, 0.01))


def _time_offset(walk: _Walk, prints: SegmentPrints, frame_s: float) -> _Placement:
    """Where the copy lies in time. A copy as long as the signed clip is taken on its own
    timeline (0, certain: a full-length copy that starts elsewhere is an edit, and shows as
    one); a shorter one (an excerpt) is searched: the offset of least cost, preferring, among
    offsets within 5 % of it, the one that compares the most segments and then the one nearest
    0. Its uncertainty is how far from it those offsets within 5 % lie, and at least half a
    segment."""
    times = np.asarray(walk.times)
    means = np.stack(walk.means)
    assert walk.cell_ok is not None
    ok = walk.cell_ok
    span = times[-1] - times[0] + frame_s
    seg = prints.segment_s
    if span >= prints.duration_s - seg / 2:
        return _Placement()
    hi = max(seg, prints.duration_s - span + seg)
    coarse = np.arange(-seg, hi + 1e-9, seg / 4)
    costs = np.array([_time_cost(means, times, o, prints, ok, frame_s)[0] for o in coarse])

    def refined(centre: float) -> tuple[float, float, float]:
        """(offset, cost, how far offsets within 5 % of its cost lie) near ``centre``."""
        fine = np.unique(np.concatenate([_frame_steps(centre, seg / 4, frame_s), [0.0]]))
        scored = [(o, *_time_cost(means, times, o, prints, ok, frame_s)) for o in fine]
        best = min(c for _, c, _ in scored)
        near = [(float(o), c, n) for o, c, n in scored if c <= best * 1.05 + 1e-6]
        o, c, _ = min(near, key=lambda t: (-t[2], abs(t[0])))
        return o, float(c), max(abs(x - o) for x, _, _ in near)

    # the coarse grid's steps are a quarter segment: the best coarse offset's neighbourhood
    # need not hold the best fine one (a held-out 0.6 s juggling excerpt: coarse 1.875 s beat
    # 1.375 s, refined 1.833 s cost 0.102 and 1.333 s 0.095, the true place 1.2 s)
    near_best = [i for i in np.argsort(costs)[:REFINE_OFFSETS]
                 if costs[i] <= 1.5 * costs.min()] or [int(np.argmin(costs))]
    offset, cost, spread = min((refined(float(coarse[i])) for i in near_best),
                               key=lambda t: t[1])
    others: list[float] = []
    tries = 0
    for i in np.argsort(costs):  # coarse offsets a refinement could bring within 5 %
        if costs[i] > 1.5 * cost + 1e-6 or len(others) == ALTERNATIVE_OFFSETS or tries == 6:
            break
        o = float(coarse[i])
        if all(abs(o - x) > seg for x in (offset, *others)):
            tries += 1
            alt, alt_cost, _ = refined(o)
            if alt_cost <= cost * 1.05 + 1e-6 and all(abs(alt - x) > seg
                                                      for x in (offset, *others)):
                others.append(alt)
    # fitted on segment means, an excerpt's place is only as sure as about half a segment (a
    # 0.6 s excerpt of 0.5 s segments came out 4 frames off with no near tie in its costs)
    placed = _Placement(offset, tuple(others), cost, max(spread, seg / 2))
    return replace(placed, doubt=_better_unspanned(
        means, times, prints, ok, frame_s, placed, np.arange(-seg, hi + 1e-9, seg / 8)))


def _better_unspanned(means: np.ndarray, times: np.ndarray, prints: SegmentPrints,
                      ok: np.ndarray, frame_s: float, placed: _Placement,
                      grid: np.ndarray) -> float | None:
    """The offset, to the frame, under which the copy spans no whole segment (so it cannot be
    compared there) but half or more of one, that fits best, when it fits better than
    ``placed`` and lies beyond its tolerance and every other offset it keeps (None: none
    does). An excerpt shorter than two segments can lie where it spans none; its best
    spanning placement can then be another repetition of the content, and a difference
    found there says nothing about the copy."""
    span = times[-1] - times[0] + frame_s
    if placed.cost is None or span >= (1 + MIN_SEGMENT_COVER) * prints.segment_s:
        return None  # spans a whole segment wherever it lies

    def cost(o: float) -> float:
        if _segments(times, o, prints, frame_s)[1].any():
            return float("inf")  # spans a segment: the search has weighed it
        return _time_cost(means, times, o, prints, ok, frame_s, UNSPANNED_COVER)[0]

    coarse = np.array([cost(float(o)) for o in grid])
    if not np.isfinite(coarse).any():
        return None
    step = float(grid[1] - grid[0]) if len(grid) > 1 else prints.segment_s
    fine = [float(o) for i in np.argsort(coarse)[:REFINE_OFFSETS] if np.isfinite(coarse[i])
            for o in _frame_steps(float(grid[i]), step, frame_s)]
    best_cost, best = min((cost(o), o) for o in fine)
    reach = placed.frames_off(frame_s) * frame_s + frame_s / 2
    if best_cost < placed.cost and all(abs(best - x) > reach
                                       for x in (placed.offset, *placed.others)):
        return best
    return None


@dataclass(frozen=True)
class _Shift:
    """The copy's frames under one offset within an excerpt's uncertainty: each frame's signed
    segment (``k``) and, per segment, how many of its frames the copy lacks there."""

    k: np.ndarray
    missing: np.ndarray

    def means(self, values: np.ndarray, full: np.ndarray) -> np.ndarray:
        return _segment_means(values, self.k, full)

    def allowance(self, values: np.ndarray, full: np.ndarray, length: np.ndarray) -> np.ndarray:
        """How far each segment mean of ``values`` (per frame) may be off through the frames
        the copy lacks: their share of the segment times the value's range over the frames
        it has there and as many beyond (0 where it lacks none)."""
        out = np.zeros((len(full), *values.shape[1:]))
        for s in np.flatnonzero(full & (self.missing > 0)):
            idx = np.flatnonzero(self.k == s)
            if len(idx) == 0:
                continue
            m = int(np.ceil(self.missing[s]))
            near = values[max(0, int(idx[0]) - m): int(idx[-1]) + m + 1]
            share = min(1.0, float(self.missing[s]) / max(float(length[s]), 1.0))
            out[s] = share * (near.max(axis=0) - near.min(axis=0))
        return out


def _time_shifts(times: np.ndarray, placement: _Placement, prints: SegmentPrints,
                 full: np.ndarray, frame_s: float) -> tuple[list[_Shift], np.ndarray]:
    """The placement's own frames and those under each offset within its tolerance (frame
    steps; none for a full-length copy), the placement first; and each segment's length in
    frames. An excerpt fitted on one or two segment means can be a few frames off, and its
    true place may span a segment only in part (a 0.6 s excerpt of 0.5 s segments): the
    comparison takes, per cell, the offset that fits best, allowing for the frames the copy
    lacks under it (what a static change adds is the same under every offset, and lacks
    nothing to hide behind where the copy spans the segment)."""
    starts = np.arange(prints.segments) * prints.segment_s
    length = (np.minimum(starts + prints.segment_s, prints.duration_s) - starts) / frame_s
    out: list[_Shift] = []
    steps = placement.frames_off(frame_s)
    for j in sorted(range(-steps, steps + 1), key=abs):
        k, _ = _segments(times, placement.offset + j * frame_s, prints, frame_s)
        count = np.bincount(k[k >= 0], minlength=prints.segments)[: prints.segments]
        # a full-length copy's place is certain: what its segments lack is not allowed for
        missing = np.maximum(length - count, 0.0) * (placement.uncertainty > 0)
        missing[count == 0] = np.inf
        out.append(_Shift(k, np.where(full, missing, np.inf)))
    return out, length


def _tone_curve(signed: np.ndarray, received: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """A monotone map signed -> received luma from binned medians, robust to the cells an edit
    changed (a minority). Each bin's received level is its signed median plus the median of
    the cells' shifts (received minus signed), not the median of the received values: a patch
    of darker content over some of a bin's cells shifts the received values' median by the
    ranks it displaces, the shifts' median hardly (a held-out juggling clip with a 13 % patch
    over its brightest cells for 1 of its 3 s: the curve bent 25 levels down at the top, every
    bright cell of the clip read as changed, grouped as one overlay all clip long)."""
    if signed.size < 16:
        return lambda x: x
    edges = np.quantile(signed, np.linspace(0, 1, 9))
    xs, ys = [], []
    for lo, hi in itertools.pairwise(edges):
        sel = (signed >= lo) & (signed <= hi)
        if sel.sum() >= 4:
            x = float(np.median(signed[sel]))
            xs.append(x)
            ys.append(x + float(np.median(received[sel] - signed[sel])))
    if len(xs) < 2:
        return lambda x: x
    xa, ya = np.asarray(xs), np.maximum.accumulate(np.asarray(ys))
    lo = float(np.clip((ya[1] - ya[0]) / max(xa[1] - xa[0], 1e-6), 0.0, 3.0))
    hi = float(np.clip((ya[-1] - ya[-2]) / max(xa[-1] - xa[-2], 1e-6), 0.0, 3.0))
    x_ext = np.concatenate([[xa[0] - 256.0], xa, [xa[-1] + 256.0]])
    y_ext = np.concatenate([[ya[0] - 256.0 * lo], ya, [ya[-1] + 256.0 * hi]])
    return lambda x: np.interp(x, x_ext, y_ext)


def compare(prints: SegmentPrints, frames: Iterable[tuple[float, np.ndarray]], *,
            sample: Sequence[np.ndarray], candidates: Sequence[Geometry],
            size: tuple[int, int], fps: float, searched: bool, view: View | None = None,
            received: tuple[int, int] | None = None) -> Comparison:
    """Align the received clip (``frames``: every (time, luma) of it, walked once; ``sample``:
    a few decoded luma frames to choose the geometry on) and compare it with ``prints``.

    With a ``view``, ``frames`` and ``sample`` are already its corrected pictures (``size``
    is theirs) and regions are reported in the ``received`` frame through it."""
    view = view or View()
    received = received or size
    geo, distance = choose_geometry(candidates, sample, prints, refine=searched)
    frame_s = 1.0 / fps if fps and fps > 0 else 1.0 / 25
    none = Comparison(False, geo, 0.0, 0.0, 0.0, 0.0, prints.duration_s, 1.0,
                      extra={"align_distance": round(distance, 4)})
    no_match = "no placement of the signed picture matches this clip"
    # A watermark placement whose sample frames sit far from every signed segment is judged
    # again below on the walk's segment averages (fast motion: one frame is far from the
    # average of its segment); a searched one has no such second look.
    if geo is None or (distance > MAX_ALIGN_DISTANCE and searched):
        return _with(none, detail=no_match)
    walk = _walk(frames, geo, prints, tolerance=SEARCH_TOLERANCE if searched else 0.0)
    if not walk.times or walk.cell_ok is None or walk.cell_ok.sum() < 16:
        return _with(none, detail="too little of the signed picture is visible to compare")
    received_s = walk.times[-1] - walk.times[0] + frame_s
    placement = _time_offset(walk, prints, frame_s)
    offset = placement.offset
    times = np.asarray(walk.times)
    k, full = _segments(times, offset, prints, frame_s)
    if not full.any():  # nothing to compare: neither a match nor a mismatch
        return replace(none, undecided=True, detail=(
            f"this {received_s:.1f} s clip spans no whole {prints.segment_s:g} s segment of "
            "the signed clip's fingerprints"))
    if placement.doubt is not None:
        return replace(none, undecided=True, detail=(
            f"where this {received_s:.1f} s clip lies in the signed clip is uncertain: it fits "
            f"best at {max(placement.doubt, 0.0):.2f} s, where it spans no whole "
            f"{prints.segment_s:g} s segment of the signed clip's fingerprints"))
    assert walk.block_ok is not None
    walked = np.stack(walk.means)
    rec = _segment_means(walked, k, full)
    second_look: dict[str, float] = {}
    if distance > MAX_ALIGN_DISTANCE:
        second_look["segment_distance"] = round(
            _segment_distance(rec, prints.means, full, walk.cell_ok), 4)
        if second_look["segment_distance"] > MAX_ALIGN_DISTANCE:
            return _with(replace(none, extra={**none.extra, **second_look}), detail=no_match)
    energies = np.stack(walk.energy)
    rec_e = _segment_means(energies, k, full)
    cell_ok, block_ok = walk.cell_ok, walk.block_ok
    seg_ids = np.flatnonzero(full)

    sig = prints.means.astype(np.float64)
    curve = _tone_curve(sig[seg_ids][:, cell_ok].ravel(), rec[seg_ids][:, cell_ok].ravel())
    expected = curve(sig)
    residual = np.abs(rec - expected)
    if walk.shifted:  # a searched placement: the best of the nearby placements per cell
        shifted = _segment_means(np.stack(walk.shifted), k, full)  # (K, S, 16, 16)
        residual = np.minimum(residual, np.abs(shifted - expected[:, None]).min(axis=1))
    motion = np.zeros_like(sig)
    motion[1:] = np.abs(sig[1:] - sig[:-1])
    motion[:-1] = np.maximum(motion[:-1], np.abs(sig[1:] - sig[:-1]))
    base = MEAN_THRESHOLD + MOTION_SHARE * motion

    sig_e = prints.energy.astype(np.float64)
    usable = block_ok[None] & (np.maximum(rec_e, sig_e) > ENERGY_FLOOR)
    # each block's change against the clip's median change, at the placement
    ratio = np.log2((rec_e + 0.5) / (sig_e + 0.5))
    countable = (full & (usable.sum(axis=(1, 2)) >= 4))[:, None, None]
    median = np.zeros((len(full), 1, 1))
    for s in np.flatnonzero(countable):
        median[s] = np.median(ratio[s][usable[s]])
    change_sign = np.where(countable, np.sign(ratio - median), 0.0)

    # the best fitting offset within an excerpt's uncertainty, per cell and per block
    cell_score = np.full(sig.shape, np.inf)
    block_score = np.full(sig_e.shape, np.inf)
    shifts, length = _time_shifts(times, placement, prints, full, frame_s)
    for j, shift in enumerate(shifts):
        there = np.isfinite(shift.missing)[:, None, None]
        cells = residual if j == 0 else np.abs(shift.means(walked, full) - expected)
        allow = shift.allowance(walked, full, length)
        cell_score = np.minimum(cell_score, np.where(there, cells / (base + allow), np.inf))
        energy = rec_e if j == 0 else shift.means(energies, full)
        lacking = shift.allowance(energies, full, length)
        ratio_allow = np.log2((energy + 0.5) / (np.maximum(energy - lacking, 0.0) + 0.5))
        dev = np.log2((energy + 0.5) / (sig_e + 0.5)) - median
        beyond = np.maximum(np.abs(dev) - ratio_allow, 0.0) / ENERGY_THRESHOLD
        block_score = np.minimum(block_score, np.where(there, beyond, np.inf))
    cell_score[~np.isfinite(cell_score)] = 0.0
    block_score = np.where(usable & countable & np.isfinite(block_score), block_score, 0.0)
    expand = np.ones((1, 2, 2))
    block_cells = np.kron(block_score, expand)
    sign_cells = np.kron(change_sign, expand)

    score = np.where(cell_ok[None], np.maximum(cell_score, block_cells), 0.0)
    score[~full] = 0.0
    flagged = score > 1.0
    compared_cells = int(cell_ok.sum()) * len(seg_ids)
    share = float(flagged.sum()) / max(compared_cells, 1)
    # cells one cell apart belong to one change (a pasted region's border cells may pass)
    near = ndimage.binary_dilation(flagged, structure=np.ones((1, 3, 3), bool))
    labels, count = ndimage.label(near, structure=np.ones((3, 3, 3)))
    labels[~flagged] = 0
    diffs: list[ContentDifference] = []
    overlays: list[ContentDifference] = []
    overlay_cells = 0
    seg_len = prints.segment_s
    for idx, where in enumerate(ndimage.find_objects(labels), start=1):
        if where is None:
            continue
        member = labels[where] == idx
        ks, rows, cols = where
        segs_hit = np.unique(np.flatnonzero(member.any(axis=(1, 2))) + ks.start)
        start = max(0.0, ks.start * seg_len - offset)
        end = min(received_s, ks.stop * seg_len - offset)
        box = (rows.start, rows.stop, cols.start, cols.stop)
        area_cells = int(member.any(axis=0).sum())
        region: tuple[float, float, float, float] | None = view.to_received(
            geo.region(prints, box, size), size, received)
        if area_cells >= 0.9 * int(cell_ok.sum()):
            region = None
        sub_cells = cell_score[where][member]
        sub_blocks = block_cells[where][member]
        if sub_cells.max(initial=0.0) >= sub_blocks.max(initial=0.0):
            change = "content"
        else:
            change = ("detail-lost" if float(np.median(sign_cells[where][member])) < 0
                      else "detail-added")
        item = ContentDifference(round(start, 2), round(end, 2), region,
                          round(float(score[where][member].max()), 2), change)
        if _is_overlay(segs_hit, len(seg_ids), region, area_cells):
            overlays.append(item)
            overlay_cells += area_cells
        else:
            diffs.append(item)
    if overlay_cells > OVERLAY_MAX_AREA * GRID * GRID:  # no caption band and logo: changes
        diffs, overlays = diffs + overlays, []
    compared_s = float(min(received_s, len(seg_ids) * seg_len))
    return Comparison(
        aligned=True, geometry=geo, time_offset_s=round(offset, 3), view=view,
        other_offsets_s=tuple(round(o, 3) for o in placement.others),
        time_uncertainty_s=round(placement.uncertainty, 3),
        time_cost=None if placement.cost is None else round(placement.cost, 4),
        frame_coverage=round(float(cell_ok.mean()), 3), compared_s=round(compared_s, 2),
        received_s=round(received_s, 2), signed_s=round(prints.duration_s, 2),
        differing_share=round(share, 4),
        differences=tuple(sorted(diffs, key=lambda d: (d.start_s, -d.score))),
        overlays=tuple(overlays),
        extra={"align_distance": round(distance, 4), **second_look,
               "max_score": round(float(score.max()), 3), "segments": float(count)})


def _is_overlay(segs_hit: np.ndarray, compared: int,
                region: tuple[float, float, float, float] | None, area_cells: int) -> bool:
    if region is None or len(segs_hit) < OVERLAY_TIME * compared:
        return False
    x, y, w, h = region
    at_edge = x <= 0.07 or y <= 0.07 or x + w >= 0.93 or y + h >= 0.93
    return at_edge and w * h <= OVERLAY_MAX_AREA and area_cells <= OVERLAY_MAX_AREA * GRID * GRID


def _with(c: Comparison, *, detail: str) -> Comparison:
    return replace(c, detail=detail)


__all__ = ["Comparison", "Geometry", "View", "compare", "search_geometries",
           "watermark_geometries"]
