"""The watermark key and the keyed pseudo-random function every pattern is derived from."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

from veriframe.errors import WatermarkError

KEY_BYTES = 32


def key_id(secret: bytes) -> str:
    """The public id of a watermark key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(secret).hexdigest()[:16]


class WatermarkKey:
    """A 32-byte secret that shapes every pattern of the watermark.

    Everything pseudo-random (the sync template, the chip signs, the bit layout and the payload
    scramble) comes from HMAC-SHA256 under this secret, so a detector without the key finds
    nothing and cannot forge a mark. ``key_id`` names the key without revealing it.
    """

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, (bytes, bytearray)) or len(secret) != KEY_BYTES:
            raise WatermarkError(
                "watermark.bad-key",
                f"a watermark key is {KEY_BYTES} bytes",
                "use the key written by `veriframe keys init` (keys/watermark.key)",
            )
        self._secret = bytes(secret)
        self.key_id = key_id(self._secret)

    @classmethod
    def generate(cls) -> WatermarkKey:
        """A fresh random key (from the operating system's CSPRNG)."""
        import secrets

        return cls(secrets.token_bytes(KEY_BYTES))

    def prf(self, label: str) -> bytes:
        """HMAC-SHA256 of ``label`` under the key: 32 pseudo-random bytes."""
        return hmac.new(self._secret, label.encode(), hashlib.sha256).digest()

    def rng(self, label: str) -> np.random.Generator:
        """A numpy generator seeded from :meth:`prf` (deterministic per key and label)."""
        seed = np.frombuffer(self.prf(label), dtype=np.uint32)
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed.tolist())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WatermarkKey) and hmac.compare_digest(
            self._secret, other._secret
        )

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __repr__(self) -> str:  # never show the secret
        return f"WatermarkKey(key_id={self.key_id!r})"
