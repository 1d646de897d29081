"""A small convolutional network on high-pass residual patches, scored with NumPy alone.

The network is a candidate pixel model (trained in :mod:`veriframe.detect.lab.cnn`, torch,
lab only). What it sees and how it scores are defined here, so that training and inference
cut the same patches from the same sample:

1. **Patches** (:func:`select_patches`): from :data:`FRAMES` frames spread evenly over the
   decoded luma sample, :data:`PER_FRAME` tiles of :data:`PATCH` x :data:`PATCH` pixels each,
   drawn at random (a seeded generator: scoring is deterministic) among the tiles of a grid
   with a random origin, leaving out flat tiles (luma standard deviation under
   :data:`FLAT_STD` grey levels) and tiles mostly clipped to black or white.
2. **High-pass residual** (:func:`highpass`, fixed, not learned): the luma minus its 3x3 mean,
   truncated to +-:data:`RESIDUAL_CLIP` grey levels and divided by it (the truncation keeps
   strong edges from dominating, as in SRM-style steganalysis filters).
3. **Network**: a few 3x3 convolutions with ReLU (no padding; the first with stride 1, the
   others usually 2), global average pooling, one linear unit: a logit per patch. The clip's
   raw score is the mean patch logit; a Platt calibration maps it to ``p``.

The forward pass (:func:`conv2d`) is an im2col over a strided window view and one matrix
product per layer, channels last; the 32 patches of a 720p sample take a few tens of
milliseconds on one core. Weights are plain arrays (:meth:`ResidualNet.to_json`), never a
pickled object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PATCH = 64
FRAMES = 8  # frames of the sample patches are cut from (evenly spread)
PER_FRAME = 4  # patches per frame
FLAT_STD = 3.0  # tiles with a luma standard deviation below this are flat: never picked
CLIPPED_SHARE = 0.5  # tiles with more than this share at 0-16 or 235-255 are never picked
RESIDUAL_CLIP = 8.0  # grey levels: the residual is truncated to +- this, then scaled to +-1
RUNTIME_SEED = 0  # patch positions at scoring time


def highpass(luma: np.ndarray) -> np.ndarray:
    """The truncated high-pass residual of (..., H, W) luma: (..., H-2, W-2) float32 in
    [-1, 1] (the pixel minus the mean of its 3x3 neighbourhood, valid part only)."""
    x = np.asarray(luma, dtype=np.float32)
    s = x[..., :-2, :] + x[..., 1:-1, :] + x[..., 2:, :]
    box = s[..., :, :-2] + s[..., :, 1:-1] + s[..., :, 2:]
    r = x[..., 1:-1, 1:-1] - box / 9.0
    return np.asarray(np.clip(r, -RESIDUAL_CLIP, RESIDUAL_CLIP) / RESIDUAL_CLIP,
                      dtype=np.float32)


def select_patches(luma: np.ndarray, *, seed: int = RUNTIME_SEED, frames: int = FRAMES,
                   per_frame: int = PER_FRAME, size: int = PATCH) -> np.ndarray:
    """Up to ``frames * per_frame`` textured ``size`` x ``size`` luma patches (uint8,
    (P, size, size)) from an (N, H, W) luma sample; none when the frames are smaller."""
    y = np.asarray(luma)
    if y.ndim != 3 or y.shape[1] < size or y.shape[2] < size or y.shape[0] == 0:
        return np.zeros((0, size, size), dtype=np.uint8)
    rng = np.random.default_rng(seed)
    n, h, w = y.shape
    picks = np.unique(np.linspace(0, n - 1, min(frames, n)).round().astype(int))
    out: list[np.ndarray] = []
    for i in picks:
        # A random grid origin (at most one tile in), so copies do not share positions.
        oy = int(rng.integers(0, min(size, h - size) + 1))
        ox = int(rng.integers(0, min(size, w - size) + 1))
        rows, cols = (h - oy) // size, (w - ox) // size
        tiles = y[i, oy:oy + rows * size, ox:ox + cols * size].reshape(
            rows, size, cols, size).swapaxes(1, 2).reshape(rows * cols, size, size)
        t = tiles.reshape(len(tiles), -1)
        std = t.std(axis=1, dtype=np.float64)
        clipped = ((t <= 16) | (t >= 235)).mean(axis=1)
        ok = np.flatnonzero((std >= FLAT_STD) & (clipped <= CLIPPED_SHARE))
        if ok.size == 0:
            continue
        chosen = rng.choice(ok, size=min(per_frame, ok.size), replace=False)
        out.append(tiles[np.sort(chosen)])
    if not out:
        return np.zeros((0, size, size), dtype=np.uint8)
    return np.ascontiguousarray(np.concatenate(out), dtype=np.uint8)


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """Valid 2-D convolution (cross-correlation, as torch's ``conv2d``), channels last.

    ``x``: (P, H, W, C); ``weight``: (O, C, k, k) as torch stores it; returns (P, H', W', O).
    """
    o, c, k, _ = weight.shape
    win = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # P,H',W',C,k,k
    p, hh, ww = win.shape[:3]
    cols = win.reshape(p * hh * ww, c * k * k)
    out = cols @ weight.reshape(o, c * k * k).T.astype(x.dtype, copy=False)
    out += bias.astype(x.dtype, copy=False)
    return out.reshape(p, hh, ww, o)


@dataclass(frozen=True)
class ResidualNet:
    """Weights of the network: per conv layer ``(weight (O, C, k, k), bias (O,), stride)``,
    then the linear head ``head_w`` (C,), ``head_b``; and the clip-level Platt calibration
    of the mean patch logit."""

    convs: tuple[tuple[np.ndarray, np.ndarray, int], ...]
    head_w: np.ndarray
    head_b: float
    platt_slope: float = 1.0
    platt_intercept: float = 0.0

    def patch_logits(self, patches: np.ndarray) -> np.ndarray:
        """One logit per uint8 luma patch ((P, S, S) -> (P,)), in batches of 64."""
        patches = np.asarray(patches)
        if len(patches) == 0:
            return np.zeros(0)
        out = []
        for start in range(0, len(patches), 64):
            x = highpass(patches[start:start + 64])[..., None]  # P, H, W, 1
            for weight, bias, stride in self.convs:
                x = np.maximum(conv2d(x, weight, bias, stride), 0.0)
            pooled = x.mean(axis=(1, 2), dtype=np.float64)
            out.append(pooled @ self.head_w + self.head_b)
        return np.concatenate(out)

    def clip_logit(self, patches: np.ndarray) -> float:
        """The mean patch logit (NaN when there is no patch)."""
        z = self.patch_logits(patches)
        return float(z.mean()) if z.size else float("nan")

    def p_synthetic(self, luma: np.ndarray) -> float | None:
        """Calibrated p of a decoded (N, H, W) luma sample (None: no usable patch)."""
        z = self.clip_logit(select_patches(luma))
        if math.isnan(z):
            return None
        t = self.platt_slope * z + self.platt_intercept
        return float(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, t)))))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: lists of numbers."""
        return {"convs": [{"weight": w.tolist(), "bias": b.tolist(), "stride": s}
                          for w, b, s in self.convs],
                "head": {"weight": self.head_w.tolist(), "bias": self.head_b},
                "calibration": {"slope": self.platt_slope, "intercept": self.platt_intercept},
                "patch": PATCH, "frames": FRAMES, "per_frame": PER_FRAME,
                "residual_clip": RESIDUAL_CLIP}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ResidualNet:
        """Read :meth:`to_json`'s document (numbers only; shapes checked)."""
        convs = []
        channels = 1
        for layer in doc["convs"]:
            w = np.asarray(layer["weight"], dtype=np.float32)
            b = np.asarray(layer["bias"], dtype=np.float32)
            stride = int(layer["stride"])
            if w.ndim != 4 or w.shape[1] != channels or w.shape[2] != w.shape[3] or \
                    b.shape != (w.shape[0],) or stride < 1:
                raise ValueError("residual net: a convolution of the wrong shape")
            convs.append((w, b, stride))
            channels = w.shape[0]
        head_w = np.asarray(doc["head"]["weight"], dtype=np.float64)
        if head_w.shape != (channels,):
            raise ValueError("residual net: the head does not match the last convolution")
        cal = doc.get("calibration", {})
        return cls(convs=tuple(convs), head_w=head_w, head_b=float(doc["head"]["bias"]),
                   platt_slope=float(cal.get("slope", 1.0)),
                   platt_intercept=float(cal.get("intercept", 0.0)))


def random_net(channels: Sequence[int] = (8, 16, 32, 32), strides: Sequence[int] = (1, 2, 2, 2),
               *, seed: int = 0) -> ResidualNet:
    """A network of the given shape with random weights (tests and timing)."""
    rng = np.random.default_rng(seed)
    convs = []
    c_in = 1
    for c, s in zip(channels, strides, strict=True):
        w = rng.normal(0, math.sqrt(2.0 / (9 * c_in)), (c, c_in, 3, 3)).astype(np.float32)
        convs.append((w, rng.normal(0, 0.05, c).astype(np.float32), s))
        c_in = c
    return ResidualNet(convs=tuple(convs), head_w=rng.normal(0, 0.3, c_in),
                       head_b=float(rng.normal()))


__all__ = ["FRAMES", "PATCH", "PER_FRAME", "ResidualNet", "conv2d", "highpass", "random_net",
           "select_patches"]
