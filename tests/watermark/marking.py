"""Mark a clip the way the sign path does, without signing it: for tests of the mark alone.

The sign path's per-frame marker (:class:`veriframe.signing._Marker`) runs in the pass that
re-encodes the clip (:func:`veriframe.media.rewrite_video`), as ``sign_video`` runs it; no key
folder, manifest or store is involved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from veriframe import media
from veriframe.signing import _Marker
from veriframe.watermark import Payload, WatermarkKey


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 planes (inf when identical)."""
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


def mark_clip(
    src: Path, dst: Path, *, key: WatermarkKey, payload: Payload, crf: int = 18
) -> list[float]:
    """Write ``src`` marked with ``payload`` to ``dst``; the luma PSNR of every marked frame."""
    marker = _Marker(key, payload, fps=float(media.probe(src).fps or 0.0))
    psnrs: list[float] = []

    def transform(index: int, y: np.ndarray) -> np.ndarray:
        out = marker(index, y)
        psnrs.append(psnr(y, out))
        return out

    media.rewrite_video(src, dst, transform=transform, crf=crf)
    return psnrs


def mark_frames(
    frames: np.ndarray, *, key: WatermarkKey, payload: Payload, start: int = 0, fps: float = 24.0
) -> tuple[np.ndarray, list[float]]:
    """Luma planes ``frames`` (N, H, W) marked as the sign path marks them, the first one at
    clip position ``start``; and the luma PSNR of every marked frame."""
    marker = _Marker(key, payload, fps=fps)
    marked = np.stack([marker(start + i, f) for i, f in enumerate(frames)])
    return marked, [psnr(f, m) for f, m in zip(frames, marked, strict=True)]
