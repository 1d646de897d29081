"""One-off: export a skops detector (veriframe <= 0.1) to ``model.json`` and prove the numbers.

    python benchmarks/export_skops_detector.py detectors/default [--data ../shared/clips]
                                               [--cache DIR]

Loads ``model.skops`` with skops (only the types veriframe 0.1 trusted), writes ``model.json``
beside it, then scores every clip of ``--data`` (forensic, all signals, every per-frame score)
with the skops objects and with the NumPy detector read back from ``model.json`` and prints
the largest absolute difference. Needs scikit-learn and skops (not veriframe dependencies any
more); this script leaves the repository with ``model.skops``.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TRUSTED = {
    "sklearn.pipeline.Pipeline", "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression", "numpy.ndarray", "numpy.dtype",
    "numpy.float64", "numpy.int64", "builtins.dict", "builtins.list", "builtins.tuple",
    "builtins.str", "builtins.int", "builtins.float", "builtins.bool",
}


def _load_skops(path: Path) -> dict[str, Any]:
    import skops.io as sio

    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add(f"{node.get('__module__', '')}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    unknown = found - TRUSTED
    if unknown:
        raise SystemExit(f"{path} holds untrusted types: {sorted(unknown)}")
    return dict(sio.load(path, trusted=sorted(TRUSTED)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--data", default=str(REPO / ".." / "shared" / "clips"))
    ap.add_argument("--cache", default=None)
    args = ap.parse_args(argv)

    from veriframe.detect import features as fx
    from veriframe.detect.dataset import dataset_features, load_dataset
    from veriframe.detect.model import Detector, _logit
    from veriframe.detect.training import clips_digest, linear_from_sklearn, platt_from_sklearn

    bundle = _load_skops(args.folder / "model.skops")
    assert bundle["format"] == "veriframe.detector/1"
    assert int(bundle["feature_version"]) == fx.FEATURE_VERSION
    info = json.loads(bundle["info"])
    clips = load_dataset(args.data)
    data_root = Path(args.data)
    # The model was trained on the clips of its sources (the first collection: 76 clips).
    trained = [c for c in clips if c.group in set(info["sources"])]
    if len(trained) != int(info["n_clips"]):
        raise SystemExit(f"found {len(trained)} clips of the model's sources, it says "
                         f"{info['n_clips']}: cannot tell which clips it was trained on")
    det = Detector(forensic=linear_from_sklearn(bundle["forensic"]),
                   calibration=platt_from_sklearn(bundle["calibrator"]),
                   fusion=linear_from_sklearn(bundle["fusion"]),
                   columns=tuple(int(c) for c in bundle["columns"]),
                   name=args.folder.name, info=info,
                   feature_names=tuple(bundle["feature_names"]),
                   metadata_names=tuple(bundle["metadata_names"]),
                   training_data=clips_digest(trained, data_root))
    out = det.save(args.folder)
    back = Detector.load(args.folder)

    cache = Path(args.cache) if args.cache else None
    feats = dataset_features(clips, cache_dir=cache)
    cols = list(bundle["columns"])
    worst = {"forensic": 0.0, "all": 0.0, "frames": 0.0}
    worst_train = dict(worst)
    for clip, f in zip(clips, feats, strict=True):
        ff = f.forensic()
        rows = np.vstack([ff.clip_vector()[None, :], ff.frame_vectors()])
        raw = bundle["forensic"].predict_proba(rows[:, cols])[:, 1]
        ref = bundle["calibrator"].predict_proba(_logit(raw)[:, None])[:, 1]
        ref_all = 1 / (1 + np.exp(-bundle["fusion"].decision_function(
            np.column_stack([_logit(ref[:1]), f.meta[None, :]]))))
        got = back.forensic_p(rows)
        got_all = 1 / (1 + np.exp(-back.fused_logit(got[:1], f.meta[None, :])))
        diffs = {"forensic": abs(got[0] - ref[0]), "all": abs(got_all[0] - ref_all[0]),
                 "frames": float(np.abs(got[1:] - ref[1:]).max())}
        for k, v in diffs.items():
            worst[k] = max(worst[k], float(v))
            if clip in trained:
                worst_train[k] = max(worst_train[k], float(v))
    print(f"wrote {out} ({out.stat().st_size} bytes); training data "
          f"{det.training_data['n_clips']} clips, sha256 {det.training_data['sha256'][:16]}…")
    print(f"max |numpy - skops| over {len(clips)} clips: " +
          ", ".join(f"{k} {v:.3g}" for k, v in worst.items()))
    print(f"  of which the {len(trained)} training clips: " +
          ", ".join(f"{k} {v:.3g}" for k, v in worst_train.items()))
    return 0 if max(worst.values()) <= 1e-9 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    raise SystemExit(main())
