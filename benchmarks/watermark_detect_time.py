"""CPU time of one mark search (``watermark.detect``) on one core, marked and unmarked.

Samples are ``--frames`` (32) luma frames: textured moving synthetic frames at each ``--sizes``
entry (``veriframe.demo.scene``), or the samples of the video files given as arguments; each is
searched unmarked and with a v2 mark embedded. CPU time (``time.process_time``) so that a busy
machine does not inflate it; the median of ``--repeats`` runs. BLAS and OpenMP are pinned to one
thread before numpy loads.

``--families`` adds, per sample, the unmarked search's CPU time with each hypothesis family of
the search left out in turn (``benchmarks/_search_families.py``; all of them last), run
interleaved with the whole search: what each family costs where no mark is found, the case
that searches everything. What each one finds is ``watermark_robustness.py --without``'s job.

    OMP_NUM_THREADS=1 nice python benchmarks/watermark_detect_time.py --repeats 5
    python benchmarks/watermark_detect_time.py ../shared/clips/real/some.mp4 --sizes -
    python benchmarks/watermark_detect_time.py --sizes 320x240 --frames 24 --families
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: benchmarks/ is on the path, not the repo
    sys.path.insert(0, str(REPO))

from benchmarks import _search_families  # noqa: E402


def _synthetic(width: int, height: int, seed: int, frames: int) -> np.ndarray:
    from veriframe.demo import scene

    rgb = np.stack([scene(i, width, height, seed=seed) for i in range(frames)]).astype(np.float32)
    luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def _file(path: str, frames: int) -> np.ndarray:
    from veriframe import media

    return np.asarray(media.sample_frames(path, count=frames, rgb=False).luma)


def _cpu(fn: Callable[[], object]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def _families(luma: np.ndarray, keys: list[Any], repeats: int) -> None:
    """Unmarked CPU time with each family left out, interleaved with the whole search."""
    from veriframe.watermark import detect

    def search() -> object:
        return detect(luma, keys=keys)

    configs = [(f, (f,)) for f in _search_families.FAMILIES]
    configs.append(("all four", _search_families.FAMILIES))
    whole: list[float] = []
    left: dict[str, list[float]] = {name: [] for name, _ in configs}
    for _ in range(repeats):
        for name, families in configs:
            whole.append(_cpu(search))
            with _search_families.without(families):
                left[name].append(_cpu(search))
    full = statistics.median(whole)
    print(f"  {'whole search':40s} {full:9.3f}")
    for name, _ in configs:
        t = statistics.median(left[name])
        print(f"  {'without ' + name:40s} {t:9.3f}  saves {1 - t / full:6.1%}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", help="video files to sample (besides --sizes)")
    ap.add_argument("--sizes", default="1280x720,320x240", help="synthetic sample sizes, - none")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--frames", type=int, default=32, help="frames per sample (verify: 32)")
    ap.add_argument("--families", action="store_true",
                    help="also time the unmarked search with each hypothesis family left out")
    a = ap.parse_args(argv)

    from veriframe.watermark import Payload, WatermarkKey, detect, embed_luma

    key = WatermarkKey(bytes.fromhex("5a" * 32))
    payload = Payload(content_id=0x00C0FFEE123456)
    samples: list[tuple[str, np.ndarray]] = []
    for size in (s for s in a.sizes.split(",") if s and s != "-"):
        w, h = (int(v) for v in size.split("x"))
        samples.append((f"synthetic {w}x{h}", _synthetic(w, h, a.seed, a.frames)))
    samples += [(path.rsplit("/", 1)[-1][:40], _file(path, a.frames)) for path in a.files]
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {a.repeats} runs, CPU s")
    print(f"{'sample':42s} {'shape':>14s} {'unmarked':>9s} {'marked':>9s}  found")
    for name, luma in samples:
        marked = np.stack([embed_luma(f, key=key, payload=payload, index=i)
                           for i, f in enumerate(luma)])
        row = []
        found = False
        for frames in (luma, marked):
            times = []
            for _ in range(a.repeats):
                t0 = time.process_time()
                check = detect(frames, keys=[key])
                times.append(time.process_time() - t0)
            row.append(statistics.median(times))
            found = check.payload_id == payload.hex
        shape = "x".join(str(v) for v in luma.shape)
        print(f"{name:42s} {shape:>14s} {row[0]:9.3f} {row[1]:9.3f}  {found}")
        if a.families:
            _families(luma, [key], a.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
