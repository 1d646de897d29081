"""``veriframe scan``: moderate a folder (or a glob) of videos into a JSONL or Parquet file."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from veriframe._cli_common import err_console, guarded
from veriframe.errors import VeriframeError
from veriframe.report.text import clean_text

if TYPE_CHECKING:
    from rich.console import Console

    from veriframe.moderation import Moderator

SCAN_HELP = """Verify every video under DIR_OR_GLOB and apply a policy; write one row per file.

Rows (schema veriframe.scan/1, see docs/json-schema.md) are written to --out as each file
finishes, one flushed JSON line per file, so a crash loses nothing; --resume skips files already
in the output. Files that are not videos (by extension, then magic bytes and a probe) are
skipped. A file that cannot be checked, crashes its worker or overruns --timeout-per-file gets
a row with state "error" and the policy's fail-closed decision. Exit 0 when the scan completed
(per-file errors are in the rows), 1 when it could not run.

With --engine ray the rows are written as Parquet files into the folder --out (see
veriframe.scale.ray for running on a cluster).
"""


def register(app: typer.Typer) -> None:
    """Add ``scan`` to ``app``."""
    app.command("scan", help=SCAN_HELP)(scan)


@guarded(json_flag=None)
def scan(
    target: str = typer.Argument(..., metavar="DIR_OR_GLOB",
                                 help="Folder (recursed), video file, or glob."),
    out: Path = typer.Option(..., "--out", "-o", help="Results: JSONL file (ray: a folder)."),
    workers: int = typer.Option(max(1, min(4, (os.cpu_count() or 2) - 1)), "--workers", "-j",
                                envvar="VERIFRAME_WORKERS",
                                help="Worker processes (0: in this process)."),
    resume: bool = typer.Option(False, "--resume", help="Skip files already in --out."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    policy: str = typer.Option("platform", "--policy", envvar="VERIFRAME_POLICY",
                               help="Policy name (newsroom, platform, strict) or TOML file."),
    trust: Path | None = typer.Option(None, "--trust", envvar="VERIFRAME_TRUST",
                                      help="Trust anchors (PEM)."),
    detector: str = typer.Option("default", "--detector",
                                 help="Detector model name ('none' to skip)."),
    engine: str = typer.Option("local", "--engine", help="local (process pool) or ray."),
    timeout_per_file: float = typer.Option(120.0, "--timeout-per-file", min=0.0,
                                           help="Wall-clock budget per file, seconds "
                                                "(0: none)."),
    sample_count: int = typer.Option(32, "--frames", min=1, max=256,
                                     help="Frames sampled per file."),
) -> None:
    """Verify every video under DIR_OR_GLOB; see the command help for the output."""
    from veriframe.moderation import Moderator

    if engine not in ("local", "ray"):
        raise VeriframeError("scan.engine", f"unknown engine {engine!r}",
                             "use --engine local or --engine ray")
    moderator = Moderator(policy, trust=trust, detector=None if detector == "none" else detector,
                          sample_count=sample_count,
                          timeout_s=timeout_per_file or None)
    if engine == "ray":
        _scan_ray(target, out=out, moderator=moderator, workers=workers, resume=resume,
                  overwrite=overwrite)
        return
    _scan_local(target, out=out, moderator=moderator, workers=workers, resume=resume,
                overwrite=overwrite)


def _check_out(out: Path, *, resume: bool, overwrite: bool, is_dir: bool) -> None:
    if out.exists() and out.is_dir() != is_dir:
        kind = "a folder" if out.is_dir() else "a file"
        raise VeriframeError("scan.output", f"{out} is {kind}",
                             "--out is a .jsonl file (local) or a folder (ray)")
    if out.exists() and not (resume or overwrite):
        if is_dir and not any(out.iterdir()):
            return
        raise VeriframeError("scan.output-exists", f"{out} already exists",
                             "add --resume to continue that scan, or --overwrite to replace it")


def _scan_local(target: str, *, out: Path, moderator: Moderator, workers: int, resume: bool,
                overwrite: bool) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from veriframe.moderation import JsonlWriter, find_videos, read_done_paths

    _check_out(out, resume=resume, overwrite=overwrite, is_dir=False)
    done = read_done_paths(out) if resume else set()
    console = err_console()
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
    progress = Progress(
        SpinnerColumn(), TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("{task.fields[last]}"),
        console=console, transient=False, disable=not console.is_terminal,
    )
    with progress, JsonlWriter(out, append=resume) as writer:
        task = progress.add_task("scan", total=None, rate="", last="")
        for result in moderator.review_many(todo(), workers=workers):
            writer.write(result.to_dict())
            count += 1
            labels[result.label or "-"] += 1
            actions[result.action or "-"] += 1
            if result.state == "error":
                errors[(result.error or {}).get("code", "error")] += 1
            rate = count / max(1e-9, time.perf_counter() - start)
            progress.update(task, completed=count, rate=f"{rate:.2f} files/s",
                            last=clean_text(Path(result.path).name, max_len=40))
    elapsed = time.perf_counter() - start
    _summary(console, count=count, elapsed=elapsed, labels=labels, actions=actions,
             errors=errors, skipped=len(skipped), resumed=resumed, out=out)


def _scan_ray(target: str, *, out: Path, moderator: Moderator, workers: int, resume: bool,
              overwrite: bool) -> None:
    from veriframe.moderation import find_videos
    from veriframe.scale.ray import done_paths_parquet, scan_paths

    _check_out(out, resume=resume, overwrite=overwrite, is_dir=True)
    if out.exists() and overwrite and not resume:
        import shutil

        shutil.rmtree(out)
    done = done_paths_parquet(out) if resume else set()
    skipped: list[str] = []
    paths = [p for p in find_videos(target, skipped=skipped) if p not in done]
    console = err_console()
    start = time.perf_counter()
    summary = scan_paths(paths, out=out, moderator=moderator, concurrency=max(1, workers))
    elapsed = time.perf_counter() - start
    _summary(console, count=summary.rows, elapsed=elapsed, labels=summary.labels,
             actions=summary.actions, errors=summary.errors, skipped=len(skipped),
             resumed=len(done), out=out)


def _summary(console: Console, *, count: int, elapsed: float, labels: Counter[str],
             actions: Counter[str], errors: Counter[str], skipped: int, resumed: int,
             out: Path) -> None:
    from rich.table import Table

    table = Table(title="scan summary", title_justify="left")
    table.add_column("label")
    table.add_column("files", justify="right")
    for label, n in labels.most_common():
        table.add_row(label, str(n))
    console.print(table)
    acts = ", ".join(f"{a}: {n}" for a, n in actions.most_common()) or "none"
    console.print(f"actions: {acts}", markup=False)
    if errors:
        errs = ", ".join(f"{c}: {n}" for c, n in errors.most_common())
        console.print(f"errors: {sum(errors.values())} ({errs})", markup=False)
    else:
        console.print("errors: 0", markup=False)
    rate = count / elapsed if elapsed > 0 else 0.0
    console.print(f"{count} files in {elapsed:.1f} s ({rate:.2f} files/s); "
                  f"{skipped} non-video files skipped; {resumed} already done; "
                  f"results in {out}", markup=False)
