"""Scan a folder (or a file, or a glob) of videos into ``veriframe.scan/1`` rows.

:func:`scan` is what ``veriframe scan``, the examples and the HTTP service call: it finds the
videos, skips what an earlier run already wrote (``resume``) or refuses to touch an existing
output (unless ``overwrite``), reviews the files with a :class:`Moderator` on a local process
pool or on Ray, writes each row as soon as its file finishes, and returns the counts.
"""

from __future__ import annotations

import enum
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from veriframe.errors import ScanError
from veriframe.moderation.discovery import find_videos
from veriframe.moderation.moderator import ModerationResult, ModerationState, Moderator
from veriframe.moderation.output import JsonlWriter, read_done_paths

ProgressFn = Callable[[int, ModerationResult], None]


class ScanEngine(str, enum.Enum):
    """Where the files are reviewed."""

    LOCAL = "local"  # a process pool on this machine; rows go to one JSONL file
    RAY = "ray"  # Ray Data actors (the [scale] extra); rows go to Parquet files in a folder


@dataclass(frozen=True)
class ScanSummary:
    """What one scan did: files reviewed, label/action/error counts, what it left out."""

    out: str
    files: int
    elapsed_s: float
    labels: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # files under the target that are not videos
    resumed: int = 0  # videos already in the output (``resume``)

    @property
    def files_per_s(self) -> float:
        """Throughput of this run."""
        return self.files / self.elapsed_s if self.elapsed_s > 0 else 0.0


def check_output(out: Path, *, resume: bool, overwrite: bool, engine: ScanEngine) -> None:
    """Refuse an output of the wrong kind, or an existing one without resume/overwrite."""
    is_dir = engine is ScanEngine.RAY
    if out.exists() and out.is_dir() != is_dir:
        kind = "a folder" if out.is_dir() else "a file"
        raise ScanError("scan.output", f"{out} is {kind}",
                             "--out is a .jsonl file (local) or a folder (ray)")
    if out.exists() and not (resume or overwrite):
        if is_dir and not any(out.iterdir()):
            return
        raise ScanError("scan.output-exists", f"{out} already exists",
                             "add --resume to continue that scan, or --overwrite to replace it")


def scan(
    target: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    moderator: Moderator,
    workers: int = 2,
    resume: bool = False,
    overwrite: bool = False,
    engine: ScanEngine | str = ScanEngine.LOCAL,
    progress: ProgressFn | None = None,
) -> ScanSummary:
    """Review every video under ``target`` with ``moderator``; write one row per file to ``out``.

    ``target``: a folder (recursed), a video file or a glob. ``out``: a JSONL file (local) or a
    folder of Parquet files (ray). ``resume`` skips files already in ``out`` (a torn last line
    from a crash is cut off); ``overwrite`` replaces it; with neither an existing ``out`` is an
    error. ``progress(count, result)`` is called after each row (local engine). Per-file
    failures are rows with state ``error``; an exception means the scan could not run.
    """
    try:
        kind = ScanEngine(engine)
    except ValueError:
        raise ScanError("scan.engine", f"unknown engine {engine!r}",
                             "use --engine local or --engine ray") from None
    out_path = Path(out)
    check_output(out_path, resume=resume, overwrite=overwrite, engine=kind)
    if kind is ScanEngine.RAY:
        return _scan_ray(target, out=out_path, moderator=moderator, workers=workers,
                         resume=resume, overwrite=overwrite)
    return _scan_local(target, out=out_path, moderator=moderator, workers=workers,
                       resume=resume, progress=progress)


def _scan_local(target: str | os.PathLike[str], *, out: Path, moderator: Moderator,
                workers: int, resume: bool, progress: ProgressFn | None) -> ScanSummary:
    done = read_done_paths(out) if resume else set()
    skipped: list[str] = []
    resumed = 0

    def todo() -> Iterator[str]:
        nonlocal resumed
        for path in find_videos(target, skipped=skipped):
            if path in done:
                resumed += 1
                continue
            yield path

    labels: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    count = 0
    start = time.perf_counter()
    with JsonlWriter(out, append=resume) as writer:
        for result in moderator.review_many(todo(), workers=workers):
            writer.write(result.to_dict())
            count += 1
            labels[result.label or "-"] += 1
            actions[result.action or "-"] += 1
            if result.state is ModerationState.ERROR:
                errors[result.error.code if result.error else "error"] += 1
            if progress is not None:
                progress(count, result)
    return ScanSummary(out=str(out), files=count, elapsed_s=time.perf_counter() - start,
                       labels=labels, actions=actions, errors=errors, skipped=len(skipped),
                       resumed=resumed)


def _scan_ray(target: str | os.PathLike[str], *, out: Path, moderator: Moderator,
              workers: int, resume: bool, overwrite: bool) -> ScanSummary:
    from veriframe.moderation.ray import done_paths_parquet, scan_paths

    if out.exists() and overwrite and not resume:
        shutil.rmtree(out)
    done = done_paths_parquet(out) if resume else set()
    skipped: list[str] = []
    paths = [p for p in find_videos(target, skipped=skipped) if p not in done]
    start = time.perf_counter()
    summary = scan_paths(paths, out=out, moderator=moderator, concurrency=max(1, workers))
    return ScanSummary(out=str(out), files=summary.rows, elapsed_s=time.perf_counter() - start,
                       labels=summary.labels, actions=summary.actions, errors=summary.errors,
                       skipped=len(skipped), resumed=len(done))


__all__ = ["ProgressFn", "ScanEngine", "ScanSummary", "check_output", "scan"]
