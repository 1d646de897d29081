"""Publishing tokens of a resolver: kept as SHA-256 hashes in ``<home>/resolver-tokens``.

One line per token: ``<sha256 hex> <name> <created>``; the file is 0600. The token itself is
shown once, when it is made, and never stored.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from veriframe._atomic import atomic_output
from veriframe._service.auth import hash_token, new_token
from veriframe.errors import VeriframeError

TOKENS_FILE = "resolver-tokens"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def tokens_path(home: Path) -> Path:
    """Where a home keeps its resolver's token hashes."""
    return home / TOKENS_FILE


def load_token_hashes(home: Path) -> tuple[str, ...]:
    """The stored token hashes (none when the file does not exist)."""
    path = tokens_path(home)
    if not path.is_file():
        return ()
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        digest = line.split(" ", 1)[0].strip().lower()
        if re.fullmatch(r"[0-9a-f]{64}", digest):
            out.append(digest)
    return tuple(out)


def add_token(home: Path, *, name: str) -> str:
    """Make a new publishing token named ``name``; store its hash; return the token."""
    if not _NAME.match(name):
        raise VeriframeError("resolver.bad-token-name",
                             "a token name is 1-64 letters, digits, _ . @ -",
                             "e.g. --name signer-01")
    token = new_token()
    path = tokens_path(home)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with atomic_output(path, suffix="") as tmp:
        tmp.write_text(old + f"{hash_token(token)} {name} {stamp}\n", encoding="utf-8")
        os.chmod(tmp, 0o600)
    return token
