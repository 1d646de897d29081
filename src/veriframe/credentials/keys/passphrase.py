"""Passphrases and the private keys they protect (PKCS#8, best available encryption).

Passphrases are only ever passed to ``cryptography``; they never reach a message, a log or a
repr. veriframe reads no environment here: the command line resolves the passphrase (from
``VERIFRAME_KEY_PASSPHRASE`` or a prompt) and passes it in.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from veriframe.errors import KeysError

MIN_PASSPHRASE_LEN = 8
LOCKED_HINT = "set VERIFRAME_KEY_PASSPHRASE or enter the passphrase when prompted"


def require_passphrase(passphrase: str | None) -> str:
    """``passphrase``, or ``keys.locked`` when none was given."""
    if not passphrase:
        raise KeysError("keys.locked", "the signing key is locked: no passphrase given",
                        LOCKED_HINT)
    return passphrase


def check_new_passphrase(passphrase: str | None) -> str:
    """A passphrase to protect new keys with: given, and at least 8 characters."""
    if not passphrase:
        raise KeysError("keys.locked", "no passphrase for the signing key", LOCKED_HINT)
    if len(passphrase) < MIN_PASSPHRASE_LEN:
        raise KeysError(
            "keys.weak-passphrase",
            f"the passphrase is shorter than {MIN_PASSPHRASE_LEN} characters",
            "choose a longer passphrase (a few random words work well)",
        )
    return passphrase


def encrypt_key(key: Any, passphrase: str) -> bytes:
    """``key`` as encrypted PKCS#8 PEM."""
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
        )
    )


def decrypt_key(data: bytes, passphrase: str | None, *, what: str) -> Any:
    """Load an encrypted PEM private key; a stable ``keys.*`` error for every failure."""
    try:
        return serialization.load_pem_private_key(
            data, password=passphrase.encode("utf-8") if passphrase else None
        )
    except TypeError:
        # Encrypted but no password given, or a password for an unencrypted key.
        if passphrase:
            raise KeysError(
                "keys.unencrypted",
                f"the {what} is not encrypted",
                "import it again with `veriframe keys import` to encrypt it",
            ) from None
        raise KeysError(
            "keys.locked", f"the {what} is encrypted and no passphrase was given", LOCKED_HINT
        ) from None
    except ValueError:
        raise KeysError(
            "keys.bad-passphrase",
            f"the passphrase does not decrypt the {what} (or the file is damaged)",
            "check the passphrase; it is the one given to `veriframe keys init`",
        ) from None
    except UnsupportedAlgorithm:
        raise KeysError(
            "keys.unsupported-algorithm",
            f"the {what} uses an algorithm this system cannot load",
            "use an EC P-256 key",
        ) from None
