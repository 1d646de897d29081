"""One root error with a stable code, a message and a hint for the user.

Every error a user can cause is a :class:`VeriframeError`. The CLI prints
``error[code]: message`` and the hint, and exits with ``exit_code``; it never shows a
traceback unless ``--debug`` is given.
"""

from __future__ import annotations

# Exit codes shared by every command (verify adds its own verdict codes, see cli.py).
EXIT_OK = 0
EXIT_OPERATIONAL = 1
EXIT_INVALID = 2
EXIT_NO_PROVENANCE = 3
EXIT_UNSUPPORTED = 4


class VeriframeError(Exception):
    """An error the user can act on.

    ``code`` is stable (scripts may match on it), ``message`` says what went wrong,
    ``hint`` says what to do about it, ``exit_code`` is what the CLI exits with.
    """

    exit_code: int = EXIT_OPERATIONAL

    def __init__(
        self,
        code: str,
        message: str,
        hint: str = "",
        *,
        exit_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"error[{self.code}]: {self.message}"

    def to_dict(self) -> dict[str, str]:
        """The error as it appears in JSON output."""
        return {"code": self.code, "message": self.message, "hint": self.hint}


# Media errors that mean "this input is not something veriframe can handle" (exit 4), as
# opposed to operational failures such as a missing file (exit 1).
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


class MediaError(VeriframeError):
    """A media file cannot be read, decoded or written (exit 4 when the input is at fault)."""

    def __init__(self, code: str, message: str, hint: str = "", *, exit_code: int | None = None):
        if exit_code is None and code in INPUT_ERROR_CODES:
            exit_code = EXIT_UNSUPPORTED
        super().__init__(code, message, hint, exit_code=exit_code)


class UnsupportedInputError(VeriframeError):
    """The input is of a type veriframe does not handle (exit code 4)."""

    exit_code = EXIT_UNSUPPORTED


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


__all__ = [
    "EXIT_INVALID",
    "EXIT_NO_PROVENANCE",
    "EXIT_OK",
    "EXIT_OPERATIONAL",
    "EXIT_UNSUPPORTED",
    "INPUT_ERROR_CODES",
    "CredentialsError",
    "DetectorError",
    "GenerateError",
    "KeysError",
    "MediaError",
    "PolicyError",
    "StoreError",
    "UnsupportedInputError",
    "VeriframeError",
    "WatermarkError",
]
