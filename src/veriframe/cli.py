"""The ``veriframe`` command line: parse, call the library, render, exit.

No logic of its own: every command calls the public API and renders its result. Command
groups that belong to one area live beside that area (``<package>/commands.py``) and are
registered here.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import typer

from veriframe import __version__
from veriframe._cli_common import set_debug

app = typer.Typer(
    name="veriframe",
    help="Provenance for AI video: sign with a watermark and C2PA Content Credentials, verify "
    "what you were sent, detect synthetic clips, moderate at scale.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never print locals (passphrases) in a traceback
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"veriframe {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", envvar="VERIFRAME_DEBUG", help="Show tracebacks for unexpected errors."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    set_debug(debug)


# Each module defines ``register(app: typer.Typer) -> None``.
_COMMAND_MODULES = (
    "veriframe.credentials.commands",  # keys init|show|import|rotate
    "veriframe.commands",  # sign, verify, demo
    "veriframe.detect.commands",  # detect, detector train|eval
    "veriframe.generators.commands",  # generate, effects list, models list
    "veriframe.policy.commands",  # policy check
    "veriframe.moderation_commands",  # scan
)

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise
        continue
    _module.register(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv``); return the exit code."""
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


if __name__ == "__main__":
    raise SystemExit(main())
