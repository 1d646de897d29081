"""The detector on the pinned corpus: design work on the design sources, the final set once.

    python benchmarks/detector_corpus.py design --json design.json [--cnn]
    python benchmarks/detector_corpus.py final --design design.json --out detectors/default

``design`` featurises the design side of ``detectors/corpus/split.json`` (every clip as
published and its normalising transcode; cached), cross-validates the shipped recipe
(leave-one-source-out and leave-one-generator-family-out, sources that share footage kept
together) and compares the candidates (the feature model, boosted trees on the features and,
with ``--cnn``, the residual-patch network) on the same folds. Nothing of the final side is
decoded. ``final`` fits the recipe on the whole design set, scores the locked final set once
(the look is recorded in split.json), and writes model.json, metrics.json (the final-set table
first) and card.md. The clips come from the cache that ``benchmarks/corpus.py fetch`` rebuilds
(default ``../shared/corpus``). Needs the ``[train]`` extra (scikit-learn; torch for ``--cnn``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
MANIFEST = REPO / "detectors" / "corpus" / "clips.csv"
SPLIT = REPO / "detectors" / "corpus" / "split.json"
CACHE = REPO.parent / "shared" / "corpus"


def _progress(tag: str) -> Any:
    t0 = time.time()

    def report(i: int, n: int, _clip: Any) -> None:
        if i % 200 == 0:
            print(f"  {tag}: {i}/{n} clips ({time.time() - t0:.0f} s)", file=sys.stderr,
                  flush=True)

    return report


def design(args: argparse.Namespace) -> None:
    from veriframe.detect.lab import candidates, evaluation, protocol
    from veriframe.results import to_jsonable

    clips = protocol.side_clips(args.manifest, args.split, args.cache, "design")
    t0 = time.time()
    ds = protocol.corpus_dataset(clips, cache_dir=args.feature_cache,
                                 progress=_progress("design features"))
    print(f"design set: {len(ds.y)} clips, {int(ds.y.sum())} synthetic, "
          f"{len(set(ds.groups.tolist()))} fold groups ({time.time() - t0:.0f} s)", flush=True)
    report = evaluation.evaluate(ds, data=str(args.manifest), n_boot=args.boot)
    print(evaluation.summary_table(report["summary"]), flush=True)
    names = ["features", "trees"] + (["cnn"] if args.cnn else [])
    patches: dict[str, list[Any]] = {}
    if args.cnn:
        from veriframe.detect.lab import cnn

        for view, spec in (("published", None), ("normalised", "normalise")):
            patches[view] = cnn.clip_patches(
                list(ds.clips), cache_dir=args.feature_cache or Path.home() / ".cache" /
                "veriframe" / "detect",
                transform=None if spec is None else protocol.augment.NORMALISE,
                training=False)
        patches["copy0"] = patches["normalised"]
    data = candidates.CandidateData(ds=ds, patches=patches)
    comp = candidates.compare(data, candidates=names, folds={"trees": args.tree_folds},
                              n_boot=min(args.boot, 200),
                              cnn_kw={"max_visits": args.cnn_visits} if args.cnn else None)
    comp.pop("predictions", None)
    print(candidates.table(comp), flush=True)
    # per-clip scores and per-fold details stay out of the shipped metrics; the earlier
    # rounds' "fresh sources" split means nothing on the corpus (its split is split.json)
    for key in ("predictions", "folds", "fresh_sources_summary", "n_fresh_clips",
                "design_rounds", "design_note"):
        report.pop(key, None)
    out = {"design": report, "candidates": comp}
    Path(args.json).write_text(json.dumps(to_jsonable(out), indent=1, allow_nan=False) + "\n")
    print(f"wrote {args.json}")


def final(args: argparse.Namespace) -> None:
    from veriframe._atomic import write_bytes_atomic
    from veriframe.detect.lab import protocol
    from veriframe.detect.lab.training import fit
    from veriframe.results import to_jsonable

    done = json.loads(Path(args.design).read_text())
    clips = protocol.side_clips(args.manifest, args.split, args.cache, "design")
    ds = protocol.corpus_dataset(clips, cache_dir=args.feature_cache,
                                 progress=_progress("design features"))
    import datetime as dt

    info = {
        "trained_on": "detectors/corpus/clips.csv (design sources of split.json)",
        "trained_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sources": sorted({s for g in ds.groups.tolist() for s in g.split(" + ")}),
        "generators": sorted({c.generator for c in clips if c.label == 1}),
        "families": sorted({c.family for c in clips if c.label == 1}),
        "include_gif": False,
    }
    from veriframe.detect import features as fx

    info["feature_version"] = fx.FEATURE_VERSION
    det = fit(ds, name="default", info=info)
    final_clips = protocol.side_clips(args.manifest, args.split, args.cache, "final")
    fds = protocol.corpus_dataset(final_clips, cache_dir=args.feature_cache,
                                  progress=_progress("final features"))
    result = protocol.score_final(det, fds, args.split)
    folder = Path(args.out)
    det.save(folder)
    predictions = result.pop("predictions")
    metrics = {"model": "default", "final_set": result, **done}
    write_bytes_atomic(folder / "metrics.json", (json.dumps(
        to_jsonable(metrics), indent=1, allow_nan=False) + "\n").encode())
    write_bytes_atomic(folder / "card.md", protocol.corpus_card(det, metrics).encode())
    Path(args.predictions).write_text(json.dumps(predictions, indent=0) + "\n")
    for key, s in result["summary"].items():
        print(f"{key}: AUC {s['auc']:.3f} ECE {s['ece']:.3f} covered "
              f"{s.get('coverage', 1.0):.2f}")
    print(f"final set looked at {result['final_looks']} time(s); wrote {folder}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--split", type=Path, default=SPLIT)
    ap.add_argument("--cache", type=Path, default=CACHE, help="the clips (corpus.py fetch)")
    ap.add_argument("--feature-cache", type=Path, default=None,
                    help="transcodes and features (default ~/.cache/veriframe/detect)")
    sub = ap.add_subparsers(dest="step", required=True)
    d = sub.add_parser("design", help="cross-validate on the design sources")
    d.add_argument("--json", required=True)
    d.add_argument("--cnn", action="store_true", help="also the residual-patch network")
    d.add_argument("--cnn-visits", type=int, default=100_000)
    d.add_argument("--tree-folds", type=int, default=10)
    d.add_argument("--boot", type=int, default=1000)
    f = sub.add_parser("final", help="fit on the design set, score the final set once")
    f.add_argument("--design", required=True, help="the design step's JSON")
    f.add_argument("--out", default=str(REPO / "detectors" / "default"))
    f.add_argument("--predictions", default="final_predictions.json")
    args = ap.parse_args()
    design(args) if args.step == "design" else final(args)


if __name__ == "__main__":
    main()
