"""What platforms do to an upload, as seeded transcodes: training augmentation and the
normalisation used by the evaluation.

A platform re-encodes (H.264 or H.265 at CRF 23-32), resizes to 480-720 pixels wide, may
change the frame rate, crop and cut, and drops the container metadata. The pixel model is
trained only on such copies of its training clips (:func:`augment_specs`), so its score means
the same before and after a re-upload. :data:`NORMALISE` is the one fixed transform of the
evaluation: 4 s, 25 fps, 640 px wide, H.264 CRF 23, metadata stripped.

Every transcode is cached on disk by the source file's identity and the spec, so training and
evaluation transcode each clip once. Used by training and evaluation only (never on verify).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from veriframe.errors import MediaError

CRF_RANGE = (23, 32)
WIDTH_RANGE = (480, 720)
FPS_CHOICES = (24.0, 25.0, 30.0)
CROP_MAX = 0.15  # at most this fraction of each side's length removed
CUT_RANGE = (3.0, 8.0)  # excerpt length in seconds


@dataclass(frozen=True)
class TranscodeSpec:
    """One platform-style re-encode. ``width``: output width (height follows the aspect
    ratio, rounded to even; None keeps the size); ``crop``: fractions removed from the left,
    top, right and bottom; ``start``/``duration``: the excerpt (seconds)."""

    codec: str = "libx264"
    crf: int = 23
    preset: str = "medium"
    width: int | None = None
    fps: float | None = None
    crop: tuple[float, float, float, float] | None = None
    start: float = 0.0
    duration: float | None = None

    def key(self) -> str:
        """A short stable identifier of this spec (part of cache file names)."""
        raw = repr(sorted(asdict(self).items()))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """A one-line human description."""
        parts = [f"{'H.265' if self.codec == 'libx265' else 'H.264'} CRF {self.crf}"]
        if self.width:
            parts.append(f"{self.width} px wide")
        if self.fps:
            parts.append(f"{self.fps:g} fps")
        if self.crop:
            parts.append("crop " + "/".join(f"{c:.2f}" for c in self.crop))
        if self.duration:
            parts.append(f"{self.start:.1f}+{self.duration:.1f} s")
        return ", ".join(parts)


NORMALISE = TranscodeSpec(codec="libx264", crf=23, preset="medium", width=640, fps=25.0,
                          start=0.0, duration=4.0)


def augment_specs(seed_text: str, count: int, *, duration: float | None) -> list[TranscodeSpec]:
    """``count`` random platform transcodes for one clip, seeded by ``seed_text`` (e.g. the
    clip's path) so a rerun makes the same copies.

    Each copy: H.264 (70 %) or H.265 at a CRF drawn from :data:`CRF_RANGE`; resized to a width
    in :data:`WIDTH_RANGE` (80 %; this up-scales clips that are narrower, as a normalising
    platform does); a new frame rate from :data:`FPS_CHOICES` (50 %); a crop of up to
    :data:`CROP_MAX` per side (50 %); and an excerpt of :data:`CUT_RANGE` seconds when the clip
    is longer. Metadata is always dropped (the transcode writes a fresh container).
    """
    rng = random.Random(hashlib.sha256(f"augment|{seed_text}".encode()).digest())
    out = []
    for _ in range(count):
        codec = "libx264" if rng.random() < 0.7 else "libx265"
        crf = rng.randint(*CRF_RANGE)
        width = rng.randrange(WIDTH_RANGE[0], WIDTH_RANGE[1] + 1, 2) if rng.random() < 0.8 else None
        fps = rng.choice(FPS_CHOICES) if rng.random() < 0.5 else None
        crop = None
        if rng.random() < 0.5:
            total = rng.uniform(0.03, CROP_MAX)
            left = rng.uniform(0.0, total)
            top_total = rng.uniform(0.03, CROP_MAX)
            top = rng.uniform(0.0, top_total)
            crop = (round(left, 3), round(top, 3), round(total - left, 3),
                    round(top_total - top, 3))
        start, length = 0.0, None
        want = rng.uniform(*CUT_RANGE)
        if duration is not None and duration > want + 0.5:
            length = round(want, 2)
            start = round(rng.uniform(0.0, duration - want), 2)
        out.append(TranscodeSpec(codec=codec, crf=crf,
                                 preset="medium" if codec == "libx264" else "fast",
                                 width=width, fps=fps, crop=crop, start=start,
                                 duration=length))
    return out


def _identity(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()


def apply(src: Path, spec: TranscodeSpec, *, cache_dir: Path) -> Path:
    """The transcode of ``src`` by ``spec``, made once under ``cache_dir/transcodes``."""
    from veriframe.media import probe, read_frames, write_video
    from veriframe.media.transcode import transcode

    out = cache_dir / "transcodes" / f"{_identity(src)[:24]}-{spec.key()}.mp4"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    info = probe(src)
    w, h = info.width, info.height
    rect = None
    if spec.crop is not None:
        left, top, right, bottom = spec.crop
        x, y = round(w * left), round(h * top)
        cw, ch = w - x - round(w * right), h - y - round(h * bottom)
        rect = (x, y, max(2, cw - cw % 2), max(2, ch - ch % 2))
        w, h = rect[2], rect[3]
    size = None
    if spec.width is not None:
        nh = max(2, round(h * spec.width / w))
        size = (spec.width, nh - nh % 2)
    duration = spec.duration
    if duration is not None and info.duration is not None:
        duration = min(duration, max(0.1, info.duration - spec.start))
    try:
        transcode(src, out, codec=spec.codec, crf=spec.crf, preset=spec.preset, scale=size,
                  crop=rect, fps=spec.fps, start=spec.start, duration=duration)
    except MediaError:
        # A few inputs fail in transcode's path (an MPEG-4 Part 2 AVI): decode every frame
        # and write a near-lossless copy first.
        mid = out.with_suffix(".mid.mp4")
        try:
            frames = read_frames(src, luma=False).rgb
            assert frames is not None
            write_video(mid, frames, fps=info.fps or 25.0,
                        audio_from=src if info.has_audio else None, crf=4, preset="veryfast")
            del frames
            transcode(mid, out, codec=spec.codec, crf=spec.crf, preset=spec.preset,
                      scale=size, crop=rect, fps=spec.fps, start=spec.start,
                      duration=duration)
        finally:
            mid.unlink(missing_ok=True)
    return out


__all__ = [
    "CRF_RANGE",
    "CROP_MAX",
    "CUT_RANGE",
    "FPS_CHOICES",
    "NORMALISE",
    "WIDTH_RANGE",
    "TranscodeSpec",
    "apply",
    "augment_specs",
]
