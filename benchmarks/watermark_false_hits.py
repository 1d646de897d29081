"""False hits of the watermark search on unmarked video, every geometry hypothesis included.

Reads the 32-frame luma samples of clean clips and of their attacked versions that
``watermark_robustness.py`` cached (``--cache``), and searches each one, and its left-right
mirror and 90-degree turn, with ``--keys`` independent random keys, one key per check (each
check is one ``detect`` call with the full hypothesis count). Any ``present`` is a false hit.

    nice python benchmarks/watermark_false_hits.py --limit 400 --keys 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watermark_robustness import DEFAULT_CACHE


def main(argv: list[str] | None = None) -> int:
    from veriframe.results import WatermarkState
    from veriframe.watermark import WatermarkKey, detect

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--keys", type=int, default=2, help="random keys, one check each")
    ap.add_argument("--limit", type=int, default=0, help="at most this many samples (0: all)")
    a = ap.parse_args(argv)
    files = sorted(p for p in a.cache.glob("*.npy") if not p.name.endswith(".part.npy"))
    if a.limit:
        files = files[: a.limit]
    if not files:
        print(f"no cached samples in {a.cache}: run watermark_robustness.py first", file=sys.stderr)
        return 1
    rng = np.random.default_rng(2026)
    keys = [WatermarkKey(rng.bytes(32)) for _ in range(a.keys)]
    checks = hits = 0
    worst = 1.0
    t0 = time.time()
    for path in files:
        luma = np.load(path)
        variants = (luma, luma[:, :, ::-1], np.rot90(luma, axes=(1, 2)))
        for v in variants:
            for key in keys:
                c = detect(np.ascontiguousarray(v), keys=[key])
                checks += 1
                hits += int(c.state == WatermarkState.PRESENT)
                worst = min(worst, c.p_value if c.p_value is not None else 1.0)
        print(f"  {checks} checks, {hits} false hits, smallest p {worst:.2e}", flush=True)
    print(f"command: python {' '.join([sys.argv[0], *(argv or sys.argv[1:])])}")
    print(f"samples: {len(files)} (clean clips and their attacked versions) x 3 (as is, mirrored,"
          f" turned 90 degrees) x {len(keys)} keys")
    print(f"false hits: {hits} / {checks}; smallest p-value {worst:.2e}; {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
