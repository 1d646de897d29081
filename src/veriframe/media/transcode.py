"""Platform-style re-encodes, stream-copy remuxes, and conversion to signable MP4.

:func:`transcode` runs decoded frames through an FFmpeg filter graph (trim, crop, scale,
brightness/contrast on luma, ``fps``) inside PyAV, so frame-rate conversion drops and
duplicates frames by timestamp exactly as ``ffmpeg -vf fps=`` does. It is what the demo, the
watermark robustness benchmark and the tests use to imitate what platforms do to uploads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.filter

from veriframe._atomic import atomic_output
from veriframe.errors import MediaError
from veriframe.media._open import AV_ERRORS, check_path, open_input
from veriframe.media._write import (
    MP4_AUDIO_COPY,
    YUV420,
    AudioPass,
    decoded_frames,
    encode_failed,
    even,
    flush,
    format_for,
    open_output,
    pass_errors,
    same_file_guard,
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

# Which video encoders each output container takes, and its audio encoder.
_CONTAINER_CODECS = {
    "mp4": ({"libx264", "libx265", "mpeg4", "libvpx-vp9"}, "aac"),
    "mov": ({"libx264", "libx265", "mpeg4"}, "aac"),
    "matroska": ({"libx264", "libx265", "mpeg4", "libvpx-vp9"}, "aac"),
    "webm": ({"libvpx-vp9"}, "libopus"),
    "gif": ({"gif"}, None),
}
_DEFAULT_CODEC = {"webm": "libvpx-vp9", "gif": "gif"}
_VP9_SPEED = {
    "ultrafast": ("realtime", "8"),
    "superfast": ("realtime", "8"),
    "veryfast": ("realtime", "8"),
    "faster": ("good", "6"),
    "fast": ("good", "5"),
    "medium": ("good", "4"),
    "slow": ("good", "2"),
    "slower": ("good", "1"),
    "veryslow": ("good", "0"),
}

Crop = float | tuple[int, int, int, int]
Scale = float | tuple[int, int]


def _geometry(
    width: int, height: int, crop: Crop | None, scale: Scale | None, *, even_out: bool
) -> tuple[tuple[int, int, int, int] | None, tuple[int, int] | None, tuple[int, int]]:
    """Crop rectangle, scale size and final size for a ``width`` x ``height`` source."""
    rect: tuple[int, int, int, int] | None = None
    w, h = width, height
    if crop is not None:
        if isinstance(crop, (int, float)):
            if not 0 <= crop < 1:
                raise ValueError(f"crop fraction must be in [0, 1), got {crop}")
            cw = max(2, even(round(width * (1 - crop))))
            ch = max(2, even(round(height * (1 - crop))))
            rect = ((width - cw) // 2, (height - ch) // 2, cw, ch)
        else:
            x, y, cw, ch = (int(v) for v in crop)
            if x < 0 or y < 0 or cw <= 0 or ch <= 0 or x + cw > width or y + ch > height:
                raise ValueError(f"crop {crop} does not fit a {width}x{height} frame")
            rect = (x, y, cw, ch)
        w, h = rect[2], rect[3]
    size: tuple[int, int] | None = None
    if scale is not None:
        if isinstance(scale, (int, float)):
            if not scale > 0:
                raise ValueError(f"scale factor must be positive, got {scale}")
            size = (max(2, round(w * scale)), max(2, round(h * scale)))
        else:
            size = (int(scale[0]), int(scale[1]))
            if size[0] <= 0 or size[1] <= 0:
                raise ValueError(f"scale size must be positive, got {scale}")
    fw, fh = size if size is not None else (w, h)
    if even_out and (fw % 2 or fh % 2):
        if size is not None:
            size = (max(2, even(fw)), max(2, even(fh)))
        else:
            x0, y0 = (rect[0], rect[1]) if rect else (0, 0)
            rect = (x0, y0, even(w), even(h))
        fw, fh = even(fw), even(fh)
    if fw < 2 or fh < 2:
        raise MediaError(
            "media.too-small", f"the output would be {fw}x{fh} pixels", "Use a larger size."
        )
    return rect, size, (fw, fh)


def _video_stream_out(
    out: Any,
    codec: str,
    *,
    rate: Fraction,
    size: tuple[int, int],
    time_base: Fraction,
    crf: float,
    bitrate: int | None,
    preset: str,
    fmt: str,
) -> Any:
    vs = out.add_stream(codec, rate=rate)
    vs.width, vs.height = size
    vs.codec_context.time_base = time_base
    options: dict[str, str] = {}
    if codec == "gif":
        vs.pix_fmt = "rgb8"
    else:
        vs.pix_fmt = "yuv420p"
    if codec in ("libx264", "libx265"):
        options["preset"] = preset
        if bitrate:
            vs.bit_rate = int(bitrate)
        else:
            options["crf"] = f"{crf:g}"
        if codec == "libx265":
            options["x265-params"] = "log-level=error"
            if fmt in ("mp4", "mov"):
                vs.codec_tag = "hvc1"  # plays in QuickTime/Safari
    elif codec == "libvpx-vp9":
        deadline, cpu = _VP9_SPEED.get(preset, ("good", "4"))
        options.update({"deadline": deadline, "cpu-used": cpu, "row-mt": "1"})
        if bitrate:
            vs.bit_rate = int(bitrate)
        else:
            options.update({"crf": f"{crf:g}", "b": "0"})
    elif codec == "mpeg4":
        if bitrate:
            vs.bit_rate = int(bitrate)
        else:
            options["qscale"] = "3"
            vs.codec_context.qscale = 3
    vs.options = options
    return vs


def _graph(
    first: Any,
    time_base: Fraction,
    *,
    start_pts: int | None,
    duration: float | None,
    rect: tuple[int, int, int, int] | None,
    size: tuple[int, int] | None,
    brightness: float,
    contrast: float,
    fps: Fraction | None,
    pix_fmt: str,
) -> Any:
    """Build the filter graph: trim, crop, scale, eq, fps, format."""
    g = av.filter.Graph()
    nodes = [
        g.add_buffer(
            width=first.width,
            height=first.height,
            format=first.format.name,
            time_base=time_base,
        )
    ]
    if start_pts is not None or duration is not None:
        args = []
        if start_pts is not None:
            args.append(f"start_pts={start_pts}")
        if duration is not None:
            args.append(f"duration={duration:.6f}")
        nodes.append(g.add("trim", ":".join(args)))
        nodes.append(g.add("setpts", "PTS-STARTPTS"))
    if rect is not None:
        x, y, w, h = rect
        nodes.append(g.add("crop", f"w={w}:h={h}:x={x}:y={y}:exact=1"))
    if size is not None:
        nodes.append(g.add("scale", f"w={size[0]}:h={size[1]}:flags=bicubic"))
    if brightness != 0.0 or contrast != 1.0:
        # Y' = clip((Y - 128) * contrast + 128 + 255 * brightness); chroma untouched, like
        # FFmpeg's eq filter (which the LGPL build that PyAV bundles does not include).
        expr = f"(val-128)*{contrast:.6f}+128+{255.0 * brightness:.6f}"
        nodes.append(g.add("lutyuv", f"y=clip({expr}\\,0\\,255)"))
    if fps is not None:
        nodes.append(g.add("fps", f"fps={fps.numerator}/{fps.denominator}"))
    nodes.append(g.add("format", f"pix_fmts={pix_fmt}"))
    nodes.append(g.add("buffersink"))
    for a, b in itertools.pairwise(nodes):
        a.link_to(b)
    g.configure()
    return g


def transcode(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    codec: str = "libx264",
    crf: float = 23,
    container: str | None = None,
    scale: Scale | None = None,
    crop: Crop | None = None,
    fps: float | Fraction | None = None,
    start: float | None = None,
    duration: float | None = None,
    brightness: float = 0.0,
    contrast: float = 1.0,
    bitrate: int | None = None,
    preset: str = "medium",
    limits: Limits | None = None,
) -> MediaInfo:
    """Re-encode ``src`` the way a platform would, into ``dst``.

    ``codec``: ``libx264``, ``libx265``, ``libvpx-vp9``, ``mpeg4`` or ``gif`` (the container,
    from ``container`` or ``dst``'s extension (mp4, mov, mkv, webm, gif), must hold it; for
    ``.webm``/``.gif`` the default codec is VP9/GIF). ``crf`` sets quality unless
    ``bitrate`` (bits/s) is given. ``crop`` is a fraction removed (centred, e.g. 0.1)
    or ``(x, y, w, h)``;
    ``scale`` a factor or ``(w, h)`` applied after the crop; ``brightness`` is added to luma
    in units of full range ([-1, 1]) and ``contrast`` scales luma around 128
    (``Y' = (Y - 128) * contrast + 128 + 255 * brightness``, clipped; chroma untouched);
    ``fps`` converts the frame rate by timestamp (frames dropped or duplicated);
    ``start``/``duration`` (seconds) cut an excerpt that starts at 0. Audio is re-encoded
    (AAC; Opus in WebM; none in GIF). Sizes are rounded to even. Atomic. Returns
    :func:`probe` of the output.
    """
    return _transcode(
        src,
        dst,
        codec=codec,
        crf=crf,
        container=container,
        scale=scale,
        crop=crop,
        fps=fps,
        start=start,
        duration=duration,
        brightness=brightness,
        contrast=contrast,
        bitrate=bitrate,
        preset=preset,
        limits=limits,
        copy_audio=frozenset(),
    )


def _transcode(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    codec: str,
    crf: float,
    container: str | None,
    scale: Scale | None,
    crop: Crop | None,
    fps: float | Fraction | None,
    start: float | None,
    duration: float | None,
    brightness: float,
    contrast: float,
    bitrate: int | None,
    preset: str,
    limits: Limits | None,
    copy_audio: frozenset[str],
) -> MediaInfo:
    lim = resolve_limits(limits)
    dst_p = Path(dst)
    fmt = format_for(dst_p, container)
    if codec == "libx264" and fmt in _DEFAULT_CODEC:
        codec = _DEFAULT_CODEC[fmt]
    allowed, audio_codec = _CONTAINER_CODECS.get(fmt, (set(), None))
    if codec not in allowed:
        raise ValueError(f"codec {codec!r} cannot go into a {fmt} container")
    if not -1.0 <= brightness <= 1.0:
        raise ValueError(f"brightness must be in [-1, 1], got {brightness}")
    if not 0.0 < contrast <= 4.0:
        raise ValueError(f"contrast must be in (0, 4], got {contrast}")
    if start is not None and start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    out_rate = None
    if fps is not None:
        out_rate = Fraction(fps).limit_denominator(1001)
        if not out_rate > 0:
            raise ValueError(f"fps must be positive, got {fps}")
    info = probe(src, limits=lim)
    src_p, _ = check_path(src, lim)
    same_file_guard(src_p, dst_p)
    if out_rate is None and fmt == "gif" and info.fps:
        # GIF stores per-frame delays in 1/100 s: resample by timestamp to the nominal rate.
        out_rate = Fraction(info.fps).limit_denominator(1001)
    rect, size, final = _geometry(info.width, info.height, crop, scale, even_out=codec != "gif")
    check_size(final[0], final[1], lim)
    with atomic_output(dst_p) as tmp, open_input(src_p) as inp:
        v_in = video_stream(inp, src_p)
        v_in.codec_context.thread_type = "AUTO"
        a_in = next(iter(audio_streams(inp)), None) if audio_codec else None
        in_rate = stream_fps(v_in) or Fraction(25)
        rate = out_rate or in_rate
        tb_in = v_in.time_base or Fraction(1, 1) / in_rate
        out_tb = Fraction(1, 1) / out_rate if out_rate else tb_in
        # ``start`` and ``duration`` count from the video's first timestamp, which need not
        # be 0 (cut or offset files); frame and packet times below are absolute.
        first = v_in.start_time or 0
        origin = float(first * tb_in)
        start_pts = None
        if start is not None:
            start_pts = first + round(start / tb_in)
            with contextlib.suppress(*AV_ERRORS):
                inp.seek(start_pts, stream=v_in, backward=True, any_frame=False)
        graph = functools.partial(
            _graph,
            time_base=tb_in,
            start_pts=start_pts,
            duration=duration,
            rect=rect,
            size=size,
            brightness=brightness,
            contrast=contrast,
            fps=out_rate,
            pix_fmt="rgb8" if codec == "gif" else "yuv420p",
        )
        end_time = origin + (start or 0.0) + duration if duration is not None else None
        with open_output(tmp, fmt, dst_p) as out:
            try:
                v_out = _video_stream_out(
                    out,
                    codec,
                    rate=rate,
                    size=final,
                    time_base=out_tb,
                    crf=crf,
                    bitrate=bitrate,
                    preset=preset,
                    fmt=fmt,
                )
                if info.rotation and fmt in ("mp4", "mov"):
                    v_out.set_display_rotation(info.rotation)
                audio = None
                if a_in is not None and audio_codec is not None:
                    audio = AudioPass(
                        out,
                        a_in,
                        copy_codecs=copy_audio,
                        encoder=audio_codec,
                        start_time=None if start is None else origin + start,
                        end_time=end_time,
                    )
            except AV_ERRORS as exc:
                raise encode_failed(dst_p, exc) from None
            n = _run(inp, v_in, a_in, audio, graph, v_out, out, out_tb, src_p, dst_p, lim, end_time)
            if n == 0:
                raise MediaError(
                    "media.no-frames",
                    f"no frames of {src_p.name!r} fall in the requested excerpt",
                    "Check start and duration against the clip's length.",
                )
    return probe(dst_p, limits=lim)


def _run(
    inp: Any,
    v_in: Any,
    a_in: Any,
    audio: AudioPass | None,
    make_graph: Callable[[Any], Any],
    v_out: Any,
    out: Any,
    out_tb: Fraction,
    src: Path,
    dst: Path,
    lim: Limits,
    end_time: float | None,
) -> int:
    """Decode, filter, encode and mux; returns the number of frames written."""
    written = 0
    decoded = 0
    graph: Any = None

    def drain() -> None:
        nonlocal written
        while True:
            try:
                frame = graph.pull()
            except (BlockingIOError, EOFError, av.error.BlockingIOError, av.error.EOFError):
                return
            frame.time_base = out_tb
            frame.pict_type = av.video.frame.PictureType.NONE
            for pkt in v_out.encode(frame):
                out.mux(pkt)
            written += 1

    with pass_errors(src, dst, lambda: decoded > 0):
        for frame in decoded_frames(inp, v_in, a_in, audio, src):
            decoded += 1
            if decoded > lim.max_frames:
                raise limit_error(
                    "frame count",
                    f"more than {lim.max_frames}",
                    lim.max_frames,
                    "VERIFRAME_MAX_FRAMES",
                )
            check_size(frame.width, frame.height, lim)
            if end_time is not None and frame.time is not None and frame.time > end_time + 1:
                break
            if graph is None:
                graph = make_graph(frame)
            try:
                graph.push(frame)
            except (EOFError, av.error.EOFError):
                break  # trim reached its end
            drain()
        if graph is not None:
            with contextlib.suppress(EOFError, av.error.EOFError):
                graph.push(None)
            drain()
        flush(out, v_out, audio)
    return written


def remux(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> MediaInfo:
    """Copy the video and audio streams of ``src`` into a new container at ``dst``.

    What ``ffmpeg -i src -c copy dst`` does: no re-encoding, and everything that is not a
    stream (a C2PA manifest, most metadata boxes) is dropped. The container comes from
    ``dst``'s extension and must be able to hold the codecs (``media.encode-failed``
    otherwise). Atomic. Returns :func:`probe` of the output.
    """
    lim = resolve_limits(None)
    probe(src, limits=lim)
    src_p, _ = check_path(src, lim)
    dst_p = Path(dst)
    same_file_guard(src_p, dst_p)
    fmt = format_for(dst_p)
    with atomic_output(dst_p) as tmp, open_input(src_p) as inp:
        v_in = video_stream(inp, src_p)
        ins = [v_in, *audio_streams(inp)]
        with open_output(tmp, fmt, dst_p) as out:
            try:
                outs = {s.index: out.add_stream_from_template(s) for s in ins}
                for packet in inp.demux(*ins):
                    if packet.dts is None or packet.size == 0:
                        continue
                    packet.stream = outs[packet.stream.index]
                    out.mux(packet)
            except AV_ERRORS as exc:
                raise encode_failed(dst_p, exc) from None
    return probe(dst_p, limits=lim)


def to_mp4(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    crf: float = 18,
    preset: str = "medium",
    limits: Limits | None = None,
) -> MediaInfo:
    """Convert any supported video (webm, mkv, avi, gif, mov, ...) to a signable H.264 MP4.

    An MP4/MOV that already holds 8-bit 4:2:0 H.264 with MP4-friendly audio (or none) is
    remuxed without re-encoding; anything else is re-encoded to H.264 (``crf``) with audio
    copied when MP4 can hold it, else AAC. Atomic. The result's ``notes`` say which path ran.
    """
    lim = resolve_limits(limits)
    info = probe(src, limits=lim)
    audio_ok = not info.has_audio or info.audio_codec in MP4_AUDIO_COPY
    if (
        info.container in ("mp4", "mov")
        and info.video_codec == "h264"
        and info.pix_fmt in YUV420
        and audio_ok
        and info.width % 2 == 0
        and info.height % 2 == 0
    ):
        result = remux(src, dst)
        return dataclasses.replace(result, notes=("remuxed without re-encoding",))
    result = _transcode(
        src,
        dst,
        codec="libx264",
        crf=crf,
        container="mp4",
        scale=None,
        crop=None,
        fps=None,
        start=None,
        duration=None,
        brightness=0.0,
        contrast=1.0,
        bitrate=None,
        preset=preset,
        limits=lim,
        copy_audio=MP4_AUDIO_COPY,
    )
    notes = [f"re-encoded {info.container}/{info.video_codec} to H.264 MP4"]
    if info.width % 2 or info.height % 2:
        notes.append(f"cropped {info.width}x{info.height} to {result.width}x{result.height}")
    return dataclasses.replace(result, notes=tuple(notes))


__all__ = ["remux", "to_mp4", "transcode"]
