"""Tokens of a resolver: kept as SHA-256 hashes in ``<home>/resolver-tokens``, with scopes.

One line per token: ``<sha256 hex> <name> <created> <scope,scope>``; the file is 0600. The token
itself is shown once, when it is made, and never stored. Scopes are the Soft Binding API's:
``fetch:manifests`` (query and fetch, where an operator closes reading), ``store:manifests``
(publish and delete manifests) and ``store:bindings`` (associate binding values). A line of an
older veriframe (no scopes) was a publishing token: ``store:manifests``.

A running resolver rereads the file when it changes (:class:`TokenRegistry`), so a token made
or revoked with ``veriframe resolver token`` takes effect at the next request, without a
restart.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from veriframe._atomic import atomic_output
from veriframe._service.auth import hash_token, new_token
from veriframe._service.errors import HTTPError
from veriframe.errors import ResolverError

TOKENS_FILE = "resolver-tokens"
SCOPES = ("fetch:manifests", "store:manifests", "store:bindings")
DEFAULT_SCOPES = ("store:manifests", "store:bindings")
LEGACY_SCOPES = ("store:manifests",)
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class TokenInfo:
    """One token as the file keeps it: never the token itself."""

    digest: str
    name: str
    created: str
    scopes: tuple[str, ...]

    def line(self) -> str:
        """Its line in the tokens file."""
        return f"{self.digest} {self.name} {self.created} {','.join(self.scopes)}\n"


def tokens_path(home: Path) -> Path:
    """Where a home keeps its resolver's token hashes."""
    return home / TOKENS_FILE


def parse_tokens(text: str) -> list[TokenInfo]:
    """The tokens of a tokens file's text (malformed lines are skipped)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or not _HASH.match(parts[0].lower()):
            continue
        created = parts[2] if len(parts) > 2 else ""
        scopes = tuple(s for s in parts[3].split(",") if s in SCOPES) if len(parts) > 3 \
            else LEGACY_SCOPES
        out.append(TokenInfo(parts[0].lower(), parts[1], created, scopes))
    return out


def list_tokens(home: Path) -> list[TokenInfo]:
    """The tokens of ``home`` (none when the file does not exist)."""
    path = tokens_path(home)
    return parse_tokens(path.read_text(encoding="utf-8")) if path.is_file() else []


def load_token_hashes(home: Path) -> tuple[str, ...]:
    """The stored token hashes (none when the file does not exist)."""
    return tuple(t.digest for t in list_tokens(home))


def _check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    bad = [s for s in out if s not in SCOPES]
    if bad or not out:
        raise ResolverError("resolver.bad-token-scope",
                            f"unknown token scope {(bad or [''])[0][:40]!r}",
                            f"scopes are {', '.join(SCOPES)}")
    return out


def _write(home: Path, tokens: list[TokenInfo]) -> None:
    path = tokens_path(home)
    with atomic_output(path, suffix="") as tmp:
        # The header keeps the file non-empty when the last token is revoked.
        tmp.write_text("# veriframe resolver tokens: <sha256> <name> <created> <scopes>\n"
                       + "".join(t.line() for t in tokens), encoding="utf-8")
        os.chmod(tmp, 0o600)


def add_token(home: Path, *, name: str, scopes: Iterable[str] = DEFAULT_SCOPES) -> str:
    """Make a new token named ``name`` with ``scopes``; store its hash; return the token."""
    if not _NAME.match(name):
        raise ResolverError("resolver.bad-token-name",
                            "a token name is 1-64 letters, digits, _ . @ -",
                            "e.g. --name signer-01")
    checked = _check_scopes(scopes)
    tokens = list_tokens(home)
    if any(t.name == name for t in tokens):
        raise ResolverError("resolver.token-exists", f"a token named {name} exists",
                            "revoke it first, or choose another name")
    token = new_token()
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    _write(home, [*tokens, TokenInfo(hash_token(token), name, stamp, checked)])
    return token


def revoke_token(home: Path, *, name: str) -> TokenInfo:
    """Remove the token named ``name``; ``resolver.unknown-token`` when there is none."""
    tokens = list_tokens(home)
    gone = [t for t in tokens if t.name == name]
    if not gone:
        raise ResolverError("resolver.unknown-token", f"no token named {name[:64]!r}",
                            "`veriframe resolver token list` shows the names")
    _write(home, [t for t in tokens if t.name != name])
    return gone[0]


class TokenRegistry:
    """The tokens a running resolver accepts: the file's (reread when it changes) and any
    given in the configuration (``static``: every scope, name ``config``)."""

    def __init__(self, *, path: Path | None, static: Iterable[str] = ()) -> None:
        self._path = path
        self._static = [TokenInfo(h.strip().lower(), "config", "", SCOPES)
                        for h in static if h.strip()]
        self._stamp: tuple[int, int, int] | None = None
        self._file: list[TokenInfo] = []
        self._lock = threading.Lock()

    def _tokens(self) -> list[TokenInfo]:
        if self._path is None:
            return self._static
        try:
            st = self._path.stat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                try:
                    text = self._path.read_text(encoding="utf-8") if stamp else ""
                except OSError:
                    text = ""
                self._file = parse_tokens(text)
                self._stamp = stamp
            return self._static + self._file

    @property
    def configured(self) -> bool:
        """Whether any token is accepted now."""
        return bool(self._tokens())

    def check(self, authorization: str | None, scope: str) -> str:
        """The name of the token in ``Authorization: Bearer``; 401 for none or an unknown one,
        403 ``http.forbidden`` when it lacks ``scope``."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPError(401, "http.unauthorized", "a bearer token is required",
                            "send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
        given = hash_token(token.strip())
        found: TokenInfo | None = None
        # Compare against every stored hash, always, so timing says nothing about which matched.
        for info in self._tokens():
            if hmac.compare_digest(given, info.digest) and found is None:
                found = info
        if found is None:
            raise HTTPError(401, "http.unauthorized", "the bearer token is not valid",
                            "check the token; it may have been revoked",
                            headers={"WWW-Authenticate": "Bearer"})
        if scope not in found.scopes:
            raise HTTPError(403, "http.forbidden", f"the token lacks the scope {scope}",
                            "ask the resolver's operator for a token with that scope",
                            headers={"WWW-Authenticate": f'Bearer scope="{scope}"'})
        return found.name
