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
    """What the watermark carries: ``version`` (0-255) and a 56-bit ``content_id``.

    The version also selects the pattern that carries it: 1 for the constant v1 pattern, 2 (the
    default) for the time-modulated v2 pattern (see :mod:`.pattern`).
    """

    content_id: int
    version: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.content_id <= ID_MAX:
            raise WatermarkError(
                "watermark.bad-payload",
                f"content id must fit in {ID_BITS} bits",
                "use Payload.new() for a fresh random id",
            )
        if not 0 <= self.version <= 255:
            raise WatermarkError(
                "watermark.bad-payload", "payload version must be 0-255", "use version=2"
            )

    @classmethod
    def new(cls, *, version: int = 2) -> Payload:
        """A payload with a fresh random content id (version 2: the current pattern)."""
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


@lru_cache(maxsize=1)
def generator_matrix() -> np.ndarray:
    """(64, 248) uint8: the BCH code's systematic generator matrix (the code is linear).

    Row ``i`` is the codeword of the message with only bit ``i`` set.
    """
    bch = _bch()
    rows = []
    for i in range(DATA_BITS):
        msg = np.zeros(DATA_BITS, dtype=np.uint8)
        msg[i] = 1
        data = bytearray(np.packbits(msg).tobytes())
        ecc = bytes(bch.encode(data))
        bits = np.unpackbits(np.frombuffer(bytes(data) + ecc, dtype=np.uint8))
        rows.append(bits[: codeword_bits()])
    g = np.stack(rows).astype(np.uint8)
    g.setflags(write=False)
    return g


def _payload_of(codeword: np.ndarray) -> Payload:
    value = int.from_bytes(np.packbits(codeword[:DATA_BITS]).tobytes(), "big")
    return Payload(content_id=value & ID_MAX, version=value >> ID_BITS)


@lru_cache(maxsize=8)
def _fixed_version_word(version: int) -> np.ndarray:
    """The codeword part contributed by a fixed version byte (the code is linear)."""
    msg = np.zeros(DATA_BITS, dtype=np.int64)
    msg[: DATA_BITS - ID_BITS] = np.unpackbits(np.array([version], dtype=np.uint8))
    word = ((msg @ generator_matrix().astype(np.int64)) % 2).astype(np.uint8)
    word.setflags(write=False)
    return word


@lru_cache(maxsize=4)
def _flip_pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j): every pair of ``k`` positions, ``i < j``, in the order of the two-bit flips of
    :func:`_flip_patterns` (cached and read-only)."""
    i, j = np.triu_indices(k, k=1)
    i.flags.writeable = j.flags.writeable = False
    return i, j


@lru_cache(maxsize=4)
def _flip_patterns(k: int, order: int) -> np.ndarray:
    """(patterns, k) uint8: no flip, then every flip of one, then of two of ``k`` positions
    (up to ``order``)."""
    eye = np.eye(k, dtype=np.uint8)
    flips = [np.zeros((1, k), dtype=np.uint8)]
    if order >= 1:
        flips.append(eye)
    if order >= 2:
        i, j = _flip_pairs(k)
        flips.append(eye[i] ^ eye[j])
    out = np.concatenate(flips)
    out.setflags(write=False)
    return out


def osd_decode(
    soft: np.ndarray, *, order: int = 2, version: int | None = None
) -> tuple[Payload, np.ndarray]:
    """Soft-decision decoding (ordered statistics decoding, Fossorier & Lin 1995).

    ``soft`` holds one real value per codeword bit, positive for 1 and negative for 0, with its
    magnitude as the reliability. The most reliable linearly independent positions fix a
    codeword; every pattern of up to ``order`` flips among them is re-encoded and the codeword
    best correlated with ``soft`` wins. Near maximum-likelihood for this short low-rate code, it
    keeps decoding well past the hard-decision BCH radius. With ``version`` the version byte is
    known, and only the 2^56 codewords that carry it are searched (a subcode of the BCH code:
    fewer candidates, so a stronger test and fewer decoding errors). Whether the result means
    anything is decided by the caller's hypothesis test, not here. Returns the payload and its
    codeword.
    """
    soft = np.asarray(soft, dtype=np.float64).ravel()
    n = codeword_bits()
    if soft.size != n:
        raise ValueError(f"expected {n} soft bits, got {soft.size}")
    gen = generator_matrix()
    fixed = np.zeros(n, dtype=np.uint8)
    if version is not None:
        fixed = _fixed_version_word(version)
        gen = gen[DATA_BITS - ID_BITS :]
        soft = np.where(fixed > 0, -soft, soft)  # decode the rest against the fixed part
    k = gen.shape[0]
    order_idx = np.argsort(-np.abs(soft), kind="stable")
    g = gen[:, order_idx].copy()
    basis: list[int] = []
    row = 0
    for col in range(n):
        if row == k:
            break
        pivots = np.nonzero(g[row:, col])[0]
        if pivots.size == 0:
            continue
        p = row + int(pivots[0])
        if p != row:
            g[[row, p]] = g[[p, row]]
        others = np.nonzero(g[:, col])[0]
        others = others[others != row]
        g[others] ^= g[row]
        basis.append(col)
        row += 1
    # g is now systematic on the basis columns: codeword = u @ g with u = the basis bits, and
    # flipping basis bit i adds row i of g. In +-1 form (x = 1 - 2 bit) a word's correlation
    # with the soft bits, sum((2 w - 1) s), is -sum(s * x_u * x_i * x_j) for flips i and j:
    # every candidate's score comes from one (k, k) product instead of re-encoding each one.
    hard = (soft[order_idx] > 0).astype(np.uint8)
    gi = g.astype(np.int64)
    base = (hard[basis].astype(np.int64) @ gi % 2).astype(np.uint8)
    signed = soft[order_idx]
    x = 1.0 - 2.0 * g.astype(np.float64)  # (k, n)
    t = signed * (1.0 - 2.0 * base)
    scores = [np.array([-t.sum()])]
    if order >= 1:
        scores.append(-(x @ t))
    if order >= 2:
        i, j = _flip_pairs(k)  # the two-bit flips, in the patterns' order
        scores.append(-((x * t) @ x.T)[i, j])
    best_flip = _flip_patterns(k, order)[int(np.argmax(np.concatenate(scores)))]
    best = base ^ (best_flip.astype(np.int64) @ gi % 2).astype(np.uint8)
    codeword = np.empty(n, dtype=np.uint8)
    codeword[order_idx] = best
    codeword ^= fixed
    return _payload_of(codeword), codeword
