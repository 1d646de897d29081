"""Detector targets report: held-out metrics by source and by generator family, as published
and normalised, pixels only and all signals; scoring speed on one core.

    python benchmarks/detector_eval.py [--data ../shared/clips] [--cache DIR] [--json OUT]
                                       [--copies 6] [--boot 1000] [--no-speed] [--speed-only]

Every fold refits the whole recipe (``veriframe.detect.lab.training.fit``) without the held-out
clips: leave-one-source-out (LOSO) and leave-one-generator-family-out (LOGO). Each held-out
clip is scored as published and after normalisation (4 s, 25 fps, 640 px wide, H.264 CRF 23,
metadata stripped). The first run transcodes every clip 7 times (6 platform copies + the
normalised one) and featurises each version; all of it is cached under ``--cache`` (default
``$VERIFRAME_CACHE`` or ``~/.cache/veriframe/detect``), so reruns only refit (about
10-20 minutes on 2 cores). GIFs are left out. Needs scikit-learn (the ``[train]`` extra).

Speed: a fresh interpreter imports only ``veriframe.detect``, loads the shipped model and
times ``Detector.score`` on the 32-frame sample of a 10 s 1280x720 30 fps clip, BLAS pinned
to one thread, CPU time and wall time; it also lists any heavy module that got imported.
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
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGETS = (
    ("pixels only, LOSO, as published", "loso/published/pixels", "auc", ">=", 0.85),
    ("pixels only, LOSO, normalised", "loso/normalised/pixels", "auc", ">=", 0.80),
    ("all signals, LOSO, as published", "loso/published/all", "auc", ">=", 0.95),
    ("ECE, all signals, LOSO, as published", "loso/published/all", "ece", "<=", 0.05),
)

_SPEED = r"""
import json, os, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np
from veriframe.detect import Detector
from veriframe.media import probe, sample_frames, write_video

rng = np.random.default_rng(0)
h, w, n = 720, 1280, 300
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

def frames():
    for i in range(n):
        base = 110 + 60 * np.sin(xx / 37.0 + i / 10) * np.cos(yy / 53.0)
        noise = rng.normal(0, 6, (h, w, 1))
        yield np.clip(base[..., None] + noise + [[[0, 10, -10]]], 0, 255).astype(np.uint8)

model = Detector.load(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    clip = Path(tmp) / "speed_720p_10s.mp4"
    write_video(clip, frames(), fps=30)
    t = time.perf_counter()
    sample = sample_frames(clip, count=32, info=probe(clip))
    decode = time.perf_counter() - t
    model.score(sample)  # warm-up
    wall, cpu = [], []
    for _ in range(7):
        t, c = time.perf_counter(), time.process_time()
        check = model.score(sample)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "skops", "torch")
               or m == "scipy.stats" or m.startswith("scipy.stats."))
print(json.dumps({"decode_sample_s": round(decode, 3), "frames": len(sample.indices),
                  "score_wall_median_s": round(statistics.median(wall), 3),
                  "score_cpu_median_s": round(statistics.median(cpu), 3),
                  "score_wall_max_s": round(max(wall), 3), "heavy_modules": heavy,
                  "inconclusive": check.inconclusive}))
"""


def speed(model: str) -> dict[str, object]:
    """Time Detector.score in a fresh interpreter (only veriframe.detect imported)."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    out = subprocess.run([sys.executable, "-c", _SPEED, model], capture_output=True, text=True,
                         check=True, env=env, cwd=REPO)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / ".." / "shared" / "clips"))
    ap.add_argument("--model", default="default", help="model timed for speed")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--json", default=None, help="also write the full report here")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--report", default=None,
                    help="print the tables of a saved evaluation (e.g. detectors/default/"
                    "metrics.json, written by training) instead of recomputing them")
    args = ap.parse_args(argv)

    if args.speed_only:
        print(json.dumps(speed(args.model), indent=1))
        return 0
    from veriframe.detect.lab import evaluation as ev

    if args.report:
        report = json.loads(Path(args.report).read_text())
        timing = f"from {args.report}"
    else:
        from veriframe.detect.lab.training import Dataset

        data = Path(args.data)
        if not data.exists():
            print(f"no clips at {data}: the shared clip set sits beside the checkout "
                  "(../shared/clips)", file=sys.stderr)
            return 2
        cache = Path(args.cache) if args.cache else None
        t0 = time.perf_counter()
        ds = Dataset.load(data, cache_dir=cache, copies=args.copies, normalised=True)
        t1 = time.perf_counter()
        report = ev.evaluate(ds, data=str(data), n_boot=args.boot)
        timing = f"features {t1 - t0:.0f} s, folds {time.perf_counter() - t1:.0f} s"
    s = report["summary"]
    print(f"# Detector evaluation: {report['n_clips']} non-GIF clips "
          f"({report['n_synthetic']} synthetic) from {report['n_sources']} sources, "
          f"{report['n_family_groups']} family groups; {report['augment_copies']} platform "
          f"copies per clip ({timing})\n")
    print(ev.summary_table(s))
    print(f"\n## The same, on the {report['n_fresh_clips']} clips of the sources not used to "
          f"design the features (same fold models)\n")
    print(ev.fresh_table(report["fresh_sources_summary"]))
    print("\n## Per generator family (AUC against every real clip / mean p_synthetic)\n")
    print(ev.family_table(report["per_family"]))
    print("\n## Per generator (mean p_synthetic / accuracy at 0.5)\n")
    print(ev.generator_table(report["per_generator"]))
    print("\n## Inside sources holding both classes (LOSO: ranking only)\n")
    print(ev.within_source_table(report["within_source"]))
    print("\n## Container cues alone (AUC)\n")
    print(ev.cue_table(report["container_cues"]))
    print("\n## Abstentions (reason: clips)\n")
    for key, counts in report["abstentions"].items():
        print(f"- {key}: " + "; ".join(f"{k}: {n}" for k, n in counts.items()))
    for proto in ("loso", "logo"):
        folds = report["folds"].get(proto, {})
        counts = Counter(name for f in folds.values() for name in f["features"])
        ks = Counter(f"k={f['k']}, C={f['c']:g}" for f in folds.values())
        print(f"\n## {proto.upper()}: features kept (count of {len(folds)} folds); "
              f"chosen k and C\n")
        print(", ".join(f"{n} ({c})" for n, c in counts.most_common()))
        print(", ".join(f"{n} ({c})" for n, c in ks.most_common()))

    print("\n## Targets\n\n| target | goal | measured | met |\n|---|---|---|---|")
    for name, key, metric, op, goal in TARGETS:
        val = s[key][metric]
        ok = val >= goal if op == ">=" else val <= goal
        print(f"| {name} | {op} {goal} | {val:.3f} | {'yes' if ok else 'NO'} |")
    if not args.no_speed:
        sp = speed(args.model)
        report["speed"] = sp
        ok = float(str(sp["score_cpu_median_s"])) <= 0.3 and not sp["heavy_modules"]
        print(f"| scoring a 10 s 720p sample, one core, numpy only | <= 0.3 s | "
              f"{sp['score_cpu_median_s']} s CPU ({sp['score_wall_median_s']} s wall), "
              f"heavy modules: {sp['heavy_modules'] or 'none'} | {'yes' if ok else 'NO'} |")
    print(f"\nDesign rounds that looked at held-out numbers of the full set: "
          f"{report['design_rounds']}. {report['design_note']}")
    if args.json:
        from veriframe.results import to_jsonable

        Path(args.json).write_text(json.dumps(to_jsonable(report), indent=1,
                                              allow_nan=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    raise SystemExit(main())
