"""Detection: average the sampled frames, find the tile period and offset, decode, test.

1. Every sampled luma frame is binned down while chips stay >= ``MIN_BINNED_CHIP`` pixels,
   high-passed and whitened on its own; the residuals are averaged (soft voting: the mark is
   the same in every frame, the content is not) and the average is whitened once more.
2. Scale sync: the tile repeats, so the residual's autocorrelation has peaks at multiples of
   the tile period along each axis. The periods are searched on a grid around the period a
   frame of this size would have (a rescale keeps it, a crop of up to a third enlarges it).
3. The residual is folded modulo the period into one tile (``Q`` sub-bins per chip) and the
   keyed sync template is circularly cross-correlated with it: the peak gives the offset.
   Periods and offsets are chosen from the sync chips alone.
4. At the ``DECODE_CANDIDATES`` best alignments the payload chips are read, de-spread with
   their keyed signs and scramble mask, summed into 248 soft bits and soft-decoded (ordered
   statistics decoding of the BCH code, :func:`.payload.osd_decode`).
5. The test (:func:`.stats.correlation_p_value`): the chips' normalised correlation ``z`` with
   the decoded codeword. Under "no watermark" the payload chips' keyed signs are fair coins
   independent of the content and of the sync chips that chose the alignment, so
   ``P(z >= t) <= exp(-t^2/2)`` per codeword (Hoeffding); the union over the 2^64 codewords, the
   candidates and the keys gives the p-value. ``present`` only below the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from veriframe.errors import WatermarkError
from veriframe.results import WatermarkCheck, WatermarkState
from veriframe.watermark.keys import WatermarkKey
from veriframe.watermark.pattern import CHIPS, P, chip_px, layout_for
from veriframe.watermark.payload import DATA_BITS, codeword_bits, osd_decode
from veriframe.watermark.stats import correlation_p_value

Q = 4  # sub-bins per chip when folding (offset resolution: a quarter chip)
PQ = P * Q
PERIOD_RANGE = (0.85, 1.6)  # searched period relative to the unattacked one
PERIOD_STEP = 0.25  # pixels
TOP_PERIODS = 3  # candidates per axis taken from the autocorrelation
REFINE = 2  # candidate period pairs refined by the sync peak
REFINE_SPAN = 0.012  # +- share of the period searched around a candidate
DEFAULT_THRESHOLD = 1e-6
DECODE_CANDIDATES = 4  # best sync alignments whose payload is decoded and tested
DEFAULT_MAX_FRAMES = 32
MIN_SIDE = 48
TRUNCATE = 2.5  # Gaussian kernels cut at 2.5 sigma: the per-frame filters dominate the cost
MIN_BINNED_CHIP = 3.0  # pixels per chip kept when binning the mean frame down


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

    Soft voting happens on these residuals: every frame is whitened on its own before the
    frames are averaged, so a busy or badly compressed frame cannot drown the others, and
    content that stays put is still removed by the high-pass. The embedder scales the mark
    with local texture, and content noise grows with texture faster than the mark does, so
    busy areas are weighted down; clipping keeps strong edges from dominating.
    """
    low = ndimage.gaussian_filter(y, sigma=max(1.0, 0.8 * chip), mode="nearest", truncate=TRUNCATE)
    r = y - low
    act = _smooth_abs(r, 1.5 * chip)
    r /= act + 0.5
    s = float(np.sqrt(np.vdot(r, r) / r.size))  # ~ std: r has next to no mean
    if s > 0:
        np.clip(r, -2.5 * s, 2.5 * s, out=r)
    return r


def _period_candidates(profile: np.ndarray, t0: float, length: int) -> np.ndarray:
    """Top periods along one axis from an autocorrelation profile."""
    grid = np.arange(PERIOD_RANGE[0] * t0, PERIOD_RANGE[1] * t0, PERIOD_STEP)
    grid = grid[grid < 0.75 * length]
    if grid.size == 0:
        return np.array([t0])
    kmax = max(1, int(0.75 * length / grid[0]))
    ks = np.arange(1, kmax + 1)
    lags = grid[:, None] * ks[None, :]
    valid = lags < 0.75 * length
    weights = np.where(valid, 1.0, 0.0)
    vals = np.interp(np.where(valid, lags, 0.0), np.arange(profile.size), profile)
    score = (vals * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
    # local maxima, best first
    order = np.argsort(score)[::-1]
    picked: list[float] = []
    for i in order:
        t = float(grid[i])
        if all(abs(t - p) > 0.02 * t0 for p in picked):
            picked.append(t)
        if len(picked) >= TOP_PERIODS:
            break
    return np.array(picked)


def _fold_rows(r: np.ndarray, ty: float) -> np.ndarray:
    """(PQ, W): rows of ``r`` averaged by their phase within the vertical period."""
    h, w = r.shape
    by = np.floor(np.mod(np.arange(h), ty) / ty * PQ).astype(np.int64) % PQ
    idx = (by[:, None] * w + np.arange(w)[None, :]).ravel()
    sums = np.bincount(idx, weights=r.ravel(), minlength=PQ * w).reshape(PQ, w)
    counts = np.bincount(by, minlength=PQ)
    return sums / np.maximum(counts, 1)[:, None]


def _fold_cols(rows: np.ndarray, tx: float) -> np.ndarray:
    """(PQ, PQ): the row-folded residual averaged by horizontal phase: one tile."""
    w = rows.shape[1]
    bx = np.floor(np.mod(np.arange(w), tx) / tx * PQ).astype(np.int64) % PQ
    idx = (np.arange(PQ)[:, None] * PQ + bx[None, :]).ravel()
    sums = np.bincount(idx, weights=rows.ravel(), minlength=PQ * PQ)
    counts = np.bincount(bx, minlength=PQ)
    return (sums.reshape(PQ, PQ) / np.maximum(counts, 1)[None, :]).astype(np.float32)


def _refine(
    ty: float, tx: float, t0: float, z_of: Any
) -> tuple[float, float]:
    """Local search on the period grid (y, then x) for the strongest sync peak."""
    span = max(1.5, REFINE_SPAN * t0)
    steps = np.arange(-span, span + 1e-9, PERIOD_STEP)
    ty = max((z_of(ty + d, tx), ty + d) for d in steps)[1]
    tx = max((z_of(ty, tx + d), tx + d) for d in steps)[1]
    return ty, tx


def _sync_spectrum(key: WatermarkKey) -> np.ndarray:
    tile = layout_for(key).sync_tile()
    up = np.kron(tile, np.ones((Q, Q), dtype=np.float32))
    return np.conj(np.fft.rfft2(up))


def _sync_peaks(folded: np.ndarray, spec: np.ndarray, top: int) -> list[tuple[float, int, int]]:
    corr = np.fft.irfft2(np.fft.rfft2(folded) * spec, s=folded.shape)
    sd = float(corr.std()) or 1.0
    z = (corr - float(np.median(corr))) / sd
    flat = np.argsort(z.ravel())[::-1][:top]
    return [(float(z.ravel()[i]), int(i // PQ), int(i % PQ)) for i in flat]


def _payload_chips(folded: np.ndarray, dy: int, dx: int, key: WatermarkKey) -> np.ndarray:
    """Chip values at an offset, de-spread: positive where the chip says codeword bit 1.

    The keyed sign and the keyed scramble mask are both taken out, so a chip of codeword bit
    ``j`` reads ``+`` for 1 and ``-`` for 0 (plus noise). Only payload chips are returned.
    """
    lay = layout_for(key)
    aligned = np.roll(folded, shift=(-dy, -dx), axis=(0, 1))
    chips = aligned.reshape(P, Q, P, Q).mean(axis=(1, 3)).ravel() * lay.sign
    payload = lay.bit_of_chip >= 0
    bit = lay.bit_of_chip[payload]
    unmask = np.where(lay.mask[bit] > 0, -1.0, 1.0)
    return np.asarray(chips[payload] * unmask, dtype=np.float64)


def _decode(chips: np.ndarray, key: WatermarkKey) -> tuple[Any, int, float]:
    """Soft-decode de-spread chips: (payload, raw bit errors, z of the decoded codeword).

    ``z`` is the chips' correlation with the decoded codeword's chips, divided by their norm.
    """
    bit = layout_for(key).bit_of_chip
    bit = bit[bit >= 0]
    soft = np.bincount(bit, weights=chips, minlength=codeword_bits())
    payload, codeword = osd_decode(soft)
    norm = float(np.sqrt(np.sum(chips * chips)))
    z = float(np.dot(chips, 2.0 * codeword[bit] - 1.0)) / norm if norm > 0 else 0.0
    errors = int(np.count_nonzero((soft > 0).astype(np.uint8) != codeword))
    return payload, errors, z


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
    """Search a frame sample for veriframe's watermark under each of ``keys``.

    ``sample`` is a :class:`veriframe.media.FrameSample` (only ``sample.luma``, (N, H, W) uint8,
    is used) or such an array itself. Returns ``present`` with the payload only when the
    Bonferroni-corrected p-value is below ``threshold``; otherwise ``absent`` with the smallest
    p-value seen (1.0 when nothing decoded).
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

    chip = chip_px(h, w)
    picked = _pick_frames(luma, max_frames)
    if int(picked.max()) - int(picked.min()) < 1:  # flat: nothing to read, and no coin to toss
        return _absent(threshold=threshold, frames=frames, key_id=key_ids)

    # Work at a reduced resolution where chips are large: the chip is still sampled by
    # ``MIN_BINNED_CHIP`` pixels or more, and the filtering and folding cost falls by f^2.
    f = max(1, int(chip // MIN_BINNED_CHIP))
    chip /= f
    r = np.zeros(((h // f), (w // f)), dtype=np.float32)
    for frame in picked:
        r += _residual(_bin(frame, f), chip)
    # whiten the average once more: what the frames share (static content) is left in it
    r = _residual(r, chip)
    r -= r.mean()
    h, w = r.shape
    t0 = P * chip
    spec_r = np.fft.rfft2(r)
    auto = np.fft.irfft2(spec_r * np.conj(spec_r), s=r.shape)
    auto /= float(auto[0, 0]) or 1.0
    prof_x = auto[0, :] + auto[1, :] + auto[-1, :]
    prof_y = auto[:, 0] + auto[:, 1] + auto[:, -1]
    tys = _period_candidates(prof_y, t0, h)
    txs = _period_candidates(prof_x, t0, w)
    pairs = [(t0, t0)] + [(float(a), float(b)) for a in tys for b in txs]
    # Alignments are chosen from the sync chips alone, whose keyed signs are independent of the
    # payload chips' signs: the payload test pays only for the candidates it decodes.
    hypotheses = float(DECODE_CANDIDATES * len(keys))

    best: dict[str, Any] | None = None
    best_p = 1.0
    row_cache: dict[float, np.ndarray] = {}

    def rows_for(ty: float) -> np.ndarray:
        if ty not in row_cache:
            row_cache[ty] = _fold_rows(r, ty)
        return row_cache[ty]

    for key in keys:
        spec = _sync_spectrum(key)

        def z_of(ty: float, tx: float, spec: np.ndarray = spec) -> float:
            return _sync_peaks(_fold_cols(rows_for(ty), tx), spec, top=1)[0][0]

        scored = sorted(((z_of(ty, tx), ty, tx) for ty, tx in pairs), reverse=True)
        ranked: list[tuple[float, float, float, int, int]] = []
        for _, ty, tx in scored[:REFINE]:
            ty, tx = _refine(ty, tx, t0, z_of)
            folded = _fold_cols(rows_for(ty), tx)
            for z, dy, dx in _sync_peaks(folded, spec, top=2):
                ranked.append((z, ty, tx, dy, dx))
        folds = {(ty, tx): _fold_cols(rows_for(ty), tx) for _, ty, tx, _, _ in ranked}
        ranked.sort(reverse=True)
        for z_sync, ty, tx, dy, dx in ranked[:DECODE_CANDIDATES]:
            chips = _payload_chips(folds[(ty, tx)], dy, dx, key)
            if not np.any(chips):
                continue
            payload, errors, z = _decode(chips, key)
            p = correlation_p_value(z=z, data_bits=DATA_BITS, hypotheses=hypotheses)
            if best is None or p < best_p:
                best_p = p
                best = {
                    "payload": payload,
                    "errors": errors,
                    "key": key,
                    "alignment": {
                        "period_y": round(ty * f, 3),
                        "period_x": round(tx * f, 3),
                        "scale_y": round(ty / t0, 4),
                        "scale_x": round(tx / t0, 4),
                        "offset_y": round(dy * ty * f / PQ, 2),
                        "offset_x": round(dx * tx * f / PQ, 2),
                        "sync_z": round(z_sync, 2),
                        "payload_z": round(z, 2),
                    },
                }
    if best is None or best_p >= threshold:
        return _absent(
            threshold=threshold,
            frames=frames,
            key_id=key_ids,
            p=best_p,
            bit_accuracy=None if best is None else 1.0 - best["errors"] / codeword_bits(),
        )
    payload = best["payload"]
    return WatermarkCheck(
        state=WatermarkState.PRESENT,
        payload_id=payload.hex,
        version=payload.version,
        p_value=best_p,
        threshold=threshold,
        bit_accuracy=1.0 - best["errors"] / codeword_bits(),
        frames_used=frames,
        alignment=best["alignment"],
        key_id=best["key"].key_id,
    )


def search_size(height: int, width: int) -> float:
    """Alignments (period pairs x offsets) scanned by the sync search for one key.

    Documentation only: the payload test does not pay for them (the sync chips choose the
    alignment, see the module docstring), it pays for ``DECODE_CANDIDATES`` decodes per key.
    """
    t0 = P * chip_px(height, width)
    n = math.ceil((PERIOD_RANGE[1] - PERIOD_RANGE[0]) * t0 / PERIOD_STEP)
    return float(n * n + 1) * PQ * PQ


__all__ = ["CHIPS", "detect", "search_size"]
