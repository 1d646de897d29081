"""Which pixel model to ship: the feature model against boosted trees on the same features
and a small residual-patch network, on the design sources only.

    python benchmarks/detector_candidates.py [--data ../shared/clips | --manifest CSV]
        [--design-sources FILE] [--final-sources FILE] [--split split.json] [--cache DIR]
        [--copies 1]
        [--candidates features,trees,cnn] [--protocols source,family] [--cnn-folds 5]
        [--tree-folds N] [--feature-folds N] [--epochs 4] [--max-visits 200000]
        [--boot 200] [--json OUT] [--no-speed] [--speed-only]

Data: an ``INDEX.csv`` folder (``--data``; GIFs left out), or the corpus manifest
(``--manifest detectors/corpus/clips.csv``: read by ``veriframe.detect.lab.corpus.to_clips``,
which fetches the pinned clips into ``--cache``). Sources: with ``--design-sources`` (one
repository a line) only those are used; sources in ``--final-sources`` and in a
``HOLDOUT.txt`` beside the data are dropped before anything is decoded, and the script
refuses a design list that names one of them (``--split``: the corpus's locked split, whose
``final_sources`` are dropped the same way). The final set is never scored here. With the
manifest, sources that share footage (``corpus.fold_groups``) are held out together.

Every candidate learns from ``--copies`` platform copies of each training clip and is
scored on the held-out clips as published and after the normalising re-encode (4 s, 25 fps,
640 px wide, H.264 CRF 23, metadata stripped). Folds: leave-one-source-out and
leave-one-generator-family-out for the feature model and the trees (or ``--*-folds`` grouped
folds), grouped K-fold by source and by family group for the network (``--cnn-folds``).
Transcodes, features and patches are cached under ``--cache`` (default ``$VERIFRAME_CACHE``
or ``~/.cache/veriframe/detect``). Needs scikit-learn and torch (CPU).

Cost, measured on the 184-clip development set (1 platform copy, 2 shared cores, CPU
seconds): folds of the feature model 0.4 s each, of the trees 1.4 s (4 fits: the model and
3 inner folds for its calibration), of the network 4 s (23k patch visits); featurising one
clip version 1-2 s and a platform transcode a few seconds more, so on a corpus the cached
transcodes and features are most of the bill. For ~1,500 clips keep the leave-one-out folds
for the feature model and pass ``--tree-folds 10 --max-visits 100000`` (trees and network
then cost a few minutes per protocol).

Speed: a fresh interpreter imports only the NumPy inference modules and times the network's
scoring (patch selection + forward pass) and the trees on the 32-frame sample of a 10 s
1280x720 clip, BLAS pinned to one thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

_SPEED = r"""
import json, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np
from veriframe.detect import residual_net as rn
from veriframe.detect.trees import TreeEnsemble
from veriframe.media import probe, sample_frames, write_video

rng = np.random.default_rng(0)
h, w, n = 720, 1280, 300
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

def frames():
    for i in range(n):
        base = 110 + 60 * np.sin(xx / 37.0 + i / 10) * np.cos(yy / 53.0)
        noise = rng.normal(0, 6, (h, w, 1))
        yield np.clip(base[..., None] + noise + [[[0, 10, -10]]], 0, 255).astype(np.uint8)

channels, strides = json.loads(sys.argv[1]), json.loads(sys.argv[2])
net = rn.random_net(channels, strides)
with tempfile.TemporaryDirectory() as tmp:
    clip = Path(tmp) / "speed_720p_10s.mp4"
    write_video(clip, frames(), fps=30)
    sample = sample_frames(clip, count=32, info=probe(clip))
luma = sample.luma
net.p_synthetic(luma)  # warm-up
cpu, wall = [], []
for _ in range(7):
    t, c = time.perf_counter(), time.process_time()
    net.p_synthetic(luma)
    wall.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
patches = rn.select_patches(luma)
# 150 full trees of depth 3 on 43 features: the candidate's size.
depth, n_trees, width = 3, 150, 43
nodes = 2 ** (depth + 1) - 1
feat, thr, left, right, val, roots = [], [], [], [], [], []
for t in range(n_trees):
    off = t * nodes
    for i in range(nodes):
        inner = 2 * i + 2 < nodes
        feat.append(int(rng.integers(0, width)) if inner else -1)
        thr.append(float(rng.normal()))
        left.append(off + 2 * i + 1 if inner else -1)
        right.append(off + 2 * i + 2 if inner else -1)
        val.append(0.0 if inner else float(rng.normal(0, 0.05)))
    roots.append(off)
trees = TreeEnsemble(feature=np.array(feat), threshold=np.array(thr),
                     missing_left=np.zeros(len(feat), bool), left=np.array(left),
                     right=np.array(right), value=np.array(val), roots=np.array(roots),
                     baseline=0.0, depth=depth + 1)
x = rng.normal(size=(1, width))
c = time.process_time()
for _ in range(100):
    trees.decision(x)
tree_cpu = (time.process_time() - c) / 100
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "skops", "torch"))
print(json.dumps({"frames": int(luma.shape[0]), "patches": int(len(patches)),
                  "cnn_score_cpu_median_s": round(statistics.median(cpu), 4),
                  "cnn_score_wall_median_s": round(statistics.median(wall), 4),
                  "trees_score_cpu_s": round(tree_cpu, 5), "heavy_modules": heavy}))
"""


def speed() -> dict[str, object]:
    """Time the NumPy inference in a fresh interpreter."""
    sys.path.insert(0, str(REPO / "src"))
    from veriframe.detect.lab.cnn import CHANNELS, STRIDES

    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    out = subprocess.run([sys.executable, "-c", _SPEED, json.dumps(list(CHANNELS)),
                          json.dumps(list(STRIDES))], capture_output=True, text=True,
                         check=True, env=env, cwd=REPO)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _names(path: str | None) -> set[str]:
    if not path:
        return set()
    return {line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines()
            if line.split("#", 1)[0].strip()}


def load_clips(args: argparse.Namespace, cache: Path) -> list:
    """The clips of ``--manifest`` (the corpus) or ``--data`` (an INDEX.csv folder)."""
    from veriframe.detect.lab.dataset import load_dataset

    if args.manifest:
        # The corpus manifest (pinned repository, commit, path, blob): its module fetches the
        # clips into the cache and returns the lab's Clip objects.
        from veriframe.detect.lab import corpus  # type: ignore[attr-defined]

        clips = list(corpus.to_clips(Path(args.manifest), cache))
        return [c for c in clips if not c.is_gif]
    return load_dataset(args.data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / ".." / "shared" / "clips"))
    ap.add_argument("--manifest", default=None, help="the corpus manifest (clips.csv)")
    ap.add_argument("--design-sources", default=None,
                    help="file: the design sources, one a line (default: every source)")
    ap.add_argument("--final-sources", default=None,
                    help="file: the locked final sources, never used here")
    ap.add_argument("--split", default=None,
                    help="the corpus split.json: its final_sources are never used here")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--candidates", default="features,trees,cnn")
    ap.add_argument("--protocols", default="source,family")
    ap.add_argument("--cnn-folds", type=int, default=5)
    ap.add_argument("--tree-folds", type=int, default=None, help="default: leave-one-out")
    ap.add_argument("--feature-folds", type=int, default=None, help="default: leave-one-out")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--max-visits", type=int, default=None)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    args = ap.parse_args(argv)

    if args.speed_only:
        print(json.dumps(speed(), indent=1))
        return 0
    from veriframe.detect.lab import candidates as cand
    from veriframe.detect.lab.dataset import default_cache_dir

    cache = Path(args.cache) if args.cache else (
        Path(os.environ["VERIFRAME_CACHE"]) if os.environ.get("VERIFRAME_CACHE")
        else default_cache_dir())
    if not args.manifest and not Path(args.data).exists():
        print(f"no clips at {args.data}", file=sys.stderr)
        return 2
    final = _names(args.final_sources)
    if args.split:
        final |= set(json.loads(Path(args.split).read_text())["final_sources"])
    holdout_file = (Path(args.data) if Path(args.data).is_dir() else Path(args.data).parent
                    ) / "HOLDOUT.txt"
    final |= _names(str(holdout_file)) if holdout_file.is_file() else set()
    design = _names(args.design_sources)
    if design & final:
        print(f"the design list names final or held-out sources: {sorted(design & final)}",
              file=sys.stderr)
        return 2
    clips = load_clips(args, cache)
    n_all = len(clips)
    n_final = sum(c.group in final for c in clips)
    clips = [c for c in clips if c.group not in final and (not design or c.group in design)]
    print(f"# Candidate pixel models: {len(clips)} of {n_all} clips "
          f"({sum(c.label for c in clips)} synthetic) from "
          f"{len({c.group for c in clips})} sources; {n_final} clip(s) of the "
          f"{len(final)} final/held-out sources dropped before decoding", flush=True)

    t0 = time.perf_counter()
    cpu0 = time.process_time()

    def progress(i: int, n: int, clip: object) -> None:
        if i % 50 == 0:
            print(f"  prepare {i}/{n} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr,
                  flush=True)

    source_keys = None
    if args.manifest:
        # Sources that share footage (a duplicate group) are held out together.
        from veriframe.detect.lab import corpus  # type: ignore[attr-defined]

        source_keys = corpus.fold_groups(clips)
    wanted = [c.strip() for c in args.candidates.split(",") if c.strip()]
    data = cand.prepare(clips, cache_dir=cache, copies=args.copies,
                        patches="cnn" in wanted, progress=progress)
    t1 = time.perf_counter()
    for f, why in data.dropped:
        print(f"  left out {Path(f).name}: {why}", file=sys.stderr)
    cnn_kw = {k: v for k, v in (("epochs", args.epochs), ("max_visits", args.max_visits))
              if v is not None}
    report = cand.compare(
        data, candidates=wanted,
        protocols=[p.strip() for p in args.protocols.split(",") if p.strip()],
        folds={"features": args.feature_folds, "trees": args.tree_folds,
               "cnn": args.cnn_folds},
        n_boot=args.boot, cnn_kw=cnn_kw, source_keys=source_keys,
        progress=lambda msg: print(f"  {msg} ({time.perf_counter() - t0:.0f} s)",
                                   file=sys.stderr, flush=True))
    t2 = time.perf_counter()
    report["prepare_wall_s"] = round(t1 - t0, 1)
    report["compare_wall_s"] = round(t2 - t1, 1)
    report["cpu_s"] = round(time.process_time() - cpu0, 1)
    report["sources"] = sorted({c.group for c in clips})
    print(f"\nprepare (transcodes, features, patches; cached) {t1 - t0:.0f} s, "
          f"cross-validation {t2 - t1:.0f} s, platform copies per clip {args.copies}; "
          f"{len(data.dropped)} clip(s) left out (could not be transcoded or decoded)\n")
    print(cand.table(report))
    print("\n## Time per candidate and protocol\n")
    print(cand.timing_table(report))
    if not args.no_speed:
        sp = speed()
        report["speed"] = sp
        print(f"\nNumPy inference, one core, 10 s 720p sample ({sp['frames']} frames, "
              f"{sp['patches']} patches): network {sp['cnn_score_cpu_median_s']} s CPU "
              f"(patch selection + forward), trees {sp['trees_score_cpu_s']} s; heavy "
              f"modules: {sp['heavy_modules'] or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    raise SystemExit(main())
