"""Decoding limits: how large a file, frame, clip or decode veriframe accepts.

Everything on the verify path comes from people who may want to break it; a stream header
can claim 100000x100000 pixels or a billion frames. :func:`veriframe.media.probe` checks the
claims against a :class:`Limits` before anything is allocated, and decoding stops at them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from veriframe.errors import MediaError


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what the media layer will open and decode.

    ``max_pixels`` bounds width x height of one frame (default 8K UHD, 8192x4320);
    ``max_frames`` and ``max_duration_s`` bound the clip (default 1,000,000 frames, 6 h);
    ``max_file_bytes`` bounds the file (default 16 GiB); ``max_decoded_bytes`` bounds the
    memory that :func:`~veriframe.media.read_frames` may hold in decoded frames (default
    4 GiB; streaming operations such as ``rewrite_video`` hold one frame at a time).
    """

    max_pixels: int = 8192 * 4320
    max_frames: int = 1_000_000
    max_duration_s: float = 6 * 3600.0
    max_file_bytes: int = 16 * 1024**3
    max_decoded_bytes: int = 4 * 1024**3

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not value > 0:
                raise ValueError(f"Limits.{f.name} must be positive, got {value!r}")


def resolve_limits(limits: Limits | None) -> Limits:
    """``limits`` if given, else the defaults."""
    return limits if limits is not None else Limits()


def limit_error(what: str, value: object, bound: object, var: str) -> MediaError:
    """The ``media.limits`` error for one exceeded bound."""
    return MediaError(
        "media.limits",
        f"{what} {value} exceeds the limit of {bound}",
        f"Raise {var} if this file is trusted and the size is real.",
    )

