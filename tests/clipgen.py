"""Make short synthetic test clips with PyAV: textured moving content and an optional tone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from veriframe.demo import scene


def make_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 12,
    audio: bool = True,
    codec: str = "libx264",
    container: str | None = None,
    pix_fmt: str = "yuv420p",
    seed: int = 7,
) -> Path:
    """Write a clip to ``path`` (format from the extension unless ``container`` is given)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(1, round(seconds * fps))
    with av.open(str(path), "w", format=container) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = width, height
        vs.pix_fmt = pix_fmt
        if codec == "libx264":
            vs.options = {"crf": "18", "preset": "veryfast"}
        a_stream = None
        if audio:
            acodec = "libopus" if path.suffix == ".webm" else "aac"
            a_stream = out.add_stream(acodec, rate=48000)
            a_stream.layout = "mono"
        for i in range(n):
            vf = av.VideoFrame.from_ndarray(scene(i, width, height, seed=seed), format="rgb24")
            for packet in vs.encode(vf):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if a_stream is not None:
            rate = 48000
            total = int(seconds * rate)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(total) / rate)).astype(np.float32)
            chunk = 1024
            for start in range(0, total, chunk):
                samples = tone[start : start + chunk]
                if len(samples) < chunk:
                    samples = np.pad(samples, (0, chunk - len(samples)))
                af = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
                af.sample_rate = rate
                af.pts = start
                af.time_base = Fraction(1, rate)
                for packet in a_stream.encode(af):
                    out.mux(packet)
            for packet in a_stream.encode():
                out.mux(packet)
    return path


def pan_frames(n: int, width: int, height: int, *, step: int, seed: int = 5) -> np.ndarray:
    """A camera panning ``step`` px a frame over a never-repeating landscape of blobs and
    edges: (n, height, width, 3) RGB."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    canvas_w = width + step * n
    coarse = gaussian_filter(rng.normal(0, 1, (height, canvas_w)), 12.0)
    fine = gaussian_filter(rng.normal(0, 1, (height, canvas_w)), 2.0)
    land = 128 + 60 * coarse / np.abs(coarse).max() + 40 * fine / np.abs(fine).max()
    grey = np.clip(land, 0, 255)
    frames = np.stack([grey[:, i * step: i * step + width] for i in range(n)])
    return np.repeat(frames[..., None], 3, axis=3).astype(np.uint8)
