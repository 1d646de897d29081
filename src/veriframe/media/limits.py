"""Decoding limits: how large a file, frame, clip or decode veriframe accepts.

Everything on the verify path comes from people who may want to break it; a stream header
can claim 100000x100000 pixels or a billion frames. :func:`veriframe.media.probe` checks the
claims against a :class:`Limits` before anything is allocated, and decoding stops at them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from veriframe.errors import MediaError, VeriframeError

_ENV = {
    "max_pixels": "VERIFRAME_MAX_PIXELS",
    "max_frames": "VERIFRAME_MAX_FRAMES",
    "max_duration_s": "VERIFRAME_MAX_DURATION_S",
    "max_file_bytes": "VERIFRAME_MAX_FILE_BYTES",
    "max_decoded_bytes": "VERIFRAME_MAX_DECODED_BYTES",
}


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Defaults, overridden by ``VERIFRAME_MAX_PIXELS``, ``VERIFRAME_MAX_FRAMES``,
        ``VERIFRAME_MAX_DURATION_S``, ``VERIFRAME_MAX_FILE_BYTES`` and
        ``VERIFRAME_MAX_DECODED_BYTES`` where set.

        Raises ``VeriframeError("config.invalid")`` for a value that is not a positive number.
        """
        env = os.environ if environ is None else environ
        values: dict[str, float | int] = {}
        for name, var in _ENV.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            try:
                number = float(raw) if name == "max_duration_s" else int(raw.strip())
            except ValueError:
                number = -1
            if not number > 0:
                raise VeriframeError(
                    "config.invalid",
                    f"{var} must be a positive number, got {raw!r}",
                    f"Unset {var} or give it a positive value.",
                )
            values[name] = number
        return cls(**values)  # type: ignore[arg-type]


def resolve_limits(limits: Limits | None) -> Limits:
    """``limits`` if given, else :meth:`Limits.from_env`."""
    return limits if limits is not None else Limits.from_env()


def limit_error(what: str, value: object, bound: object, var: str) -> MediaError:
    """The ``media.limits`` error for one exceeded bound."""
    return MediaError(
        "media.limits",
        f"{what} {value} exceeds the limit of {bound}",
        f"Raise {var} if this file is trusted and the size is real.",
    )


ENV_NAMES = dict(_ENV)
