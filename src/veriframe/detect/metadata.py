"""Container and metadata fingerprints: what the file says about how it was made.

These cues are real (open models emit a few fixed sizes, 4k+1 frame counts at 8-16 fps, no
audio; ComfyUI writes its workflow into the file) but trivially lost or faked: a re-encode or a
crop removes most of them. They form a separate term of the fusion so every result can be
reported with metadata on and off.

Input is a ``veriframe.media.MediaInfo`` (read through attributes, see :class:`InfoLike`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class InfoLike(Protocol):
    """What the metadata features need from ``veriframe.media.MediaInfo``."""

    width: int
    height: int
    fps: float | None
    frame_count: int | None


@dataclass(frozen=True)
class KnownFormat:
    """An open model's usual output format (sizes in either orientation)."""

    name: str
    sizes: tuple[tuple[int, int], ...]
    frames: tuple[int, ...]
    fps: tuple[float, ...]


# From the models' reference pipelines and cards (see /shared/NOTES.md "Typical output formats").
KNOWN_FORMATS: tuple[KnownFormat, ...] = (
    KnownFormat("CogVideoX 1.0", ((720, 480),), (49,), (8.0,)),
    KnownFormat("CogVideoX 1.5", ((1360, 768),), (81, 161), (16.0,)),
    KnownFormat("Wan2.1", ((832, 480), (1280, 720)), (81,), (16.0,)),
    KnownFormat("HunyuanVideo", ((1280, 720), (960, 544)), (129,), (24.0,)),
    KnownFormat("Stable Video Diffusion", ((1024, 576),), (14, 25), (6.0, 7.0, 8.0)),
    KnownFormat("Mochi 1", ((848, 480),), (163,), (30.0,)),
    KnownFormat("LTX-Video", ((1216, 704), (768, 512)), (121, 161), (24.0, 25.0, 30.0)),
    KnownFormat("Cosmos", ((1280, 704),), (121,), (24.0,)),
    KnownFormat("ModelScope T2V", ((256, 256),), (16,), (8.0,)),
    KnownFormat("AnimateDiff", ((512, 512),), (16,), (8.0,)),
    KnownFormat("VideoCrafter2", ((512, 320),), (16,), (8.0, 10.0)),
)

# Tag keys / values that generation tools write (ComfyUI VideoHelperSuite and SaveVideo write
# `prompt` and `workflow` JSON; A1111-style tools write `parameters`).
_TOOL_KEYS = ("prompt", "workflow", "parameters", "negative_prompt", "sd_params", "seed")
_TOOL_VALUE = re.compile(
    r"comfyui|diffusers|stable[ -]?video|animatediff|cogvideo|hunyuan|wan2\.|ltx-?video|"
    r"\"class_type\"|ksampler|runway|pika|sora|kling|luma dream|veo",
    re.IGNORECASE,
)
# Encoders named by capture devices, editors or platform transcoders (not libavformat).
_CAPTURE_ENCODER = re.compile(
    r"handbrake|avc coding|^h\.26[45]|apple|iphone|ipad|samsung|pixel|gopro|dji|sony|canon|"
    r"nikon|panasonic|premiere|final cut|davinci|transcod|youtube|aliyun",
    re.IGNORECASE,
)

METADATA_FEATURES: tuple[str, ...] = (
    "meta_format_match",
    "meta_frames_4k1",
    "meta_fps_low",
    "meta_short",
    "meta_size_mult16",
    "meta_no_audio",
    "meta_capture_encoder",
)


@dataclass(frozen=True)
class MetadataEvidence:
    """The metadata feature vector plus the facts behind it (for the signal details)."""

    vector: np.ndarray  # in METADATA_FEATURES order
    facts: dict[str, str]
    tool_tags: tuple[str, ...]  # generation-tool tags found (a rule, not a learned term)


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _tags(info: Any) -> dict[str, str]:
    tags = getattr(info, "tags", None) or {}
    out: dict[str, str] = {}
    if isinstance(tags, Mapping):
        for k, v in tags.items():
            out[str(k)] = v if isinstance(v, str) else json.dumps(v, default=str)
    return out


def match_format(
    *, width: int, height: int, fps: float | None, frames: int | None
) -> tuple[float, str | None]:
    """Best match to a known open-model output format: (score in [0, 1], model name).

    1.0 size, frame count and fps all match; 0.6 two of them, frame count included;
    0.3 size alone; 0 nothing.
    """
    best: tuple[float, str | None] = (0.0, None)
    for fmt in KNOWN_FORMATS:
        size_ok = any((width, height) in ((w, h), (h, w)) for w, h in fmt.sizes)
        frames_ok = frames is not None and frames in fmt.frames
        fps_ok = fps is not None and any(abs(fps - f) < 0.05 for f in fmt.fps)
        if size_ok and frames_ok and fps_ok:
            score = 1.0
        elif frames_ok and (fps_ok or size_ok):
            score = 0.6
        elif size_ok:
            score = 0.3
        else:
            score = 0.0
        if score > best[0]:
            best = (score, fmt.name)
    return best


def metadata_evidence(info: Any) -> MetadataEvidence:
    """Metadata features of a probed file (``veriframe.media.MediaInfo`` or alike)."""
    width = int(getattr(info, "width", 0) or 0)
    height = int(getattr(info, "height", 0) or 0)
    fps = _num(getattr(info, "fps", None))
    frames_raw = _num(getattr(info, "frame_count", None))
    frames = int(frames_raw) if frames_raw else None
    duration = _num(getattr(info, "duration", None))
    if duration is None and frames and fps:
        duration = frames / fps
    has_audio = bool(getattr(info, "has_audio", False))
    encoder = str(getattr(info, "encoder", None) or "")
    tags = _tags(info)
    if not encoder:
        encoder = tags.get("encoder", "")

    score, model = match_format(width=width, height=height, fps=fps, frames=frames)
    frames_4k1 = float(frames is not None and frames <= 257 and frames % 4 == 1)
    fps_low = float(fps is not None and fps <= 16.5)
    short = float(duration is not None and duration <= 6.5)
    mult16 = float(width > 0 and height > 0 and width % 16 == 0 and height % 16 == 0)
    capture = float(bool(encoder) and bool(_CAPTURE_ENCODER.search(encoder)))
    tool = []
    for k, v in tags.items():
        key = k.lower()
        if key in _TOOL_KEYS or _TOOL_VALUE.search(v) or _TOOL_VALUE.search(key):
            tool.append(k)
    facts = {
        "format": f"{width}x{height}, {frames if frames is not None else '?'} frames @ "
        f"{fps:g} fps" if fps else f"{width}x{height}, {frames} frames",
        "format_match": f"{model} ({score:g})" if model else "none",
        "encoder": encoder or "(none)",
        "audio": "yes" if has_audio else "no",
        "duration": f"{duration:.2f} s" if duration is not None else "?",
    }
    vector = np.array(
        [score, frames_4k1, fps_low, short, mult16, float(not has_audio), capture],
        dtype=np.float64,
    )
    return MetadataEvidence(vector=vector, facts=facts, tool_tags=tuple(sorted(tool)))


__all__ = [
    "KNOWN_FORMATS",
    "METADATA_FEATURES",
    "InfoLike",
    "KnownFormat",
    "MetadataEvidence",
    "match_format",
    "metadata_evidence",
]
