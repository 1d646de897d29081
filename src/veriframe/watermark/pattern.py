"""The keyed tile: a P x P grid of chips repeated over the frame, sized relative to the frame.

Layout (independent of the frame size): the chip side is ``min(H, W) / CHIPS_PER_SIDE`` pixels,
so a rescaled copy keeps the same layout in frame-relative units and a crop only changes the
period and the offset, which the detector estimates. Every tile is identical, which makes the
pattern periodic: the period shows up in the autocorrelation of the frame (the scale sync) and
a keyed template on a quarter of the chips fixes the offset (the translation sync). The other
chips each carry one codeword bit (spread over ``REPEAT`` chips) multiplied by a keyed sign.

Two versions share this geometry and differ in their keyed layouts and in time:

- **v1** (payload version 1) adds the same pattern to every frame. Averaging the high-pass
  residual of one marked clip over its frames estimates it, without the key.
- **v2** (payload version 2) multiplies the whole pattern by a keyed sign that changes every
  :data:`RUN` frames (:func:`frame_sign`). Each block of :data:`BLOCK_RUNS` runs holds as many
  ``+`` runs as ``-`` runs, in an order drawn from the key and the clip's payload, so the frame
  mean of the mark is zero over every block, and frame ``i`` of two clips signed with one key
  has unrelated signs (averaging many clips frame by frame does not reveal the mark either).
  The detector never needs the schedule or frame numbers: it reads each sampled frame's sign
  from the sync chips (see :mod:`.search`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from veriframe.errors import WatermarkError
from veriframe.watermark.keys import WatermarkKey
from veriframe.watermark.payload import Payload, codeword_bits, encode_bits

P = 32  # chips per tile side
CHIPS = P * P
CHIPS_PER_SIDE = 96.0  # chips across the short side of the frame
MIN_CHIP_PX = 2.0
REPEAT = 3  # chips per codeword bit
VERSIONS = (1, 2)
CURRENT_VERSION = 2
RUN = 4  # v2: frames that share one sign
BLOCK_RUNS = 4  # v2: runs per balanced block (half +, half -)
_SCHEDULE_BLOCKS = 4096  # v2: keyed block orders precomputed per key (then derived per block)

_LABELS = {
    1: ("veriframe.watermark.v1.layout", "veriframe.watermark.v1.scramble"),
    2: ("veriframe.watermark.v2.layout", "veriframe.watermark.v2.scramble"),
}


@dataclass(frozen=True)
class Layout:
    """Where the sync and the bits sit in the tile, and the keyed signs and scramble mask."""

    sign: np.ndarray  # (CHIPS,) float32 of +-1
    sync: np.ndarray  # (CHIPS,) bool: chip belongs to the sync template
    bit_of_chip: np.ndarray  # (CHIPS,) int: codeword bit index, -1 for sync chips
    mask: np.ndarray  # (n_bits,) uint8 keyed scramble

    def sync_tile(self) -> np.ndarray:
        """(P, P) float32: the sync template (zero on payload chips)."""
        return (self.sign * self.sync).reshape(P, P).astype(np.float32)


def check_version(version: int) -> int:
    """``version`` if this code can embed and detect it, else ``watermark.unsupported-version``."""
    if version not in VERSIONS:
        raise WatermarkError(
            "watermark.unsupported-version",
            f"watermark version {version} is not supported (known: {list(VERSIONS)})",
            f"use Payload.new() (version {CURRENT_VERSION}) or version=1 for the old pattern",
        )
    return version


@lru_cache(maxsize=32)
def layout_for(key: WatermarkKey, version: int = 1) -> Layout:
    """The keyed layout of a pattern version (cached per key and version)."""
    layout_label, scramble_label = _LABELS[check_version(version)]
    n_bits = codeword_bits()
    rng = key.rng(layout_label)
    perm = rng.permutation(CHIPS)
    n_payload = n_bits * REPEAT
    bit_of_chip = np.full(CHIPS, -1, dtype=np.int64)
    bit_of_chip[perm[:n_payload]] = np.arange(n_payload) % n_bits
    sync = bit_of_chip < 0
    sign = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=CHIPS)
    mask = key.rng(scramble_label).integers(0, 2, n_bits, dtype=np.uint8)
    return Layout(sign=sign, sync=sync, bit_of_chip=bit_of_chip, mask=mask)


def tile_for(key: WatermarkKey, payload: Payload) -> np.ndarray:
    """(P, P) float32 of +-1: the chip values for this key and payload (its version's layout)."""
    lay = layout_for(key, payload.version)
    bits = encode_bits(payload) ^ lay.mask
    symbols = np.where(bits > 0, 1.0, -1.0).astype(np.float32)
    values = np.ones(CHIPS, dtype=np.float32)
    payload_chips = lay.bit_of_chip >= 0
    values[payload_chips] = symbols[lay.bit_of_chip[payload_chips]]
    return (values * lay.sign).reshape(P, P)


def chip_px(height: int, width: int) -> float:
    """Chip side in pixels for a frame of this size."""
    return max(MIN_CHIP_PX, min(height, width) / CHIPS_PER_SIDE)


@lru_cache(maxsize=8)
def _pattern_cached(key: WatermarkKey, payload: Payload, height: int, width: int) -> np.ndarray:
    tile = tile_for(key, payload)
    c = chip_px(height, width)
    rows = (np.floor(np.arange(height) / c).astype(np.int64)) % P
    cols = (np.floor(np.arange(width) / c).astype(np.int64)) % P
    img = tile[rows[:, None], cols[None, :]]
    # Soften the chip edges: less visible, and less of it for the codec to throw away.
    img = ndimage.gaussian_filter(img, sigma=0.3 * c, mode="nearest").astype(np.float32)
    img /= float(np.sqrt(np.mean(img**2)))
    img.setflags(write=False)
    return img


def pattern_for(key: WatermarkKey, payload: Payload, height: int, width: int) -> np.ndarray:
    """(H, W) float32 unit-RMS pattern for a frame size (cached: computed once per clip).

    This is the pattern before any time modulation: v1 adds it as is to every frame, v2 adds
    it multiplied by :func:`frame_sign`.
    """
    return _pattern_cached(key, payload, int(height), int(width))


@lru_cache(maxsize=16)
def _block_orders(key: WatermarkKey, payload: Payload) -> np.ndarray:
    """(blocks, BLOCK_RUNS) of +-1: a balanced order of run signs for each block, drawn from
    the key and the payload (every clip its own schedule)."""
    base = np.array([1.0] * (BLOCK_RUNS // 2) + [-1.0] * (BLOCK_RUNS // 2), dtype=np.float32)
    rng = key.rng(f"veriframe.watermark.v2.schedule.{payload.hex}")
    orders = np.stack([rng.permutation(base) for _ in range(_SCHEDULE_BLOCKS)])
    orders.setflags(write=False)
    return orders


def frame_sign(key: WatermarkKey, index: int, *, payload: Payload) -> float:
    """The v2 sign (+1 or -1) of frame ``index`` (0-based, presentation order) of the clip
    that carries ``payload`` under ``key``.

    Runs of :data:`RUN` frames share a sign; each block of :data:`BLOCK_RUNS` runs is balanced.
    Past the precomputed blocks, a block's order comes from the key's PRF of the payload and
    the block's number.
    """
    if index < 0:
        raise ValueError(f"frame index must be >= 0, got {index}")
    run = index // RUN
    block, pos = divmod(run, BLOCK_RUNS)
    if block < _SCHEDULE_BLOCKS:
        return float(_block_orders(key, payload)[block, pos])
    digest = key.prf(f"veriframe.watermark.v2.schedule.{payload.hex}.{block}")
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    base = np.array([1.0] * (BLOCK_RUNS // 2) + [-1.0] * (BLOCK_RUNS // 2))
    return float(rng.permutation(base)[pos])
