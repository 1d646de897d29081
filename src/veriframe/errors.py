"""One root error with a stable code, the error kinds, and the one table of exit codes.

Every error a user can cause is a :class:`VeriframeError` with a stable ``code`` (scripts may
match on it), a ``message`` and a ``hint``. Its :class:`ErrorKind` says whose fault it is, and
the kind alone decides the exit code (:data:`EXIT_FOR_KIND`). Inside reports an error travels
as a frozen :class:`ErrorInfo` (``to_dict()`` gives the ``{"code", "message", "hint"}`` of the
JSON); :meth:`ErrorInfo.to_exception` turns it back into the exception when a caller wants one
(see ``VerifyReport.raise_for_error``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """Every exit code of the ``veriframe`` command (README has the table in words)."""

    OK = 0
    OPERATIONAL = 1  # could not run: missing file or keys, bad option, store or network down
    TAMPERED = 2  # credentials fail validation (or, with --require-trusted, are not trusted)
    NO_PROVENANCE = 3  # no credentials, and none recovered through a watermark
    UNSUPPORTED_INPUT = 4  # the input is not something veriframe can read
    INTERRUPTED = 130  # Ctrl-C


class ErrorKind(str, enum.Enum):
    """Whose fault an error is: that decides the exit code and the HTTP status."""

    INPUT = "input"  # the input file is unsupported, unreadable or over a limit
    OPERATIONAL = "operational"  # the environment: a missing file, keys, store, config, network
    INTERNAL = "internal"  # a bug in veriframe


EXIT_FOR_KIND: dict[ErrorKind, ExitCode] = {
    ErrorKind.INPUT: ExitCode.UNSUPPORTED_INPUT,
    ErrorKind.OPERATIONAL: ExitCode.OPERATIONAL,
    ErrorKind.INTERNAL: ExitCode.OPERATIONAL,
}

# Media codes that mean "this input is not something veriframe can handle" (kind INPUT), as
# opposed to operational failures such as a missing file.
INPUT_ERROR_CODES = frozenset(
    {
        "media.empty",
        "media.unreadable",
        "media.unsupported-type",
        "media.unsupported-codec",
        "media.no-video",
        "media.no-frames",
        "media.limits",
        "media.too-small",
    }
)


@dataclass(frozen=True)
class ErrorInfo:
    """An error as it is kept inside a report: stable code, message, hint and kind."""

    code: str
    message: str
    hint: str = ""
    kind: ErrorKind = ErrorKind.OPERATIONAL

    def to_dict(self) -> dict[str, str]:
        """The error as it appears in JSON output (the kind is not part of the JSON)."""
        return {"code": self.code, "message": self.message, "hint": self.hint}

    @property
    def exit_code(self) -> ExitCode:
        """The exit code for this error's kind."""
        return EXIT_FOR_KIND[self.kind]

    def to_exception(self) -> VeriframeError:
        """This error as a :class:`VeriframeError` (to raise or to print)."""
        return VeriframeError(self.code, self.message, self.hint, kind=self.kind)


class VeriframeError(Exception):
    """An error the user can act on.

    ``code`` is stable, ``message`` says what went wrong, ``hint`` what to do about it, and
    ``kind`` whose fault it is (which decides :attr:`exit_code`).
    """

    default_kind: ErrorKind = ErrorKind.OPERATIONAL

    def __init__(
        self, code: str, message: str, hint: str = "", *, kind: ErrorKind | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.kind = kind if kind is not None else self.default_kind

    def __str__(self) -> str:
        return f"error[{self.code}]: {self.message}"

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled by state, not by constructor arguments (subclasses take other ones), so an
        # error raised in a worker process (a scan pool, Ray, a benchmark) reaches the parent.
        return (_restore_error, (type(self), self.message, dict(self.__dict__)))

    @property
    def exit_code(self) -> ExitCode:
        """What the CLI exits with for this error."""
        return EXIT_FOR_KIND[self.kind]

    @property
    def info(self) -> ErrorInfo:
        """This error as a frozen :class:`ErrorInfo` (for reports)."""
        return ErrorInfo(self.code, self.message, self.hint, self.kind)

    def to_dict(self) -> dict[str, str]:
        """The error as it appears in JSON output."""
        return self.info.to_dict()


def _restore_error(cls: type[VeriframeError], message: str,
                   state: dict[str, object]) -> VeriframeError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class MediaError(VeriframeError):
    """A media file cannot be read, decoded or written (kind INPUT when the input is at fault)."""

    def __init__(
        self, code: str, message: str, hint: str = "", *, kind: ErrorKind | None = None
    ) -> None:
        if kind is None and code in INPUT_ERROR_CODES:
            kind = ErrorKind.INPUT
        super().__init__(code, message, hint, kind=kind)


class UnsupportedInputError(VeriframeError):
    """The input is of a type veriframe does not handle (kind INPUT, exit code 4)."""

    default_kind = ErrorKind.INPUT


class KeysError(VeriframeError):
    """Signing keys are missing, locked, or malformed."""


class CredentialsError(VeriframeError):
    """A C2PA manifest could not be built, signed or read."""


class WatermarkError(VeriframeError):
    """The watermark could not be embedded or its key is unavailable."""


class GenerateError(VeriframeError):
    """A generation backend could not run."""


class PolicyError(VeriframeError):
    """A policy file is malformed or unsafe."""


class DetectorError(VeriframeError):
    """A detector model cannot be loaded, trained or evaluated."""


class StoreError(VeriframeError):
    """The manifest store cannot be opened, read or written."""


class SignError(VeriframeError):
    """Signing cannot proceed: the output, the input's format, publishing (``sign.*``)."""


class VerifyError(VeriframeError):
    """``veriframe verify`` was asked for something it cannot do (``verify.*``)."""


class ScanError(VeriframeError):
    """A scan (local or on Ray) cannot run as asked (``scan.*``, ``scale.*``)."""


class ServeError(VeriframeError):
    """The verify service cannot start or run as configured (``serve.*``)."""


class ConfigError(VeriframeError):
    """An option, environment variable or optional install is not usable (``config.*``,
    ``install.*``)."""


class HTTPError(VeriframeError):
    """A refusal at the HTTP level (size, rate, auth, busy, host, origin) with its status and
    headers (``http.*``)."""

    def __init__(self, status: int, code: str, message: str, hint: str = "", *,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(code, message, hint, kind=ErrorKind.INPUT)
        self.status = status
        self.headers = dict(headers or {})


class ResolverError(VeriframeError):
    """A soft-binding resolver could not be used (unreachable, slow, refusing, answering
    garbage), or a resolver refuses a query or a publication (``resolver.*`` codes).

    ``status``: the HTTP status a resolver answers it with (a 4xx is the client's input)."""

    def __init__(self, code: str, message: str, hint: str = "", *,
                 kind: ErrorKind | None = None, status: int | None = None) -> None:
        if kind is None and status is not None:
            kind = ErrorKind.INPUT if status < 500 else ErrorKind.OPERATIONAL
        super().__init__(code, message, hint, kind=kind)
        self.status = status


# The error class of each code's domain (the code's prefix): every code is raised by its class
# (tests/test_errors_results.py checks every raise in the source).
CLASS_FOR_PREFIX: dict[str, tuple[type[VeriframeError], ...]] = {
    "media": (MediaError, UnsupportedInputError),
    "keys": (KeysError,),
    "credentials": (CredentialsError,),
    "manifest": (CredentialsError,),
    "trust": (CredentialsError,),
    "watermark": (WatermarkError,),
    "generate": (GenerateError,),
    "policy": (PolicyError,),
    "detector": (DetectorError,),
    "store": (StoreError,),
    "resolver": (ResolverError,),
    "sign": (SignError,),
    "verify": (VerifyError,),
    "scan": (ScanError,),
    "scale": (ScanError,),
    "serve": (ServeError,),
    "config": (ConfigError,),
    "install": (ConfigError,),
    "http": (HTTPError,),
}

__all__ = [
    "CLASS_FOR_PREFIX",
    "EXIT_FOR_KIND",
    "INPUT_ERROR_CODES",
    "ConfigError",
    "CredentialsError",
    "DetectorError",
    "ErrorInfo",
    "ErrorKind",
    "ExitCode",
    "GenerateError",
    "HTTPError",
    "KeysError",
    "MediaError",
    "PolicyError",
    "ResolverError",
    "ScanError",
    "ServeError",
    "SignError",
    "StoreError",
    "UnsupportedInputError",
    "VeriframeError",
    "VerifyError",
    "WatermarkError",
]
