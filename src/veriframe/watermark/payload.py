"""The 64-bit payload and its BCH code.

A payload is an 8-bit version and a 56-bit random content id. It is protected by a binary
BCH code over GF(2^8) (``bchlib``) that corrects up to 29 bit errors in the 248-bit codeword
(64 data bits + 184 parity bits). The ECC only repairs bits: whether a decode means anything is
decided by the hypothesis test in :mod:`veriframe.watermark.stats`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from veriframe.errors import WatermarkError

DATA_BITS = 64
BCH_T = 29
BCH_M = 8
ID_BITS = 56
ID_MAX = (1 << ID_BITS) - 1


@lru_cache(maxsize=1)
def _bch() -> Any:
    import bchlib

    return bchlib.BCH(BCH_T, m=BCH_M)


def parity_bits() -> int:
    """Number of BCH parity bits actually used (184 for t=29 over GF(2^8))."""
    return int(_bch().ecc_bits)


def codeword_bits() -> int:
    """Length of the transmitted codeword in bits (248)."""
    return DATA_BITS + parity_bits()


@dataclass(frozen=True)
class Payload:
    """What the watermark carries: ``version`` (0-255) and a 56-bit ``content_id``."""

    content_id: int
    version: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.content_id <= ID_MAX:
            raise WatermarkError(
                "watermark.bad-payload",
                f"content id must fit in {ID_BITS} bits",
                "use Payload.new() for a fresh random id",
            )
        if not 0 <= self.version <= 255:
            raise WatermarkError(
                "watermark.bad-payload", "payload version must be 0-255", "use version=1"
            )

    @classmethod
    def new(cls, *, version: int = 1) -> Payload:
        """A payload with a fresh random content id."""
        return cls(content_id=secrets.randbits(ID_BITS), version=version)

    @property
    def value(self) -> int:
        """The 64-bit integer: version in the top byte, content id below."""
        return (self.version << ID_BITS) | self.content_id

    @property
    def hex(self) -> str:
        """16 lower-case hex digits of :attr:`value` (the id the manifest store is keyed by)."""
        return f"{self.value:016x}"

    @classmethod
    def from_hex(cls, text: str) -> Payload:
        """Parse :attr:`hex`."""
        try:
            if len(text) != 16:
                raise ValueError(text)
            value = int(text, 16)
        except ValueError:
            raise WatermarkError(
                "watermark.bad-payload",
                f"not a 16-digit hex payload id: {text!r}",
                "payload ids look like 01a3f5c27b9e0d44",
            ) from None
        return cls(content_id=value & ID_MAX, version=value >> ID_BITS)

    def to_bytes(self) -> bytes:
        """Big-endian 8 bytes of :attr:`value`."""
        return self.value.to_bytes(8, "big")


def encode_bits(payload: Payload) -> np.ndarray:
    """The 248-bit codeword (uint8 0/1): 64 data bits then the BCH parity bits."""
    data = bytearray(payload.to_bytes())
    ecc = bytes(_bch().encode(data))
    bits = np.unpackbits(np.frombuffer(bytes(data) + ecc, dtype=np.uint8))
    return bits[: codeword_bits()].copy()


@dataclass(frozen=True)
class Decoded:
    """A successful BCH decode: the payload, the corrected codeword, how many bits were fixed."""

    payload: Payload
    codeword: np.ndarray
    errors: int


def decode_bits(bits: np.ndarray) -> Decoded | None:
    """Decode a received 248-bit word (0/1); ``None`` when BCH cannot correct it."""
    bch = _bch()
    bits = np.asarray(bits, dtype=np.uint8).ravel()
    if bits.size != codeword_bits():
        raise ValueError(f"expected {codeword_bits()} bits, got {bits.size}")
    data = bytearray(np.packbits(bits[:DATA_BITS]).tobytes())
    ecc_bits = np.zeros(bch.ecc_bytes * 8, dtype=np.uint8)
    ecc_bits[: parity_bits()] = bits[DATA_BITS:]
    ecc = bytearray(np.packbits(ecc_bits).tobytes())
    nerr = bch.decode(data, ecc)
    if nerr < 0:
        return None
    bch.correct(data, ecc)
    value = int.from_bytes(bytes(data), "big")
    payload = Payload(content_id=value & ID_MAX, version=value >> ID_BITS)
    codeword = encode_bits(payload)
    errors = int(np.count_nonzero(codeword != bits))
    if errors > BCH_T:  # a corrected word must lie within t of a codeword
        return None
    return Decoded(payload=payload, codeword=codeword, errors=errors)
