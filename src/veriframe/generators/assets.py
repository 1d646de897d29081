"""A procedural portrait (no third-party image): the example input for demos and tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def draw_portrait(*, width: int = 512, height: int = 512, seed: int = 3) -> Any:
    """A stylised head-and-shoulders picture with texture, as an RGB PIL image."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    bg = np.stack([90 + 60 * yy / height, 120 + 40 * np.sin(xx / 40.0), 170 - 50 * yy / height],
                  axis=-1)
    bg += rng.normal(0, 6, size=bg.shape)
    img = Image.fromarray(np.clip(bg, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    cx = width // 2
    d.ellipse([cx - 170, int(height * 0.72), cx + 170, int(height * 1.25)], fill=(60, 70, 120))
    d.rectangle([cx - 40, int(height * 0.55), cx + 40, int(height * 0.78)], fill=(214, 170, 140))
    d.ellipse([cx - 105, int(height * 0.18), cx + 105, int(height * 0.66)], fill=(226, 182, 150))
    d.chord([cx - 115, int(height * 0.12), cx + 115, int(height * 0.5)], 180, 360,
            fill=(70, 45, 30))
    for ex in (-45, 45):
        d.ellipse([cx + ex - 16, int(height * 0.38), cx + ex + 16, int(height * 0.42)],
                  fill=(250, 250, 250))
        d.ellipse([cx + ex - 7, int(height * 0.38), cx + ex + 7, int(height * 0.42)],
                  fill=(60, 40, 30))
    d.arc([cx - 40, int(height * 0.46), cx + 40, int(height * 0.56)], 20, 160,
          fill=(150, 60, 60), width=5)
    return img.filter(ImageFilter.SMOOTH)
