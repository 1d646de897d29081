"""Find and read policy files: a shipped policy by name, or a TOML file by path."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe._resources import data_dir
from veriframe.errors import PolicyError
from veriframe.policy.schema import parse_policy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

if TYPE_CHECKING:
    from veriframe.policy.decision import Policy

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MAX_POLICY_BYTES = 1 << 20


def shipped_policies() -> list[str]:
    """Names of the policies that ship with veriframe (``policies/*.toml``)."""
    folder = data_dir("policies")
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml"))


def policy_path(name_or_path: str | os.PathLike[str]) -> Path:
    """The file behind ``name_or_path``: a shipped policy's name, or a path to a TOML file."""
    text = os.fspath(name_or_path)
    candidate = Path(text).expanduser()
    if _NAME.match(text) and not text.endswith(".toml"):
        shipped = data_dir("policies") / f"{text}.toml"
        if shipped.is_file():
            return shipped
    if os.sep in text or "/" in text or text.endswith(".toml") or candidate.exists():
        if candidate.is_dir():
            raise PolicyError("policy.not-found", f"{text} is a directory, not a policy file",
                              "pass a .toml file or a shipped policy name")
        if not candidate.is_file():
            raise PolicyError("policy.not-found", f"no policy file at {text}",
                              "check the path, or use a shipped policy: "
                              + ", ".join(shipped_policies()))
        return candidate
    raise PolicyError(
        "policy.not-found",
        f"no shipped policy called {text!r}",
        "shipped policies: " + (", ".join(shipped_policies()) or "none found")
        + "; or pass a path to a .toml file",
    )


def read_policy_data(path: Path) -> dict[str, Any]:
    """Parse the TOML at ``path`` (size-capped), mapping syntax errors to ``policy.syntax``."""
    try:
        raw = path.read_bytes()[: _MAX_POLICY_BYTES + 1]
    except OSError as exc:
        raise PolicyError("policy.unreadable", f"cannot read {path}: {exc.strerror or exc}",
                          "check the file's permissions") from None
    if len(raw) > _MAX_POLICY_BYTES:
        raise PolicyError("policy.too-large", f"{path} is over 1 MiB: not a policy file",
                          "pass the policy's .toml file")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError("policy.syntax", f"{path} is not UTF-8 text",
                          "save the policy as UTF-8 TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError("policy.syntax", f"{path} is not valid TOML: {exc}",
                          "fix the line named above; see policies/platform.toml "
                          "for the format") from None


def load_policy(name_or_path: str | os.PathLike[str] | Policy) -> Policy:
    """Load a policy: a shipped name (``newsroom``, ``platform``, ``strict``) or a TOML path.

    A :class:`~veriframe.policy.decision.Policy` passed in is returned as it is. Raises
    :class:`~veriframe.errors.PolicyError` (``policy.not-found``, ``policy.syntax``, and the
    schema's codes, see :func:`veriframe.policy.schema.parse_policy`).
    """
    from veriframe.policy.decision import Policy

    if isinstance(name_or_path, Policy):
        return name_or_path
    path = policy_path(name_or_path)
    spec = parse_policy(read_policy_data(path), source=str(path))
    return Policy(spec)
