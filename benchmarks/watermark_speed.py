"""Watermark speed on one core: embed (mark only) and detect on a 32-frame sample.

Frames are a moving procedural texture (no codec involved), marked with ``embed_luma``;
detection runs on the marked 32-frame stack, as ``verify`` does on its decoded sample.
Medians of ``--runs`` repetitions, 832x480 and 1280x720 side by side.

    python benchmarks/watermark_speed.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import ndimage

from veriframe.watermark import Payload, WatermarkKey, detect, embed_luma

SIZES = [(832, 480), (1280, 720)]
FRAMES = 32


def scene(w: int, h: int, n: int, seed: int = 0) -> np.ndarray:
    """(n, h, w) uint8: a textured background panning 3 px per frame."""
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(0, 1, (h, w + 3 * n)), 2.0)
    base = (base - base.min()) / (np.ptp(base) + 1e-9) * 200 + 28
    return np.stack([base[:, 3 * i : 3 * i + w] for i in range(n)]).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    key = WatermarkKey(bytes.fromhex("5a" * 32))
    payload = Payload(content_id=0x00C0FFEE123456)
    print(f"{'size':10s} {'embed fps':>10s} {'detect s (32 fr)':>17s} {'detect fps':>11s} found")
    for w, h in SIZES:
        frames = scene(w, h, FRAMES)
        embed_t, detect_t = [], []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            marked = np.stack([embed_luma(f, key=key, payload=payload) for f in frames])
            embed_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            check = detect(marked, keys=[key])
            detect_t.append(time.perf_counter() - t0)
        e, d = statistics.median(embed_t), statistics.median(detect_t)
        ok = check.payload_id == payload.hex
        print(f"{w}x{h:<5d} {FRAMES / e:10.1f} {d:17.3f} {FRAMES / d:11.1f} {ok}")
    print(f"medians of {a.runs} runs, one process (numpy/SciPy may use one core each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
