"""The mark search: whiten the sampled frames, find the tile period and offset, decode, test.

Both pattern versions share the tile geometry (see :mod:`.pattern`), so one pass over the
frames serves four searches per key (run in the order of :data:`SEARCHES`, stopping once a
mark is found), each with its own keyed sync template:

- ``v1``: the constant v1 mark. The frames' residuals are averaged (the mark is the same in
  every frame, the content is not) and the average is whitened once more.
- ``v2-mean``: a v2 mark whose sign did not change over the sample: a short excerpt, or a
  re-encode that froze the mark of one keyframe into the frames predicted from it (x264 at
  CRF 35 does this). Same average as ``v1``, but the sync peak may be negative.
- ``v2``: the time-modulated v2 mark. Each frame's residual minus the sample's mean residual
  (what stays put, static content included, cancels) is folded into one tile and correlated
  with the sync template; squares are summed over frames (the signs are unknown), which
  fixes the alignment. Each frame's sync correlation there estimates its sign and strength,
  and the frames are combined with those weights (maximal-ratio combining), which undoes the
  modulation without frame numbers. The averaged residual's own sync correlation is added
  (a mark partly frozen by a re-encode), and the unattacked alignment is always tried.
- ``v2-scan``: the ``v2`` search over a ladder of aspect-keeping scales, for crops whose
  period the autocorrelation of frames of unknown sign does not show.

Per search:

1. Every sampled luma frame is binned down while chips stay >= ``MIN_BINNED_CHIP`` pixels,
   high-passed and whitened on its own.
2. Scale sync: the tile repeats, so the residual's autocorrelation (of the average, or summed
   over frames for ``v2``) has peaks at multiples of the tile period along each axis (and on
   the whole tile lattice for a rescale that keeps the aspect ratio). The periods are
   searched around the period a frame of this size would have (a rescale keeps it, a crop of
   up to a third enlarges it); ``v2-scan`` tries every scale of that range instead.
3. The residual is folded modulo the period into one tile (``Q`` sub-bins per chip) and the
   keyed sync template is circularly cross-correlated with it: the peak gives the offset.
   Periods, offsets and frame weights are chosen from the sync chips alone.
4. At the ``DECODES_PER_SEARCH`` best alignments the payload chips are read, de-spread with
   their keyed signs and scramble mask, summed into 248 soft bits and soft-decoded with the
   version byte known (:func:`.payload.osd_decode`: 2^56 candidate codewords).
5. The test (:func:`.stats.correlation_p_value`): the chips' normalised correlation ``z`` with
   the decoded codeword. Under "no watermark" the payload chips' keyed signs are fair coins
   independent of the content and of the sync chips that chose the alignment and the weights,
   so ``P(z >= t) <= exp(-t^2/2)`` per codeword (Hoeffding); the union over the 2^56
   codewords, every decode of every search (:data:`DECODES_PER_KEY`, counted whether or not
   it ran) and the keys gives the p-value. ``present`` only below the threshold.

Geometry hypotheses (watermark v3 detection; they read v1 and v2 marks as they are):

- **Orientation** (:data:`ORIENTS`): a flip or a right-angle turn of the picture flips or
  turns every tile alike, so each of the 8 hypotheses (upright, mirrored, turned 90/180/270
  degrees, and those mirrored) is the same search with the keyed chip grid oriented alike
  (:func:`orient_grid`); the folds of the frames are shared.
- **Small turns** (up to :data:`MAX_TILT` degrees): the tile lattice shows in the frames'
  summed autocorrelation whatever their v2 signs; it is scored over a grid of angles and
  periods, and when a turned lattice stands out (:func:`_tilt_estimate`) the residuals are
  turned back and every orientation is searched again.
- **Pictures** (:data:`MAX_REGIONS`): the whole frame; the whole frame read as a full-height
  crop of a wider picture (a 9:16 reframe of a 16:9 clip, or a crop keeping about 0.35-0.65
  of each edge: the nominal chip is taken from the long side); and the sub-regions of
  :func:`find_regions`: the picture between flat bars (letterbox, pillarbox) and a
  picture-in-picture rectangle (persistent straight edges), searched as pictures of their
  own, so their tile period is the nominal one again.

Every hypothesis family is counted in the p-value whether it ran or not:
:data:`HYPOTHESES_PER_KEY` = :data:`DECODES_PER_KEY` x 8 orientations x :data:`MAX_REGIONS`
x :data:`TILTS`. Hypotheses other than the upright whole frame decode only alignments whose
sync peak stands out (:data:`HYPOTHESIS_MIN_SYNC`, :data:`ENERGY_GATE`): that saves time and
changes no bound.

**Evidence gate** (:func:`_gate_open`): every picture (whole frame, its full-height-crop
reading, each sub-region) is searched upright as before, and a small turn the lattice shows
as before; the seven flipped and right-angle-turned orientations only where the picture shows
a sign of a mark, worked out once per picture whatever the orientation: the square tile
lattice (the same under flips and right-angle turns) stands out in the frames' summed
autocorrelation or the averaged residual's, or some key's sync energy stands out at the
picture's nominal period in some orientation. A skipped hypothesis is counted in the p-value
all the same, so the gate can only miss a mark, never report one. The upright search of the
other pictures is not gated: on the robustness benchmark, 11 of the 31 marks found in them
(crops of half the frame, some 9:16 reframes) showed lattice and sync statistics within the
range of unmarked pictures', and gating those pictures lost them.

``alignment`` (``WatermarkCheck.alignment``), how the received frame maps onto the signed one.
Received-frame pixel coordinates: ``x`` to the right, ``y`` down, origin at the top-left
corner of the frame.

1. ``region_x``, ``region_y``, ``region_w``, ``region_h`` (present only when the mark was found
   in a sub-region): the rectangle of the received frame that holds the signed picture; the
   searched picture is ``frame[region_y:region_y + region_h, region_x:region_x + region_w]``.
   Without these keys the searched picture is the whole frame.
2. ``rotation``: degrees the received picture is turned counter-clockwise (as displayed)
   relative to the signed one, in ``(-180, 180]``; the sum of a right-angle part (a multiple of
   90) and ``tilt`` (present only for a small turn, about the centre of the searched picture).
   ``mirror``: 1.0 when the signed picture was flipped left-right before that turn
   (``received = turn(flip(signed))``), else 0.0.
   The **corrected picture** is the searched picture turned back: clockwise by ``tilt`` about
   its centre (same size, corners empty), then clockwise by the right-angle part
   (``np.rot90(picture, -k)``, which swaps width and height for 90 and -90), then flipped
   left-right when ``mirror`` is 1.0.
3. In the corrected picture's axes: ``period_x``, ``period_y`` are the tile period in its
   pixels; ``scale_x``, ``scale_y`` that period over the period a frame of the corrected
   picture's size would have (1.0: the signed picture was only rescaled, aspect kept; > 1: it
   was cropped, or zoomed); ``offset_x``, ``offset_y`` are where a tile's top-left corner lies,
   modulo the period. The signed frame's tiles start at its own top-left corner, with period
   ``T = 32 * min(H, W) / 96`` of its own pixels (``pattern.P * pattern.chip_px(H, W)``), so
   a corrected-picture pixel ``(xc, yc)`` shows the signed pixel
   ``xs = (xc - offset_x) * T / period_x + i * T``, ``ys = (yc - offset_y) * T / period_y + j * T``
   for some whole ``i, j`` (the tile repeats: the mark fixes the translation only modulo one
   tile; a comparison with the signed content picks ``i, j``, at most a few per axis).
4. ``sync_z``, ``payload_z``: the sync peak and the test statistic; ``modulated``: 1.0 when the
   frames were combined by their v2 signs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage, sparse

from veriframe.errors import WatermarkError
from veriframe.results import WatermarkCheck, WatermarkState
from veriframe.watermark.keys import WatermarkKey
from veriframe.watermark.pattern import CHIPS, Layout, P, chip_px, layout_for
from veriframe.watermark.payload import ID_BITS, Payload, codeword_bits, osd_decode
from veriframe.watermark.stats import correlation_p_value

Q = 4  # sub-bins per chip when folding (offset resolution: a quarter chip)
PQ = P * Q
PERIOD_RANGE = (0.85, 1.6)  # searched period relative to the unattacked one
PERIOD_STEP = 0.25  # pixels
REFINE_SPAN = 0.012  # +- share of the period searched around a candidate
REFINE_MARGIN = 0.5  # sync z a refined period must gain over the candidate's own
DEFAULT_THRESHOLD = 1e-6
REFINE = 2  # candidate period pairs refined by the sync peak, per search
PEAKS = 2  # sync peaks decoded per refined candidate
DECODES_PER_SEARCH = REFINE * PEAKS  # alignments whose payload is decoded and tested
SEARCHES = ("v2", "v2-mean", "v1", "v2-scan")
DECODES_PER_KEY = DECODES_PER_SEARCH * len(SEARCHES)  # per orientation and region
# Orientation hypotheses (see :func:`orient_grid`), in the order tried: as signed, mirrored,
# turned 180 degrees, turned 90 and 270 degrees, then those mirrored.
ORIENTS = (0, 4, 2, 1, 3, 6, 5, 7)
SCAN_ORIENTS = (0, 4)  # the scale scan runs for the upright picture and its mirror only
# Pictures searched: the whole frame; the whole frame read as a full-height crop of a wider
# picture (a 9:16 reframe of a 16:9 clip: the signed picture's short side was the received
# long side); up to two sub-regions (letterbox, picture-in-picture).
MAX_REGIONS = 4
RESHAPED_ASPECT = 1.2  # the full-height-crop reading is tried when the frame is this oblong
TILTS = 2  # the upright picture and at most one estimated small turn, per region
HYPOTHESES_PER_KEY = DECODES_PER_KEY * len(ORIENTS) * MAX_REGIONS * TILTS
MAX_TILT = 12.0  # degrees: small turns searched from the tile lattice (then the right angles)
TILT_STEP = 0.5
MIN_TILT = 0.75  # a smaller turn is read by the upright searches
TILT_MIN_Z = 5.5  # lattice score (z over the angle x period grid) a turn needs
TILT_MARGIN = 1.5  # and by how much it must beat the upright lattice
# Evidence (:func:`_gate_open`) a picture needs before its flipped and right-angle-turned
# hypotheses are searched: without it they are skipped (and still counted in the p-value), so
# the gate can only lose a mark, never add one.
LATTICE_GATE = 6.5  # tile-lattice z (over angles x periods) in the summed autocorrelation
SYNC_GATE = 14.0  # per-frame sync energy z (over offsets) at the nominal period
HYPOTHESIS_MIN_SYNC = 5.0  # sync z below which a non-default hypothesis is not decoded
ENERGY_GATE = 16.0  # per-frame sync energy (z over offsets) a non-default ``v2`` offset needs
DEFAULT_MAX_FRAMES = 32
MIN_SIDE = 48
MIN_VARYING_FRAMES = 3  # fewer frames: no temporal mean to subtract, so no ``v2`` search
VARYING_PERIODS = 2  # aspect-keeping period candidates for the ``v2`` search (per-frame folds)
VARYING_OFFSETS = 3  # best offsets per period pair whose frame weights are worked out
SCAN_FRAMES = 24  # frames that score the scan's scales
SCAN_STEP = 1.025  # ratio between the scales the ``v2-scan`` search tries
SCAN_COMBINED = 3  # best scales of the scan combined at full resolution
SCAN_MIN_SYNC = 4.5  # combined sync z below which a scanned scale is not decoded
SCAN_Q = 2  # sub-bins per chip in that scan (a coarser offset grid: 4x fewer FFT bins)
MEAN_PERIODS_TOO = 2  # the averaged residual's best aspect-keeping periods, tried as well
VARYING_COMBINED = 3  # best (period, offset) candidates combined at full resolution
TRUNCATE = 2.5  # Gaussian kernels cut at 2.5 sigma: the per-frame filters dominate the cost
MIN_BINNED_CHIP = 2.5  # pixels per chip kept when binning the frames down
# Stop searching once a mark is this far below the threshold (a later search could only
# report a second mark in the same frames; the p-value still counts every decode).
EARLY_EXIT = 1e-6
_VERSION = {"v1": 1, "v2-mean": 2, "v2": 2, "v2-scan": 2}


def _lattice_mean(auto: np.ndarray, ly: np.ndarray, lx: np.ndarray,
                  valid: np.ndarray) -> np.ndarray:
    """Mean over each row of lattice points (``ly``, ``lx``, in lags) of the periodic
    autocorrelation ``auto``, sampled bilinearly; points outside ``valid`` do not count."""
    h, w = auto.shape
    y0, x0 = np.floor(ly), np.floor(lx)
    fy, fx = ly - y0, lx - x0
    gy, gx = 1 - fy, 1 - fx
    # flat indices of the four neighbours, wrapped once (this runs for every angle)
    ya, xa = y0.astype(np.int64) % h, x0.astype(np.int64) % w
    yb, xb = ya + 1, xa + 1
    yb[yb == h] = 0
    xb[xb == w] = 0
    ya *= w
    yb *= w
    flat = auto.ravel()
    vals = (
        flat[ya + xa] * gy * gx
        + flat[yb + xa] * fy * gx
        + flat[ya + xb] * gy * fx
        + flat[yb + xb] * fy * fx
    )
    return (vals * valid).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)


def _largest(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest of the flat array ``values``, largest first: the same as
    ``np.argsort(values)[::-1][:k]`` (a partition instead of a full sort; where ties or NaNs
    near the top leave the order to the sort, the full sort decides, as before)."""
    if values.size <= k + 1:
        return np.argsort(values)[::-1][:k]
    top = np.argpartition(values, values.size - k - 1)[-k - 1 :]
    top = top[np.argsort(values[top])[::-1]]
    head = values[top]
    if np.isnan(head).any() or bool((head[:-1] == head[1:]).any()):
        return np.argsort(values)[::-1][:k]
    return top[:k]


def _pick_frames(luma: np.ndarray, max_frames: int) -> np.ndarray:
    n = luma.shape[0]
    if n > max_frames:
        idx = np.linspace(0, n - 1, max_frames).round().astype(np.int64)
        luma = luma[idx]
    return luma


def _bin(frame: np.ndarray, f: int) -> np.ndarray:
    """float32 frame, averaged over f x f blocks (cropped to a multiple of f)."""
    if f == 1:
        return frame.astype(np.float32)
    hb, wb = frame.shape[0] // f * f, frame.shape[1] // f * f
    acc = frame[0:hb:f, 0:wb:f].astype(np.float32)
    for i in range(f):
        for j in range(f):
            if i or j:
                acc += frame[i:hb:f, j:wb:f]
    acc *= 1.0 / (f * f)
    return acc


def _smooth_abs(r: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smoothed ``|r|``, computed on a 4x4-binned copy (it is smooth at this scale)."""
    h, w = r.shape
    if sigma < 4.0 or min(h, w) < 64:
        smooth = ndimage.gaussian_filter(np.abs(r), sigma, mode="nearest", truncate=TRUNCATE)
        return np.asarray(smooth)
    small = _bin(np.abs(r), 4)
    small = ndimage.gaussian_filter(small, sigma / 4.0, mode="nearest", truncate=TRUNCATE)
    full = np.repeat(np.repeat(small, 4, axis=0), 4, axis=1)
    return np.pad(full, ((0, h - full.shape[0]), (0, w - full.shape[1])), mode="edge")


def _residual(y: np.ndarray, chip: float) -> np.ndarray:
    """One frame high-passed and divided by its local activity (a cheap local whitening).

    Every frame is whitened on its own before frames are combined, so a busy or badly
    compressed frame cannot drown the others. The embedder scales the mark with local
    texture, and content noise grows with texture faster than the mark does, so busy areas
    are weighted down; clipping keeps strong edges from dominating.
    """
    low = ndimage.gaussian_filter(y, sigma=max(1.0, 0.8 * chip), mode="nearest", truncate=TRUNCATE)
    r = y - low
    act = _smooth_abs(r, 1.5 * chip)
    r /= act + 0.5
    s = float(np.sqrt(np.vdot(r, r) / r.size))  # ~ std: r has next to no mean
    if s > 0:
        np.clip(r, -2.5 * s, 2.5 * s, out=r)
    return r


def _period_scores(profile: np.ndarray, t0: float, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(grid, score): the mean autocorrelation at the multiples of each candidate period."""
    grid = np.arange(PERIOD_RANGE[0] * t0, PERIOD_RANGE[1] * t0, PERIOD_STEP)
    grid = grid[grid < 0.75 * length]
    if grid.size == 0:
        return np.array([t0]), np.zeros(1)
    kmax = max(1, int(0.75 * length / grid[0]))
    ks = np.arange(1, kmax + 1)
    lags = grid[:, None] * ks[None, :]
    valid = lags < 0.75 * length
    weights = np.where(valid, 1.0, 0.0)
    vals = np.interp(np.where(valid, lags, 0.0), np.arange(profile.size), profile)
    return grid, (vals * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)


def _lattice_scores(auto: np.ndarray, t0: float) -> tuple[np.ndarray, np.ndarray]:
    """(grid, score) for a rescale that keeps the aspect ratio: the mean autocorrelation at
    every point (k T, l T) of the tile lattice inside the frame (not just along the axes)."""
    h, w = auto.shape
    grid = np.arange(PERIOD_RANGE[0] * t0, PERIOD_RANGE[1] * t0, PERIOD_STEP)
    grid = grid[grid < 0.75 * min(h, w)]
    if grid.size == 0:
        return np.array([t0]), np.zeros(1)
    ky = np.arange(-int(0.75 * h / grid[0]), int(0.75 * h / grid[0]) + 1)
    kx = np.arange(0, int(0.75 * w / grid[0]) + 1)  # the autocorrelation is symmetric
    k, m = np.meshgrid(ky, kx, indexing="ij")
    keep = (m > 0) | (k > 0)
    k, m = k[keep], m[keep]
    ly = grid[:, None] * k[None, :]
    lx = grid[:, None] * m[None, :]
    valid = (np.abs(ly) < 0.75 * h) & (lx < 0.75 * w)
    score = _lattice_mean(auto, ly, lx, valid)
    return grid, score


def _top_periods(grid: np.ndarray, score: np.ndarray, t0: float, top: int) -> list[float]:
    """The ``top`` best periods of a scored grid, at least 2 % of ``t0`` apart."""
    picked: list[float] = []
    for i in np.argsort(score)[::-1]:
        t = float(grid[i])
        if all(abs(t - p) > 0.02 * t0 for p in picked):
            picked.append(t)
        if len(picked) >= top:
            break
    return picked


def _rotated_lattice_scores(
    auto: np.ndarray, grid: np.ndarray, angles: np.ndarray
) -> np.ndarray:
    """(angles, periods): the mean autocorrelation at the points of a square tile lattice of
    each period, turned by each angle (degrees, in the array's row/column frame)."""
    h, w = auto.shape
    kmax = int(0.75 * min(h, w) / grid[0]) + 1
    k, m = np.meshgrid(np.arange(-kmax, kmax + 1), np.arange(0, kmax + 1), indexing="ij")
    keep = (m > 0) | (k > 0)  # the autocorrelation is symmetric
    k, m = k[keep], m[keep]
    out = np.zeros((angles.size, grid.size))
    for i, a in enumerate(np.deg2rad(angles)):
        c, s = math.cos(a), math.sin(a)
        ly = grid[:, None] * (k * c + m * s)[None, :]
        lx = grid[:, None] * (m * c - k * s)[None, :]
        valid = (np.abs(ly) < 0.75 * h) & (np.abs(lx) < 0.75 * w)
        out[i] = _lattice_mean(auto, ly, lx, valid)
    return out


def _lattice_z(stack: np.ndarray, t0: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(angles, z): the square tile lattice's score in the summed autocorrelation of
    ``stack`` ((N, h, w) or (h, w)) over (angle, period), standardised over that grid;
    ``None`` when no period of the range fits. ``t0``: the nominal period in its pixels."""
    spec = sp_fft.rfft2(stack, axes=(-2, -1))
    power = spec.real**2 + spec.imag**2
    if power.ndim == 3:
        power = power.sum(axis=0)
    auto = sp_fft.irfft2(power, s=stack.shape[-2:])
    auto /= float(auto[0, 0]) or 1.0
    grid = np.arange(PERIOD_RANGE[0] * t0, PERIOD_RANGE[1] * t0, PERIOD_STEP)
    grid = grid[grid < 0.75 * min(stack.shape[-2:])]
    if grid.size == 0:
        return None
    angles = np.arange(-MAX_TILT, MAX_TILT + 1e-9, TILT_STEP)
    scores = _rotated_lattice_scores(auto, grid, angles)
    return angles, (scores - scores.mean()) / (float(scores.std()) or 1.0)


def _tilt_estimate(fr: _Frames) -> float | None:
    """The small turn (degrees counter-clockwise, ``|angle| <= MAX_TILT``) of the received
    picture, from the tile lattice in the frames' summed autocorrelation; ``None`` when no
    turned lattice stands out (or the best lattice is not turned).

    The tile repeats, so every frame's residual (whatever its v2 sign) has autocorrelation
    peaks on the tile lattice; a turned picture turns the lattice. Scores over (angle,
    period) are standardised over the grid; the best must reach :data:`TILT_MIN_Z` and beat
    the best unturned score by :data:`TILT_MARGIN`. A square lattice repeats every 90
    degrees: the right angles are the orientation hypotheses' job.
    """
    lattice = fr.lattice
    if lattice is None:
        return None
    angles, z = lattice
    best = np.unravel_index(int(np.argmax(z)), z.shape)
    lattice_angle = float(angles[best[0]])
    upright = float(z[int(np.argmin(np.abs(angles))), :].max())
    if abs(lattice_angle) < MIN_TILT or z[best] < TILT_MIN_Z or z[best] < upright + TILT_MARGIN:
        return None
    return -lattice_angle  # the lattice turns the other way in row/column coordinates


def _gate_open(fr: _Frames, keys: Sequence[WatermarkKey]) -> bool:
    """Whether a picture shows enough of a mark, whatever its orientation, for its flipped and
    right-angle-turned hypotheses to be searched.

    Two cheap signs, either suffices: the tile lattice stands out (:data:`LATTICE_GATE`) in
    the frames' summed autocorrelation (a v2 mark, whatever its signs) or in the averaged
    residual's (a v1 mark, or one a re-encode froze), which a flip, a right-angle turn and the
    key leave alike; or, at the picture's nominal period, the per-frame sync energy of some
    key and orientation stands out (:data:`SYNC_GATE`) on the coarse offset grid of the
    ``v2-scan`` search.
    """
    def stands_out(lattice: tuple[np.ndarray, np.ndarray] | None) -> bool:
        return lattice is not None and float(lattice[1].max()) >= LATTICE_GATE

    # the averaged residual's lattice is worked out only when the frames' does not decide
    if stands_out(fr.lattice) or stands_out(_lattice_z(_bin(fr.mean, 2), fr.t0 / 2)):
        return True
    if fr.res.shape[0] < MIN_VARYING_FRAMES:
        return False
    bins = P * SCAN_Q
    half = fr.t0 / 2
    tiles = fr.tile_spec(half, half, bins, SCAN_FRAMES)
    for key in keys:
        for orient in ORIENTS:
            zt, _ = _frame_sync(tiles, _sync_spectrum(key, 2, SCAN_Q, orient), (bins, bins))
            energy = np.einsum("nij,nij->ij", zt, zt)
            z = (float(energy.max()) - float(energy.mean())) / (float(energy.std()) or 1.0)
            if z >= SYNC_GATE:
                return True
    return False


def _untilted(fr: _Frames, tilt: float) -> _Frames:
    """``fr`` with every residual turned back by ``tilt`` degrees about the centre."""

    def turn(a: np.ndarray) -> np.ndarray:
        axes = (a.ndim - 1, a.ndim - 2)
        out = ndimage.rotate(a, -tilt, axes=axes, reshape=False, order=1, mode="constant")
        return np.asarray(out, dtype=np.float32)

    return _Frames(res=turn(fr.res), mean=turn(fr.mean), chip=fr.chip, f=fr.f)


def _period_pairs(
    power: np.ndarray, shape: tuple[int, int], t0: float, *, uniform: int, per_axis: int
) -> list[tuple[float, float]]:
    """Candidate (vertical, horizontal) periods from a power spectrum (rfft2 layout).

    The unattacked period first; then the ``uniform`` best periods for a rescale that keeps
    the aspect ratio (both axes' autocorrelations scored together: most crops and rescales
    keep it, and two axes tell the period more surely than one); then every pair of the
    ``per_axis`` best periods of each axis on its own.
    """
    auto = sp_fft.irfft2(power, s=shape)
    auto /= float(auto[0, 0]) or 1.0
    prof_x = auto[0, :] + auto[1, :] + auto[-1, :]
    prof_y = auto[:, 0] + auto[:, 1] + auto[:, -1]
    gy, sy = _period_scores(prof_y, t0, shape[0])
    gx, sx = _period_scores(prof_x, t0, shape[1])
    pairs = [(t0, t0)]
    if uniform:
        grid, score = _lattice_scores(auto, t0)
        pairs += [(t, t) for t in _top_periods(grid, score, t0, uniform)]
    tys = _top_periods(gy, sy, t0, per_axis)
    txs = _top_periods(gx, sx, t0, per_axis)
    for ty in tys:
        for tx in txs:
            if all(abs(ty - a) > 0.01 * t0 or abs(tx - b) > 0.01 * t0 for a, b in pairs):
                pairs.append((ty, tx))
    return pairs


def _phase_bins(length: int, period: float, nbins: int = PQ) -> np.ndarray:
    return np.floor(np.mod(np.arange(length), period) / period * nbins).astype(np.int64) % nbins


def _fold_rows(r: np.ndarray, ty: float) -> np.ndarray:
    """(PQ, W) float64: rows of ``r`` averaged by their phase within the vertical period."""
    return np.asarray(_fold_matrix(r.shape[0], ty, PQ, np.float64) @ r.astype(np.float64))


def _fold_cols(rows: np.ndarray, tx: float) -> np.ndarray:
    """(PQ, PQ): the row-folded residual averaged by horizontal phase: one tile."""
    cols = _fold_matrix(rows.shape[1], tx, PQ, np.float64) @ rows.T
    return np.asarray(cols.T, dtype=np.float32)


@lru_cache(maxsize=1024)
def _fold_matrix(
    length: int, period: float, nbins: int, dtype: type[np.floating[Any]] = np.float32
) -> sparse.csr_matrix:
    """(nbins, length) sparse averaging matrix: row ``b`` averages the positions whose phase
    within ``period`` falls in bin ``b`` (cached: the searches fold at the same periods again
    and again)."""
    bins = _phase_bins(length, period, nbins)
    counts = np.bincount(bins, minlength=nbins)
    weights = (1.0 / counts[bins]).astype(dtype)
    return sparse.csr_matrix((weights, (bins, np.arange(length))), shape=(nbins, length))


def _pixel_major(stack: np.ndarray) -> np.ndarray:
    """(H, W * N) float32: every row of an (N, H, W) stack's frames, pixel by pixel, with the
    frames side by side within each pixel."""
    n, h, w = stack.shape
    return np.ascontiguousarray(stack.transpose(1, 2, 0), dtype=np.float32).reshape(h, w * n)


def _fold_frames(
    stack: np.ndarray, ty: float, tx: float, nbins: int = PQ, *,
    pixels: np.ndarray | None = None,
) -> np.ndarray:
    """(N, nbins, nbins) float32: every frame of ``stack`` folded into one tile on its own.

    Two products with sparse averaging matrices (single-threaded: no BLAS threads to
    oversubscribe a scan's worker processes), each over every frame at once: the rows first
    (``pixels``: :func:`_pixel_major` of ``stack``, when the caller keeps it), then the
    columns. Between them, the row-folded frames are turned column-first by whole pixels (N
    frames' values at a time), far cheaper than transposing value by value. The result is a
    strided view (the FFTs read it as it is).
    """
    n, h, w = stack.shape
    if pixels is None:
        pixels = _pixel_major(stack)
    rows = _fold_matrix(h, ty, nbins) @ pixels  # (nbins_y, w * n): [bin y][x][frame]
    by_column = np.ascontiguousarray(rows.reshape(nbins, w, n).transpose(1, 0, 2))
    cols = _fold_matrix(w, tx, nbins) @ by_column.reshape(w, nbins * n)  # [bin x][bin y][frame]
    return np.asarray(cols, dtype=np.float32).reshape(nbins, nbins, n).transpose(2, 1, 0)


def _refine(
    ty: float, tx: float, t0: float, z_of: Callable[[float, float], float]
) -> tuple[float, float]:
    """Local search (y, then x) for the strongest sync peak: a coarse grid, then its steps.

    The coarse grid has twice the period step; the best point and its two neighbours at the
    fine step are then compared, so the result lies on the ``PERIOD_STEP`` grid. A move must
    beat the starting period by ``REFINE_MARGIN``: the maximum of a noisy peak over the grid
    would otherwise pull a weak but correctly aligned mark off its period.
    """
    span = max(1.5, REFINE_SPAN * t0)
    coarse = np.arange(-span, span + 1e-9, 2 * PERIOD_STEP)
    fine = (-PERIOD_STEP, 0.0, PERIOD_STEP)

    def best(values: Callable[[float], float], start: float) -> float:
        z0 = values(start)
        z, at = max((values(start + d), start + d) for d in coarse)
        z, at = max((values(at + d), at + d) for d in fine)
        return at if z > z0 + REFINE_MARGIN else start

    ty = best(lambda t: z_of(t, tx), ty)
    tx = best(lambda t: z_of(ty, t), tx)
    return ty, tx


def orient_grid(grid: np.ndarray, orient: int) -> np.ndarray:
    """The chip grid (or any image) as the received picture shows it under ``orient``.

    ``orient`` in ``0..7``: ``orient >= 4`` flips left-right first (mirror), then the picture
    is turned counter-clockwise by ``90 * (orient % 4)`` degrees (``np.rot90``).
    """
    if orient >= 4:
        grid = grid[..., :, ::-1]
    return np.rot90(grid, k=orient % 4, axes=(-2, -1))


@lru_cache(maxsize=64)
def _layout(key: WatermarkKey, version: int, orient: int = 0) -> Layout:
    """The keyed layout as it appears in a received picture mirrored/turned by ``orient``.

    A flip or a right-angle turn of the picture flips or turns every tile the same way (the
    folded tile of the received frame is the oriented tile, circularly shifted), so each
    orientation hypothesis is the unchanged search with the chip grid oriented alike.
    """
    lay = layout_for(key, version)
    if orient == 0:
        return lay

    def o(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(orient_grid(a.reshape(P, P), orient)).ravel()

    return Layout(sign=o(lay.sign), sync=o(lay.sync), bit_of_chip=o(lay.bit_of_chip), mask=lay.mask)


@lru_cache(maxsize=128)
def _sync_spectrum(key: WatermarkKey, version: int, q: int = Q, orient: int = 0) -> np.ndarray:
    tile = _layout(key, version, orient).sync_tile()
    up = np.kron(tile, np.ones((q, q), dtype=np.float32))
    return np.conj(sp_fft.rfft2(up))


def _sync_peaks(
    folded: np.ndarray,
    spec: np.ndarray,
    top: int,
    *,
    signed: bool = True,
    folded_spec: np.ndarray | None = None,
) -> list[tuple[float, int, int]]:
    """The ``top`` offsets by sync correlation z; by ``|z|`` (sign kept) unless ``signed``.

    ``folded_spec``, when given, is ``rfft2(folded)`` (cached by the caller).
    """
    if folded_spec is None:
        folded_spec = sp_fft.rfft2(folded)
    corr = sp_fft.irfft2(folded_spec * spec, s=folded.shape)
    mu = float(corr.mean())
    sd = float(corr.std()) or 1.0
    flat_corr = corr.ravel()
    rank = flat_corr if signed else np.abs(flat_corr - mu)
    if top == 1:
        flat = np.array([int(np.argmax(rank))])
    else:
        flat = np.argpartition(rank, -top)[-top:]
        flat = flat[np.argsort(rank[flat])[::-1]]
    return [((float(flat_corr[i]) - mu) / sd, int(i // PQ), int(i % PQ)) for i in flat]


def _payload_chips(folded: np.ndarray, dy: int, dx: int, lay: Layout) -> np.ndarray:
    """Chip values at an offset, de-spread: positive where the chip says codeword bit 1.

    The keyed sign and the keyed scramble mask are both taken out, so a chip of codeword bit
    ``j`` reads ``+`` for 1 and ``-`` for 0 (plus noise). Only payload chips are returned.
    """
    aligned = np.roll(folded, shift=(-dy, -dx), axis=(0, 1))
    chips = aligned.reshape(P, Q, P, Q).mean(axis=(1, 3)).ravel() * lay.sign
    payload = lay.bit_of_chip >= 0
    bit = lay.bit_of_chip[payload]
    unmask = np.where(lay.mask[bit] > 0, -1.0, 1.0)
    return np.asarray(chips[payload] * unmask, dtype=np.float64)


def _decode(chips: np.ndarray, lay: Layout, version: int) -> tuple[Payload, int, float]:
    """Soft-decode de-spread chips: (payload, raw bit errors, z of the decoded codeword).

    ``z`` is the chips' correlation with the decoded codeword's chips, divided by their norm.
    """
    bit = lay.bit_of_chip[lay.bit_of_chip >= 0]
    soft = np.bincount(bit, weights=chips, minlength=codeword_bits())
    payload, codeword = osd_decode(soft, version=version)
    norm = float(np.sqrt(np.sum(chips * chips)))
    z = float(np.dot(chips, 2.0 * codeword[bit] - 1.0)) / norm if norm > 0 else 0.0
    errors = int(np.count_nonzero((soft > 0).astype(np.uint8) != codeword))
    return payload, errors, z


@dataclass
class _Frames:
    """The whitened residuals of one sample, shared by every key and search."""

    res: np.ndarray  # (N, h, w) float32, each frame whitened on its own
    mean: np.ndarray  # (h, w) whitened average of the frames
    chip: float  # chip side in binned pixels
    f: int  # binning factor
    mean_rows: dict[float, np.ndarray] = field(default_factory=dict)
    mean_folds: dict[tuple[float, float], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )
    mean_pairs: list[tuple[float, float]] | None = None
    varying_pairs: list[tuple[float, float]] | None = None
    _centred: np.ndarray | None = None
    _small: np.ndarray | None = None
    _lattice: tuple[np.ndarray, np.ndarray] | None = None
    _lattice_done: bool = False
    _tiles: dict[tuple[Any, ...], np.ndarray] = field(default_factory=dict)
    _pixels: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def mean_fold(self, ty: float, tx: float) -> tuple[np.ndarray, np.ndarray]:
        """(folded tile, its rfft2) of the averaged residual at periods ``(ty, tx)`` (cached:
        shared by every orientation, version and key)."""
        if (ty, tx) not in self.mean_folds:
            if ty not in self.mean_rows:
                self.mean_rows[ty] = _fold_rows(self.mean, ty)
            folded = _fold_cols(self.mean_rows[ty], tx)
            self.mean_folds[ty, tx] = (folded, sp_fft.rfft2(folded))
        return self.mean_folds[ty, tx]

    def tile_spec(self, hy: float, hx: float, nbins: int, subset: int = 0) -> np.ndarray:
        """rfft2 of every frame of :attr:`small` (or ``subset`` evenly spaced ones) folded with
        half-periods ``(hy, hx)`` into ``nbins`` bins (cached: every orientation and key
        hypothesis reuses the folds)."""
        if subset >= self.small.shape[0]:
            subset = 0  # every frame: the same stack, folds and spectra as without a subset
        k = (hy, hx, nbins, subset)
        if k not in self._tiles:
            if subset not in self._pixels:
                n = self.small.shape[0]
                stack = self.small
                if subset:
                    pick = np.linspace(0, n - 1, min(n, subset)).round().astype(np.int64)
                    stack = stack[pick]
                self._pixels[subset] = (stack, _pixel_major(stack))
            stack, pixels = self._pixels[subset]
            tiles = _fold_frames(stack, hy, hx, nbins, pixels=pixels)
            self._tiles[k] = sp_fft.rfft2(tiles, axes=(1, 2))
        return self._tiles[k]

    @property
    def t0(self) -> float:
        return P * self.chip

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w) of the binned residuals."""
        return int(self.res.shape[1]), int(self.res.shape[2])

    @property
    def centred(self) -> np.ndarray:
        """(N, h, w): every frame's residual minus the sample's mean residual."""
        if self._centred is None:
            self._centred = self.res - self.res.mean(axis=0, keepdims=True)
        return self._centred

    @property
    def lattice(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(angles, z) of the tile lattice in :attr:`small`'s summed autocorrelation
        (:func:`_lattice_z`, cached)."""
        if not self._lattice_done:
            self._lattice = _lattice_z(self.small, self.t0 / 2)
            self._lattice_done = True
        return self._lattice

    @property
    def small(self) -> np.ndarray:
        """:attr:`centred`, 2x2-binned: alignment searches only have to land close."""
        if self._small is None:
            self._small = np.stack([_bin(frame, 2) for frame in self.centred])
        return self._small


@dataclass
class _Candidate:
    search: str
    image: np.ndarray  # the combined, whitened residual that is folded and decoded
    ty: float
    tx: float
    score: float
    orient: int = 0


def _prepare(picked: np.ndarray, chip: float) -> _Frames:
    # Work at a reduced resolution where chips are large: the chip is still sampled by
    # ``MIN_BINNED_CHIP`` pixels or more, and the filtering and folding cost falls by f^2.
    f = max(1, int(chip // MIN_BINNED_CHIP))
    chip /= f
    res = np.stack([_residual(_bin(frame, f), chip) for frame in picked])
    # whiten the average once more: what the frames share (static content) is left in it
    mean = _residual(res.mean(axis=0), chip)
    mean -= mean.mean()
    return _Frames(res=res, mean=mean, chip=chip, f=f)


def _mean_pairs(fr: _Frames) -> list[tuple[float, float]]:
    """Period pairs from the averaged residual's autocorrelation (cached)."""
    if fr.mean_pairs is None:
        spec_r = sp_fft.rfft2(fr.mean)
        power = spec_r.real**2 + spec_r.imag**2
        fr.mean_pairs = _period_pairs(power, fr.mean.shape, fr.t0, uniform=3, per_axis=3)
    return fr.mean_pairs


def _mean_candidates(
    fr: _Frames, key: WatermarkKey, search: str, orient: int = 0
) -> list[_Candidate]:
    """``v1`` or ``v2-mean``: the best period pairs for the averaged residual."""
    signed = search == "v1"
    spec = _sync_spectrum(key, _VERSION[search], Q, orient)

    def z_of(ty: float, tx: float) -> float:
        folded, folded_spec = fr.mean_fold(ty, tx)
        z = _sync_peaks(folded, spec, top=1, signed=signed, folded_spec=folded_spec)[0][0]
        return z if signed else abs(z)

    scored = sorted(((z_of(ty, tx), ty, tx) for ty, tx in _mean_pairs(fr)), reverse=True)
    return [_Candidate(search, fr.mean, ty, tx, z, orient) for z, ty, tx in scored[:REFINE]]


def _frame_sync(
    tiles_spec: np.ndarray, spec: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the sync correlation over all offsets in units of its noise, and that noise.

    ``tiles_spec`` is the rfft2 of the frames' folded tiles (:meth:`_Frames.tile_spec`).
    """
    n = tiles_spec.shape[0]
    corr = sp_fft.irfft2(tiles_spec * spec, s=shape, axes=(1, 2))
    corr -= corr.mean(axis=(1, 2), keepdims=True)
    noise = corr.reshape(n, -1).std(axis=1) + 1e-12
    corr /= noise[:, None, None]
    return corr, noise


def _combine(
    fr: _Frames, weights: np.ndarray, ty: float, tx: float, oy: int, ox: int, spec: np.ndarray
) -> np.ndarray:
    """The centred frames weighted by their signs, plus the average, as one whitened image.

    What stayed constant over the sample (a mark a re-encode froze from one keyframe) adds to
    what changed sign: both branches are scaled to unit sync noise and weighted by their own
    sync correlation at this alignment (maximal-ratio combining again).
    """
    varying = _residual(np.tensordot(weights.astype(np.float32), fr.centred, axes=(0, 0)), fr.chip)
    image = np.zeros_like(varying)
    z, sd = _sync_at(_fold_cols(_fold_rows(varying, ty), tx), None, spec, oy, ox)
    image += (z / sd) * varying
    z, sd = _sync_at(*fr.mean_fold(ty, tx), spec, oy, ox)
    image += (z / sd) * fr.mean
    image -= image.mean()
    return image


def _varying_pairs(fr: _Frames) -> list[tuple[float, float]]:
    """Half-period pairs of the ``v2`` search (on :attr:`_Frames.small`), from the frames'
    summed autocorrelation and the averaged residual's best guesses (cached: they depend on
    neither the orientation nor the key)."""
    if fr.varying_pairs is None:
        small = fr.small
        spec = sp_fft.rfft2(small, axes=(1, 2))
        power = (spec.real**2 + spec.imag**2).sum(axis=0)
        half = _period_pairs(
            power, small.shape[1:], fr.t0 / 2, uniform=VARYING_PERIODS, per_axis=1
        )
        # the averaged residual's own best guesses too (what a re-encode froze is periodic there)
        for ty, tx in _mean_pairs(fr)[1 : 1 + MEAN_PERIODS_TOO]:
            if all(
                abs(ty / 2 - a) > 0.005 * fr.t0 or abs(tx / 2 - b) > 0.005 * fr.t0 for a, b in half
            ):
                half.append((ty / 2, tx / 2))
        fr.varying_pairs = half
    return fr.varying_pairs


def _varying_candidates(
    fr: _Frames, key: WatermarkKey, orient: int = 0, *, gate: float | None = None
) -> list[_Candidate]:
    """``v2``: alignments from per-frame sync energy, then the frames combined by their signs.

    The alignment is searched on a 2x2-binned copy of the centred frames (it only has to be
    close: the combined image is searched again at full resolution before decoding). Each
    offset's score adds the frames' squared sync correlations and the averaged residual's.
    Each frame's weight is its own sync correlation there over its noise power (maximal-ratio
    combining: the weight carries the frame's sign).

    With ``gate`` (the hypotheses other than the unattacked one) the unattacked alignment is
    not forced, and an offset is only combined when its energy stands ``gate`` standard
    deviations above the mean energy over all offsets (combining costs more than scoring).
    """
    n = fr.res.shape[0]
    if n < MIN_VARYING_FRAMES:
        return []
    half = _varying_pairs(fr)
    sync = _sync_spectrum(key, 2, Q, orient)
    found: list[tuple[float, float, float, int, int, np.ndarray]] = []
    t0 = fr.t0
    default: tuple[float, float, float, int, int, np.ndarray] | None = None
    for hy, hx in half:
        ty, tx = 2 * hy, 2 * hx
        zt, noise = _frame_sync(fr.tile_spec(hy, hx, PQ), sync, (PQ, PQ))
        energy = np.einsum("nij,nij->ij", zt, zt)
        mean_corr = sp_fft.irfft2(fr.mean_fold(ty, tx)[1] * sync)
        mean_corr -= mean_corr.mean()
        energy += (mean_corr / (float(mean_corr.std()) or 1.0)) ** 2
        if (ty, tx) == (t0, t0) and gate is None:
            # A rescale or re-encode keeps the unattacked alignment (the layout is relative
            # to the frame): it is always combined and decoded, whatever scores best.
            default = (math.inf, ty, tx, 0, 0, zt[:, 0, 0] / noise)
        e_mean, e_sd = float(energy.mean()), float(energy.std()) or 1.0
        for i in _largest(energy.ravel(), VARYING_OFFSETS):
            oy, ox = divmod(int(i), PQ)
            if gate is not None and (float(energy[oy, ox]) - e_mean) / e_sd < gate:
                break
            found.append((float(energy[oy, ox]), ty, tx, oy, ox, zt[:, oy, ox] / noise))
    found.sort(key=lambda c: -c[0])
    out: list[_Candidate] = []
    for energy_at, ty, tx, oy, ox, weights in ([default] if default else []) + found[
        :VARYING_COMBINED
    ]:
        image = _combine(fr, weights, ty, tx, oy, ox, sync)
        score = max(z for z, _, _ in _sync_peaks(_fold_cols(_fold_rows(image, ty), tx), sync, 1))
        out.append(
            _Candidate("v2", image, ty, tx, energy_at if math.isinf(energy_at) else score, orient)
        )
    out.sort(key=lambda c: -c.score)
    return out[:REFINE]


def _scan_candidates(fr: _Frames, key: WatermarkKey, orient: int = 0) -> list[_Candidate]:
    """``v2-scan``: the ``v2`` search over a ladder of aspect-keeping scales.

    Without the frames' signs the tile period hides in their autocorrelation far more than a
    constant mark's does, so a crop that enlarges the period can escape the ``v2`` search's
    few candidates. This search scores every scale from the period range in steps of
    :data:`SCAN_STEP` (within a step's half, the per-frame sync energy still stands out) on
    the 2x2-binned frames with half the offset resolution, and combines the best scales.
    """
    n = fr.res.shape[0]
    if n < MIN_VARYING_FRAMES:
        return []
    bins = P * SCAN_Q
    sync_scan = _sync_spectrum(key, 2, SCAN_Q, orient)
    sync = _sync_spectrum(key, 2, Q, orient)
    count = int(math.log(PERIOD_RANGE[1] / PERIOD_RANGE[0]) / math.log(SCAN_STEP)) + 1
    # a subset of the frames scores the scales (the cost is per frame and per scale); the
    # weights of the chosen ones come from every frame
    scored: list[tuple[float, float, int]] = []
    synced: dict[float, tuple[np.ndarray, np.ndarray]] = {}  # when the subset is every frame
    for scale in PERIOD_RANGE[0] * SCAN_STEP ** np.arange(count):
        half = float(scale) * fr.t0 / 2
        zt, noise = _frame_sync(fr.tile_spec(half, half, bins, SCAN_FRAMES), sync_scan,
                                (bins, bins))
        if n <= SCAN_FRAMES:
            synced[float(scale)] = zt, noise
        energy = np.einsum("nij,nij->ij", zt, zt)
        i = int(np.argmax(energy))
        z = (float(energy.flat[i]) - float(energy.mean())) / (float(energy.std()) or 1.0)
        scored.append((z, float(scale), i))
    scored.sort(key=lambda c: -c[0])
    out: list[_Candidate] = []
    for _, scale, i in scored:
        if any(abs(math.log(scale * fr.t0 / c.ty)) < 1.5 * math.log(SCAN_STEP) for c in out):
            continue
        oy, ox = divmod(i, bins)
        t = scale * fr.t0
        if scale in synced:
            zt, noise = synced[scale]
        else:
            zt, noise = _frame_sync(fr.tile_spec(t / 2, t / 2, bins), sync_scan, (bins, bins))
        weights = zt[:, oy, ox] / noise
        image = _combine(fr, weights, t, t, oy * Q // SCAN_Q, ox * Q // SCAN_Q, sync)
        # the combined image's own sync peak ranks the scales more surely than the energy
        score = max(z for z, _, _ in _sync_peaks(_fold_cols(_fold_rows(image, t), t), sync, 1))
        out.append(_Candidate("v2-scan", image, t, t, score, orient))
        if len(out) == SCAN_COMBINED:
            break
    out.sort(key=lambda c: -c.score)
    # Below this sync peak a payload could not pass the test anyway (its z runs about 1.6x
    # the sync z): skip the refinement and the decodes (the p-value still counts them).
    return [c for c in out[:REFINE] if c.score >= SCAN_MIN_SYNC]


def _sync_at(
    folded: np.ndarray,
    folded_spec: np.ndarray | None,
    spec: np.ndarray,
    dy: int,
    dx: int,
) -> tuple[float, float]:
    """(z at offset (dy, dx), noise std) of a folded tile's sync correlation
    (``folded_spec``: its rfft2, when the caller has it)."""
    if folded_spec is None:
        folded_spec = sp_fft.rfft2(folded)
    corr = sp_fft.irfft2(folded_spec * spec, s=folded.shape)
    mu = float(corr.mean())
    sd = float(corr.std()) or 1.0
    return (float(corr[dy, dx]) - mu) / sd, sd


def _decode_search(
    search: str,
    cand_list: list[_Candidate],
    fr: _Frames,
    key: WatermarkKey,
    *,
    min_sync: float = 0.0,
) -> list[dict[str, Any]]:
    """Refine a search's best period pairs, then decode its best alignments.

    Alignments whose sync peak is below ``min_sync`` are not decoded (the caller's p-value
    counts them all the same).
    """
    results: list[dict[str, Any]] = []
    cand_list = [c for c in cand_list if abs(c.score) >= min_sync]
    if cand_list:
        version = _VERSION[search]
        signed = search == "v1"
        orient = cand_list[0].orient
        spec = _sync_spectrum(key, version, Q, orient)
        lay = _layout(key, version, orient)
        ranked: list[tuple[float, float, float, int, int, int]] = []
        images: list[np.ndarray] = []

        def fold(image: np.ndarray, ty: float, tx: float) -> np.ndarray:
            # the averaged residual's folds are cached: every orientation and version reuses them
            return fr.mean_fold(ty, tx)[0] if image is fr.mean else _fold_cols(
                _fold_rows(image, ty), tx
            )

        for cand in cand_list:
            image = cand.image
            images.append(image)
            row_cache: dict[float, np.ndarray] = {}
            seen: dict[tuple[float, float], float] = {}

            def z_of(
                ty: float,
                tx: float,
                image: np.ndarray = image,
                cache: dict[float, Any] = row_cache,
                seen: dict[tuple[float, float], float] = seen,
            ) -> float:
                if (ty, tx) not in seen:  # the refinement asks for some periods twice
                    if image is fr.mean:
                        folded, folded_spec = fr.mean_fold(ty, tx)
                    else:
                        if ty not in cache:
                            cache[ty] = _fold_rows(image, ty)
                        folded, folded_spec = _fold_cols(cache[ty], tx), None
                    peak = _sync_peaks(folded, spec, 1, signed=signed, folded_spec=folded_spec)
                    seen[ty, tx] = peak[0][0] if signed else abs(peak[0][0])
                return seen[ty, tx]

            ty, tx = _refine(cand.ty, cand.tx, fr.t0, z_of)
            for z, dy, dx in _sync_peaks(fold(image, ty, tx), spec, top=PEAKS, signed=signed):
                ranked.append((z, ty, tx, dy, dx, len(images) - 1))
        for z_sync, ty, tx, dy, dx, which in ranked[:DECODES_PER_SEARCH]:
            if abs(z_sync) < min_sync:
                continue
            folded = fold(images[which], ty, tx)
            # a v2 mark of negative sign: the sync chips say so, the payload is read inverted
            chips = _payload_chips(folded, dy, dx, lay) * (1.0 if z_sync >= 0 else -1.0)
            if not np.any(chips):
                continue
            payload, errors, z = _decode(chips, lay, version)
            results.append(
                {
                    "search": search,
                    "payload": payload,
                    "errors": errors,
                    "z": z,
                    "alignment": {
                        **_geometry(fr, orient, ty, tx, dy, dx),
                        "sync_z": round(abs(z_sync), 2),
                        "payload_z": round(z, 2),
                    },
                }
            )
    return results


def _geometry(
    fr: _Frames, orient: int, ty: float, tx: float, dy: int, dx: int
) -> dict[str, float]:
    """The alignment keys of a decode, in the *corrected* picture's axes (see the module
    docstring): the received region with the turn and the mirror undone."""
    f = fr.f
    h, w = fr.shape[0] * f, fr.shape[1] * f  # the searched picture, in received pixels
    big_ty, big_tx = ty * f, tx * f
    # the corner of the oriented tile where the signed tile's top-left corner went
    marker = np.zeros((2, 2))
    marker[0, 0] = 1.0
    a, b = (int(v[0]) for v in np.nonzero(orient_grid(marker, orient)))
    py = dy * big_ty / PQ + a * big_ty
    px = dx * big_tx / PQ + b * big_tx
    # undo the turn (one counter-clockwise quarter at a time), then the mirror
    hh, ww = float(h), float(w)
    for _ in range(orient % 4):
        py, px, hh, ww = px, hh - py, ww, hh
    if orient >= 4:
        px = ww - px
    if orient % 2:
        big_ty, big_tx = big_tx, big_ty
        scale_y, scale_x = tx / fr.t0, ty / fr.t0
    else:
        scale_y, scale_x = ty / fr.t0, tx / fr.t0
    return {
        "period_y": round(big_ty, 3),
        "period_x": round(big_tx, 3),
        "scale_y": round(scale_y, 4),
        "scale_x": round(scale_x, 4),
        "offset_y": round(py % big_ty, 2),
        "offset_x": round(px % big_tx, 2),
        "mirror": float(orient >= 4),
        "rotation": float(90 * (orient % 4) - (360 if orient % 4 == 3 else 0)),
    }


REGION_FRAMES = 8  # frames the region finder looks at
BAR_LEVEL = 0.12  # a bar row/column has less detail than this share of the picture's median
MIN_REGION_SHARE = 0.15  # a sub-region must hold at least this share of the frame's area
EDGE_CANDIDATES = 8  # strongest straight edges per axis tried as picture-in-picture sides
EDGE_SUPPORT = 8.0  # every side of a picture-in-picture: its ridge this many times the mean


def _bars(detail: np.ndarray) -> tuple[int, int]:
    """(first, end) of the rows between flat bars at either end of a detail profile."""
    level = BAR_LEVEL * float(np.median(detail[detail > 0])) if np.any(detail > 0) else 0.0
    inside = np.nonzero(detail > max(level, 0.05))[0]
    if inside.size == 0:
        return 0, detail.size
    return int(inside[0]), int(inside[-1]) + 1


def find_regions(luma: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Sub-regions ``(y, x, h, w)`` (frame pixels) that may hold the whole signed picture.

    Two kinds, best first: the picture between flat bars (letterbox, pillarbox, blurred or
    coloured bars: rows and columns at the frame's edges with next to no fine detail over the
    sample), and a picture-in-picture: the rectangle whose four sides are the strongest straight
    edges that stay put over the sample (each side's mean ridge, the step across it less the
    larger step 2 pixels to either side, several times the frame's mean ridge; a side on the
    frame's border needs none). Each region found is one more hypothesis family
    of the search (counted in the p-value whether found or not, see :data:`MAX_REGIONS`).
    """
    n, h, w = luma.shape
    pick = luma[np.linspace(0, n - 1, min(n, REGION_FRAMES)).round().astype(np.int64)]
    y = pick.astype(np.int16)
    out: list[tuple[int, int, int, int]] = []
    # fine detail per row and column: the step to the next pixel, averaged over frames (the
    # sums of integer steps are exact, so the float32 means are those of float32 frames)
    count = np.float32(y.shape[0])
    gx = np.abs(np.diff(y, axis=2)).sum(axis=0, dtype=np.int32).astype(np.float32) / count
    gy = np.abs(np.diff(y, axis=1)).sum(axis=0, dtype=np.int32).astype(np.float32) / count
    t, b = _bars(gx.mean(axis=1))
    left, right = _bars(gy.mean(axis=0))
    bh, bw = b - t, right - left
    if (bh < h - 8 or bw < w - 8) and bh * bw >= MIN_REGION_SHARE * h * w:
        out.append((t, left, bh, bw))
    # picture-in-picture: persistent straight edges (a ridge: stronger than both neighbours)
    rx = np.clip(gx[:, 2:-2] - np.maximum(gx[:, :-4], gx[:, 4:]), 0, None)  # col c -> c+2
    ry = np.clip(gy[2:-2, :] - np.maximum(gy[:-4, :], gy[4:, :]), 0, None)
    typical = 0.5 * (float(np.mean(rx)) + float(np.mean(ry))) + 1e-3
    cols = _edge_lines(rx.mean(axis=0)) + 2  # index into gx: edge between c and c+1
    rows = _edge_lines(ry.mean(axis=1)) + 2
    cx = np.concatenate(([-1], cols, [w - 1]))  # the frame's own borders count as sides
    cy = np.concatenate(([-1], rows, [h - 1]))
    # running sums along each candidate side's ridge line (only those lines are read)
    cum_x = {
        int(c): np.concatenate(([0.0], np.cumsum(rx[:, c])))
        for c in cx - 2
        if 0 <= c < rx.shape[1]
    }
    cum_y = {
        int(r): np.concatenate(([0.0], np.cumsum(ry[r, :])))
        for r in cy - 2
        if 0 <= r < ry.shape[0]
    }
    best: list[tuple[float, tuple[int, int, int, int]]] = []
    for i0, x0 in enumerate(cx):
        for x1 in cx[i0 + 1 :]:
            for j0, y0 in enumerate(cy):
                for y1 in cy[j0 + 1 :]:
                    rh, rw = int(y1 - y0), int(x1 - x0)
                    if rh * rw < MIN_REGION_SHARE * h * w or (rh >= h - 8 and rw >= w - 8):
                        continue
                    ya, yb, xa, xb = int(y0) + 1, int(y1) + 1, int(x0) + 1, int(x1) + 1
                    sides = []
                    for c in (int(x0) - 2, int(x1) - 2):  # ridge column of the side
                        if 0 <= c < rx.shape[1]:
                            sides.append(float(cum_x[c][yb] - cum_x[c][ya]) / rh)
                    for r in (int(y0) - 2, int(y1) - 2):
                        if 0 <= r < ry.shape[0]:
                            sides.append(float(cum_y[r][xb] - cum_y[r][xa]) / rw)
                    if len(sides) < 2:
                        continue
                    score = min(sides) / typical
                    if score >= EDGE_SUPPORT:
                        best.append((score, (ya, xa, rh, rw)))
    best.sort(key=lambda c: -c[0])
    for _, reg in best:
        if all(_overlap(reg, o) < 0.9 for o in out):
            out.append(reg)
        if len(out) >= MAX_REGIONS - 1:
            break
    return out


def _edge_lines(profile: np.ndarray) -> np.ndarray:
    """Indices of the strongest ridges of a profile, at least 8 apart."""
    picked: list[int] = []
    for i in np.argsort(profile)[::-1]:
        if profile[i] <= 0:
            break
        if all(abs(int(i) - j) >= 8 for j in picked):
            picked.append(int(i))
        if len(picked) >= EDGE_CANDIDATES:
            break
    return np.array(sorted(picked), dtype=np.int64)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two ``(y, x, h, w)`` rectangles."""
    iy = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ix = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iy * ix
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def _absent(
    *, threshold: float, frames: int, key_id: str | None, p: float = 1.0, **extra: Any
) -> WatermarkCheck:
    return WatermarkCheck(
        state=WatermarkState.ABSENT,
        p_value=p,
        threshold=threshold,
        frames_used=frames,
        key_id=key_id,
        **extra,
    )


def detect(
    sample: Any,
    *,
    keys: Sequence[WatermarkKey],
    threshold: float = DEFAULT_THRESHOLD,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> WatermarkCheck:
    """Search a frame sample for veriframe's watermark (v1 or v2) under each of ``keys``.

    ``sample`` is a :class:`veriframe.media.FrameSample` (only ``sample.luma``, (N, H, W) uint8,
    is used) or such an array itself; frame numbers are never needed. Returns ``present`` with
    the payload only when the Bonferroni-corrected p-value is below ``threshold``; otherwise
    ``absent`` with the smallest p-value seen (1.0 when nothing decoded).
    ``alignment["modulated"]`` is 1.0 when the frames were combined by their v2 signs.

    Every geometry hypothesis of the module docstring is tried (mirror, right angles, a small
    turn, the frame read as a full-height crop, letterbox and picture-in-picture regions),
    upright whole frame first, stopping once a mark is found; the p-value counts all of them
    (:data:`HYPOTHESES_PER_KEY` per key). ``alignment`` reports the geometry found: its keys
    are defined in the module docstring.
    """
    if not keys:
        raise WatermarkError(
            "watermark.no-key",
            "no watermark key to search with",
            "run `veriframe keys init` or pass the signer's watermark key",
        )
    luma = np.asarray(getattr(sample, "luma", sample))
    if luma.ndim == 2:
        luma = luma[None]
    if luma.ndim != 3 or luma.shape[0] == 0:
        raise WatermarkError(
            "watermark.bad-sample", "expected (N, H, W) luma frames", "pass a FrameSample"
        )
    frames = min(int(luma.shape[0]), max_frames)
    key_ids = ",".join(k.key_id for k in keys)
    h, w = int(luma.shape[1]), int(luma.shape[2])
    if min(h, w) < MIN_SIDE:
        return _absent(threshold=threshold, frames=frames, key_id=key_ids)

    picked = _pick_frames(luma, max_frames)
    if int(picked.max()) - int(picked.min()) < 1:  # flat: nothing to read, and no coin to toss
        return _absent(threshold=threshold, frames=frames, key_id=key_ids)

    # Alignments and frame weights are chosen from the sync chips alone, whose keyed signs are
    # independent of the payload chips' signs: the payload test pays only for its decodes, of
    # every search, orientation, region and key, counted whether they ran or not.
    hypotheses = float(HYPOTHESES_PER_KEY * len(keys))
    best: dict[str, Any] | None = None
    best_p = 1.0
    # (region or None for the whole frame, nominal chip from the long side instead of the short)
    def pictures() -> Iterator[tuple[tuple[int, int, int, int] | None, bool]]:
        yield None, False
        if max(h, w) >= RESHAPED_ASPECT * min(h, w):
            yield None, True
        # sub-regions are looked for only when the whole frame held no mark
        yield from ((r, False) for r in find_regions(picked)[: MAX_REGIONS - 2])

    done = False
    for region, long_side in pictures():
        if region is None:
            sub = picked
        else:
            ry, rx, rh, rw = region
            sub = picked[:, ry : ry + rh, rx : rx + rw]
        if min(sub.shape[1:]) < MIN_SIDE:
            continue
        sh, sw = int(sub.shape[1]), int(sub.shape[2])
        chip = chip_px(sh, sw)
        if long_side:  # as if the signed picture's short side was this frame's long side
            chip = chip_px(max(sh, sw), max(sh, sw))
        upright = _prepare(sub, chip)
        whole = region is None and not long_side
        strong: list[bool] = []  # the evidence gate, worked out when first needed

        def gate_open(fr: _Frames = upright, strong: list[bool] = strong) -> bool:
            if not strong:
                strong.append(_gate_open(fr, keys))
            return strong[0]

        for turn in range(TILTS):
            tilt: float | None = 0.0
            if turn:  # the small turn the tile lattice shows, if any
                tilt = _tilt_estimate(upright)
                if tilt is None:
                    break
            assert tilt is not None
            fr = upright if tilt == 0.0 else _untilted(upright, tilt)
            for key in keys:
                for orient in ORIENTS:
                    # the unattacked hypothesis decodes every candidate, as v1/v2 always
                    # did; the others only decode a sync peak that stands out
                    default = orient == 0 and whole and tilt == 0.0
                    # every picture is searched upright (crops, bars and insets keep it);
                    # flipped or turned only where it shows a sign of a mark
                    if orient != 0 and tilt == 0.0 and not gate_open():
                        continue  # counted in the p-value all the same
                    min_sync = 0.0 if default else HYPOTHESIS_MIN_SYNC
                    for search in SEARCHES:
                        if search == "v2":
                            gate = None if default else ENERGY_GATE
                            cands = _varying_candidates(fr, key, orient, gate=gate)
                        elif search == "v2-scan":
                            if orient not in SCAN_ORIENTS:
                                continue
                            cands = _scan_candidates(fr, key, orient)
                        else:
                            cands = _mean_candidates(fr, key, search, orient)
                        for res in _decode_search(search, cands, fr, key, min_sync=min_sync):
                            p = correlation_p_value(
                                z=res["z"], data_bits=ID_BITS, hypotheses=hypotheses
                            )
                            if best is None or p < best_p:
                                best_p = p
                                best = {**res, "key": key}
                                extra = best["alignment"]
                                if tilt:
                                    turned = 180.0 - (180.0 - extra["rotation"] - tilt) % 360.0
                                    extra["rotation"] = round(turned, 2)
                                    extra["tilt"] = tilt
                                if long_side:  # scales against the frame's own nominal
                                    ratio = chip / chip_px(sh, sw)
                                    extra["scale_x"] = round(extra["scale_x"] * ratio, 4)
                                    extra["scale_y"] = round(extra["scale_y"] * ratio, 4)
                                if region is not None:
                                    extra.update(
                                        region_y=float(region[0]),
                                        region_x=float(region[1]),
                                        region_h=float(region[2]),
                                        region_w=float(region[3]),
                                    )
                        done = best_p < threshold * EARLY_EXIT
                        if done:
                            break
                    if done:
                        break
                if done:
                    break
            if done:
                break
        if done:
            break
    if best is None or best_p >= threshold:
        return _absent(
            threshold=threshold,
            frames=frames,
            key_id=key_ids,
            p=best_p,
            bit_accuracy=None if best is None else 1.0 - best["errors"] / codeword_bits(),
        )
    payload = best["payload"]
    alignment = {**best["alignment"], "modulated": float(best["search"] in ("v2", "v2-scan"))}
    return WatermarkCheck(
        state=WatermarkState.PRESENT,
        payload_id=payload.hex,
        version=payload.version,
        p_value=best_p,
        threshold=threshold,
        bit_accuracy=1.0 - best["errors"] / codeword_bits(),
        frames_used=frames,
        alignment=alignment,
        key_id=best["key"].key_id,
    )


def search_size(height: int, width: int) -> float:
    """Alignments (period pairs x offsets) scanned by one sync search for one key.

    Documentation only: the payload test does not pay for them (the sync chips choose the
    alignment, see the module docstring), it pays for :data:`DECODES_PER_KEY` decodes per key.
    """
    t0 = P * chip_px(height, width)
    n = math.ceil((PERIOD_RANGE[1] - PERIOD_RANGE[0]) * t0 / PERIOD_STEP)
    return float(n * n + 1) * PQ * PQ


__all__ = [
    "CHIPS",
    "DECODES_PER_KEY",
    "HYPOTHESES_PER_KEY",
    "detect",
    "find_regions",
    "orient_grid",
    "search_size",
]
