"""Decoding limits: how large a file, frame, clip or decode veriframe accepts.

Everything on the verify path comes from people who may want to break it; a stream header
can claim 100000x100000 pixels or a billion frames, and a 60 KB file of black 8K frames
decodes to gigabytes. :func:`veriframe.media.probe` checks the claims against a
:class:`Limits` before anything is allocated, and every decoder of the media layer plans its
read with :func:`plan_decode` (the decode budget) before the first frame and holds to it
while decoding (:class:`DecodeMeter`).

The decode budget counts what a read really costs, not only what it keeps:

- memory (``max_decoded_bytes``): the frames a read keeps (the sample's RGB and luma arrays)
  plus the decoder's own pictures: one per frame thread, the reference frames the codec may
  hold (16 for H.264/HEVC, 8 for AV1/VP9), and the conversion buffers, each at the stream's
  real pixel format (a 16-bit 4:4:4 picture is four times a yuv420p one);
- work (``max_decoded_pixels``): width x height x the frames that must be decoded to reach the
  wanted ones (a sample spread over a clip without seekable key frames decodes all of it).

Frame threads are the one cost a reader can trade: a plan drops threads until it fits, and only
then refuses. A stream whose pictures grow or change format mid-stream is re-planned at the
first such frame and refused there if it no longer fits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from veriframe.errors import MediaError

# Pictures a decoder of this codec may hold as references (the codecs' own maxima: the DPB of
# H.264/HEVC/VVC, the reference slots of AV1/VP9). Intra-only codecs hold none.
_REFERENCE_FRAMES = {
    "h264": 16, "hevc": 16, "vvc": 16, "av1": 8, "libdav1d": 8, "libaom-av1": 8, "vp9": 8,
    "libvpx-vp9": 8, "vp8": 3, "libvpx": 3, "mpeg2video": 2, "mpeg1video": 2, "mpeg4": 2,
    "h263": 1, "theora": 2, "wmv3": 2, "vc1": 2,
}
_INTRA = frozenset({"mjpeg", "ffv1", "prores", "dnxhd", "rawvideo", "png", "gif", "qtrle",
                    "huffyuv", "utvideo", "jpeg2000", "cfhd", "v210"})
_OTHER_REFERENCES = 4  # a codec not named above
# Per frame being decoded, besides the references: the picture handed out, and the conversion
# to RGB/yuv420p (an RGB array and a yuv420p picture of the same size: 4.5 bytes per pixel).
_CONVERSION_BYTES_PER_PIXEL = 4.5
MAX_DECODER_THREADS = 4


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what the media layer will open and decode.

    ``max_pixels`` bounds width x height of one frame (default 8K UHD, 8192x4320);
    ``max_frames`` and ``max_duration_s`` bound the clip (default 1,000,000 frames, 6 h);
    ``max_file_bytes`` bounds the file (default 16 GiB). The decode budget:
    ``max_decoded_bytes`` bounds the memory one read holds in decoded pictures, the frames it
    keeps plus the decoder's own buffers (default 4 GiB); ``max_decoded_pixels`` bounds the
    pixels one read decodes, kept or not (default 400 G: about 1.8 h of 1080p at 30 fps read in
    order, or 27 min of 4K; a sample of a clip with an index seeks and decodes far less).
    """

    max_pixels: int = 8192 * 4320
    max_frames: int = 1_000_000
    max_duration_s: float = 6 * 3600.0
    max_file_bytes: int = 16 * 1024**3
    max_decoded_bytes: int = 4 * 1024**3
    max_decoded_pixels: int = 400_000_000_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not value > 0:
                raise ValueError(f"Limits.{f.name} must be positive, got {value!r}")

    def capped(self, other: Limits) -> Limits:
        """The tighter of ``self`` and ``other``, bound by bound."""
        return Limits(**{f.name: min(getattr(self, f.name), getattr(other, f.name))
                         for f in fields(self)})


def resolve_limits(limits: Limits | None) -> Limits:
    """``limits`` if given, else the defaults."""
    return limits if limits is not None else Limits()


def limit_error(what: str, value: object, bound: object, var: str, hint: str = "") -> MediaError:
    """The ``media.limits`` error for one exceeded bound."""
    return MediaError(
        "media.limits",
        f"{what} {value} exceeds the limit of {bound}",
        hint or f"Raise {var} if this file is trusted and the size is real.",
    )


def frame_bytes(width: int, height: int, pix_fmt: str | None) -> int:
    """Bytes of one decoded picture of ``pix_fmt`` (yuv420p when unknown or not a format)."""
    bits = 12
    if pix_fmt:
        try:
            import av.video.format

            bits = int(av.video.format.VideoFormat(pix_fmt).padded_bits_per_pixel) or 12
        except (ValueError, TypeError, KeyError):
            bits = 12
    return (max(width, 0) * max(height, 0) * bits + 7) // 8


def reference_frames(codec: str | None) -> int:
    """Reference pictures a decoder of ``codec`` may hold at once."""
    name = (codec or "").lower()
    if name in _INTRA:
        return 0
    return _REFERENCE_FRAMES.get(name, _OTHER_REFERENCES)


@dataclass(frozen=True)
class DecodePlan:
    """How one read decodes within the budget: ``threads`` frame threads, an estimated
    ``held_bytes`` of decoded pictures (kept + the decoder's), ``pixels`` to decode (0 when
    the frame count is unknown: then only the meter bounds it) and what it keeps."""

    threads: int
    held_bytes: int
    pixels: int
    kept_bytes: int
    width: int
    height: int
    pix_fmt: str | None
    codec: str | None


def _held(width: int, height: int, pix_fmt: str | None, codec: str | None, threads: int,
          kept_bytes: int) -> int:
    pictures = threads + reference_frames(codec) + 1
    conversion = int(width * height * _CONVERSION_BYTES_PER_PIXEL)
    return kept_bytes + pictures * frame_bytes(width, height, pix_fmt) + conversion


def plan_decode(
    *,
    width: int,
    height: int,
    pix_fmt: str | None,
    codec: str | None,
    limits: Limits,
    keep: int = 0,
    channels: int = 4,
    frames: int = 0,
    threads: int | None = None,
) -> DecodePlan:
    """Plan a read of ``frames`` pictures of ``width`` x ``height`` that keeps ``keep`` of them
    as ``channels`` bytes per pixel (RGB + luma: 4), within ``limits``' decode budget.

    The one check every decoder of veriframe makes before its first frame (probe, the
    samplers, the full read, and so every command, the Python API and both services). Uses up
    to ``threads`` frame threads (default: the CPUs, at most :data:`MAX_DECODER_THREADS`),
    fewer when that is what fits. Raises ``media.limits`` when the memory or the work is over
    the budget even with one thread.
    """
    if width * height > limits.max_pixels:
        raise limit_error("frame size", f"{width}x{height}", f"{limits.max_pixels} pixels",
                          "VERIFRAME_MAX_PIXELS")
    pixels = max(frames, 0) * width * height
    if pixels > limits.max_decoded_pixels:
        raise limit_error(
            "pixels to decode", f"{pixels:,} ({frames} frames of {width}x{height})",
            f"{limits.max_decoded_pixels:,}", "VERIFRAME_MAX_DECODED_PIXELS",
            "Send a shorter excerpt or a smaller picture, or raise VERIFRAME_MAX_DECODED_PIXELS "
            "if this file is trusted.")
    kept = max(keep, 0) * width * height * channels
    most = threads if threads is not None else min(os.cpu_count() or 1, MAX_DECODER_THREADS)
    for n in range(max(most, 1), 0, -1):
        held = _held(width, height, pix_fmt, codec, n, kept)
        if held <= limits.max_decoded_bytes:
            return DecodePlan(n, held, pixels, kept, width, height, pix_fmt, codec)
    raise limit_error(
        "decoded pictures (bytes)",
        f"{_held(width, height, pix_fmt, codec, 1, kept):,} "
        f"({width}x{height} {pix_fmt or 'video'}, {keep} kept + the decoder's)",
        f"{limits.max_decoded_bytes:,}", "VERIFRAME_MAX_DECODED_BYTES",
        "Send a smaller picture or sample fewer frames, or raise VERIFRAME_MAX_DECODED_BYTES "
        "if this file is trusted.")


class DecodeMeter:
    """Holds a running decode to its plan: counts the pixels decoded and re-plans when a
    picture is larger, or of a heavier format, than the plan was made for."""

    def __init__(self, plan: DecodePlan, limits: Limits) -> None:
        self.plan = plan
        self.limits = limits
        self.pixels = 0
        self._shape = (plan.width, plan.height, plan.pix_fmt)
        self._bytes = frame_bytes(plan.width, plan.height, plan.pix_fmt)

    def count(self, width: int, height: int, pix_fmt: str | None) -> None:
        """Account one decoded picture; raise ``media.limits`` as soon as it is over."""
        if width * height > self.limits.max_pixels:
            raise limit_error("frame size", f"{width}x{height}",
                              f"{self.limits.max_pixels} pixels", "VERIFRAME_MAX_PIXELS")
        self.pixels += width * height
        if self.pixels > self.limits.max_decoded_pixels:
            raise limit_error(
                "pixels decoded", f"more than {self.limits.max_decoded_pixels:,}",
                f"{self.limits.max_decoded_pixels:,}", "VERIFRAME_MAX_DECODED_PIXELS",
                "Send a shorter excerpt or a smaller picture, or raise "
                "VERIFRAME_MAX_DECODED_PIXELS if this file is trusted.")
        if (width, height, pix_fmt) == self._shape:
            return
        self._shape = (width, height, pix_fmt)
        size = frame_bytes(width, height, pix_fmt)
        if size <= self._bytes:
            return
        self._bytes = size
        held = _held(width, height, pix_fmt, self.plan.codec, self.plan.threads,
                     self.plan.kept_bytes)
        if held > self.limits.max_decoded_bytes:
            raise limit_error(
                "decoded pictures (bytes)",
                f"{held:,} (the picture changed to {width}x{height} {pix_fmt or ''} mid-stream)",
                f"{self.limits.max_decoded_bytes:,}", "VERIFRAME_MAX_DECODED_BYTES",
                "The stream's picture size or format changes mid-stream beyond the budget; "
                "re-export it at one size.")
