"""``veriframe scan``: moderate a folder (or a glob) of videos into a JSONL or Parquet file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from veriframe._cli._common import err_console, guarded, settings

if TYPE_CHECKING:
    from rich.console import Console

    from veriframe.moderation import ScanSummary

SCAN_HELP = """Verify every video under DIR_OR_GLOB and apply a policy; write one row per file.

Rows (schema veriframe.scan/1, see docs/json-schema.md) are written to --out as each file
finishes, one flushed JSON line per file, so a crash loses nothing; --resume skips files already
in the output. Files that are not videos (by extension, then magic bytes and a probe) are
skipped. A file that cannot be checked, crashes its worker or overruns --timeout-per-file gets
a row with state "error" and the policy's fail-closed decision. Exit 0 when the scan completed
(per-file errors are in the rows), 1 when it could not run.

With --engine ray the rows are written as Parquet files into the folder --out (see
veriframe.moderation.ray for running on a cluster).
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
    store: Path | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE"),
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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from veriframe._text import clean_text
    from veriframe.moderation import ModerationResult, Moderator
    from veriframe.moderation import scan as run_scan

    moderator = Moderator(policy, settings=settings(store=store, trust=trust),
                          detector=None if detector == "none" else detector,
                          sample_count=sample_count, timeout_s=timeout_per_file or None)
    console = err_console()
    progress = Progress(
        SpinnerColumn(), TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[last]}"), TimeElapsedColumn(),
        console=console, transient=False, disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task("scan", total=None, last="")

        def on_result(count: int, result: ModerationResult) -> None:
            progress.update(task, completed=count,
                            last=clean_text(Path(result.path).name, max_len=40))

        summary = run_scan(target, out=out, moderator=moderator, workers=workers,
                           resume=resume, overwrite=overwrite, engine=engine,
                           progress=on_result)
    _summary(console, summary)


def _summary(console: Console, summary: ScanSummary) -> None:
    from rich.table import Table

    table = Table(title="scan summary", title_justify="left")
    table.add_column("label")
    table.add_column("files", justify="right")
    for label, n in summary.labels.most_common():
        table.add_row(label, str(n))
    console.print(table)
    acts = ", ".join(f"{a}: {n}" for a, n in summary.actions.most_common()) or "none"
    console.print(f"actions: {acts}", markup=False)
    if summary.errors:
        errs = ", ".join(f"{c}: {n}" for c, n in summary.errors.most_common())
        console.print(f"errors: {sum(summary.errors.values())} ({errs})", markup=False)
    else:
        console.print("errors: 0", markup=False)
    console.print(f"{summary.files} files in {summary.elapsed_s:.1f} s "
                  f"({summary.files_per_s:.2f} files/s); {summary.skipped} non-video files "
                  f"skipped; {summary.resumed} already done; results in {summary.out}",
                  markup=False)
