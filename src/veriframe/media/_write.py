"""Shared pieces of the writers: output containers, H.264 streams, audio copy or re-encode."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np

from veriframe._atomic import same_file
from veriframe.errors import MediaError
from veriframe.media._open import AV_ERRORS, describe, unreadable

T = TypeVar("T")

# Audio codecs an MP4 can carry that every player (and c2pa) handles: copied untouched.
MP4_AUDIO_COPY = frozenset({"aac", "mp3", "alac"})
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
# Formats a writer hands to libx264 without conversion (luma kept exactly as stored).
YUV420 = frozenset({"yuv420p", "yuvj420p"})


def encode_failed(dst: Path, exc: BaseException) -> MediaError:
    """The ``media.encode-failed`` error for ``dst``."""
    return MediaError(
        "media.encode-failed",
        f"could not write {dst.name!r}: {describe(exc)}",
        "Check free disk space and that the output folder is writable.",
    )


def same_file_guard(src: Path, dst: Path) -> None:
    """Refuse to write over the input (``media.output-is-input``)."""
    if same_file(src, dst):
        raise MediaError(
            "media.output-is-input",
            f"the output {dst.name!r} is the input file",
            "Choose a different output path; veriframe never overwrites its input.",
        )


def format_for(dst: Path, container: str | None = None) -> str:
    """The muxer name for ``dst``: ``container`` if given, else from the extension."""
    if container:
        return {"mkv": "matroska"}.get(container, container)
    ext = dst.suffix.lower().lstrip(".")
    known = {
        "mp4": "mp4",
        "m4v": "mp4",
        "mov": "mov",
        "webm": "webm",
        "mkv": "matroska",
        "avi": "avi",
        "gif": "gif",
    }
    if ext not in known:
        raise MediaError(
            "media.unsupported-output",
            f"cannot tell the container for {dst.name!r} from its extension",
            "Use .mp4, .mov, .webm, .mkv, .avi or .gif.",
        )
    return known[ext]


@contextlib.contextmanager
def open_output(tmp: Path, fmt: str, dst: Path) -> Iterator[Any]:
    """Open ``tmp`` for writing as ``fmt``; MP4/MOV get ``+faststart`` (moov before mdat)."""
    options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
    try:
        out = av.open(str(tmp), "w", format=fmt, options=options)
    except AV_ERRORS as exc:
        raise encode_failed(dst, exc) from None
    try:
        yield out
    finally:
        # Closing writes the trailer; its errors surface as encode failures.
        try:
            out.close()
        except AV_ERRORS as exc:
            raise encode_failed(dst, exc) from None


def even(n: int) -> int:
    """``n`` rounded down to even (libx264 with yuv420p needs even sizes)."""
    return n - (n % 2)


def add_h264(
    out: Any,
    *,
    width: int,
    height: int,
    rate: Fraction,
    time_base: Fraction | None,
    crf: float,
    preset: str,
    full_range: bool = False,
) -> Any:
    """An H.264 (libx264, yuv420p) stream on ``out``."""
    vs = out.add_stream("libx264", rate=rate)
    vs.width, vs.height = width, height
    vs.pix_fmt = "yuv420p"
    vs.codec_context.time_base = time_base if time_base else Fraction(1, 1) / rate
    vs.time_base = vs.codec_context.time_base
    if full_range:
        vs.codec_context.color_range = 2  # AVCOL_RANGE_JPEG: keep full-range luma as stored
    vs.options = {"crf": f"{crf:g}", "preset": preset}
    return vs


def reformatter() -> Any:
    """A pixel-format converter to keep across the frames of one stream.

    ``VideoFrame.reformat`` and ``to_ndarray(format=...)`` build a new swscale context on
    every call, which costs more than converting a small frame (3 ms against 0.1 ms at
    320x240); a kept reformatter builds it once and gives the same pixels.
    """
    from av.video.reformatter import VideoReformatter

    return VideoReformatter()


def yuv_frame(
    y: np.ndarray, u: np.ndarray, v: np.ndarray, *, full_range: bool = False
) -> av.VideoFrame:
    """A yuv420p frame from three planes (Y (H,W), U and V (H/2,W/2), uint8)."""
    h, w = y.shape
    buf = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(h * 3 // 2, w)
    frame = av.VideoFrame.from_ndarray(buf, format="yuv420p")
    if full_range:
        frame.color_range = 2
    return frame


def yuv_planes(frame: Any, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U, V planes of a yuv420p/yuvj420p frame, cropped to width x height."""
    planes = []
    half = (width // 2, height // 2)
    for i, (w, h) in enumerate(((width, height), half, half)):
        plane = frame.planes[i]
        stride = plane.line_size
        rows = plane.height
        arr = np.frombuffer(plane, dtype=np.uint8)[: stride * rows].reshape(rows, stride)
        planes.append(arr[:h, :w])
    return planes[0], planes[1], planes[2]


class AudioPass:
    """Carry one input audio stream into an output: copied when possible, else re-encoded.

    ``copy_codecs`` are codecs copied as packets (no re-encode); any other codec is decoded
    and encoded with ``encoder`` (AAC for MP4). ``end_time`` drops audio that starts after it.
    """

    def __init__(
        self,
        out: Any,
        src: Any,
        *,
        copy_codecs: frozenset[str] = MP4_AUDIO_COPY,
        encoder: str = "aac",
        end_time: float | None = None,
        start_time: float | None = None,
    ) -> None:
        self.src = src
        self.out = out
        self.end_time = end_time
        self.start_time = start_time
        name = src.codec_context.name
        self.copy = name in copy_codecs and start_time is None
        if self.copy:
            self.stream = out.add_stream_from_template(src)
        else:
            rate = int(src.codec_context.sample_rate or 48000)
            if encoder == "aac" and rate not in AAC_RATES:
                rate = 48000
            if encoder == "libopus":
                rate = 48000
            self.stream = out.add_stream(encoder, rate=rate)
            layout = src.codec_context.layout
            channels = getattr(layout, "nb_channels", 0) or 2
            # By channel count: AVI/WAV PCM often has an "unspecified order" layout that
            # encoders refuse.
            self.stream.layout = "mono" if channels == 1 else "stereo"
            sample_fmt = {"aac": "fltp", "libopus": "flt"}.get(encoder, "fltp")
            self.stream.format = sample_fmt
            self.resampler = av.AudioResampler(
                format=sample_fmt,
                layout=self.stream.layout,
                rate=rate,
                frame_size={"aac": 1024, "libopus": 960}.get(encoder),
            )
            self.rate = rate
            self.next_pts = 0

    def feed(self, packet: Any) -> None:
        """Handle one demuxed packet of the source audio stream."""
        if self.copy:
            if packet.dts is None or packet.size == 0:
                return
            if (
                self.end_time is not None
                and packet.pts is not None
                and packet.time_base
                and float(packet.pts * packet.time_base) >= self.end_time
            ):
                return
            packet.stream = self.stream
            self.out.mux(packet)
            return
        try:
            frames = packet.decode()
        except AV_ERRORS:
            return  # one damaged audio packet: skip it, as players do
        for frame in frames:
            self._encode(frame)

    def _encode(self, frame: Any) -> None:
        t = frame.time
        if t is not None:
            if self.end_time is not None and t >= self.end_time:
                return
            end = t + frame.samples / max(frame.sample_rate, 1)
            if self.start_time is not None and end <= self.start_time:
                return
        frame.pts = None
        for rf in self.resampler.resample(frame):
            self._emit(rf)

    def _emit(self, frame: Any) -> None:
        frame.pts = self.next_pts
        frame.time_base = Fraction(1, self.rate)
        self.next_pts += frame.samples
        for pkt in self.stream.encode(frame):
            self.out.mux(pkt)

    def finish(self) -> None:
        """Flush the audio encoder."""
        if self.copy:
            return
        for rf in self.resampler.resample(None):
            self._emit(rf)
        for pkt in self.stream.encode(None):
            self.out.mux(pkt)


# Consecutive undecodable video packets tolerated before a stream is judged broken.
MAX_PACKET_ERRORS = 32


def demuxed(inp: Any, v_in: Any, a_in: Any, src: Path) -> Iterator[tuple[str, Any]]:
    """Demux ``inp`` once: ``("audio", packet)`` for the audio stream, ``("video", frame)``
    for each decoded video frame.

    A few undecodable packets are skipped (a damaged GOP); past ``MAX_PACKET_ERRORS`` in a row
    the stream ends there if something decoded, else it is unreadable. A stream whose packets
    never decode at all is unreadable too.
    """
    from veriframe.media._open import AV_ERRORS, unreadable

    streams = [v_in] + ([a_in] if a_in is not None else [])
    decoded = errors = packets = 0
    for packet in inp.demux(*streams):
        if packet.stream.type == "audio":
            yield "audio", packet
            continue
        packets += 1 if packet.size else 0
        try:
            frames = packet.decode()
        except AV_ERRORS:
            errors += 1
            if errors > MAX_PACKET_ERRORS:
                if decoded:
                    return
                raise unreadable(src, "the video stream does not decode") from None
            continue
        errors = 0
        for frame in frames:
            decoded += 1
            yield "video", frame
    if decoded == 0 and packets:
        raise unreadable(src, "none of the video packets decodes")


def decoded_frames(inp: Any, v_in: Any, a_in: Any, audio: Any, src: Path) -> Iterator[Any]:
    """:func:`demuxed`, with the audio packets handed to ``audio`` and the frames yielded."""
    for kind, item in demuxed(inp, v_in, a_in, src):
        if kind == "video":
            yield item
        elif audio is not None:
            audio.feed(item)


_DONE = object()


def prefetch(items: Iterator[T], *, depth: int) -> Iterator[T]:
    """Run the iterator ``items`` in a background thread, at most ``depth`` items ahead.

    Decoding and marking a frame then overlap with encoding the previous ones (FFmpeg's
    codecs release the GIL). An exception in the thread is raised here, at the point its
    item would have come; when the consumer stops early the thread is told to stop too.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Raised(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="veriframe-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        worker.join()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def flush(out: Any, v_out: Any, audio: Any) -> None:
    """Drain the video encoder into ``out`` and finish the audio pass (if any)."""
    for pkt in v_out.encode(None):
        out.mux(pkt)
    if audio is not None:
        audio.finish()


@contextlib.contextmanager
def pass_errors(src: Path, dst: Path, started: Callable[[], bool]) -> Iterator[None]:
    """Map FFmpeg errors of a decode-encode pass to stable codes.

    Before the first frame came through (``started()`` false) the input is to blame
    (``media.unreadable``); afterwards the output is (``media.encode-failed``).
    """
    try:
        yield
    except MediaError:
        raise
    except av.error.FFmpegError as exc:
        if not started():
            raise unreadable(src, describe(exc)) from None
        raise encode_failed(dst, exc) from None
