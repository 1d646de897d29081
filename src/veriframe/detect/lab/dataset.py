"""Labelled clip collections and their (cached) features, for training and evaluation.

A dataset is either an ``INDEX.csv`` (columns ``file``, ``label`` real|synthetic,
``source_repo``, ``generator``, ``is_gif``; ``file`` relative to the CSV's folder), a folder
holding one, or a folder with ``real/`` and ``synthetic/`` subfolders (the group of a clip is
the part of its name before ``__``, else its parent folder). Splits are always grouped by
``group`` (the source repository) so clips of one source never sit on both sides.

Feature extraction decodes each clip once (a bounded sample) and is cached on disk, keyed by the
file's size, modification time and the feature version, so reruns do not decode again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veriframe.detect import features as fx
from veriframe.detect.features import SAMPLE_COUNT
from veriframe.detect.lab import augment
from veriframe.detect.lab.augment import TranscodeSpec
from veriframe.detect.metadata import metadata_evidence
from veriframe.errors import DetectorError, VeriframeError
from veriframe.media.decode import RUNS

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif")


@dataclass(frozen=True)
class Clip:
    """One labelled clip."""

    path: Path
    label: int  # 1 synthetic, 0 real
    group: str  # source repository: the unit of every split
    generator: str
    is_gif: bool

    @property
    def family(self) -> str:
        """The generator family (:func:`generator_family`); ``"real"`` for real clips."""
        return generator_family(self.generator, label=self.label, group=self.group)


@dataclass(frozen=True)
class ClipFeatures:
    """What training needs from one clip: forensic per-frame/pooled and metadata vectors,
    and the sample's quality (frames, distinct frames, width, height, flat fraction)."""

    frames: np.ndarray
    pooled: np.ndarray
    meta: np.ndarray
    tool_tags: tuple[str, ...]
    quality: np.ndarray

    def forensic(self) -> fx.ForensicFeatures:
        """The forensic part as :class:`~veriframe.detect.features.ForensicFeatures`."""
        q = self.quality
        return fx.ForensicFeatures(
            frames=self.frames,
            pooled=self.pooled,
            frame_positions=np.arange(self.frames.shape[0]),
            quality=fx.SampleQuality(frames=int(q[0]), distinct=int(q[1]), width=int(q[2]),
                                     height=int(q[3]), flat_fraction=float(q[4])),
        )


# Generator families: one model lineage, wherever its samples were published. Checked in
# order (Open-Sora-Plan before Sora). Unknown generators form a family of their own per
# source repository.
_FAMILY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("CogVideoX", ("cogvideo",)),
    ("Cosmos", ("cosmos",)),
    ("Wan", ("wan2", "wan-like")),
    ("SD1.5 video editors", ("text2video-zero", "controlvideo", "sd1.5")),
    ("ModelScope-T2V", ("modelscope", "instructvideo")),
    ("VideoCrafter", ("videocrafter", "motionctrl")),
    ("Stable Video Diffusion", ("svd", "stable video")),
    ("Latte", ("latte",)),
    ("Open-Sora-Plan", ("open-sora-plan",)),
    ("Kling", ("kling",)),
    ("Sora", ("sora",)),
    ("Allegro", ("allegro",)),
    ("EasyAnimate", ("easyanimate",)),
    ("HunyuanVideo", ("hunyuan",)),
    ("LTX-Video", ("ltx",)),
    ("Mochi", ("mochi",)),
)


def generator_family(generator: str, *, label: int, group: str) -> str:
    """The generator family of a clip (``"real"`` for real clips)."""
    if label == 0:
        return "real"
    text = generator.lower()
    for family, needles in _FAMILY_RULES:
        if any(n in text for n in needles):
            return family
    return f"unknown ({group})"


class Links:
    """Which names are joined (union-find over strings): the lab's splits join sources,
    families and duplicate groups that must stay on one side of a fold."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        """The representative of ``a``'s set (``a`` joins the sets if new)."""
        parent = self.parent
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def join(self, a: str, b: str) -> None:
        """Put ``a``'s set into ``b``'s."""
        self.parent[self.find(a)] = self.find(b)


def family_groups(clips: Sequence[Clip]) -> list[str]:
    """A split key that keeps generator families together across repositories.

    Sources and families are linked whenever a source holds a family's clips; each connected
    set of them is one group (named after its families), so holding a group out holds out a
    whole family with every repository it appears in (and those repositories' real clips).
    Sources with only real clips stay groups of their own.
    """
    links = Links()
    find = links.find
    for c in clips:
        find(f"src:{c.group}")
        if c.label == 1:
            links.join(f"fam:{c.family}", f"src:{c.group}")
    names: dict[str, set[str]] = {}
    for c in clips:
        root = find(f"src:{c.group}")
        if c.label == 1:
            names.setdefault(root, set()).add(c.family)
    out = []
    for c in clips:
        root = find(f"src:{c.group}")
        fams = names.get(root)
        out.append(" + ".join(sorted(fams)) if fams else c.group)
    return out


def _label(text: str, where: str) -> int:
    value = text.strip().lower()
    if value in ("synthetic", "fake", "ai", "generated", "1"):
        return 1
    if value in ("real", "authentic", "camera", "0"):
        return 0
    raise DetectorError(
        "detector.bad-dataset",
        f"unknown label {text!r} in {where}",
        "labels are 'real' or 'synthetic'",
    )


def _from_index(csv_path: Path) -> list[Clip]:
    root = csv_path.parent
    clips: list[Clip] = []
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "label"} - set(reader.fieldnames or ())
        if missing:
            raise DetectorError(
                "detector.bad-dataset",
                f"{csv_path} lacks the column(s) {', '.join(sorted(missing))}",
                "an index needs at least 'file' and 'label' (and 'source_repo' for grouping)",
            )
        for row in reader:
            path = root / row["file"]
            clips.append(
                Clip(
                    path=path,
                    label=_label(row["label"], str(csv_path)),
                    group=(row.get("source_repo") or path.parent.name).strip(),
                    generator=(row.get("generator") or row["label"]).strip(),
                    is_gif=(row.get("is_gif", "").strip() in ("1", "true", "True"))
                    or path.suffix.lower() == ".gif",
                )
            )
    return clips


def _from_folders(root: Path) -> list[Clip]:
    clips: list[Clip] = []
    for sub, label in (("real", 0), ("synthetic", 1)):
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in VIDEO_SUFFIXES or not path.is_file():
                continue
            group = path.name.split("__", 1)[0] if "__" in path.name else path.parent.name
            clips.append(
                Clip(path=path, label=label, group=group, generator=sub,
                     is_gif=path.suffix.lower() == ".gif")
            )
    return clips


def load_dataset(data: str | os.PathLike[str], *, include_gif: bool = False) -> list[Clip]:
    """The labelled clips of ``data`` (an INDEX.csv, its folder, or real/ + synthetic/).

    GIFs are left out unless ``include_gif``: every GIF in the shared set is synthetic, so a
    model would learn "palette" instead of "synthetic".
    """
    path = Path(data)
    if path.is_file() and path.suffix.lower() == ".csv":
        clips = _from_index(path)
    elif path.is_dir() and (path / "INDEX.csv").is_file():
        clips = _from_index(path / "INDEX.csv")
    elif path.is_dir():
        clips = _from_folders(path)
    else:
        raise DetectorError(
            "detector.bad-dataset",
            f"no dataset at {path}",
            "pass an INDEX.csv, a folder holding one, or a folder with real/ and synthetic/",
        )
    if not include_gif:
        clips = [c for c in clips if not c.is_gif]
    if not clips:
        raise DetectorError("detector.bad-dataset", f"no clips found in {path}",
                            "check the path (GIFs are left out by default)")
    labels = {c.label for c in clips}
    if labels != {0, 1}:
        raise DetectorError("detector.bad-dataset",
                            f"{path} holds only {'synthetic' if 1 in labels else 'real'} clips",
                            "training and evaluation need both real and synthetic clips")
    return clips


def default_cache_dir() -> Path:
    """Where features are cached unless a cache folder is given: ``~/.cache/veriframe/detect``."""
    return Path.home() / ".cache" / "veriframe" / "detect"


def _cache_key(path: Path, variant: str) -> str:
    st = path.stat()
    raw = (f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{variant}|v{fx.FEATURE_VERSION}"
           f"|runs{RUNS}")
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def clip_features(path: Path) -> ClipFeatures:
    """Probe, sample and featurise one file (no cache)."""
    from veriframe.media import probe, sample_runs

    info = probe(path)
    sample = sample_runs(path, count=SAMPLE_COUNT, info=info)
    forensic = fx.extract(sample)  # type: ignore[arg-type]
    meta = metadata_evidence(info)
    q = forensic.quality
    assert q is not None
    quality = np.array([q.frames, q.distinct, q.width, q.height, q.flat_fraction])
    return ClipFeatures(frames=forensic.frames, pooled=forensic.pooled,
                        meta=meta.vector, tool_tags=meta.tool_tags, quality=quality)


def reencoded_path(path: Path, *, cache_dir: Path, crf: int = 28) -> Path:
    """An H.264 CRF ``crf`` re-encode of ``path`` in the cache (made once)."""
    from veriframe.errors import MediaError
    from veriframe.media.encode import rewrite_video
    from veriframe.media.transcode import transcode

    out = cache_dir / "reencoded" / f"{_cache_key(path, f'crf{crf}')}.mp4"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            transcode(path, out, codec="libx264", crf=crf, preset="veryfast")
        except MediaError:
            # Some inputs (an MPEG-4 Part 2 AVI here) fail in transcode's filter path; the
            # frame-by-frame rewriter is the same H.264 CRF re-encode of the same frames.
            rewrite_video(path, out, transform=lambda _i, y: y, crf=crf, preset="veryfast")
    return out


def dataset_features(
    clips: Sequence[Clip],
    *,
    cache_dir: Path | None = None,
    reencode_crf: int | None = None,
    transform: TranscodeSpec | Callable[[Clip], TranscodeSpec] | None = None,
    progress: Callable[[int, int, Clip], None] | None = None,
) -> list[ClipFeatures]:
    """Features of every clip, cached under ``cache_dir``: of the file as it is, of its CRF
    ``reencode_crf`` re-encode, or of its ``transform`` (a
    :class:`~veriframe.detect.lab.augment.TranscodeSpec`, or a function giving one per clip)."""
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    out: list[ClipFeatures] = []
    for i, clip in enumerate(clips):
        if progress is not None:
            progress(i, len(clips), clip)
        spec = transform(clip) if callable(transform) else transform
        if spec is not None:
            variant = f"spec-{spec.key()}"
        elif reencode_crf is not None:
            variant = f"crf{reencode_crf}"
        else:
            variant = "orig"
        try:
            key = _cache_key(clip.path, variant)
        except OSError as exc:
            raise DetectorError("detector.bad-dataset", f"cannot read {clip.path}: {exc}",
                                "check the dataset's file paths") from None
        cached = cache / f"{key}.npz"
        if cached.is_file():
            with np.load(cached, allow_pickle=False) as z:
                out.append(ClipFeatures(frames=z["frames"], pooled=z["pooled"],
                                        meta=z["meta"],
                                        tool_tags=tuple(json.loads(str(z["tool_tags"]))),
                                        quality=z["quality"]))
            continue
        src = clip.path
        try:
            if spec is not None:
                src = augment.apply(clip.path, spec, cache_dir=cache)
            elif reencode_crf is not None:
                src = reencoded_path(clip.path, cache_dir=cache, crf=reencode_crf)
            feats = clip_features(src)
        except VeriframeError as exc:
            raise DetectorError("detector.bad-clip", f"cannot featurise {clip.path}: {exc.message}",
                                exc.hint or "remove the clip from the dataset") from None
        tmp = cached.with_suffix(".tmp.npz")
        np.savez(tmp, frames=feats.frames, pooled=feats.pooled, meta=feats.meta,
                 tool_tags=np.array(json.dumps(list(feats.tool_tags))), quality=feats.quality)
        os.replace(tmp, cached)
        out.append(feats)
    return out


__all__ = [
    "SAMPLE_COUNT",
    "Clip",
    "ClipFeatures",
    "Links",
    "clip_features",
    "dataset_features",
    "default_cache_dir",
    "family_groups",
    "generator_family",
    "load_dataset",
    "reencoded_path",
]
