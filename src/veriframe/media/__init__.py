"""The media layer: probe, decode frames into numpy, encode H.264 MP4 with audio copied.

Built on PyAV, in-process. We chose it over ffmpeg-python driving an ffmpeg binary (e.g. the
one imageio-ffmpeg ships): no subprocess to spawn, parse or kill, frames go straight into
numpy without a pipe, errors arrive as exceptions rather than stderr text, and the wheels bundle
FFmpeg with the encoders we need (libx264, libx265, libvpx-vp9, aac, libopus, gif), so a new
machine needs no ``apt-get install ffmpeg``.

Every failure a user can cause is a :class:`~veriframe.errors.MediaError` (or
:class:`~veriframe.errors.UnsupportedInputError`) with a stable code; PyAV's own exceptions
never escape. Writers are atomic: on failure no output file is left behind.
"""

from __future__ import annotations

from veriframe.media._open import require_file
from veriframe.media.decode import (
    FrameSample,
    first_frames,
    frames_at,
    read_frames,
    sample_frames,
    sample_runs,
    walk_luma,
)
from veriframe.media.encode import rewrite_video, write_video
from veriframe.media.limits import Limits
from veriframe.media.probe import MediaInfo, probe
from veriframe.media.transcode import remux, to_mp4, transcode

__all__ = [
    "FrameSample",
    "Limits",
    "MediaInfo",
    "first_frames",
    "frames_at",
    "probe",
    "read_frames",
    "remux",
    "require_file",
    "rewrite_video",
    "sample_frames",
    "sample_runs",
    "to_mp4",
    "transcode",
    "walk_luma",
    "write_video",
]
