"""Moderation pipelines: verify files under a policy, one at a time, in batch, or at scale.

- :class:`Moderator`: ``review(path)`` (never raises for a bad file), ``review_many(paths,
  workers=N)`` on a self-healing process pool, ``areview`` for asyncio code.
- :func:`scan`: a folder, file or glob into ``veriframe.scan/1`` rows (JSONL, or Parquet on
  Ray), with resume and overwrite handling and the summary counts.
- :func:`find_videos`, :class:`JsonlWriter`, :func:`read_done_paths`: the pieces of a scan.
"""

from __future__ import annotations

from veriframe.moderation.discovery import (
    NON_VIDEO_EXTENSIONS,
    VIDEO_EXTENSIONS,
    find_videos,
    is_video_candidate,
)
from veriframe.moderation.moderator import (
    ROW_TYPES,
    FileTimeout,
    ModerationResult,
    ModerationState,
    Moderator,
)
from veriframe.moderation.output import JsonlWriter, read_done_paths
from veriframe.moderation.scan import ScanEngine, ScanSummary, scan

__all__ = [
    "NON_VIDEO_EXTENSIONS",
    "ROW_TYPES",
    "VIDEO_EXTENSIONS",
    "FileTimeout",
    "JsonlWriter",
    "ModerationResult",
    "ModerationState",
    "Moderator",
    "ScanEngine",
    "ScanSummary",
    "find_videos",
    "is_video_candidate",
    "read_done_paths",
    "scan",
]
