"""Watermark speed on one core: embed (mark only) and detect on a 32-frame sample.

Frames are a moving procedural texture (no codec involved), marked with the per-frame embedder
(``embed_luma``, one call per frame with the frame's position, as the sign path's marker calls
it; the marker's fingerprint work is not counted); detection runs on the
marked 32-frame stack, as ``verify`` does on its decoded sample, and on the same frames
unmarked (no early stop: every search runs). Times are CPU seconds of this process (the
machine may be shared; BLAS/FFT threads are pinned to one), medians of ``--runs``.

    OMP_NUM_THREADS=1 python benchmarks/watermark_speed.py --runs 5
"""

from __future__ import annotations

import argparse
import os
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
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"OMP_NUM_THREADS={threads}; pattern v{payload.version}; CPU seconds, {a.runs} runs")
    print(
        f"{'size':10s} {'embed fps':>10s} {'detect s (32 fr)':>17s} {'detect fps':>11s} "
        f"{'unmarked s':>11s} {'unmarked fps':>13s} found"
    )
    for w, h in SIZES:
        frames = scene(w, h, FRAMES)
        embed_t, detect_t, clean_t = [], [], []
        check = None
        for _ in range(a.runs):
            t0 = time.process_time()
            marked = np.stack([embed_luma(f, key=key, payload=payload, index=i)
                               for i, f in enumerate(frames)])
            embed_t.append(time.process_time() - t0)
            t0 = time.process_time()
            check = detect(marked, keys=[key])
            detect_t.append(time.process_time() - t0)
            t0 = time.process_time()
            detect(frames, keys=[key])
            clean_t.append(time.process_time() - t0)
        e, d, c = (statistics.median(x) for x in (embed_t, detect_t, clean_t))
        ok = check is not None and check.payload_id == payload.hex
        print(
            f"{w}x{h:<5d} {FRAMES / e:10.1f} {d:17.3f} {FRAMES / d:11.1f} {c:11.3f} "
            f"{FRAMES / c:13.1f} {ok}"
        )
    print("medians; detection excludes decoding (verify decodes the sample once for all checks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
