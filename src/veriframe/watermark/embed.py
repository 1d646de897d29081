"""Embedding: add the keyed pattern to the luma plane, scaled by local texture.

The pattern for a clip is computed once; per frame the work is a texture mask (box filters on a
half-resolution copy) and one multiply-add, so embedding keeps up with the encoder. A v2 mark
also depends on the frame's position (its keyed sign, :func:`.pattern.frame_sign`), which
:func:`embed_luma` takes as ``index``; the sign path calls it once per frame in the pass that
encodes (``veriframe.signing``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from veriframe.errors import WatermarkError
from veriframe.watermark.keys import WatermarkKey
from veriframe.watermark.pattern import check_version, frame_sign, pattern_for
from veriframe.watermark.payload import Payload

DEFAULT_STRENGTH = 1.0
MIN_SIDE = 64
# Amplitude (luma levels, before ``strength``) on flat areas and at most on busy texture.
FLAT_AMPLITUDE = 0.9
MAX_TEXTURE_GAIN = 1.0
MAX_AMPLITUDE = 4.0
# Root-mean-square amplitude cap per frame: keeps luma PSNR above 42 dB on busy content.
RMS_CAP = 1.9


def texture_mask(y: np.ndarray) -> np.ndarray:
    """Per-pixel amplitude from local activity (mean absolute deviation from a local mean).

    ``FLAT_AMPLITUDE`` on flat areas, more where texture masks it: the texture gain is chosen per
    frame so that the mark uses the frame's whole energy budget (RMS :data:`RMS_CAP`, i.e. the
    PSNR floor) without exceeding :data:`MAX_AMPLITUDE` anywhere or :data:`MAX_TEXTURE_GAIN`
    times the local activity. Busy frames thus carry the mark where a codec keeps detail; flat
    frames stay at the flat amplitude. Computed at half resolution (2x2 means) and expanded back:
    the mask only needs to follow texture at the scale of a few pixels.
    """
    h, w = y.shape
    h2, w2 = h // 2 * 2, w // 2 * 2
    small = y[:h2, :w2].astype(np.float32).reshape(h2 // 2, 2, w2 // 2, 2).mean(axis=(1, 3))
    dev = np.abs(small - ndimage.uniform_filter(small, size=3, mode="nearest"))
    act = ndimage.uniform_filter(dev, size=5, mode="nearest")
    gain = _texture_gain(act)
    amp = np.clip(FLAT_AMPLITUDE + gain * act, FLAT_AMPLITUDE, MAX_AMPLITUDE)
    rms = float(np.sqrt(np.mean(amp * amp)))
    if rms > RMS_CAP:
        amp *= RMS_CAP / rms
    full = np.repeat(np.repeat(amp, 2, axis=0), 2, axis=1)
    if (h2, w2) != (h, w):
        full = np.pad(full, ((0, h - h2), (0, w - w2)), mode="edge")
    return full


def _texture_gain(act: np.ndarray) -> float:
    """Largest gain <= MAX_TEXTURE_GAIN whose unclipped mask RMS stays within RMS_CAP."""
    m1 = float(act.mean())
    m2 = float(np.mean(act * act))
    if m2 <= 1e-9:
        return MAX_TEXTURE_GAIN
    # solve F^2 + 2 F g m1 + g^2 m2 = cap^2 for g >= 0
    f = FLAT_AMPLITUDE
    disc = (f * m1) ** 2 - m2 * (f * f - RMS_CAP * RMS_CAP)
    g = (-f * m1 + float(np.sqrt(max(disc, 0.0)))) / m2
    return float(min(MAX_TEXTURE_GAIN, max(0.0, g)))


def _check_frame(y: np.ndarray) -> None:
    if y.ndim != 2 or y.dtype != np.uint8:
        raise WatermarkError(
            "watermark.bad-frame",
            f"expected a 2-D uint8 luma plane, got {y.dtype} with shape {y.shape}",
            "pass the Y plane of a yuv420p frame",
        )
    if min(y.shape) < MIN_SIDE:
        raise WatermarkError(
            "watermark.frame-too-small",
            f"frame {y.shape[1]}x{y.shape[0]} is too small to carry the watermark",
            f"the short side must be at least {MIN_SIDE} pixels",
        )


def embed_luma(
    y: np.ndarray,
    *,
    key: WatermarkKey,
    payload: Payload,
    strength: float = DEFAULT_STRENGTH,
    index: int = 0,
) -> np.ndarray:
    """Return a watermarked copy of one luma plane ``y`` ((H, W) uint8).

    ``payload.version`` selects the pattern: 2 (the default) is the time-modulated v2 mark, for
    which ``index`` is the frame's position in the clip (0-based, presentation order); 1 is the
    constant v1 mark, made exactly as before v2 existed (``index`` is then ignored).
    """
    _check_frame(y)
    version = check_version(payload.version)
    pattern = pattern_for(key, payload, y.shape[0], y.shape[1])
    amp = texture_mask(y)
    amp *= pattern
    if version >= 2:
        strength = strength * frame_sign(key, index, payload=payload)
    if strength != 1.0:
        amp *= strength
    amp += y
    np.rint(amp, out=amp)
    np.clip(amp, 0, 255, out=amp)
    return amp.astype(np.uint8)
