"""Decode frames into numpy: a bounded sample spread over the clip, or every frame.

``verify`` decodes once and hands the same :class:`FrameSample` to the watermark detector and
the classifier, so decoding is tuned here: frame threading in the decoder, frames that are not
wanted are decoded but never converted, decoding stops after the last wanted frame, and the
decoder seeks from keyframe to keyframe when the stream's index says that is cheaper.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.errors import MediaError
from veriframe.media._open import AV_ERRORS, check_path, describe, open_input, unreadable
from veriframe.media._write import MAX_PACKET_ERRORS, reformatter
from veriframe.media.limits import (
    DecodeMeter,
    DecodePlan,
    Limits,
    limit_error,
    plan_decode,
    resolve_limits,
)
from veriframe.media.probe import MediaInfo, probe, video_stream

# Pixel formats whose plane 0 is the 8-bit luma exactly as stored: no conversion needed.
_Y_AS_STORED = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}
)
# A decoder error on this many packets in a row means the stream is garbage, not a glitch.
# Reading the demuxer index can fail in these ways on odd files; then we just do not seek.
_INDEX_ERRORS: tuple[type[BaseException], ...] = (*AV_ERRORS, AttributeError, TypeError)
# Decoding one frame costs about this many frames' worth of work after a seek (flush + open).
_SEEK_OVERHEAD_FRAMES = 3


@dataclass(frozen=True)
class FrameSample:
    """Decoded frames of one clip.

    ``rgb`` is (N, H, W, 3) uint8 (None when not asked for); ``luma`` is (N, H, W) uint8, the
    decoded Y plane as stored (studio range for ordinary video; a source that is not 8-bit
    planar YUV is converted to yuv420p first), None when not asked for. ``indices`` are the
    frame numbers in presentation order, ``timestamps`` their presentation times in seconds.
    Frames are not rotated (see ``info.rotation``).
    """

    rgb: np.ndarray | None
    luma: np.ndarray | None
    indices: tuple[int, ...]
    timestamps: tuple[float, ...]
    info: MediaInfo

    def __len__(self) -> int:
        return len(self.indices)


def luma_of(frame: Any, width: int, height: int, convert: Any) -> np.ndarray:
    """The 8-bit Y plane of a decoded frame as a (height, width) array view.

    ``convert`` (a :func:`~veriframe.media._write.reformatter`, kept across a stream's
    frames) converts a frame that needs it.
    """
    if frame.format.name not in _Y_AS_STORED or (frame.width, frame.height) != (width, height):
        frame = convert.reformat(frame, width=width, height=height, format="yuv420p")
    plane = frame.planes[0]
    stride = plane.line_size
    buf = np.frombuffer(plane, dtype=np.uint8)
    return buf[: stride * height].reshape(height, stride)[:, :width]


def rgb_of(frame: Any, width: int, height: int, convert: Any) -> np.ndarray:
    """The frame as (height, width, 3) uint8 RGB (``convert`` as for :func:`luma_of`)."""
    return np.asarray(convert.reformat(frame, format="rgb24", width=width, height=height)
                      .to_ndarray())


def _target_indices(total: int, count: int) -> list[int]:
    if total <= 0:
        return []
    if count >= total:
        return list(range(total))
    picks = np.linspace(0, total - 1, num=count)
    return sorted({round(x) for x in picks})


def _plan(info: MediaInfo, limits: Limits, *, keep: int, rgb: bool, luma: bool,
          frames: int) -> DecodePlan:
    """The decode budget's plan for a read of ``info``'s stream (see :func:`plan_decode`)."""
    return plan_decode(width=info.width, height=info.height, pix_fmt=info.pix_fmt or None,
                       codec=info.video_codec, limits=limits, keep=keep,
                       channels=(3 if rgb else 0) + (1 if luma else 0), frames=frames)


class _Decoder:
    """Iterate decoded frames of the main video stream with mapped errors and limits.

    The decoder runs with the plan's frame threads (never FFmpeg's "one per CPU + 1", whose
    pictures an 8K stream multiplies), and every decoded picture is counted by the plan's
    :class:`~veriframe.media.limits.DecodeMeter`.
    """

    def __init__(self, container: Any, path: Path, info: MediaInfo, limits: Limits,
                 plan: DecodePlan) -> None:
        self.container = container
        self.path = path
        self.info = info
        self.limits = limits
        self.meter = DecodeMeter(plan, limits)
        self.stream = video_stream(container, path)
        cc = self.stream.codec_context
        cc.thread_type = "AUTO" if plan.threads > 1 else "SLICE"
        cc.thread_count = plan.threads
        tb = self.stream.time_base
        self.time_base = float(tb) if tb else 0.0
        start = self.stream.start_time
        self.start_pts = int(start) if start is not None else 0
        self.decoded_any = False
        self.packets_seen = 0  # video packets carrying data

    def nothing_decoded(self) -> MediaError:
        """The error for a stream that gave no frame: empty, or undecodable."""
        if self.packets_seen:
            return unreadable(self.path, "none of the video packets decodes")
        return _no_frames(self.path)

    def frames(self) -> Iterator[Any]:
        """All frames from the current position, skipping packets the decoder rejects."""
        errors = 0
        try:
            for packet in self.container.demux(self.stream):
                if packet.size:
                    self.packets_seen += 1
                try:
                    out = packet.decode()
                except AV_ERRORS:
                    errors += 1
                    if errors > MAX_PACKET_ERRORS:
                        if self.decoded_any:
                            return  # a damaged tail: keep what decoded
                        raise unreadable(self.path, "the video stream does not decode") from None
                    continue
                errors = 0
                for frame in out:
                    self.meter.count(frame.width, frame.height, frame.format.name)
                    self.decoded_any = True
                    yield frame
        except MediaError:
            raise
        except AV_ERRORS as exc:
            if not self.decoded_any:
                raise unreadable(self.path, describe(exc)) from None
            return  # truncated or corrupt after some frames: what decoded is kept

    def time_of(self, frame: Any, fallback_index: int) -> float:
        if frame.pts is not None and self.time_base:
            return (frame.pts - self.start_pts) * self.time_base
        fps = self.info.fps or 1.0
        return fallback_index / fps

    def index_at(self, frame: Any) -> int | None:
        if frame.pts is None or not self.time_base or not self.info.fps:
            return None
        return round((frame.pts - self.start_pts) * self.time_base * self.info.fps)

    def seek_to_index(self, index: int) -> bool:
        """Seek to the keyframe at or before frame ``index``; False if the seek failed."""
        if not self.time_base or not self.info.fps:
            return False
        pts = self.start_pts + math.floor(index / self.info.fps / self.time_base)
        try:
            self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
        except AV_ERRORS:
            return False
        return True


def _seek_plan(keyframes: list[int] | None, targets: Sequence[int]) -> bool:
    """True when seeking to each target's keyframe decodes fewer frames than reading through."""
    cost = _seek_cost(keyframes, targets)
    return cost is not None and cost * 1.2 < targets[-1] + 1


def _seek_cost(keyframes: list[int] | None, targets: Sequence[int]) -> int | None:
    """Frames decoded when seeking to each target's keyframe (None: no usable index)."""
    if not keyframes or len(keyframes) < 2 or not targets:
        return None
    cost = 0
    pos = -1  # the last frame decoded so far
    k = 0
    for t in targets:
        while k + 1 < len(keyframes) and keyframes[k + 1] <= t:
            k += 1
        key = keyframes[k]
        if pos < t and key > pos + 1:
            cost += t - key + 1 + _SEEK_OVERHEAD_FRAMES
        else:
            cost += t - pos
        pos = t
    return cost


class _Collector:
    """Preallocated output arrays that grow if a stream has more frames than it claimed."""

    def __init__(self, capacity: int, height: int, width: int, rgb: bool, luma: bool) -> None:
        self.h, self.w = height, width
        self.n = 0
        self.rgb = np.empty((capacity, height, width, 3), np.uint8) if rgb else None
        self.luma = np.empty((capacity, height, width), np.uint8) if luma else None
        self.indices: list[int] = []
        self.times: list[float] = []
        self.convert = reformatter()

    def _grow(self) -> None:
        extra = max(16, self.n // 2)
        if self.rgb is not None:
            self.rgb = np.concatenate([self.rgb, np.empty((extra, *self.rgb.shape[1:]), np.uint8)])
        if self.luma is not None:
            self.luma = np.concatenate(
                [self.luma, np.empty((extra, *self.luma.shape[1:]), np.uint8)]
            )

    def capacity(self) -> int:
        arr = self.rgb if self.rgb is not None else self.luma
        return arr.shape[0] if arr is not None else 1 << 62

    def add(self, frame: Any, index: int, time: float) -> None:
        if self.n >= self.capacity():
            self._grow()
        if self.rgb is not None:
            self.rgb[self.n] = rgb_of(frame, self.w, self.h, self.convert)
        if self.luma is not None:
            self.luma[self.n] = luma_of(frame, self.w, self.h, self.convert)
        self.indices.append(index)
        self.times.append(float(time))
        self.n += 1

    def result(self, info: MediaInfo) -> FrameSample:
        return FrameSample(
            rgb=self.rgb[: self.n] if self.rgb is not None else None,
            luma=self.luma[: self.n] if self.luma is not None else None,
            indices=tuple(self.indices),
            timestamps=tuple(self.times),
            info=info,
        )


def _no_frames(path: Path) -> MediaError:
    return MediaError(
        "media.no-frames",
        f"{path.name!r} has a video track with no frames",
        "The file holds no pictures; re-export it.",
    )


def _prepare(
    path: str | os.PathLike[str], info: MediaInfo | None, limits: Limits | None
) -> tuple[Path, MediaInfo, Limits]:
    lim = resolve_limits(limits)
    if info is None:
        info = probe(path, limits=lim)
    p, _ = check_path(path, lim)
    return p, info, lim


def sample_frames(
    path: str | os.PathLike[str],
    *,
    count: int = 32,
    info: MediaInfo | None = None,
    limits: Limits | None = None,
    rgb: bool = True,
    luma: bool = True,
) -> FrameSample:
    """Decode ``count`` frames spread evenly over the clip (first and last included).

    Decodes the file once; frames that are not wanted are decoded but never converted.
    Pass ``info`` from an earlier :func:`probe` to skip probing again. A clip shorter than
    ``count`` frames gives all its frames. A stream that breaks off early gives the frames
    that decoded. Raises ``media.no-frames`` when no frame decodes at all.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    p, info, lim = _prepare(path, info, limits)
    total = info.frame_count
    if total <= 0:
        # No count in the header and no duration: read through, keeping a bounded sample.
        total = lim.max_frames
    targets = _target_indices(min(total, lim.max_frames), count)
    return _decode_targets(p, info, lim, lambda _keys: targets, rgb=rgb, luma=luma)


def frames_at(
    path: str | os.PathLike[str],
    indices: Sequence[int],
    *,
    info: MediaInfo | None = None,
    limits: Limits | None = None,
    rgb: bool = False,
    luma: bool = True,
) -> FrameSample:
    """Decode the frames numbered ``indices`` (presentation order, from 0), seeking from key
    frame to key frame where that is cheaper than reading through.

    What a comparison needs when it knows which moments to look at. Indices past the clip's
    end are not in the result (check ``indices`` of the sample). Raises ``media.no-frames``
    when no frame decodes at all.
    """
    wanted = sorted({int(i) for i in indices if int(i) >= 0})
    if not wanted:
        raise ValueError("frames_at needs at least one frame index >= 0")
    p, info, lim = _prepare(path, info, limits)
    return _decode_targets(p, info, lim, lambda _keys: wanted, rgb=rgb, luma=luma)


def _decode_targets(p: Path, info: MediaInfo, lim: Limits,
                    pick: Callable[[list[int] | None], list[int]], *, rgb: bool,
                    luma: bool) -> FrameSample:
    """Decode the frames ``pick(key frames)`` names (the key frames from the index when the
    frame count is exact, else None), seeking from key frame to key frame when that is
    cheaper than reading through."""
    with open_input(p) as container:
        found = _keyframe_positions(container, p, info)
        keyframes = found if info.frame_count_exact and found else None
        targets = pick(keyframes)
        use_seek = keyframes is not None and _seek_plan(keyframes, targets)
        # What the read will decode: to each target from its keyframe, or all up to the last
        # target; unknown (only the meter bounds it) when the header gives no frame count.
        to_decode = (_seek_cost(keyframes, targets) or 0) if use_seek else targets[-1] + 1
        plan = _plan(info, lim, keep=len(targets), rgb=rgb, luma=luma,
                     frames=to_decode if info.frame_count > 0 else 0)
        dec = _Decoder(container, p, info, lim, plan)
        col = _Collector(len(targets), info.height, info.width, rgb, luma)
        if use_seek:
            _sample_seeking(dec, col, targets)
        else:
            _sample_sequential(dec, col, targets, lim)
    if col.n == 0:
        if dec.decoded_any:
            raise unreadable(p, "no frame at the expected positions decoded")
        raise dec.nothing_decoded()
    return col.result(info)


RUNS = 8  # short runs a verify sample is decoded in (see :func:`sample_runs`)


def sample_runs(
    path: str | os.PathLike[str],
    *,
    count: int = 32,
    runs: int = RUNS,
    info: MediaInfo | None = None,
    limits: Limits | None = None,
    rgb: bool = True,
    luma: bool = True,
) -> FrameSample:
    """Decode about ``count`` frames as up to ``runs`` short runs of consecutive frames, each
    run starting at a key frame, the runs spread over the clip.

    What verify, scan and the detector decode: a run that starts at a key frame costs only
    its own frames, so the sample costs about ``count`` decoded frames whatever the clip's
    length, where frames spread evenly over the clip cost a decode of everything up to the
    last one. A clip with fewer key frames than ``runs`` gets fewer, longer runs (a 10 s clip
    with a key frame every 8 s: two runs of 16 frames). Without a usable index (no exact
    frame count, or no key frames listed) the runs start at evenly spaced frames and the
    clip is read through up to the last run. A clip of at most ``count`` frames gives them
    all. Raises ``media.no-frames`` when no frame decodes at all.
    """
    if count < 1 or runs < 1:
        raise ValueError(f"count and runs must be at least 1, got {count} and {runs}")
    p, info, lim = _prepare(path, info, limits)
    total = info.frame_count if info.frame_count > 0 else lim.max_frames
    total = min(total, lim.max_frames)
    return _decode_targets(p, info, lim, lambda keys: _run_targets(total, count, runs, keys),
                           rgb=rgb, luma=luma)


def _run_targets(total: int, count: int, runs: int, keyframes: list[int] | None) -> list[int]:
    """The frame indices of :func:`sample_runs`: runs of consecutive frames from starts spread
    over ``[0, total)`` (key frames when ``keyframes`` lists them)."""
    if total <= count:
        return list(range(max(total, 1)))
    if keyframes:
        keys = [k for k in keyframes if k < total]
        if len(keys) > runs:
            # the key frame nearest each of ``runs`` evenly spread positions
            picks = np.linspace(0, len(keys) - 1, num=runs).round().astype(int)
            keys = [keys[i] for i in sorted(set(picks.tolist()))]
        starts = keys
    else:
        n = min(runs, max(1, total // max(1, count // runs)))
        starts = sorted({round(x) for x in np.linspace(0, total - 1, num=n)})
    length = max(1, count // len(starts))
    out: set[int] = set()
    for s in starts:
        # a run at a key frame near the end is cut short (starting it earlier would decode
        # from the key frame before); an evenly spaced one starts earlier to stay whole
        begin = s if keyframes else max(0, min(s, total - length))
        out.update(range(begin, min(begin + length, total)))
    return sorted(out)


def _keyframe_positions(container: Any, path: Path, info: MediaInfo) -> list[int] | None:
    """Keyframe positions in decode order, from the demuxer's index (None if unknown)."""
    try:
        entries = video_stream(container, path).index_entries
        n = len(entries)
        if n == 0 or n != info.frame_count:
            return None
        return [i for i in range(n) if entries[i].is_keyframe]
    except _INDEX_ERRORS:
        return None


def _sample_sequential(dec: _Decoder, col: _Collector, targets: list[int], lim: Limits) -> None:
    want = set(targets)
    last_target = targets[-1]
    last: tuple[Any, int] | None = None
    index = -1
    for index, frame in enumerate(dec.frames()):
        if index >= lim.max_frames:
            break
        if index in want:
            col.add(frame, index, dec.time_of(frame, index))
            last = None
            if index >= last_target:
                return
        else:
            last = (frame, index)
    # The header over-counted frames: make sure the real last frame is in the sample.
    if last is not None and index < last_target:
        frame, i = last
        col.add(frame, i, dec.time_of(frame, i))


def _sample_seeking(dec: _Decoder, col: _Collector, targets: list[int]) -> None:
    pos = -1  # index of the last decoded frame
    it: Iterator[Any] | None = None
    for t in targets:
        if it is None or t > pos + 1 + _SEEK_OVERHEAD_FRAMES:
            # A seek only pays off when it skips frames; the plan said it does on average.
            if it is not None and not dec.seek_to_index(t):
                return
            it = dec.frames()
            pos = -1
        for frame in it:
            idx = dec.index_at(frame)
            if idx is None:
                return
            pos = idx
            if idx >= t:
                col.add(frame, idx, dec.time_of(frame, idx))
                break
        else:
            return


def first_frames(
    path: str | os.PathLike[str],
    *,
    count: int = 32,
    info: MediaInfo | None = None,
    limits: Limits | None = None,
    rgb: bool = False,
    luma: bool = True,
) -> FrameSample:
    """Decode only the first ``count`` frames (a contiguous run: the cheapest read of a clip).

    What a read-back check needs when it does not need frames spread over the whole clip (the
    watermark is the same in every stretch of a clip).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    p, info, lim = _prepare(path, info, limits)
    keep = min(count, info.frame_count) if info.frame_count > 0 else count
    plan = _plan(info, lim, keep=keep, rgb=rgb, luma=luma, frames=keep)
    with open_input(p) as container:
        dec = _Decoder(container, p, info, lim, plan)
        col = _Collector(keep, info.height, info.width, rgb, luma)
        for index, frame in enumerate(dec.frames()):
            col.add(frame, index, dec.time_of(frame, index))
            if index + 1 >= count:
                break
    if col.n == 0:
        raise dec.nothing_decoded()
    return col.result(info)


def read_frames(
    path: str | os.PathLike[str],
    *,
    limits: Limits | None = None,
    rgb: bool = True,
    luma: bool = True,
) -> FrameSample:
    """Decode every frame of ``path`` into memory.

    Bounded by ``limits``: the decoded size (frames x pixels) must fit
    ``max_decoded_bytes`` and the count ``max_frames``, else ``media.limits`` is raised
    (before decoding when the header already says so, else as soon as it is exceeded).
    Use :func:`~veriframe.media.rewrite_video` to process long clips frame by frame.
    """
    p, info, lim = _prepare(path, None, limits)
    per_frame = info.width * info.height * ((3 if rgb else 0) + (1 if luma else 0))
    plan = _plan(info, lim, keep=info.frame_count, rgb=rgb, luma=luma, frames=info.frame_count)
    max_n = lim.max_frames
    if per_frame:
        # What the decoder itself holds is in the plan; the rest of the budget is for frames.
        decoder = plan.held_bytes - plan.kept_bytes
        max_n = min(max_n, max(lim.max_decoded_bytes - decoder, 0) // per_frame)
    capacity = min(max(info.frame_count, 1) + 2, max(max_n, 1))
    with open_input(p) as container:
        dec = _Decoder(container, p, info, lim, plan)
        col = _Collector(capacity, info.height, info.width, rgb, luma)
        for index, frame in enumerate(dec.frames()):
            if index >= max_n:
                raise limit_error(
                    "decoded frames", f"more than {max_n}", max_n, "VERIFRAME_MAX_FRAMES"
                )
            col.add(frame, index, dec.time_of(frame, index))
    if col.n == 0:
        raise dec.nothing_decoded()
    return col.result(info)


def walk_luma(
    path: str | os.PathLike[str],
    *,
    info: MediaInfo | None = None,
    limits: Limits | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Every frame's presentation time (seconds from the first) and luma plane, one at a time.

    For checks that need the whole timeline but not the frames together (the content
    comparison of a recovered clip): memory stays at one frame. Bounded by ``limits``'
    ``max_frames``; a damaged tail ends the walk with what decoded.
    """
    p, info, lim = _prepare(path, info, limits)
    # one frame kept at a time; every frame decoded (the pixel budget counts them all)
    plan = _plan(info, lim, keep=1, rgb=False, luma=True, frames=info.frame_count)
    with open_input(p) as container:
        dec = _Decoder(container, p, info, lim, plan)
        first: float | None = None
        convert = reformatter()
        for index, frame in enumerate(dec.frames()):
            if index >= lim.max_frames:
                raise limit_error("decoded frames", f"more than {lim.max_frames}",
                                  lim.max_frames, "VERIFRAME_MAX_FRAMES")
            t = dec.time_of(frame, index)
            first = t if first is None else first
            yield t - first, luma_of(frame, info.width, info.height, convert)
        if first is None:
            raise dec.nothing_decoded()
