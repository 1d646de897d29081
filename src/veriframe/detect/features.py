"""Forensic features from pixels alone, computed on the bounded frame sample verify decodes.

Everything here is NumPy/SciPy on the CPU and reads only decoded pixels, in frame order: no
container field (fps, frame count, size, encoder, timestamps) enters these features, so the
forensic score can be reported on its own.

The features are meant to say as little as possible about *where a clip comes from* (camera,
codec, bitrate, resolution) and as much as possible about *how its pixels were made*, and to
survive what a platform does to an upload (re-encode, resize, new frame rate, crop). Every cue
is a ratio, a correlation, or is measured at a fixed scale:

**Temporal** (every sampled frame, as block-mean thumbnails of about 100 pixels' short side):

- *acceleration of frame descriptors* (Zheng et al., "D3: Training-free AI-generated video
  detection using second-order features", ICCV 2025): for a descriptor sequence d(t) the
  first differences (velocity) and second differences (acceleration); camera footage has
  jerkier, more variable second-order change than the smooth trajectories a video generator
  draws. D3 uses a pretrained encoder's embedding; here two cheap descriptors stand in for it:
  the thumbnail at a fixed 24x24 grid (appearance) and its gradient energy at 12x12
  (texture). Features: mean acceleration over mean velocity, the coefficient of variation of
  the acceleration norm, and the same for texture.
- *flow-field statistics* from a block matcher (8x8 blocks, +-4 px exhaustive SAD search on
  the thumbnails): smoothness (neighbouring vectors' difference over magnitude), divergence
  and curl over magnitude, the share of moving blocks, how much of the frame difference
  motion compensation explains, how consistent the field is from one pair to the next, and
  how global (camera-like) the motion is.
- *temporal noise-residual correlation* between consecutive analysed frames (camera noise is
  independent from frame to frame; decoder texture tends to stay put).

Frames that repeat the previous one (a frame-rate up-conversion duplicates frames) are left
out of the temporal statistics.

**Spatial** (at most :data:`MAX_FRAMES` frames, evenly spread):

- *fixed-scale noise* (Immerkær 1996; Lyu et al. 2014): luma area-resampled to a short side of
  :data:`FIXED_SIDE` (and half that), then Immerkær's noise estimate at both scales, the
  residual of the flattest blocks, the residual magnitude, its ratio to the gradient, and the
  kurtosis of the contrast-normalised residual.
- *noise residual on a native crop* (Fridrich & Kodovsky 2012; Cozzolino & Verdoliva 2020):
  flattest / most textured 16x16 blocks against the median block, residual-contrast
  correlation, contrast-normalised residual kurtosis, neighbour correlation of the residual in
  flat blocks, residual energy at 1/2/4-pixel scales, gradient quantile ratios, radial
  spectral band ratios.
- *up-sampling grid traces* (Zhang et al. 2019; Corvi et al. 2023): the residual power
  spectrum averaged over every analysed crop, peak ratios at the period-2/4/8 grid points on
  and off the axes, and the strongest isolated spectral peak anywhere (a decoder's grid moves
  when a platform resizes the clip, so it is looked for everywhere, not only at 1/8).
- *cross-channel residual structure* (McCloskey & Albright 2019): correlation of the R/G/B
  residuals and the chroma-to-luma residual ratio.

Cost is bounded: thumbnails of at most :data:`SAMPLE_MAX` frames, block matching on at most
:data:`FLOW_PAIRS` pairs, spatial analysis of :data:`MAX_FRAMES` frames with one native crop
of :data:`CROP` pixels each.

:class:`ForensicFeatures` also carries what the detector needs to decide whether the sample is
inside what it was trained on (:class:`SampleQuality`): how many distinct frames, how small
the frames, how much of the picture is perfectly flat (animation, screen recordings).
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

FEATURE_VERSION = 6  # 6: the sample is short runs from key frames (media.sample_runs)
SAMPLE_COUNT = 32  # frames a clip is sampled for scoring (what verify decodes)
CROP = 256
CROPS_PER_FRAME = 1
MAX_FRAMES = 8  # frames analysed for the spatial features (evenly spread over the sample)
SAMPLE_MAX = 32  # frames used for the temporal features at most
FIXED_SIDE = 256  # short side of the fixed-scale copy of each frame
THUMB_SIDE = 96  # thumbnails: block means by an integer factor, short side in [96, 191]
FLOW_PAIRS = 16  # block-matched frame pairs at most
FLOW_BLOCK = 8
FLOW_RADIUS = 4
BLOCK = 16  # block size of the flat/textured block statistics
DUPLICATE_MAD = 0.15  # mean |thumbnail difference| (grey levels) below which a frame repeats
_EPS = 1e-8

# Radial bands of normalised frequency (cycles/pixel, 0..0.5) for the spectral ratios.
_BAND_EDGES = np.array([0.02, 0.06, 0.12, 0.25, 0.5])
_GRID_PERIODS = (2, 4, 8)

FRAME_FEATURES: tuple[str, ...] = (
    # native-resolution crop
    "flat_res",
    "flat_over_med",
    "tex_over_med",
    "res_contrast_corr",
    "nres_kurt",
    "flat_res_corr_h",
    "flat_res_corr_v",
    "res_scale_ratio12",
    "res_scale_ratio24",
    "grad_q99_q50",
    "grad_q90_q50",
    "rgb_res_corr_rg",
    "rgb_res_corr_gb",
    "chroma_res_ratio",
    "spec_ratio1",
    "spec_ratio2",
    "spec_ratio3",
    # the whole frame at a fixed scale
    "fs_noise",
    "fs_noise_half",
    "fs_flat_res",
    "fs_res_mad",
    "fs_lap_over_grad",
    "fs_nres_kurt",
)
TEMPORAL_FEATURES: tuple[str, ...] = (
    "t_d3_acc_vel",
    "t_d3_acc_cv",
    "t_d3_vel_cv",
    "t_d3_tex_acc_vel",
    "t_d3_tex_acc_cv",
    "t_flow_smooth",
    "t_flow_div",
    "t_flow_curl",
    "t_flow_moving",
    "t_flow_comp",
    "t_flow_consist",
    "t_flow_global",
    "t_res_corr",
)
POOLED_FEATURES: tuple[str, ...] = (
    *(f"grid{p}_{where}" for p in _GRID_PERIODS for where in ("axis", "off")),
    "spec_peak_max",
    *TEMPORAL_FEATURES,
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
    "cross_channel": ("rgb_res_", "chroma_"),
    "spectrum": ("spec_",),
    "grid_peaks": ("grid",),
    "temporal_d3": ("t_d3_",),
    "temporal_flow": ("t_flow_",),
    "temporal_residual": ("t_res_",),
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
class SampleQuality:
    """What the sample looks like, for deciding whether the detector is out of its depth.

    ``frames``: frames in the sample; ``distinct``: of those, frames that differ from the one
    before (a frame-rate up-conversion repeats frames); ``width``/``height``: frame size;
    ``flat_fraction``: share of 8x8 blocks of the analysed native crops whose luma range is at
    most 1 grey level at a mid-tone (large perfectly flat areas that are neither black nor
    white: animation, screen recordings, slides).
    """

    frames: int
    distinct: int
    width: int
    height: int
    flat_fraction: float

    def to_dict(self) -> dict[str, float | int]:
        """As plain values."""
        return {"frames": self.frames, "distinct": self.distinct, "width": self.width,
                "height": self.height, "flat_fraction": round(self.flat_fraction, 4)}


@dataclass(frozen=True)
class ForensicFeatures:
    """Per-frame features (``frames``, shape (F, len(FRAME_FEATURES))), the features pooled
    over the clip (``pooled``, :data:`POOLED_FEATURES`) and the sample's quality."""

    frames: np.ndarray
    pooled: np.ndarray
    frame_positions: np.ndarray  # positions (into the sample) of the analysed frames
    quality: SampleQuality | None = None

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


def _normalised_kurtosis(res: np.ndarray, lstd: np.ndarray) -> float:
    """Excess kurtosis of the residual ``res`` divided by its local activity ``lstd``."""
    rn = res / (lstd + 2.0)
    rn = rn - rn.mean()
    rn2 = rn * rn
    var = float(rn2.mean())
    # rn2 * rn2, not rn**4: numpy raises float32 to a 4th power by powf, 30x slower
    return float((rn2 * rn2).mean()) / (var * var + _EPS) - 3.0


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
def _crop_features(y: np.ndarray, rgb: np.ndarray) -> tuple[list[float], float]:
    """Native-resolution cues of one square luma crop ``y`` (float32) and its RGB crop, and
    the share of its 8x8 blocks that are perfectly flat."""
    res = _residual(y)
    inner = y[1:-1, 1:-1]
    rs, ls, order, lstd = _flat_order(res, inner)
    k = max(1, order.size // 10)
    med = float(np.median(rs)) + 1e-2
    flat = float(np.median(rs[order[:k]])) + 1e-2
    tex = float(np.median(rs[order[-k:]])) + 1e-2
    res_contrast = _corr(np.log(rs + 1e-2), np.log(ls + 1e-2))
    kurt = _normalised_kurtosis(res, lstd)
    fb = _blocks(res, BLOCK)[order[: max(4, order.size // 4)]].reshape(-1, BLOCK, BLOCK)
    y2 = _half(y)
    y4 = _half(y2)
    a1 = float(np.abs(res).mean()) + 1e-2
    a2 = float(np.abs(_residual(y2)).mean()) + 1e-2
    a4 = float(np.abs(_residual(y4)).mean()) + 1e-2
    q50, q90, q99 = np.percentile(_sobel_mag(y), [50, 90, 99])
    c = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
    rr, rg, rb = (_residual(c[i]) for i in range(3))
    chroma = float(np.abs(rr - rg).mean() + np.abs(rb - rg).mean()) / 2.0 + 1e-2
    g = _grid(y.shape[0])
    power = (np.abs(sp_fft.rfft2((y - y.mean()) * g.window)) ** 2).ravel()
    sums = np.bincount(g.bands, weights=power, minlength=len(_BAND_EDGES) + 1)
    mean_band = sums / np.maximum(g.band_sizes, 1.0) + _EPS
    ratios = [float(np.log10(mean_band[b + 1] / mean_band[b])) for b in (1, 2, 3)]
    b8 = _blocks(y, 8)
    level = b8.mean(axis=1)
    # Perfectly flat blocks away from black and white: clipped studio backgrounds and dark
    # shadows are flat in camera footage too, flat mid-tones are not.
    flat_share = float((((b8.max(axis=1) - b8.min(axis=1)) <= 1.0)
                        & (level > 24.0) & (level < 230.0)).mean())
    feats = [
        math.log10(flat),
        math.log10(flat / med),
        math.log10(tex / med),
        res_contrast,
        math.log1p(max(kurt, -2.0) + 2.0),
        _corr(fb[:, :, :-1], fb[:, :, 1:]),
        _corr(fb[:, :-1, :], fb[:, 1:, :]),
        math.log10(a1 / a2),
        math.log10(a2 / a4),
        math.log10((q99 + 1.0) / (q50 + 1.0)),
        math.log10((q90 + 1.0) / (q50 + 1.0)),
        _corr(rr, rg),
        _corr(rg, rb),
        math.log10(chroma / a1),
        *ratios,
    ]
    return feats, flat_share


def _fixed_scale_features(luma: np.ndarray) -> list[float]:
    """Cues of the whole frame brought to a short side of :data:`FIXED_SIDE`."""
    s = fixed_scale(luma)
    res = _residual(s)
    rs, _ls, order, lstd = _flat_order(res, s[1:-1, 1:-1])
    k = max(1, order.size // 10)
    mad = float(np.abs(res).mean())
    grad = float(_sobel_mag(s).mean()) / 8.0  # Sobel gain 8 -> per-pixel gradient
    kurt = _normalised_kurtosis(res, lstd)
    return [
        math.log10(immerkaer_sigma(s) + 1e-2),
        math.log10(immerkaer_sigma(_half(s)) + 1e-2),
        math.log10(float(np.median(rs[order[:k]])) + 1e-2),
        math.log10(mad + 1e-2),
        math.log10((mad + 1e-2) / (grad + 1e-2)),
        math.log1p(max(kurt, -2.0) + 2.0),
    ]


def _frame_features(luma: np.ndarray, rgb: np.ndarray, spectrum: np.ndarray,
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """Features of one frame (native crop plus fixed-scale cues), its residual crop and the
    crop's flat-block share; adds the crop's windowed residual power spectrum into
    ``spectrum`` (in place)."""
    h, w = luma.shape
    size = spectrum.shape[0]
    cy, cx = _crop_origins(h, w, size, CROPS_PER_FRAME)[0]
    y = luma[cy : cy + size, cx : cx + size].astype(np.float32)
    native, flat_share = _crop_features(y, rgb[cy : cy + size, cx : cx + size])
    res = _residual(y)
    spectrum += np.abs(sp_fft.fft2(np.pad(res, 1) * _grid(size).window)) ** 2
    feats = np.asarray([*native, *_fixed_scale_features(luma)], dtype=np.float64)
    return feats, res, flat_share


def grid_peaks(spectrum: np.ndarray) -> list[float]:
    """log10 peak-to-neighbourhood ratios of a (n, n) power spectrum at the points of the
    period-2/4/8 grids: on the axes and off the axes, per period."""
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


def spectral_peak(spectrum: np.ndarray) -> float:
    """The strongest isolated peak of a (n, n) power spectrum: the maximum, above 1/32
    cycles/pixel, of the log-power minus its 9x9 local mean (log10 units)."""
    n = spectrum.shape[0]
    logp = np.log10(np.fft.fftshift(spectrum) + _EPS)
    local = ndimage.uniform_filter(logp, 9, mode="wrap")
    fy = np.fft.fftshift(np.fft.fftfreq(n))[:, None]
    fx_ = np.fft.fftshift(np.fft.fftfreq(n))[None, :]
    mask = np.sqrt(fy**2 + fx_**2) > 1.0 / 32.0
    return float((logp - local)[mask].max())


# ------------------------------------------------------------------ temporal
def thumbnails(luma: np.ndarray) -> np.ndarray:
    """Block-mean thumbnails (float32) of every frame: an integer factor brings the short side
    into [THUMB_SIDE, 2 * THUMB_SIDE) (frames smaller than that are kept as they are)."""
    n, h, w = luma.shape
    k = max(1, min(h, w) // THUMB_SIDE)
    hh, ww = h // k, w // k
    if k == 1:
        return luma.astype(np.float32)
    rows = np.ascontiguousarray(luma[:, : hh * k])  # no copy for a C-ordered sample
    kind = np.uint16 if k * k * 255 < 65536 else np.uint32
    sums = rows.reshape(n, hh, k, w).sum(axis=2, dtype=kind)[:, :, : ww * k]
    sums = sums.reshape(n, hh, ww, k).sum(axis=3, dtype=kind)
    return (sums.astype(np.float32) / float(k * k)).astype(np.float32)


def distinct_frames(thumbs: np.ndarray) -> list[int]:
    """Positions of the frames that differ from the previous kept one (mean absolute
    thumbnail difference above :data:`DUPLICATE_MAD` grey levels)."""
    keep = [0] if len(thumbs) else []
    for i in range(1, len(thumbs)):
        if float(np.abs(thumbs[i] - thumbs[keep[-1]]).mean()) > DUPLICATE_MAD:
            keep.append(i)
    return keep


def _descriptors(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Appearance (24x24 area grid of the thumbnail) and texture (12x12 grid of its gradient
    magnitude) descriptors of each thumbnail, as rows."""
    _n, h, w = thumbs.shape
    ah, aw = area_matrix(h, min(24, h)), area_matrix(w, min(24, w))
    gy = np.abs(np.diff(thumbs, axis=1))[:, :, :-1]
    gx = np.abs(np.diff(thumbs, axis=2))[:, :-1, :]
    grad = gy + gx
    th, tw = area_matrix(h - 1, min(12, h - 1)), area_matrix(w - 1, min(12, w - 1))
    app = np.stack([(ah @ (aw @ t.T).T).ravel() for t in thumbs])
    tex = np.stack([(th @ (tw @ g.T).T).ravel() for g in grad])
    return app.astype(np.float64), tex.astype(np.float64)


def _second_order(d: np.ndarray) -> tuple[float, float, float]:
    """(mean |acceleration| / mean |velocity|, CV of |acceleration|, CV of |velocity|) of a
    descriptor sequence (rows in time order)."""
    if len(d) < 4:
        return 0.0, 0.0, 0.0
    v = np.diff(d, axis=0)
    a = np.diff(v, axis=0)
    nv = np.linalg.norm(v, axis=1)
    na = np.linalg.norm(a, axis=1)
    mv, ma = float(nv.mean()), float(na.mean())
    return (ma / (mv + 1e-3), float(na.std()) / (ma + 1e-3), float(nv.std()) / (mv + 1e-3))


def block_match(a: np.ndarray, b: np.ndarray, *, block: int = FLOW_BLOCK,
                radius: int = FLOW_RADIUS) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exhaustive block matching of ``a`` against ``b`` (same shape, float32).

    Returns per-block vectors ``(vy, vx)`` (where each block of ``a`` is found in ``b``), the
    best mean absolute difference and the zero-motion one. Blocks tile ``a`` inside a margin
    of ``radius`` pixels; ties keep the shortest vector.
    """
    h, w = a.shape
    r = radius
    hb, wb = (h - 2 * r) // block, (w - 2 * r) // block
    if hb < 1 or wb < 1:
        z = np.zeros((max(hb, 0), max(wb, 0)))
        return z, z, z, z
    ref = a[r : r + hb * block, r : r + wb * block]
    span = 2 * r + 1
    win = np.lib.stride_tricks.sliding_window_view(
        b[: hb * block + 2 * r, : wb * block + 2 * r], (hb * block, wb * block))
    diff = np.abs(win - ref)  # (span, span, hb * block, wb * block)
    sad = diff.reshape(span, span, hb, block, wb, block).sum(axis=(3, 5)).reshape(
        span * span, hb, wb) / float(block * block)
    dy, dx = np.divmod(np.arange(span * span), span)
    dy, dx = dy - r, dx - r
    # Prefer short vectors on ties: order candidates by length, then take the first minimum.
    order = np.argsort(dy * dy + dx * dx, kind="stable")
    pick = order[np.argmin(sad[order], axis=0)]
    best = np.take_along_axis(sad, pick[None], axis=0)[0]
    zero = sad[r * span + r]
    return (dy[pick].astype(np.float64), dx[pick].astype(np.float64),
            best.astype(np.float64), zero.astype(np.float64))


def _flow_stats(vy: np.ndarray, vx: np.ndarray, best: np.ndarray, zero: np.ndarray,
                ) -> list[float]:
    """Smoothness, divergence, curl, moving share, compensation ratio and globality of one
    block-matched field."""
    mag = np.hypot(vy, vx)
    m = float(mag.mean()) + 0.5
    dxx = np.diff(vx, axis=1)[:-1, :] if vx.shape[0] > 1 else np.zeros((0, 0))
    dyy = np.diff(vy, axis=0)[:, :-1] if vy.shape[1] > 1 else np.zeros((0, 0))
    dxy = np.diff(vx, axis=0)[:, :-1] if vx.shape[1] > 1 else np.zeros((0, 0))
    dyx = np.diff(vy, axis=1)[:-1, :] if vy.shape[0] > 1 else np.zeros((0, 0))
    if dxx.size == 0:
        return [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    smooth = float((np.abs(dxx) + np.abs(dyy) + np.abs(dxy) + np.abs(dyx)).mean()) / m
    div = float(np.abs(dxx + dyy).mean()) / m
    curl = float(np.abs(dyx - dxy).mean()) / m
    moving = float(((mag > 0) & (best < 0.9 * zero)).mean())
    comp = float(best.sum()) / (float(zero.sum()) + _EPS)
    glob = float(np.hypot(np.median(vy), np.median(vx))) / m
    return [smooth, div, curl, moving, comp, glob]


def _temporal_features(thumbs: np.ndarray, crop_residuals: Sequence[np.ndarray]) -> list[float]:
    """:data:`TEMPORAL_FEATURES` from the distinct thumbnails and the analysed residual crops."""
    app, tex = _descriptors(thumbs)
    d3 = _second_order(app)
    d3t = _second_order(tex)
    n = len(thumbs)
    flows: list[list[float]] = []
    consist: list[float] = []
    if n >= 3:
        starts = np.unique(np.linspace(0, n - 3, min(FLOW_PAIRS // 2, n - 2)).round().astype(int))
        for s in starts:
            f1 = block_match(thumbs[s], thumbs[s + 1])
            f2 = block_match(thumbs[s + 1], thumbs[s + 2])
            flows += [_flow_stats(*f1), _flow_stats(*f2)]
            m1, m2 = np.hypot(f1[0], f1[1]), np.hypot(f2[0], f2[1])
            change = np.hypot(f2[0] - f1[0], f2[1] - f1[1])
            consist.append(float(change.mean()) / (float(m1.mean() + m2.mean()) + 1.0))
    flow = np.median(np.asarray(flows), axis=0).tolist() if flows else [0.0] * 5 + [0.0]
    if not flows:
        flow[4] = 1.0
    res_corr = 0.0
    if len(crop_residuals) >= 2:
        res_corr = float(np.median([_corr(a, b) for a, b in itertools.pairwise(crop_residuals)]))
    return [d3[0], d3[1], d3[2], d3t[0], d3t[1], flow[0], flow[1], flow[2], flow[3], flow[4],
            float(np.median(consist)) if consist else 0.0, flow[5], res_corr]


def extract(sample: SampleLike, *, max_frames: int = MAX_FRAMES,
            temporal: bool = True) -> ForensicFeatures:
    """Forensic features of a decoded frame sample (deterministic, pixels only).

    At most ``max_frames`` frames, evenly spread over the sample, are analysed for the spatial
    features; the temporal ones use every distinct frame (at most :data:`SAMPLE_MAX`). With
    ``temporal=False`` the :data:`TEMPORAL_FEATURES` are left at 0 (not computed: for a model
    that does not use them). Raises ValueError for a sample that is not (N, H, W, 3) or whose
    frames are under 32 pixels on a side.
    """
    rgb = np.asarray(sample.rgb)
    if rgb.ndim != 4 or rgb.shape[0] == 0 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an (N, H, W, 3) RGB sample, got shape {rgb.shape}")
    luma = _luma_of(sample)
    n, h, w = rgb.shape[:3]
    size = min(CROP, (min(h, w) // 16) * 16)
    if size < 32:
        raise ValueError(f"frame {w}x{h} is too small for forensic features")
    take = np.unique(np.linspace(0, n - 1, min(n, SAMPLE_MAX)).round().astype(int))
    thumbs = thumbnails(luma[take])
    keep = distinct_frames(thumbs)
    distinct = take[keep]
    # spatial analysis on distinct frames when there are enough of them
    pool = distinct if len(distinct) >= min(max_frames, len(take)) else take
    pos = pool[np.unique(np.linspace(0, len(pool) - 1, min(len(pool), max_frames))
                         .round().astype(int))]
    spectrum = np.zeros((size, size), dtype=np.float64)
    rows = []
    residuals = []
    flat_shares = []
    for p in pos:
        feats, res, flat_share = _frame_features(luma[p], rgb[p], spectrum)
        rows.append(feats)
        residuals.append(res)
        flat_shares.append(flat_share)
    frames = np.nan_to_num(np.vstack(rows), nan=0.0, posinf=0.0, neginf=0.0)
    times = (_temporal_features(thumbs[keep], residuals) if temporal
             else [0.0] * len(TEMPORAL_FEATURES))
    pooled = np.array([*grid_peaks(spectrum), spectral_peak(spectrum), *times])
    pooled = np.nan_to_num(pooled, nan=0.0, posinf=0.0, neginf=0.0)
    quality = SampleQuality(frames=int(n), distinct=len(keep), width=int(w), height=int(h),
                            flat_fraction=float(np.mean(flat_shares)))
    return ForensicFeatures(frames=frames, pooled=pooled, frame_positions=pos, quality=quality)


__all__ = [
    "CLIP_FEATURES",
    "FAMILIES",
    "FEATURE_VERSION",
    "FIXED_SIDE",
    "FRAME_FEATURES",
    "POOLED_FEATURES",
    "TEMPORAL_FEATURES",
    "ForensicFeatures",
    "SampleLike",
    "SampleQuality",
    "area_matrix",
    "block_match",
    "distinct_frames",
    "extract",
    "family_columns",
    "fixed_scale",
    "grid_peaks",
    "immerkaer_sigma",
    "spectral_peak",
    "thumbnails",
]
