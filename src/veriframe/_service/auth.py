"""Bearer tokens, stored only as SHA-256 hashes and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from veriframe._service.errors import HTTPError

TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh random token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenCheck:
    """Accepts a request whose ``Authorization: Bearer <token>`` hashes to a known hash."""

    def __init__(self, hashes: Iterable[str]) -> None:
        self._hashes = tuple(h.strip().lower() for h in hashes if h.strip())

    @property
    def configured(self) -> bool:
        """Whether any token can be accepted at all."""
        return bool(self._hashes)

    def check(self, authorization: str | None) -> None:
        """Raise ``http.unauthorized`` (401) unless the header carries a known token."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPError(401, "http.unauthorized", "a bearer token is required",
                            "send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
        given = hash_token(token.strip())
        # Compare against every stored hash, always, so timing says nothing about which matched.
        ok = False
        for known in self._hashes:
            ok |= hmac.compare_digest(given, known)
        if not ok:
            raise HTTPError(401, "http.unauthorized", "the bearer token is not valid",
                            "check the token", headers={"WWW-Authenticate": "Bearer"})
