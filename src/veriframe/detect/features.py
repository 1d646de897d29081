"""Forensic features from pixels alone, computed on a bounded, evenly spread frame sample.

Everything here is NumPy/SciPy on the CPU and reads only decoded pixels: no container field
(fps, frame count, size, encoder) enters these features, so the forensic score can be reported
on its own.

The features are built to say as little as possible about *where a clip comes from* (camera,
codec, bitrate, resolution) and as much as possible about how its pixels were made: the first
version (absolute spectral energies, residual moments, blockiness...) separated the source
repositories and ranked real against synthetic *worse than chance* out of source. Here every
cue is a ratio, a correlation, or is measured at a fixed scale:

- **fixed-scale noise** (Immerkær 1996 fast noise estimation; Lyu et al. 2014 on noise-level
  inconsistency): each frame's luma is area-resampled to a short side of :data:`FIXED_SIDE`
  pixels (never up-sampled), then the noise level is estimated (Immerkær's Laplacian-difference
  estimator, and the residual of the flattest blocks), with the residual/gradient ratio and the
  residual magnitude. Camera footage, once brought to a common scale, and decoder output differ
  in how much pixel-level noise survives in flat areas.
- **noise residual normalised by local contrast** (Fridrich & Kodovsky 2012 rich models;
  Cozzolino & Verdoliva 2020 "Noiseprint"): on native-resolution crops, the residual of the
  flattest and of the most textured 16x16 blocks relative to the median block, the correlation
  of residual and local contrast over blocks, the kurtosis and mean of the residual divided by
  the local standard deviation, and the neighbour correlation of the residual in flat blocks
  (white sensor noise versus a decoder's spatially correlated texture).
- **scale ratios**: residual energy at 1, 2 and 4 pixel scales relative to each other;
  gradient-magnitude quantile ratios (edge sharpness profile, independent of contrast).
- **spectral ratios** (Durall et al. 2020; Frank et al. 2020): ratios of the luma power in
  neighbouring radial bands, not absolute energies.
- **up-sampling grid peaks** (Zhang et al. 2019 "AutoGAN"; Corvi et al. 2023 on diffusion
  models): the noise-residual power spectrum *averaged over every analysed crop and frame* (as
  Corvi et al. average residual spectra to expose the generator's fingerprint), then the peak
  ratio at the points of the period-2/4/8 grid, on the axes and off the axes. Codec block edges
  put their energy mostly on the axes; a VAE decoder's up-sampling leaves off-axis peaks too.
- **cross-channel residual correlation** (McCloskey & Albright 2019): demosaiced camera pixels
  have coupled R/G/B residuals.
- **temporal**: correlation of the noise residual between consecutive analysed frames (camera
  noise is independent from frame to frame; decoder texture tends to stay put).

Per frame, at most :data:`CROPS_PER_FRAME` native crops of :data:`CROP` pixels (aligned to the
16-pixel grid, spread over the frame) plus one fixed-scale copy of the frame are analysed: cost
does not grow much with resolution.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import fft as sp_fft
from scipy import ndimage, sparse

FEATURE_VERSION = 4
CROP = 256
CROPS_PER_FRAME = 2
MAX_FRAMES = 16  # frames analysed at most (evenly spread over the sample)
FIXED_SIDE = 256  # short side of the fixed-scale copy of each frame
BLOCK = 16  # block size of the flat/textured block statistics
_EPS = 1e-8

# Radial bands of normalised frequency (cycles/pixel, 0..0.5) for the spectral ratios.
_BAND_EDGES = np.array([0.02, 0.06, 0.12, 0.25, 0.5])
_GRID_PERIODS = (2, 4, 8)

FRAME_FEATURES: tuple[str, ...] = (
    # native-resolution crops
    "flat_res",
    "flat_over_med",
    "tex_over_med",
    "res_contrast_corr",
    "nres_kurt",
    "nres_mad",
    "flat_res_corr_h",
    "flat_res_corr_v",
    "res_scale_ratio12",
    "res_scale_ratio24",
    "grad_q99_q50",
    "grad_q90_q50",
    "rgb_res_corr_rg",
    "rgb_res_corr_gb",
    "spec_ratio1",
    "spec_ratio2",
    "spec_ratio3",
    # the whole frame at a fixed scale
    "fs_noise",
    "fs_flat_res",
    "fs_res_mad",
    "fs_lap_over_grad",
)
POOLED_FEATURES: tuple[str, ...] = (
    *(f"grid{p}_{where}" for p in _GRID_PERIODS for where in ("axis", "off")),
    "t_res_corr",
)
CLIP_FEATURES: tuple[str, ...] = (
    *(f"{n}_mean" for n in FRAME_FEATURES),
    *POOLED_FEATURES,
)

# Feature families (by name prefix), for reports and model cards.
FAMILIES: dict[str, tuple[str, ...]] = {
    "fixed_scale_noise": ("fs_",),
    "noise_residual": ("flat_", "tex_", "res_", "nres_"),
    "sharpness": ("grad_",),
    "cross_channel": ("rgb_res_",),
    "spectrum": ("spec_",),
    "grid_peaks": ("grid",),
    "temporal": ("t_",),
}


def family_columns(family: str) -> list[int]:
    """Indices into :data:`CLIP_FEATURES` of one family (``"all"``: every feature)."""
    if family == "all":
        return list(range(len(CLIP_FEATURES)))
    prefixes = FAMILIES[family]
    return [i for i, n in enumerate(CLIP_FEATURES) if n.startswith(prefixes)]


class SampleLike(Protocol):
    """What the features need from ``veriframe.media.FrameSample``."""

    rgb: np.ndarray
    indices: Any
    timestamps: Any


@dataclass(frozen=True)
class ForensicFeatures:
    """Per-frame features (``frames``, shape (F, len(FRAME_FEATURES))) and the features pooled
    over the clip (``pooled``, :data:`POOLED_FEATURES`)."""

    frames: np.ndarray
    pooled: np.ndarray
    frame_positions: np.ndarray  # positions (into the sample) of the analysed frames

    def clip_vector(self) -> np.ndarray:
        """The clip-level vector in :data:`CLIP_FEATURES` order."""
        return np.concatenate([self.frames.mean(axis=0), self.pooled]).astype(np.float64)

    def frame_vectors(self) -> np.ndarray:
        """One clip-shaped vector per analysed frame: that frame's values in the ``_mean``
        slots, the clip's pooled features elsewhere (for per-frame scores)."""
        clip = self.clip_vector()
        out = np.tile(clip, (self.frames.shape[0], 1))
        out[:, : self.frames.shape[1]] = self.frames
        return out


def _luma_of(sample: SampleLike) -> np.ndarray:
    luma = getattr(sample, "luma", None)
    if luma is not None and np.asarray(luma).ndim == 3:
        return np.asarray(luma)
    rgb = np.asarray(sample.rgb, dtype=np.float32)
    y = 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def _crop_origins(h: int, w: int, size: int, count: int) -> list[tuple[int, int]]:
    """Up to ``count`` crop origins on the 16-pixel grid, spread along the frame diagonal."""
    fracs = [0.5] if count <= 1 else list(np.linspace(0.25, 0.75, count))
    origins: list[tuple[int, int]] = []
    for f in fracs:
        cy = int((h - size) * f) // 16 * 16
        cx = int((w - size) * f) // 16 * 16
        if (cy, cx) not in origins:
            origins.append((cy, cx))
    return origins


# ------------------------------------------------------------------ geometry caches
@dataclass(frozen=True)
class _Grid:
    """Per-size constants of an n x n crop: window, radial band of each rfft2 bin."""

    window: np.ndarray
    bands: np.ndarray  # flat band id per rfft2 bin: 0 below the first edge
    band_sizes: np.ndarray


_GRIDS: dict[int, _Grid] = {}
_AREA: dict[tuple[int, int], Any] = {}


def _grid(n: int) -> _Grid:
    if n not in _GRIDS:
        fy = np.fft.fftfreq(n)[:, None]
        fx = np.fft.rfftfreq(n)[None, :]
        r = np.sqrt(fy**2 + fx**2).ravel()
        bands = np.digitize(r, _BAND_EDGES)
        w = np.hanning(n).astype(np.float32)
        _GRIDS[n] = _Grid(
            window=np.outer(w, w),
            bands=bands,
            band_sizes=np.bincount(bands, minlength=len(_BAND_EDGES) + 1).astype(np.float64),
        )
    return _GRIDS[n]


def area_matrix(n_in: int, n_out: int) -> Any:
    """Sparse (n_out, n_in) matrix of area-average down-sampling (each output pixel is the
    overlap-weighted mean of the input pixels it covers; rows sum to 1)."""
    key = (n_in, n_out)
    if key not in _AREA:
        if n_out > n_in or n_out < 1:
            raise ValueError(f"area resampling only shrinks: {n_in} -> {n_out}")
        scale = n_in / n_out
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for i in range(n_out):
            a, b = i * scale, (i + 1) * scale
            for j in range(math.floor(a), min(math.ceil(b), n_in)):
                overlap = min(b, j + 1.0) - max(a, float(j))
                if overlap > 1e-9:
                    rows.append(i)
                    cols.append(j)
                    vals.append(overlap / scale)
        _AREA[key] = sparse.csr_matrix((vals, (rows, cols)), shape=(n_out, n_in),
                                       dtype=np.float32)
    return _AREA[key]


def fixed_scale(y: np.ndarray, side: int = FIXED_SIDE) -> np.ndarray:
    """``y`` (H, W) area-resampled so that its short side is ``side`` (never enlarged)."""
    h, w = y.shape
    short = min(h, w)
    x = np.asarray(y, dtype=np.float32)
    if short <= side:
        return x
    nh = max(1, round(h * side / short))
    nw = max(1, round(w * side / short))
    tmp = area_matrix(h, nh) @ x  # (nh, w)
    return np.asarray((area_matrix(w, nw) @ tmp.T).T, dtype=np.float32)


# ------------------------------------------------------------------ primitives
def _residual(x: np.ndarray) -> np.ndarray:
    """High-pass residual: pixel minus the mean of its 4 neighbours (interior)."""
    return x[1:-1, 1:-1] - 0.25 * (x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = np.ascontiguousarray(a, dtype=np.float32).ravel()
    b = np.ascontiguousarray(b, dtype=np.float32).ravel()
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt(float(np.dot(a, a)) * float(np.dot(b, b))))
    return float(np.dot(a, b)) / den if den > _EPS else 0.0


def _blocks(x: np.ndarray, b: int) -> np.ndarray:
    """Non-overlapping ``b`` x ``b`` blocks of ``x`` as rows (edges that do not fit dropped)."""
    h, w = x.shape[0] // b * b, x.shape[1] // b * b
    return x[:h, :w].reshape(h // b, b, w // b, b).swapaxes(1, 2).reshape(-1, b * b)


def _half(x: np.ndarray) -> np.ndarray:
    """2x2 block mean (area down-sampling by 2)."""
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    return 0.25 * (x[:h:2, :w:2] + x[1:h:2, :w:2] + x[:h:2, 1:w:2] + x[1:h:2, 1:w:2])


def _sobel_mag(x: np.ndarray) -> np.ndarray:
    gx = (x[:-2, 2:] + 2 * x[1:-1, 2:] + x[2:, 2:]) - (x[:-2, :-2] + 2 * x[1:-1, :-2] + x[2:, :-2])
    gy = (x[2:, :-2] + 2 * x[2:, 1:-1] + x[2:, 2:]) - (x[:-2, :-2] + 2 * x[:-2, 1:-1] + x[:-2, 2:])
    return np.asarray(np.sqrt(gx * gx + gy * gy))


def immerkaer_sigma(x: np.ndarray) -> float:
    """Immerkær's fast estimate of the standard deviation of additive white noise in ``x``."""
    d = x[:, :-2] - 2.0 * x[:, 1:-1] + x[:, 2:]
    e = d[:-2] - 2.0 * d[1:-1] + d[2:]
    return float(math.sqrt(math.pi / 2.0) * float(np.abs(e).mean()) / 6.0)


def _local_std(x: np.ndarray, size: int = 7) -> np.ndarray:
    m = ndimage.uniform_filter(x, size, mode="reflect")
    m2 = ndimage.uniform_filter(x * x, size, mode="reflect")
    return np.asarray(np.sqrt(np.maximum(m2 - m * m, 0.0)))


def _flat_order(res: np.ndarray, x_inner: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-block residual std, per-block mean local contrast, block order (flattest first)
    and the local-contrast map of a residual and the pixels it was computed from."""
    lstd = _local_std(x_inner)
    rs = _blocks(res, BLOCK).std(axis=1)
    ls = _blocks(lstd, BLOCK).mean(axis=1)
    return rs, ls, np.argsort(ls, kind="stable"), lstd


# ------------------------------------------------------------------ per-crop / per-frame
def _crop_features(y: np.ndarray, rgb: np.ndarray) -> list[float]:
    """Native-resolution cues of one square luma crop ``y`` (float32) and its RGB crop."""
    res = _residual(y)
    inner = y[1:-1, 1:-1]
    rs, ls, order, lstd = _flat_order(res, inner)
    k = max(1, order.size // 10)
    med = float(np.median(rs)) + 1e-2
    flat = float(np.median(rs[order[:k]])) + 1e-2
    tex = float(np.median(rs[order[-k:]])) + 1e-2
    res_contrast = _corr(np.log(rs + 1e-2), np.log(ls + 1e-2))
    rn = res / (lstd + 2.0)
    rn = rn - rn.mean()
    var = float((rn * rn).mean())
    kurt = float((rn**4).mean()) / (var * var + _EPS) - 3.0
    fb = _blocks(res, BLOCK)[order[: max(4, order.size // 4)]].reshape(-1, BLOCK, BLOCK)
    y2 = _half(y)
    y4 = _half(y2)
    a1 = float(np.abs(res).mean()) + 1e-2
    a2 = float(np.abs(_residual(y2)).mean()) + 1e-2
    a4 = float(np.abs(_residual(y4)).mean()) + 1e-2
    q50, q90, q99 = np.percentile(_sobel_mag(y), [50, 90, 99])
    c = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
    rr, rg, rb = (_residual(c[i]) for i in range(3))
    # spectral band ratios
    g = _grid(y.shape[0])
    power = (np.abs(sp_fft.rfft2((y - y.mean()) * g.window)) ** 2).ravel()
    sums = np.bincount(g.bands, weights=power, minlength=len(_BAND_EDGES) + 1)
    mean_band = sums / np.maximum(g.band_sizes, 1.0) + _EPS
    ratios = [float(np.log10(mean_band[b + 1] / mean_band[b])) for b in (1, 2, 3)]
    return [
        math.log10(flat),
        math.log10(flat / med),
        math.log10(tex / med),
        res_contrast,
        math.log1p(max(kurt, -2.0) + 2.0),
        math.log10(float(np.abs(rn).mean()) + 1e-3),
        _corr(fb[:, :, :-1], fb[:, :, 1:]),
        _corr(fb[:, :-1, :], fb[:, 1:, :]),
        math.log10(a1 / a2),
        math.log10(a2 / a4),
        math.log10((q99 + 1.0) / (q50 + 1.0)),
        math.log10((q90 + 1.0) / (q50 + 1.0)),
        _corr(rr, rg),
        _corr(rg, rb),
        *ratios,
    ]


def _fixed_scale_features(luma: np.ndarray) -> list[float]:
    """Cues of the whole frame brought to a short side of :data:`FIXED_SIDE`."""
    s = fixed_scale(luma)
    res = _residual(s)
    rs, _ls, order, _lstd = _flat_order(res, s[1:-1, 1:-1])
    k = max(1, order.size // 10)
    mad = float(np.abs(res).mean())
    grad = float(_sobel_mag(s).mean()) / 8.0  # Sobel gain 8 -> per-pixel gradient
    return [
        math.log10(immerkaer_sigma(s) + 1e-2),
        math.log10(float(np.median(rs[order[:k]])) + 1e-2),
        math.log10(mad + 1e-2),
        math.log10((mad + 1e-2) / (grad + 1e-2)),
    ]


def _frame_features(luma: np.ndarray, rgb: np.ndarray, spectrum: np.ndarray | None,
                    ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Features of one frame (native crops averaged, plus fixed-scale ones) and its residual
    crops; adds the crops' windowed residual power spectra into ``spectrum`` (in place)."""
    h, w = luma.shape
    size = min(CROP, (min(h, w) // 16) * 16)
    if size < 32:
        raise ValueError(f"frame {w}x{h} is too small for forensic features")
    rows = []
    residuals = []
    for cy, cx in _crop_origins(h, w, size, CROPS_PER_FRAME):
        y = luma[cy : cy + size, cx : cx + size].astype(np.float32)
        rows.append(_crop_features(y, rgb[cy : cy + size, cx : cx + size]))
        res = _residual(y)
        residuals.append(res)
        if spectrum is not None and spectrum.shape[0] == size:
            padded = np.pad(res, 1)
            spectrum += np.abs(sp_fft.fft2(padded * _grid(size).window)) ** 2
    native = np.asarray(rows, dtype=np.float64).mean(axis=0)
    return np.concatenate([native, _fixed_scale_features(luma)]), residuals


def grid_peaks(spectrum: np.ndarray) -> list[float]:
    """log10 peak-to-neighbourhood ratios of a (n, n) power spectrum at the points of the
    period-2/4/8 grids: on the axes and off the axes, per period (:data:`POOLED_FEATURES`)."""
    n = spectrum.shape[0]

    def peak(i: int, j: int) -> float:
        ii = np.arange(i - 3, i + 4) % n
        jj = np.arange(j - 3, j + 4) % n
        nb = spectrum[np.ix_(ii, jj)].ravel()
        nb = np.delete(nb, 24)  # the centre
        return float(spectrum[i % n, j % n]) / (float(np.median(nb)) + _EPS)

    out: list[float] = []
    for p in _GRID_PERIODS:
        s = n // p
        axis = [peak(k * s, 0) for k in range(1, p // 2 + 1)]
        axis += [peak(0, k * s) for k in range(1, p // 2 + 1)]
        off = [peak(a * s, b * s) for a in range(1, p) for b in range(1, p)]
        out += [math.log10(float(np.mean(axis)) + _EPS), math.log10(float(np.mean(off)) + _EPS)]
    return out


def _temporal(residuals: Sequence[list[np.ndarray]]) -> float:
    if len(residuals) < 2:
        return 0.0
    corrs = [
        float(np.mean([_corr(ra, rb) for ra, rb in zip(a, b, strict=True)]))
        for a, b in itertools.pairwise(residuals)
    ]
    return float(np.median(corrs))


def extract(sample: SampleLike, *, max_frames: int = MAX_FRAMES) -> ForensicFeatures:
    """Forensic features of a decoded frame sample (deterministic, pixels only).

    At most ``max_frames`` frames, evenly spread over the sample, are analysed.
    """
    rgb = np.asarray(sample.rgb)
    if rgb.ndim != 4 or rgb.shape[0] == 0 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an (N, H, W, 3) RGB sample, got shape {rgb.shape}")
    luma = _luma_of(sample)
    n, h, w = rgb.shape[:3]
    pos = np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))
    size = min(CROP, (min(h, w) // 16) * 16)
    spectrum = np.zeros((size, size), dtype=np.float64) if size >= 32 else None
    rows = []
    residuals = []
    for p in pos:
        feats, res = _frame_features(luma[p], rgb[p], spectrum)
        rows.append(feats)
        residuals.append(res)
    frames = np.nan_to_num(np.vstack(rows), nan=0.0, posinf=0.0, neginf=0.0)
    assert spectrum is not None  # _frame_features raised otherwise
    pooled = np.array([*grid_peaks(spectrum), _temporal(residuals)])
    pooled = np.nan_to_num(pooled, nan=0.0, posinf=0.0, neginf=0.0)
    return ForensicFeatures(frames=frames, pooled=pooled, frame_positions=pos)


__all__ = [
    "CLIP_FEATURES",
    "FAMILIES",
    "FEATURE_VERSION",
    "FIXED_SIDE",
    "FRAME_FEATURES",
    "POOLED_FEATURES",
    "ForensicFeatures",
    "SampleLike",
    "area_matrix",
    "extract",
    "family_columns",
    "fixed_scale",
    "grid_peaks",
    "immerkaer_sigma",
]
