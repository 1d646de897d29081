"""Where veriframe keeps its files (no environment is read here: see ``veriframe.settings``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def home_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """The veriframe home: ``home`` if given, else ``~/.veriframe``."""
    if home is not None:
        return Path(home).expanduser()
    return Path.home() / ".veriframe"


@dataclass(frozen=True)
class HomePaths:
    """The files inside one veriframe home (keys, manifest store, trust anchors)."""

    home: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> HomePaths:
        """The paths for ``home`` (see :func:`home_dir`)."""
        return cls(home_dir(home))

    @property
    def keys(self) -> Path:
        """Folder with the CA, the signing certificate and the encrypted keys."""
        return self.home / "keys"

    @property
    def store(self) -> Path:
        """The SQLite manifest store of this home."""
        return self.home / "manifests.sqlite"

    @property
    def trust(self) -> Path:
        """Extra trust anchors the user added (PEM bundle)."""
        return self.home / "trust.pem"
