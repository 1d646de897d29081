"""Clip makers for the media tests that tests/clipgen.make_clip does not cover."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.clipgen import scene


def make_avi(
    path: Path, *, frames: int = 10, fps: int = 10, width: int = 160, height: int = 120
) -> Path:
    """AVI with MPEG-4 Part 2 video and 16-bit PCM audio (a typical old-camera file)."""
    with av.open(str(path), "w", format="avi") as out:
        vs = out.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.time_base = Fraction(1, fps)
        vs.codec_context.qscale = 3
        vs.options = {"qscale": "3"}
        a = out.add_stream("pcm_s16le", rate=16000)
        a.layout = "mono"
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(scene(i, width, height), format="rgb24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        samples = int(16000 * frames / fps)
        tone = (3000 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.int16)
        af = av.AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
        af.sample_rate, af.pts, af.time_base = 16000, 0, Fraction(1, 16000)
        for p in a.encode(af):
            out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path


def make_zero_frame(path: Path) -> Path:
    """A file whose video track holds no frames (only the audio has samples).

    The MP4 demuxer hides sample-less tracks (that reads as audio-only); Matroska keeps them.
    """
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        tone = np.zeros((1, 4800), np.float32)
        af = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        af.sample_rate, af.pts, af.time_base = 48000, 0, Fraction(1, 48000)
        for p in a.encode(af):
            out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path


def make_rotated(src: Path, dst: Path, degrees: int) -> Path:
    """Remux ``src`` with a display matrix rotating it ``degrees`` counter-clockwise."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        v = inp.streams.video[0]
        o = out.add_stream_from_template(v)
        o.set_display_rotation(degrees)
        for pk in inp.demux(v):
            if pk.dts is None:
                continue
            pk.stream = o
            out.mux(pk)
    return dst


def make_audio_only(path: Path) -> Path:
    """An M4A file with just an AAC tone."""
    with av.open(str(path), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        tone = (0.1 * np.sin(np.arange(48000) / 10)).astype(np.float32)[None, :]
        af = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
        af.sample_rate, af.pts, af.time_base = 48000, 0, Fraction(1, 48000)
        for p in a.encode(af):
            out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path
