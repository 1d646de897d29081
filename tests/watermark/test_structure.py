"""The structure measure that decides when a fingerprint comparison is inconclusive."""

from __future__ import annotations

import numpy as np

from veriframe.demo import scene
from veriframe.watermark import MIN_STRUCTURE, structure


def test_flat_and_noise_frames_have_no_structure() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((4, 192, 320), 130, np.uint8)
    noisy = np.clip(130 + rng.normal(0, 3, (4, 192, 320)), 0, 255).astype(np.uint8)
    assert structure(flat) == 0.0
    assert structure(noisy) < MIN_STRUCTURE


def test_natural_content_has_structure() -> None:
    frames = np.stack([scene(i, 320, 240)[..., 1] for i in range(4)])
    assert structure(frames) > 3 * MIN_STRUCTURE
