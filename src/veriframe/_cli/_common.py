"""What every command shares: consoles, settings from the environment, errors, JSON, exit codes.

Human text and progress go to stderr; ``--json`` output is the only thing on stdout.
``NO_COLOR`` is honoured. A :class:`VeriframeError` is printed as ``error[code]: message`` plus
its hint and turned into its exit code; any other exception is an internal error (exit 1)
whose traceback only ``--debug`` shows. This is the one place that reads ``VERIFRAME_*``
variables (besides Typer's ``envvar=`` options): :func:`settings` resolves them once.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from veriframe.errors import VeriframeError
    from veriframe.media import Limits
    from veriframe.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

PASSPHRASE_ENV = "VERIFRAME_KEY_PASSPHRASE"
HOME_ENV = "VERIFRAME_HOME"
WATERMARK_KEYS_ENV = "VERIFRAME_WATERMARK_KEYS"
RESOLVERS_ENV = "VERIFRAME_RESOLVERS"  # resolver URLs, separated by commas or spaces
RESOLVER_TOKEN_ENV = "VERIFRAME_RESOLVER_TOKEN"
LIMIT_ENV = {
    "max_pixels": "VERIFRAME_MAX_PIXELS",
    "max_frames": "VERIFRAME_MAX_FRAMES",
    "max_duration_s": "VERIFRAME_MAX_DURATION_S",
    "max_file_bytes": "VERIFRAME_MAX_FILE_BYTES",
    "max_decoded_bytes": "VERIFRAME_MAX_DECODED_BYTES",
    "max_decoded_pixels": "VERIFRAME_MAX_DECODED_PIXELS",
}
# Optional dependencies and the extra that installs each (an ImportError becomes a hint).
EXTRAS = {
    "torch": "generate", "diffusers": "generate", "transformers": "generate",
    "accelerate": "generate", "peft": "generate", "safetensors": "generate",
    "ray": "scale", "pyarrow": "scale", "sklearn": "train",
    "starlette": "serve", "uvicorn": "serve", "httpx": "serve", "multipart": "serve",
    "python_multipart": "serve",
}

_state: dict[str, Any] = {"debug": False, "home": None}


def group(name: str | None = None, *, help: str) -> typer.Typer:
    """A command group as every veriframe group is made.

    Help is formatted by click, not rich (``rich_markup_mode=None``): importing rich's markdown
    and formatting machinery would cost more than the rest of ``veriframe --help`` together.
    Tracebacks never show locals (they could hold a passphrase).
    """
    return typer.Typer(name=name, help=help, no_args_is_help=True, rich_markup_mode=None,
                       pretty_exceptions_enable=False, add_completion=False,
                       context_settings={"help_option_names": ["-h", "--help"]})


def set_root_options(*, debug: bool, home: Path | None) -> None:
    """Options of the root command: ``--debug`` and ``--home``."""
    _state["debug"] = debug
    _state["home"] = home


def err_console() -> Console:
    """Console on stderr for human text and progress (colour off when NO_COLOR is set)."""
    from rich.console import Console

    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def out_console() -> Console:
    """Console on stdout, for commands whose main output is human text."""
    from rich.console import Console

    return Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)


def print_json(doc: Any) -> None:
    """Write one JSON document to stdout and nothing else."""
    write_stdout(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False))


def write_stdout(text: str) -> None:
    """Write ``text`` and a newline to stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def limits_from_env(environ: Mapping[str, str]) -> Limits:
    """Decode limits: the defaults, overridden by ``VERIFRAME_MAX_*`` where set.

    Raises ``ConfigError("config.invalid")`` for a value that is not a positive number.
    """
    from veriframe.errors import ConfigError
    from veriframe.media import Limits

    values: dict[str, float | int] = {}
    for name, var in LIMIT_ENV.items():
        raw = environ.get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            number = float(raw) if name == "max_duration_s" else int(raw.strip())
        except ValueError:
            number = -1
        if not number > 0:
            raise ConfigError(
                "config.invalid",
                f"{var} must be a positive number, got {raw!r}",
                f"Unset {var} or give it a positive value.",
            )
        values[name] = number
    return Limits(**values)  # type: ignore[arg-type]


def passphrase_from_env_or_prompt(
    *, confirm: bool = False, prompt: str = "Passphrase for the signing key", required: bool = True
) -> str | None:
    """``$VERIFRAME_KEY_PASSPHRASE``, else a hidden prompt.

    ``required``: the command cannot run without it: prompt (a terminal, or a pipe), and raise
    ``keys.locked`` when nothing comes. Otherwise prompt only on a terminal and return None
    without one (the library then says the key is locked, if it needs it at all).
    """
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    interactive = sys.stdin is not None and sys.stdin.isatty()
    if required or interactive:
        try:
            return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm,
                                    err=True))
        except (EOFError, OSError, typer.Abort):
            pass
    if not required:
        return None
    from veriframe.errors import KeysError

    raise KeysError(
        "keys.locked",
        "no passphrase: none in the environment and none could be prompted for",
        f"set {PASSPHRASE_ENV}",
    )


def settings(
    *,
    store: Path | None = None,
    trust: Path | None = None,
    passphrase: bool = False,
    resolvers: list[str] | None = None,
    resolver_mode: str | None = None,
) -> Settings:
    """The :class:`~veriframe.settings.Settings` of this run, from options and environment.

    Home: ``--home`` or ``$VERIFRAME_HOME`` (else ``~/.veriframe``); ``store``/``trust`` come
    from their options (which read ``VERIFRAME_STORE``/``VERIFRAME_TRUST``); limits from
    ``VERIFRAME_MAX_*``; extra detection keys from ``VERIFRAME_WATERMARK_KEYS`` (paths joined
    with ``os.pathsep``); the passphrase (when ``passphrase``) from the environment or a prompt;
    soft-binding resolvers from ``--resolver`` options, then ``VERIFRAME_RESOLVERS``.
    """
    from veriframe.settings import Settings

    env = os.environ
    home = _state["home"] or (Path(env[HOME_ENV]) if env.get(HOME_ENV) else None)
    keys = tuple(Path(p).expanduser() for p in env.get(WATERMARK_KEYS_ENV, "").split(os.pathsep)
                 if p)
    urls = [*(resolvers or ()), *env.get(RESOLVERS_ENV, "").replace(",", " ").split()]
    base = Settings() if home is None else Settings(home=Path(home).expanduser())
    return base.replace(
        store=store,
        trust_file=trust,
        limits=limits_from_env(env),
        watermark_key_files=keys or None,
        passphrase=passphrase_from_env_or_prompt(required=False) if passphrase else None,
        resolvers=tuple(dict.fromkeys(urls)) or None,
        resolver_mode=resolver_mode,
    )


def resolver_mode_option(value: str, *, error: type[VeriframeError], code: str) -> str:
    """``--resolver-mode``, checked against :class:`~veriframe.softbinding.ResolverMode`;
    ``error(code, ...)`` (the command's own domain) otherwise."""
    from veriframe.softbinding.protocol import ResolverMode

    try:
        return ResolverMode(value).value
    except ValueError:
        choices = ", ".join(m.value for m in ResolverMode)
        raise error(code, f"--resolver-mode {value!r} is not one of {choices}",
                    "use one of them") from None


def home() -> Path | None:
    """``--home`` or ``$VERIFRAME_HOME``, if either is set."""
    value = _state["home"] or os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def serve_app(build: Callable[[dict[str, Any]], Any], config: dict[str, Any], *, factory: str,
              env_name: str, host: str, port: int, workers: int,
              forwarded_allow_ips: str | None) -> None:
    """Serve ``build(config)`` under uvicorn: in this process, or in ``workers`` processes
    that each call the ``factory`` import string, which reads the config from ``env_name``."""
    from veriframe._service.serving import serve as run

    proxy = forwarded_allow_ips is not None
    if workers > 1:
        os.environ[env_name] = json.dumps(config)
        run(factory, host=host, port=port, workers=workers, factory=True, proxy_headers=proxy,
            forwarded_allow_ips=forwarded_allow_ips)
    else:
        run(build(config), host=host, port=port, proxy_headers=proxy,
            forwarded_allow_ips=forwarded_allow_ips)


def report_error(exc: VeriframeError, *, as_json: bool = False) -> int:
    """Print ``exc`` for a person (stderr) or as JSON (stdout); return its exit code."""
    from rich.markup import escape

    from veriframe._text import clean_text

    if as_json:
        print_json({"error": exc.to_dict()})
    console = err_console()
    code, message = escape(clean_text(exc.code)), escape(clean_text(exc.message))
    console.print(f"[bold red]error\\[{code}][/]: {message}", soft_wrap=True)
    if exc.hint:
        console.print(f"  hint: {clean_text(exc.hint)}", markup=False, soft_wrap=True)
    return int(exc.exit_code)


def _missing_extra(exc: ModuleNotFoundError) -> VeriframeError | None:
    from veriframe.errors import ConfigError

    top = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    return ConfigError(
        "install.missing-extra",
        f"this command needs {top}, which is not installed",
        f"pip install 'veriframe[{extra}]'",
    )


def _internal(exc: BaseException) -> VeriframeError:
    from veriframe.errors import ErrorKind, VeriframeError

    return VeriframeError(
        "internal",
        f"unexpected {type(exc).__name__}: {exc}",
        "this is a bug in veriframe; rerun with --debug and report it",
        kind=ErrorKind.INTERNAL,
    )


def guarded(*, json_flag: str | None = "as_json") -> Callable[[F], F]:
    """Decorate a command: VeriframeError → message + exit code, no traceback.

    ``json_flag`` names the command's keyword argument that selects JSON output, so errors
    come out as JSON too when it is set. A missing optional dependency becomes
    ``error[install.missing-extra]`` naming the extra to install.
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            from veriframe.errors import ExitCode, VeriframeError

            as_json = bool(kwargs.get(json_flag)) if json_flag else False
            try:
                return fn(*args, **kwargs)
            except typer.Exit:
                raise
            except VeriframeError as exc:
                _debug_traceback()
                raise typer.Exit(report_error(exc, as_json=as_json)) from None
            except KeyboardInterrupt:
                err_console().print("interrupted")
                raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
            except ModuleNotFoundError as exc:
                _debug_traceback()
                error = _missing_extra(exc) or _internal(exc)
                raise typer.Exit(report_error(error, as_json=as_json)) from None
            except Exception as exc:
                _debug_traceback()
                raise typer.Exit(report_error(_internal(exc), as_json=as_json)) from None

        return inner  # type: ignore[return-value]

    return wrap


def _debug_traceback() -> None:
    if _state["debug"]:
        err_console().print_exception(show_locals=False)
