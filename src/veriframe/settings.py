"""One settings object, resolved once at the edge and passed down.

The command line (and the HTTP services) build a :class:`Settings` from their options and the
``VERIFRAME_*`` environment variables; below that edge the library reads no environment: every
path function takes ``settings=`` (or the explicit keyword arguments it replaces).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veriframe.home import HomePaths, home_dir
from veriframe.media.limits import Limits


@dataclass(frozen=True)
class Settings:
    """Where veriframe keeps its files and what it may do.

    ``home``: the veriframe home (keys, trust anchors, manifest store); ``store``: the manifest
    store, if not the home's; ``trust_file``: a PEM bundle of extra trust anchors (the home's
    own CA and ``trust.pem`` always count); ``limits``: decode limits for untrusted input;
    ``watermark_key_files``: extra 32-byte detection keys beyond the home's keyring;
    ``passphrase``: unlocks the signing key (never shown in a repr); ``resolvers``: soft-binding
    resolvers (base URLs) that ``verify`` asks when a clip carries no valid manifest, sending
    ``resolver_mode`` (``fingerprint``, ``excerpt`` or ``both``), each call bounded by
    ``resolver_timeout_s``. What ``verify`` runs: ``policy`` (a shipped policy name or a TOML
    path; None: no decision), ``detector`` (a detector name; None: no detection), ``watermark``
    (search for the mark), ``sample_count`` (frames sampled for the checks).
    """

    home: Path = field(default_factory=lambda: home_dir(None))
    store: Path | None = None
    trust_file: Path | None = None
    limits: Limits = field(default_factory=Limits)
    watermark_key_files: tuple[Path, ...] = ()
    passphrase: str | None = field(default=None, repr=False)
    resolvers: tuple[str, ...] = ()
    resolver_mode: str = "both"
    resolver_timeout_s: float = 10.0
    policy: str | None = None
    detector: str | None = "default"
    watermark: bool = True
    sample_count: int = 32

    def __post_init__(self) -> None:
        # a path given as text (Settings(home="/srv/veriframe")) is a path
        for name in ("home", "store", "trust_file"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value).expanduser())
        object.__setattr__(self, "watermark_key_files",
                           tuple(Path(p) for p in self.watermark_key_files))

    @property
    def paths(self) -> HomePaths:
        """The files inside :attr:`home`."""
        return HomePaths(self.home)

    @property
    def store_path(self) -> Path:
        """The manifest store: :attr:`store`, else the home's ``manifests.sqlite``."""
        return self.store if self.store is not None else self.paths.store

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (``None`` values are ignored)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        for name in ("home", "store", "trust_file"):
            if name in kept:
                kept[name] = Path(kept[name]).expanduser()
        return dataclasses.replace(self, **kept)


def resolve_settings(
    settings: Settings | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    store: str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
    passphrase: str | None = None,
) -> Settings:
    """``settings`` (default: the defaults) with the explicit keyword arguments applied."""
    base = settings if settings is not None else Settings()
    return base.replace(home=home, store=store, limits=limits, passphrase=passphrase)


__all__ = ["Settings", "resolve_settings"]
