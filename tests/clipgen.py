"""Make short synthetic test clips with PyAV: textured moving content and an optional tone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def scene(index: int, width: int, height: int, *, seed: int = 7) -> np.ndarray:
    """One RGB frame: smooth gradients, a textured band and a moving disc (natural-ish)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = index / 10.0
    base = 110 + 60 * np.sin(xx / 37.0 + t) * np.cos(yy / 53.0 - 0.5 * t)
    texture = rng.normal(0, 12, size=(height, width)).astype(np.float32)
    texture = np.roll(texture, index * 3, axis=1)
    cx = width * (0.3 + 0.4 * np.sin(t))
    cy = height * 0.5
    disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (min(width, height) * 0.18) ** 2
    r = base + texture * 0.6 + disc * 60
    g = base * 0.8 + texture * 0.4 + 20
    b = 200 - base * 0.5 + texture * 0.5 - disc * 40
    frame = np.stack([r, g, b], axis=-1)
    return np.clip(frame, 0, 255).astype(np.uint8)


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
