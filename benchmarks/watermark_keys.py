"""How much the mark's strength depends on the key: one clip, many random keys, the same attack.

The clip is the fast camera pan of the integrity tests (``tests/clipgen.pan_frames``: 10 s at
320x240, 30 fps, 6 px a frame, encoded at CRF 18). Each trial draws a watermark key and a
content id, marks the clip as ``sign`` marks it (the sign path's marker, in the pass that
re-encodes it at CRF 18), cuts an excerpt from it with an H.264 CRF 23 re-encode, samples it
as verify does (``media.sample_runs``, 32 frames) and searches it under that key. It prints
each trial's p-value and bit agreement, and how many excerpts were missed, per excerpt start.

    python benchmarks/watermark_keys.py --keys 40 --jobs 2
    python benchmarks/watermark_keys.py --keys 20 --starts 1.3,1.4,1.5 --duration 1.45
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for _p in (str(REPO), str(REPO / "src")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

FPS = 30


def _trial(args: tuple[int, list[float], float]) -> list[tuple[float, bool, float, float]]:
    """(start, found, p-value, bit agreement) of every excerpt, under the key of ``seed``."""
    from tests.clipgen import pan_frames
    from tests.watermark.marking import mark_clip
    from veriframe import media
    from veriframe.watermark import Payload, WatermarkKey, detect

    seed, starts, duration = args
    rng = np.random.default_rng(seed)
    key = WatermarkKey(rng.bytes(32))
    payload = Payload(content_id=int(rng.integers(0, 2**56)))
    out = []
    with tempfile.TemporaryDirectory(prefix="vf-wmkeys") as tmp:
        src, signed = Path(tmp) / "src.mp4", Path(tmp) / "signed.mp4"
        media.write_video(src, pan_frames(10 * FPS, 320, 240, step=6), fps=FPS, crf=18)
        mark_clip(src, signed, key=key, payload=payload)
        for start in starts:
            copy = Path(tmp) / f"excerpt_{start}.mp4"
            media.transcode(signed, copy, start=start, duration=duration, crf=23)
            check = detect(media.sample_runs(copy, count=32), keys=[key])
            out.append((start, check.payload_id == payload.hex, check.p_value,
                        check.bit_accuracy or 0.0))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1000, help="first trial's seed (keys, ids)")
    ap.add_argument("--starts", default="1.4", help="comma-separated excerpt starts, s")
    ap.add_argument("--duration", type=float, default=1.45, help="excerpt length, s")
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args(argv)
    starts = [float(x) for x in a.starts.split(",") if x]
    jobs = [(a.seed + i, starts, a.duration) for i in range(a.keys)]
    rows: dict[float, list[tuple[bool, float, float]]] = {s: [] for s in starts}
    print(f"{a.keys} keys, excerpts of {a.duration:g} s at {starts} s of the 10 s fast pan")
    with ProcessPoolExecutor(max(1, a.jobs)) as ex:
        for seed, result in zip(range(a.seed, a.seed + a.keys), ex.map(_trial, jobs),
                                strict=True):
            for start, found, p, acc in result:
                rows[start].append((found, p, acc))
                print(f"  seed {seed} start {start:g}: {'found' if found else 'MISSED'}"
                      f" p {p:.2g} bits {acc:.3f}", flush=True)
    for start, got in rows.items():
        missed = sum(1 for found, _, _ in got if not found)
        logp = [np.log10(max(p, 1e-300)) for _, p, _ in got]
        print(f"start {start:g} s: missed {missed} of {len(got)}; log10 p median "
              f"{statistics.median(logp):.1f}, worst {max(logp):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
