"""What every CLI command shares: consoles, error rendering, JSON output, exit codes.

Human text and progress go to stderr; ``--json`` output is the only thing on stdout.
``NO_COLOR`` is honoured by rich. A :class:`VeriframeError` is printed as
``error[code]: message`` plus its hint and turned into its exit code; any other exception is
an internal error (exit 1) whose traceback only ``--debug`` shows.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from veriframe.errors import EXIT_OPERATIONAL, VeriframeError

F = TypeVar("F", bound=Callable[..., Any])

_state: dict[str, bool] = {"debug": False}


def set_debug(value: bool) -> None:
    """Show tracebacks for unexpected errors (``--debug``)."""
    _state["debug"] = value


def err_console() -> Console:
    """Console on stderr for human text and progress (colour off when NO_COLOR is set)."""
    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def out_console() -> Console:
    """Console on stdout, for commands whose main output is human text."""
    return Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def print_json(doc: Any) -> None:
    """Write one JSON document to stdout and nothing else."""
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


def report_error(exc: VeriframeError, *, as_json: bool = False) -> int:
    """Print ``exc`` for a person (stderr) or as JSON (stdout); return its exit code."""
    from rich.markup import escape

    from veriframe.report.text import clean_text

    if as_json:
        print_json({"error": exc.to_dict()})
    console = err_console()
    code, message = escape(clean_text(exc.code)), escape(clean_text(exc.message))
    console.print(f"[bold red]error\\[{code}][/]: {message}", soft_wrap=True)
    if exc.hint:
        console.print(f"  hint: {clean_text(exc.hint)}", markup=False, soft_wrap=True)
    return exc.exit_code


def guarded(*, json_flag: str | None = "as_json") -> Callable[[F], F]:
    """Decorate a command: VeriframeError → message + exit code, no traceback.

    ``json_flag`` names the command's keyword argument that selects JSON output, so errors
    come out as JSON too when it is set.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            as_json = bool(kwargs.get(json_flag)) if json_flag else False
            try:
                return fn(*args, **kwargs)
            except typer.Exit:
                raise
            except VeriframeError as exc:
                if _state["debug"]:
                    err_console().print_exception(show_locals=False)
                raise typer.Exit(report_error(exc, as_json=as_json)) from None
            except KeyboardInterrupt:
                err_console().print("interrupted")
                raise typer.Exit(130) from None
            except Exception as exc:
                if _state["debug"]:
                    err_console().print_exception(show_locals=False)
                internal = VeriframeError(
                    "internal",
                    f"unexpected {type(exc).__name__}: {exc}",
                    "this is a bug in veriframe; rerun with --debug and report it",
                    exit_code=EXIT_OPERATIONAL,
                )
                raise typer.Exit(report_error(internal, as_json=as_json)) from None

        return inner  # type: ignore[return-value]

    return wrap
