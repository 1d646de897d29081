"""Probe a media file: container, video/audio streams, rotation, metadata.

Stream headers are attacker-controlled: the claimed size, frame count and duration are
checked against :class:`~veriframe.media.limits.Limits` before any frame is decoded.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from veriframe.errors import MediaError, UnsupportedInputError
from veriframe.media._open import AV_ERRORS, check_path, describe, open_input, unreadable
from veriframe.media.limits import Limits, limit_error, plan_decode, resolve_limits

# Formats whose demuxer name lists several containers: pick the one the file really is.
_MOV_BRANDS_QT = ("qt",)


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` found in one file.

    ``width``/``height`` are the coded (stored) size; ``rotation`` is the display rotation
    in degrees counter-clockwise, normalised to [0, 360) (the convention of PyAV's
    ``VideoFrame.rotation`` and ``VideoStream.set_display_rotation``; a legacy ``rotate=90``
    tag, which means "turn 90 degrees clockwise", reads as 270). Frames are never rotated by
    the media layer. ``frame_count`` comes from the stream header where it has one, else it
    is estimated as ``round(duration * fps)`` and ``frame_count_exact`` is False.
    ``notes`` lists what a writer changed (e.g. an odd size cropped to even).
    """

    path: str
    container: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    video_codec: str
    pix_fmt: str
    rotation: int
    has_audio: bool
    audio_codec: str | None
    audio_sample_rate: int | None
    bit_rate: int | None
    size_bytes: int
    tags: dict[str, str] = field(default_factory=dict)
    encoder: str | None = None
    frame_count_exact: bool = True
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The probe result as plain JSON values."""
        return {
            "path": self.path,
            "container": self.container,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "frame_count": self.frame_count,
            "frame_count_exact": self.frame_count_exact,
            "duration": self.duration,
            "video_codec": self.video_codec,
            "pix_fmt": self.pix_fmt,
            "rotation": self.rotation,
            "has_audio": self.has_audio,
            "audio_codec": self.audio_codec,
            "audio_sample_rate": self.audio_sample_rate,
            "bit_rate": self.bit_rate,
            "size_bytes": self.size_bytes,
            "tags": dict(self.tags),
            "encoder": self.encoder,
            "notes": list(self.notes),
        }


def probe(path: str | os.PathLike[str], *, limits: Limits | None = None) -> MediaInfo:
    """Read the headers of ``path`` (and decode its first frame, for the rotation).

    Raises :class:`~veriframe.errors.MediaError` with code ``media.not-found``,
    ``media.is-directory``, ``media.empty``, ``media.unreadable``, ``media.no-video`` or
    ``media.limits``, and :class:`~veriframe.errors.UnsupportedInputError`
    (``media.unsupported-type``) for images, text, PDFs and other non-video files.
    """
    lim = resolve_limits(limits)
    p, size = check_path(path, lim)
    with open_input(p) as container:
        return probe_container(container, p, size, lim)


def video_stream(container: Any, path: Path) -> Any:
    """The main video stream of an open container (cover art is not video)."""
    streams = [
        s for s in container.streams.video if not (int(s.disposition) & _attached_pic_flag())
    ]
    if not streams:
        what = "only audio" if container.streams.audio else "no video stream"
        raise MediaError(
            "media.no-video",
            f"{path.name!r} has {what}",
            "Give a file with a video track.",
        )
    decodable = [s for s in streams if s.codec_context is not None]
    if not decodable:
        raise UnsupportedInputError(
            "media.unsupported-codec",
            f"{path.name!r} has a video codec this build cannot decode",
            "Convert it to H.264, VP9 or HEVC first.",
        )
    # The stream the demuxer itself would pick: the largest picture.
    return max(
        decodable, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0)
    )


def audio_streams(container: Any) -> list[Any]:
    """The container's audio streams that this build can decode."""
    return [s for s in container.streams.audio if s.codec_context is not None]


def _attached_pic_flag() -> int:
    import av.stream

    disposition = getattr(av.stream, "Disposition", None)
    flag = getattr(disposition, "attached_pic", 0x400) if disposition is not None else 0x400
    return int(flag)


def stream_fps(stream: Any) -> Fraction | None:
    """The stream's average frame rate, or its guessed/base rate; None if none is sane."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate.denominator and 0 < float(rate) <= 1000:
            return Fraction(rate)
    return None


def _tag_duration(tags: dict[str, str]) -> float | None:
    """Matroska's per-stream ``DURATION`` tag (``HH:MM:SS.nnnnnnnnn``) in seconds."""
    raw = next((v for k, v in tags.items() if k.lower() == "duration"), None)
    if raw is None:
        return None
    try:
        h, m, sec = raw.strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    tagged = _tag_duration({str(k): str(v) for k, v in stream.metadata.items()})
    if tagged is not None:
        return tagged
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000.0
    return 0.0


def _container_name(container: Any, path: Path, video_codec: str) -> str:
    names = (container.format.name or "").split(",")
    ext = path.suffix.lower().lstrip(".")
    if "mov" in names:
        brand = str(container.metadata.get("major_brand", "")).strip().lower()
        if brand in _MOV_BRANDS_QT:
            return "mov"
        return "mov" if ext == "mov" else "mp4"
    if "matroska" in names:
        if ext in ("webm", "mkv"):
            return "webm" if ext == "webm" else "matroska"
        return "webm" if video_codec in ("vp8", "vp9", "av1") else "matroska"
    return names[0] if names else "unknown"


def _tag(tags: dict[str, str], name: str) -> str | None:
    """A tag by case-insensitive name (Matroska upper-cases them)."""
    return next((v for k, v in tags.items() if k.lower() == name), None)


def _rotation_from_tag(tags: dict[str, str]) -> int | None:
    raw = tags.get("rotate")
    if raw is None:
        return None
    try:
        return int(-float(raw)) % 360
    except ValueError:
        return None


def probe_container(container: Any, path: Path, size: int, limits: Limits) -> MediaInfo:
    """Probe an already opened container (used by the decoders to avoid a second open)."""
    try:
        vs = video_stream(container, path)
        cc = vs.codec_context
        width, height = int(cc.width or 0), int(cc.height or 0)
        check_size(width, height, limits)
        rate = stream_fps(vs)
        duration = _duration(container, vs)
        fps = float(rate) if rate is not None else 0.0
        frames = int(vs.frames or 0)
        exact = frames > 0
        if not exact:
            frames = round(duration * fps) if fps and duration else 0
        if duration <= 0 and fps and frames:
            duration = frames / fps
        if duration > limits.max_duration_s:
            raise limit_error(
                "duration (s)",
                round(duration, 1),
                limits.max_duration_s,
                "VERIFRAME_MAX_DURATION_S",
            )
        if frames > limits.max_frames:
            raise limit_error("frame count", frames, limits.max_frames, "VERIFRAME_MAX_FRAMES")
        ctags = {str(k): str(v) for k, v in container.metadata.items()}
        stags = {str(k): str(v) for k, v in vs.metadata.items()}
        tags = dict(ctags)
        for k, v in stags.items():
            tags[k if k not in tags else f"video:{k}"] = v
        video_codec = cc.name or "unknown"
        pix_fmt = cc.pix_fmt or ""
        # The decode budget from the headers, before the first frame is decoded: a stream
        # whose decoder alone would hold more than the budget is refused here, at once.
        plan_decode(width=width, height=height, pix_fmt=pix_fmt or None, codec=video_codec,
                    limits=limits, frames=1)
        rotation, first_fmt, first_size = _first_frame(container, vs, limits)
        if rotation is None:
            rotation = _rotation_from_tag(stags) or 0
        if first_fmt:
            pix_fmt = first_fmt
        if first_size is not None and (width, height) != first_size:
            width, height = first_size
            check_size(width, height, limits)
        if first_fmt or first_size is not None:
            plan_decode(width=width, height=height, pix_fmt=pix_fmt or None,
                        codec=video_codec, limits=limits, frames=1)
        if width <= 0 or height <= 0:
            raise unreadable(path, "the video stream has no picture size")
        audio = audio_streams(container)
        a = audio[0] if audio else None
        encoder = _tag(ctags, "encoder") or _tag(stags, "encoder")
        bit_rate = int(container.bit_rate) if container.bit_rate else None
        return MediaInfo(
            path=str(path),
            container=_container_name(container, path, video_codec),
            width=width,
            height=height,
            fps=fps,
            frame_count=int(frames),
            duration=float(duration),
            video_codec=video_codec,
            pix_fmt=pix_fmt,
            rotation=int(rotation) % 360,
            has_audio=a is not None,
            audio_codec=(a.codec_context.name if a is not None else None),
            audio_sample_rate=(int(a.codec_context.sample_rate or 0) or None) if a else None,
            bit_rate=bit_rate,
            size_bytes=size,
            tags=tags,
            encoder=encoder,
            frame_count_exact=exact,
        )
    except MediaError:
        raise
    except AV_ERRORS as exc:
        raise unreadable(path, describe(exc)) from None


def check_size(width: int, height: int, limits: Limits) -> None:
    """Refuse a picture size over ``limits.max_pixels`` (before anything is allocated)."""
    if width < 0 or height < 0 or width * height > limits.max_pixels:
        raise limit_error(
            "frame size", f"{width}x{height}", f"{limits.max_pixels} pixels", "VERIFRAME_MAX_PIXELS"
        )


def _first_frame(
    container: Any, vs: Any, limits: Limits
) -> tuple[int | None, str | None, tuple[int, int] | None]:
    """Rotation, pixel format and size of the first decodable frame (the container is
    consumed: callers that decode reopen the file).

    PyAV 18 exposes the display matrix only on decoded frames, so probe decodes one frame.
    Returns ``(None, None, None)`` when nothing decodes (the decoders report that).
    """
    rotation: int | None = None
    fmt: str | None = None
    size: tuple[int, int] | None = None
    errors = 0
    try:
        # One picture is wanted: no frame threads (each would hold a picture of its own).
        vs.codec_context.thread_type = "SLICE"
        vs.codec_context.thread_count = 1
        for packet in container.demux(vs):
            try:
                frames = packet.decode()
            except AV_ERRORS:
                errors += 1
                if errors > 16:
                    break
                continue
            for frame in frames:
                check_size(frame.width, frame.height, limits)
                rot = frame.rotation
                rotation = round(rot) % 360 if rot is not None and not math.isnan(rot) else 0
                fmt = frame.format.name
                size = (frame.width, frame.height)
                return rotation, fmt, size
    except MediaError:
        raise
    except AV_ERRORS:
        return None, None, None
    return rotation, fmt, size
