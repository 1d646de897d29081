"""Encode H.264 MP4: rewrite a video's luma frame by frame, or write frames from numpy.

Both writers stream (one frame in memory at a time for ``rewrite_video``), write atomically
(a temporary file beside the target, renamed on success) and carry the audio through:
copied as packets when MP4 can hold the codec (AAC, MP3, ALAC), re-encoded to AAC otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from veriframe._atomic import atomic_output
from veriframe.errors import MediaError
from veriframe.media._open import AV_ERRORS, check_path, describe, open_input, unreadable
from veriframe.media._write import (
    YUV420,
    AudioPass,
    add_h264,
    demuxed,
    encode_failed,
    even,
    flush,
    open_output,
    pass_errors,
    prefetch,
    reformatter,
    same_file_guard,
    yuv_frame,
    yuv_planes,
)
from veriframe.media.limits import Limits, limit_error, resolve_limits
from veriframe.media.probe import (
    MediaInfo,
    audio_streams,
    check_size,
    probe,
    stream_fps,
    video_stream,
)

LumaTransform = Callable[[int, np.ndarray], np.ndarray]
PIPELINE_DEPTH = 4  # frames decoded and marked ahead of the encoder


def _too_small(path: Path, w: int, h: int) -> MediaError:
    return MediaError(
        "media.too-small",
        f"{path.name!r} is {w}x{h}; H.264 needs at least 2x2 pixels",
        "Give a larger video.",
    )


def rewrite_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    transform: LumaTransform,
    crf: float = 18,
    preset: str = "medium",
    limits: Limits | None = None,
) -> MediaInfo:
    """Re-encode ``src`` to H.264 MP4 at ``dst``, passing each frame's luma through ``transform``.

    For frame ``i`` (presentation order) ``transform(i, y)`` gets the Y plane as stored,
    (H, W) uint8, and returns a uint8 array of the same shape; U and V are kept untouched.
    Sources that are not 8-bit 4:2:0 (10-bit, 4:4:4, RGB, GIF palettes) are converted to
    yuv420p first; an odd width or height is cropped to even (said in the result's
    ``notes``). Timestamps and frame rate are kept; audio is copied (AAC/MP3/ALAC) or
    re-encoded to AAC. Returns :func:`probe` of the output. The input is never modified.
    """
    lim = resolve_limits(limits)
    info = probe(src, limits=lim)
    src_p, _ = check_path(src, lim)
    dst_p = Path(dst)
    same_file_guard(src_p, dst_p)
    w2, h2 = even(info.width), even(info.height)
    if w2 < 2 or h2 < 2:
        raise _too_small(src_p, info.width, info.height)
    notes: list[str] = []
    if (w2, h2) != (info.width, info.height):
        notes.append(
            f"cropped {info.width}x{info.height} to {w2}x{h2} (H.264 4:2:0 needs even sizes)"
        )
    if info.pix_fmt not in YUV420:
        notes.append(f"converted {info.pix_fmt} to yuv420p")
    full_range = info.pix_fmt == "yuvj420p"
    with atomic_output(dst_p, suffix=".mp4") as tmp, open_input(src_p) as inp:
        v_in = video_stream(inp, src_p)
        v_in.codec_context.thread_type = "AUTO"
        a_in = next(iter(audio_streams(inp)), None)
        rate = stream_fps(v_in) or Fraction(25)
        tb = v_in.time_base if v_in.time_base and v_in.time_base.denominator <= 1_000_000 else None
        with open_output(tmp, "mp4", dst_p) as out:
            try:
                v_out = add_h264(
                    out,
                    width=w2,
                    height=h2,
                    rate=rate,
                    time_base=tb,
                    crf=crf,
                    preset=preset,
                    full_range=full_range,
                )
                if info.rotation:
                    v_out.set_display_rotation(info.rotation)
                audio = AudioPass(out, a_in) if a_in is not None else None
            except AV_ERRORS as exc:
                raise encode_failed(dst_p, exc) from None
            n = _pump(
                inp,
                v_in,
                a_in,
                v_out,
                out,
                audio,
                transform,
                src_p,
                dst_p,
                lim,
                w2,
                h2,
                rate,
                tb,
                full_range,
            )
            if n == 0:
                raise MediaError(
                    "media.no-frames",
                    f"{src_p.name!r} has a video track with no frames",
                    "The file holds no pictures; re-export it.",
                )
    result = probe(dst_p, limits=lim)
    return dataclasses.replace(result, notes=tuple(notes))


def _pump(
    inp: Any,
    v_in: Any,
    a_in: Any,
    v_out: Any,
    out: Any,
    audio: AudioPass | None,
    transform: LumaTransform,
    src: Path,
    dst: Path,
    lim: Limits,
    w2: int,
    h2: int,
    rate: Fraction,
    tb: Fraction | None,
    full_range: bool,
) -> int:
    """Demux ``inp`` once: video through ``transform`` into ``v_out``, audio through ``audio``."""
    step = max(1, round(1 / (rate * tb))) if tb else 1
    count = 0

    def marked() -> Iterator[tuple[str, Any]]:
        # Runs in prefetch's thread: decode and mark frame i while frame i-1 is encoded.
        index = 0
        convert = reformatter()
        for kind, item in demuxed(inp, v_in, a_in, src):
            if kind == "audio":
                yield kind, item
                continue
            frame = item
            if index >= lim.max_frames:
                raise limit_error("frame count", f"more than {lim.max_frames}",
                                  lim.max_frames, "VERIFRAME_MAX_FRAMES")
            check_size(frame.width, frame.height, lim)
            size_ok = even(frame.width) == w2 and even(frame.height) == h2
            if size_ok and frame.format.name in YUV420:
                frame_yuv = frame
            elif size_ok:
                frame_yuv = convert.reformat(frame, format="yuv420p")
            else:  # the stream changed size mid-way: scale back to the first frame's size
                frame_yuv = convert.reformat(frame, width=w2, height=h2, format="yuv420p")
            y, u, v = yuv_planes(frame_yuv, w2, h2)
            y2 = _checked_luma(transform(index, y.copy()), h2, w2)
            new = yuv_frame(y2, u, v, full_range=full_range)
            yield "video", (new, frame.pts)
            index += 1

    last_pts: int | None = None
    with pass_errors(src, dst, lambda: count > 0):
        for kind, item in prefetch(marked(), depth=PIPELINE_DEPTH):
            if kind == "audio":
                if audio is not None:
                    audio.feed(item)
                continue
            new, src_pts = item
            pts = src_pts if tb is not None else None
            if pts is None or (last_pts is not None and pts <= last_pts):
                pts = (last_pts + step) if last_pts is not None else 0
            new.pts = pts
            new.time_base = tb if tb is not None else Fraction(1, 1) / rate
            last_pts = pts
            for pkt in v_out.encode(new):
                out.mux(pkt)
            count += 1
        flush(out, v_out, audio)
    return count


def write_video(
    dst: str | os.PathLike[str],
    frames: Iterable[np.ndarray] | np.ndarray,
    *,
    fps: float | Fraction,
    audio_from: str | os.PathLike[str] | None = None,
    crf: float = 18,
    preset: str = "medium",
    transform: LumaTransform | None = None,
) -> MediaInfo:
    """Encode RGB uint8 frames ((H, W, 3) each, or one (N, H, W, 3) array) to H.264 MP4.

    ``audio_from`` (a video or audio file) supplies the audio track: copied when MP4 can hold
    its codec, else re-encoded to AAC; audio past the end of the video is dropped. An odd
    width or height is cropped to even (said in the result's ``notes``). ``transform(i, y)``,
    when given, rewrites each frame's luma after the conversion to yuv420p and before the
    encoder, as in :func:`rewrite_video` (the watermark is embedded in the same pass that
    encodes). Atomic: on any failure ``dst`` is left as it was. Returns :func:`probe` of the
    output.
    """
    dst_p = Path(dst)
    rate = Fraction(fps).limit_denominator(1001) if not isinstance(fps, Fraction) else fps
    if not rate > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    audio_p: Path | None = None
    if audio_from is not None:
        audio_p, _ = check_path(audio_from, resolve_limits(None))
        same_file_guard(audio_p, dst_p)
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise MediaError(
            "media.no-frames", "no frames to write", "Pass at least one frame."
        ) from None
    first = _check_rgb(first, None)
    h, w = first.shape[:2]
    w2, h2 = even(w), even(h)
    if w2 < 2 or h2 < 2:
        raise _too_small(dst_p, w, h)
    notes = (
        [f"cropped {w}x{h} to {w2}x{h2} (H.264 4:2:0 needs even sizes)"]
        if (w2, h2) != (w, h)
        else []
    )
    tb = Fraction(1, 1) / rate
    count = 0
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_output(dst_p, suffix=".mp4"))
        out = stack.enter_context(open_output(tmp, "mp4", dst_p))
        a_src = stack.enter_context(open_input(audio_p)) if audio_p is not None else None
        try:
            v_out = add_h264(
                out, width=w2, height=h2, rate=rate, time_base=tb, crf=crf, preset=preset
            )
            audio = _audio_source(a_src, audio_p, out)
        except AV_ERRORS as exc:
            raise encode_failed(dst_p, exc) from None
        convert = reformatter()
        try:
            for arr in _chain(first, it):
                rgb = _check_rgb(arr, (h, w))[:h2, :w2]
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                vf = convert.reformat(vf, format="yuv420p")
                if transform is not None:
                    y, u, v = yuv_planes(vf, w2, h2)
                    vf = yuv_frame(_checked_luma(transform(count, y.copy()), h2, w2), u, v,
                                   full_range=False)
                vf.pts = count
                vf.time_base = tb
                for pkt in v_out.encode(vf):
                    out.mux(pkt)
                count += 1
            for pkt in v_out.encode(None):
                out.mux(pkt)
        except MediaError:
            raise
        except av.error.FFmpegError as exc:
            raise encode_failed(dst_p, exc) from None
        if audio is not None and a_src is not None and audio_p is not None:
            audio.end_time = count / float(rate)
            try:
                for packet in a_src.demux(audio.src):
                    audio.feed(packet)
                audio.finish()
            except AV_ERRORS as exc:
                raise unreadable(audio_p, describe(exc)) from None
    result = probe(dst_p)
    return dataclasses.replace(result, notes=tuple(notes))


def _checked_luma(y: Any, h: int, w: int) -> np.ndarray:
    if not isinstance(y, np.ndarray) or y.dtype != np.uint8 or y.shape != (h, w):
        got = f"{getattr(y, 'dtype', type(y).__name__)} {getattr(y, 'shape', '')}"
        raise ValueError(f"transform must return uint8 of shape {(h, w)}, got {got}")
    return y


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest


def _check_rgb(arr: Any, shape: tuple[int, int] | None) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {a.dtype} {a.shape}")
    if shape is not None and a.shape[:2] != shape:
        raise ValueError(f"all frames must be {shape[1]}x{shape[0]}, got {a.shape[1]}x{a.shape[0]}")
    return a


def _audio_source(inp: Any, path: Path | None, out: Any) -> AudioPass | None:
    """An :class:`AudioPass` from ``inp``'s first audio stream into ``out``."""
    if inp is None or path is None:
        return None
    streams = audio_streams(inp)
    if not streams:
        raise MediaError(
            "media.no-audio",
            f"{path.name!r} has no audio track to copy",
            "Give a file with audio, or no audio source.",
        )
    return AudioPass(out, streams[0])
