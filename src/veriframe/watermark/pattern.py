"""The keyed tile: a P x P grid of chips repeated over the frame, sized relative to the frame.

Layout (independent of the frame size): the chip side is ``min(H, W) / CHIPS_PER_SIDE`` pixels,
so a rescaled copy keeps the same layout in frame-relative units and a crop only changes the
period and the offset, which the detector estimates. Every tile is identical, which makes the
pattern periodic: the period shows up in the autocorrelation of the frame (the scale sync) and
a keyed template on a quarter of the chips fixes the offset (the translation sync). The other
chips each carry one codeword bit (spread over ``REPEAT`` chips) multiplied by a keyed sign.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from veriframe.watermark.keys import WatermarkKey
from veriframe.watermark.payload import Payload, codeword_bits, encode_bits

P = 32  # chips per tile side
CHIPS = P * P
CHIPS_PER_SIDE = 96.0  # chips across the short side of the frame
MIN_CHIP_PX = 2.0
REPEAT = 3  # chips per codeword bit


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


@lru_cache(maxsize=16)
def layout_for(key: WatermarkKey) -> Layout:
    """The keyed layout (cached per key)."""
    n_bits = codeword_bits()
    rng = key.rng("veriframe.watermark.v1.layout")
    perm = rng.permutation(CHIPS)
    n_payload = n_bits * REPEAT
    bit_of_chip = np.full(CHIPS, -1, dtype=np.int64)
    bit_of_chip[perm[:n_payload]] = np.arange(n_payload) % n_bits
    sync = bit_of_chip < 0
    sign = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=CHIPS)
    mask = key.rng("veriframe.watermark.v1.scramble").integers(0, 2, n_bits, dtype=np.uint8)
    return Layout(sign=sign, sync=sync, bit_of_chip=bit_of_chip, mask=mask)


def tile_for(key: WatermarkKey, payload: Payload) -> np.ndarray:
    """(P, P) float32 of +-1: the chip values for this key and payload."""
    lay = layout_for(key)
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
    """(H, W) float32 unit-RMS pattern for a frame size (cached: computed once per clip)."""
    return _pattern_cached(key, payload, int(height), int(width))
