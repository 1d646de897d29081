"""The ``veriframe`` command line: parse, call the library, render, exit.

One Typer app; each command group lives in its own module here and is registered statically
(a command whose optional extra is missing still appears, and says what to install when it
runs). No logic lives here: every command calls the library and renders what it returns.
This package is the only one that imports typer or ``rich.console`` and the only one that
reads ``VERIFRAME_*`` variables.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import typer

from veriframe._cli import (
    _common,
    demo,
    detect,
    generate,
    keys,
    policy,
    resolver,
    scan,
    serve,
    sign,
    verify,
)

app = _common.group(
    "veriframe",
    help="Provenance for AI video: sign with a watermark and C2PA Content Credentials, verify "
    "what you were sent, detect synthetic clips, moderate at scale.",
)


def _version(value: bool) -> None:
    if value:
        from veriframe._version import __version__

        typer.echo(f"veriframe {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", envvar="VERIFRAME_DEBUG", help="Show tracebacks for unexpected errors."
    ),
    home: Path | None = typer.Option(
        None, "--home", envvar="VERIFRAME_HOME",
        help="The veriframe home: keys, trust anchors, manifest store (default ~/.veriframe).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _common.set_root_options(debug=debug, home=home)


for _module in (keys, sign, verify, demo, detect, generate, policy, scan, resolver,
                serve):
    _module.register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv``); return the exit code."""
    # One BLAS thread (before numpy loads; a value the user set is kept): veriframe's matrix
    # products are small, and OpenBLAS's extra threads only spin, taking the cores that the
    # decode, the detector and a scan's other workers need (a verify's CPU time falls by a
    # third, its wall time does not rise).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _common.set_root_options(debug=False, home=None)
    try:
        app(
            args=list(argv) if argv is not None else None,
            prog_name="veriframe",
            standalone_mode=True,
        )
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


__all__ = ["app", "main"]
