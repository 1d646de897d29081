"""Decompression bombs for the decode budget: tiny files that decode to huge pictures.

Each writer makes a small file whose frames are black (they compress to almost nothing) but
large: an 8K HEVC clip, a 4K 60 s 60 fps clip, a 16-bit 4:4:4 stream, a stream whose frame size
grows mid-stream, an AV1 stream with a huge frame size. A kind whose encoder this PyAV build
lacks is skipped with its reason (:func:`make`). ``quick`` versions (what the tests use) have
the same picture size and format but fewer frames and leaner encoder settings, so they are
made in seconds. ``python benchmarks/bombs.py OUT_DIR [KIND...]`` writes the full ones and
prints their sizes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


def _black(width: int, height: int, fmt: str) -> av.VideoFrame:
    rgb = av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), "rgb24")
    return rgb.reformat(format=fmt)


def _write(path: Path, *, codec: str, width: int, height: int, fps: int, frames: int,
           pix_fmt: str, fmt: str | None = None, options: dict[str, str] | None = None) -> Path:
    frame = _black(width, height, pix_fmt)
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = dict(options or {})
        for i in range(frames):
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def hevc_8k(path: Path, quick: bool = False) -> Path:
    """8192x4320 HEVC, 2 s at 30 fps (the probe's 93 KB clip is of this kind); quick: 8 frames."""
    params = "log-level=0"
    if quick:  # one frame thread, no look-ahead: 2 GB and 5 s to encode instead of 3.6 GB, 35 s
        params += ":frame-threads=1:pools=1:lookahead-slices=0:rc-lookahead=1:bframes=0"
    return _write(path, codec="libx265", width=8192, height=4320, fps=30,
                  frames=8 if quick else 60, pix_fmt="yuv420p",
                  options={"preset": "ultrafast", "x265-params": params})


def uhd_60s_60fps(path: Path, quick: bool = False) -> Path:
    """3840x2160 at 60 fps, 60 s (3600 frames), H.264; quick: 2 s."""
    return _write(path, codec="libx264", width=3840, height=2160, fps=60,
                  frames=120 if quick else 3600, pix_fmt="yuv420p",
                  options={"preset": "ultrafast", "g": "600"})


def deep_444(path: Path, quick: bool = False) -> Path:
    """4096x2160 4:4:4 at 16 bits per sample (FFV1 in Matroska), 1 s at 30 fps; quick: 12
    frames (a sample of 12 such frames is already over the service's budget)."""
    return _write(path, codec="ffv1", width=4096, height=2160, fps=30, frames=12 if quick else 30,
                  pix_fmt="yuv444p16le", fmt="matroska")


def growing(path: Path, quick: bool = False) -> Path:
    """MPEG-TS whose H.264 stream is 320x240 for 1 s, then 8192x4320 for 2 s (quick: 10
    frames, then 20). The headers (the first SPS) say 320x240; both parts start at the same
    time stamp, so the clip seems as long as the large part and a sample reads into it."""
    first = path.with_suffix(".a.ts")
    second = path.with_suffix(".b.ts")
    _write(first, codec="libx264", width=320, height=240, fps=30, frames=10 if quick else 30,
           pix_fmt="yuv420p", fmt="mpegts", options={"preset": "ultrafast"})
    _write(second, codec="libx264", width=8192, height=4320, fps=30,
           frames=20 if quick else 60, pix_fmt="yuv420p", fmt="mpegts",
           options={"preset": "ultrafast"})
    path.write_bytes(first.read_bytes() + second.read_bytes())
    first.unlink()
    second.unlink()
    return path


def av1_huge(path: Path, quick: bool = False) -> Path:
    """7680x4320 AV1 (SVT-AV1), 1 s at 30 fps; quick: 4 frames on one encoder thread."""
    options = {"preset": "12"}
    if quick:
        options.update({"svtav1-params": "lp=1", "g": "4"})
    return _write(path, codec="libsvtav1", width=7680, height=4320, fps=30,
                  frames=4 if quick else 30, pix_fmt="yuv420p", fmt="matroska", options=options)


KINDS: dict[str, tuple[str, str, Callable[[Path, bool], Path]]] = {
    # name: (file name, encoder needed, writer)
    "hevc-8k": ("hevc-8k.mp4", "libx265", hevc_8k),
    "uhd-60s-60fps": ("uhd-60s-60fps.mp4", "libx264", uhd_60s_60fps),
    "deep-444": ("deep-444-16bit.mkv", "ffv1", deep_444),
    "growing": ("growing-size.ts", "libx264", growing),
    "av1-huge": ("av1-huge.mkv", "libsvtav1", av1_huge),
}


def make(kind: str, folder: Path, *, quick: bool = False) -> Path | str:
    """The bomb of ``kind`` in ``folder`` (made once), or why it cannot be made here."""
    name, encoder, writer = KINDS[kind]
    if not _has_encoder(encoder):
        return f"this PyAV build has no {encoder} encoder"
    path = folder / (f"quick-{name}" if quick else name)
    if not path.exists() or path.stat().st_size == 0:
        tmp = folder / f"tmp-{path.name}"
        writer(tmp, quick)
        tmp.replace(path)
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bombs")
    out.mkdir(parents=True, exist_ok=True)
    for kind in sys.argv[2:] or KINDS:
        made = make(kind, out)
        if isinstance(made, Path):
            print(f"{kind:16} {made.stat().st_size:>10} bytes  {made}")
        else:
            print(f"{kind:16} skipped: {made}")
