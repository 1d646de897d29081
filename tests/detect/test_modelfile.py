"""The detector's JSON model file: strict loading, and the same numbers as scikit-learn."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from veriframe.detect import modelfile as mf
from veriframe.detect.model import MODEL_FILE, Detector, _logit, _sigmoid
from veriframe.errors import DetectorError

REPO = Path(__file__).resolve().parents[2]
CLIPS = REPO / ".." / "shared" / "clips"
TOL = 1e-9


def _handmade() -> Detector:
    """A small valid detector built from numbers (no training, no scikit-learn)."""
    from veriframe.detect import features as fx
    from veriframe.detect.metadata import METADATA_FEATURES

    rng = np.random.default_rng(3)
    p, m = len(fx.CLIP_FEATURES), len(METADATA_FEATURES)
    cols = (0, 3, 7, 11, 20)
    ood = mf.Ood(columns=tuple(range(p)), mean=rng.normal(0, 1, p), scale=rng.uniform(0.5, 2, p),
                 whiten=rng.normal(0, 0.3, (p, p)), threshold=2.5)
    return Detector(
        forensic=mf.Linear(mean=rng.normal(0, 1, 5), scale=rng.uniform(0.5, 2, 5),
                           coef=rng.normal(0, 1, 5), intercept=-0.2),
        calibration=mf.Platt(slope=1.1, intercept=-0.3),
        fusion=mf.Linear(mean=rng.normal(0, 1, m + 1), scale=rng.uniform(0.5, 2, m + 1),
                         coef=rng.normal(0, 1, m + 1), intercept=0.1),
        columns=cols, name="handmade", info={"note": "test"},
        training_data={"sha256": "0" * 64, "n_clips": 0, "method": "none"},
        abstain=mf.Abstain(ood=ood))


def _doc() -> dict[str, Any]:
    return _handmade().model_file().to_json()


def _load_doc(tmp_path: Path, doc: Any) -> Detector:
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    (folder / MODEL_FILE).write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return Detector.load(folder)


def _refused(tmp_path: Path, doc: Any) -> str:
    with pytest.raises(DetectorError) as exc:
        _load_doc(tmp_path, doc)
    assert exc.value.code == "detector.untrusted-model", exc.value.message
    return exc.value.message


# ------------------------------------------------------------------ format
def test_shipped_model_is_plain_data() -> None:
    doc = json.loads((REPO / "detectors" / "default" / MODEL_FILE).read_text())
    assert doc["format"] == mf.FORMAT and doc["version"] in mf.SUPPORTED_VERSIONS
    assert len(doc["training_data"]["sha256"]) == 64
    assert isinstance(doc["info"], dict)
    assert not list((REPO / "detectors").rglob("*.skops"))
    det = Detector.load("default")
    assert det.forensic.size == len(det.columns)
    assert det.fusion.size == 1 + len(det.metadata_names)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    det = _handmade()
    det.save(tmp_path / "copy")
    again = Detector.load(tmp_path / "copy")
    assert again.model_file().to_json() == det.model_file().to_json()
    assert (tmp_path / "copy" / MODEL_FILE).stat().st_mode & 0o777 == 0o644
    x = np.random.default_rng(0).normal(0, 1, (5, len(det.feature_names)))
    assert np.array_equal(again.forensic_p(x), det.forensic_p(x))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(version=99), "unknown model version 99"),
        (lambda d: d.update(version="1"), "unknown model version"),
        (lambda d: d.update(version=True), "unknown model version"),
        (lambda d: d.update(format="veriframe.detector/1"), "format"),
        (lambda d: d.pop("calibration"), "lacks calibration"),
        (lambda d: d["forensic"].pop("coef"), "forensic lacks coef"),
        (lambda d: d.update(pickle="gASV"), "unknown key(s) pickle"),
        (lambda d: d["forensic"]["coef"].append(1.0), "forensic.coef has"),
        (lambda d: d["fusion"]["mean"].pop(), "fusion.mean has"),
        (lambda d: d["forensic"]["coef"].__setitem__(0, "1.0"), "must be a number"),
        (lambda d: d["forensic"]["coef"].__setitem__(0, True), "must be a number"),
        (lambda d: d["forensic"]["coef"].__setitem__(0, [1.0]), "must be a number"),
        (lambda d: d["forensic"].update(intercept=None), "must be a number"),
        (lambda d: d["forensic"]["scale"].__setitem__(0, 0.0), "scale must be positive"),
        (lambda d: d["forensic"].update(mean={"0": 1.0}), "must be a list"),
        (lambda d: d["calibration"].update(method="isotonic"), "not 'platt'"),
        (lambda d: d.update(columns=[0, 0, 1, 2, 3]), "distinct indices"),
        (lambda d: d.update(columns=[0, 1, 2, 3, 999]), "distinct indices"),
        (lambda d: d.update(columns=[0.5, 1, 2, 3, 4]), "list of integers"),
        (lambda d: d.update(features="all"), "list of non-empty strings"),
        (lambda d: d["fusion"].update(inputs=["x"]), "fusion.inputs"),
        (lambda d: d.update(info=[]), "info must be an object"),
        (lambda d: d.update(tool_tag_llr="4"), "must be a number"),
        (lambda d: d.pop("abstain"), "lacks abstain"),
        (lambda d: d["abstain"].update(band=[0.7, 0.3]), "band must be"),
        (lambda d: d["abstain"].update(min_side=-1), "non-negative integer"),
        (lambda d: d["abstain"].update(min_side=128.0), "non-negative integer"),
        (lambda d: d["abstain"].update(max_flat_fraction=2.0), "in [0, 1]"),
        (lambda d: d["abstain"]["ood"]["whiten"][0].pop(), "whiten[0] has"),
        (lambda d: d["abstain"]["ood"].update(whiten=[]), "1 to"),
        (lambda d: d["abstain"]["ood"].update(threshold=0), "threshold must be positive"),
    ],
)
def test_malformed_values_are_refused(tmp_path: Path, change: Any, words: str) -> None:
    doc = copy.deepcopy(_doc())
    change(doc)
    assert words in _refused(tmp_path, doc)


def test_non_finite_literals_and_non_json_are_refused(tmp_path: Path) -> None:
    text = json.dumps(_doc())
    first = json.dumps(_doc()["forensic"]["intercept"])
    assert "not valid JSON" in _refused(tmp_path, text.replace(first, "NaN", 1))
    assert "not valid JSON" in _refused(tmp_path, text.replace(first, "-Infinity", 1))
    assert "not a finite number" in _refused(tmp_path, text.replace(first, "1e400", 1))
    assert "not valid JSON" in _refused(tmp_path, text[:-20])
    assert "not valid JSON" in _refused(tmp_path, "\x80\x04\x95 pickle bytes")
    assert "must be a JSON object" in _refused(tmp_path, "[1, 2]")
    assert "over" in _refused(tmp_path, " " * (mf.MAX_BYTES + 1))


def test_stale_feature_version_is_named(tmp_path: Path) -> None:
    doc = _doc()
    doc["feature_version"] = -1
    with pytest.raises(DetectorError) as exc:
        _load_doc(tmp_path, doc)
    assert exc.value.code == "detector.stale-model"


# ------------------------------------------------------------------ same numbers as sklearn
def _sk_pipeline(lin: mf.Linear) -> Any:
    """A fitted scikit-learn StandardScaler + LogisticRegression holding ``lin``'s numbers."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler()
    sc.mean_, sc.scale_, sc.var_ = lin.mean.copy(), lin.scale.copy(), lin.scale**2
    sc.n_features_in_, sc.n_samples_seen_ = lin.size, 2
    lr = LogisticRegression()
    lr.coef_, lr.intercept_ = lin.coef[None, :].copy(), np.array([lin.intercept])
    lr.classes_, lr.n_features_in_ = np.array([0, 1]), lin.size
    return Pipeline([("scale", sc), ("logreg", lr)])


def _sk_scores(pipes: tuple[Any, Any, Any], cols: list[int], x: np.ndarray,
               meta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    forensic, calibrator, fusion = pipes
    raw = forensic.predict_proba(x[:, cols])[:, 1]
    p = calibrator.predict_proba(_logit(raw)[:, None])[:, 1]
    p_all = fusion.predict_proba(np.column_stack([_logit(p), meta]))[:, 1]
    return p, p_all


def _np_scores(det: Detector, x: np.ndarray, meta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = det.forensic_p(x)
    return p, _sigmoid(det.fused_logit(p, meta))


def _training_matrix(
    det: Detector,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clip vectors, metadata, labels, groups, and every per-frame vector of the clips ``det``
    was trained on."""
    pytest.importorskip("sklearn", reason="scikit-learn (the [train] extra) is not installed")
    if not CLIPS.is_dir():
        pytest.skip(f"shared clips not found at {CLIPS.resolve()} (they sit beside the checkout)")
    from veriframe.detect.lab.dataset import dataset_features, default_cache_dir, load_dataset
    from veriframe.detect.lab.training import View, clips_digest

    if str(det.info.get("trained_on", "")).startswith("detectors/corpus"):
        return _corpus_matrix(det)
    clips = load_dataset(CLIPS, include_gif=bool(det.info.get("include_gif")))
    sources = set(det.info.get("sources", []))
    clips = [c for c in clips if not sources or c.group in sources]
    if clips_digest(clips, CLIPS)["sha256"] != det.training_data.get("sha256"):
        pytest.skip("../shared/clips no longer holds exactly the clips this model was trained on")
    # Cached across runs (first run: one decode per clip).
    feats = dataset_features(clips, cache_dir=default_cache_dir())
    v = View.build(feats)
    frames = np.vstack([f.forensic().frame_vectors() for f in feats])
    y = np.array([c.label for c in clips])
    return v.x, v.meta, y, np.array([c.group for c in clips]), frames


def _corpus_matrix(
    det: Detector,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training matrix of a model fitted on the corpus's design side (the clips from the
    cache ``benchmarks/corpus.py fetch`` rebuilds, beside the checkout)."""
    from veriframe.detect.lab import protocol
    from veriframe.detect.lab.dataset import dataset_features, default_cache_dir
    from veriframe.detect.lab.training import View
    from veriframe.errors import DetectorError

    repo = Path(__file__).resolve().parents[2]
    cache = repo.parent / "shared" / "corpus"
    if not cache.is_dir():
        pytest.skip(f"corpus clips not found at {cache} (python benchmarks/corpus.py fetch)")
    try:
        clips = protocol.side_clips(repo / "detectors/corpus/clips.csv",
                                    repo / "detectors/corpus/split.json", cache, "design")
    except DetectorError as exc:
        pytest.skip(f"the corpus cache is incomplete: {exc.message}")
    # 60 of its training clips, spread over the design side: decoding all 1,200 is too slow
    # for the suite, and the check (NumPy scores = scikit-learn's) holds clip by clip
    clips = [clips[i] for i in np.linspace(0, len(clips) - 1, 60).round().astype(int)]
    feats = dataset_features(clips, cache_dir=default_cache_dir())
    v = View.build(feats)
    y = np.array([c.label for c in clips])
    groups = np.array([c.group for c in clips])
    frames = np.vstack([f.forensic().frame_vectors() for f in feats])
    return v.x, v.meta, y, groups, frames


@pytest.mark.slow
def test_shipped_model_scores_as_sklearn_on_its_training_clips() -> None:
    det = Detector.load("default")
    x, meta, _y, _g, frames = _training_matrix(det)
    pipes = (_sk_pipeline(det.forensic), _sk_calibrator(det.calibration),
             _sk_pipeline(det.fusion))
    ref, ref_all = _sk_scores(pipes, list(det.columns), x, meta)
    got, got_all = _np_scores(det, x, meta)
    assert len(got) >= 50
    assert float(np.abs(got - ref).max()) <= TOL  # clip scores
    assert float(np.abs(got_all - ref_all).max()) <= TOL  # all signals
    raw = pipes[0].predict_proba(frames[:, list(det.columns)])[:, 1]
    ref_frames = pipes[1].predict_proba(_logit(raw)[:, None])[:, 1]
    assert float(np.abs(det.forensic_p(frames) - ref_frames).max()) <= TOL  # per-frame scores


@pytest.mark.slow
def test_fitted_sklearn_and_exported_numpy_agree_on_the_training_clips() -> None:
    """Fit the three scikit-learn models on the training clips, export them, compare."""
    from sklearn.linear_model import LogisticRegression

    from veriframe.detect.lab.training import (
        _fit_forensic,
        linear_from_sklearn,
        platt_from_sklearn,
    )

    det0 = Detector.load("default")
    x, meta, y, groups, _frames = _training_matrix(det0)
    cols = list(det0.columns)
    forensic = _fit_forensic(x[:, cols], y, groups, 0.1)
    raw = forensic.predict_proba(x[:, cols])[:, 1]
    calibrator = LogisticRegression(C=1.0, max_iter=1000).fit(_logit(raw)[:, None], y)
    p = calibrator.predict_proba(_logit(raw)[:, None])[:, 1]
    fusion = _sk_pipeline_fit(np.column_stack([_logit(p), meta]), y)
    det = Detector(forensic=linear_from_sklearn(forensic),
                   calibration=platt_from_sklearn(calibrator),
                   fusion=linear_from_sklearn(fusion), columns=tuple(cols))
    ref, ref_all = _sk_scores((forensic, calibrator, fusion), cols, x, meta)
    got, got_all = _np_scores(det, x, meta)
    assert float(np.abs(got - ref).max()) <= TOL
    assert float(np.abs(got_all - ref_all).max()) <= TOL


def _sk_calibrator(cal: mf.Platt) -> Any:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression()
    lr.coef_, lr.intercept_ = np.array([[cal.slope]]), np.array([cal.intercept])
    lr.classes_, lr.n_features_in_ = np.array([0, 1]), 1
    return lr


def _sk_pipeline_fit(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()),
                     ("logreg", LogisticRegression(C=1.0, max_iter=5000))]).fit(x, y)


def test_export_matches_sklearn_on_random_data() -> None:
    """Without the shared clips: fitted pipelines and their exports agree to 1e-9."""
    pytest.importorskip("sklearn", reason="scikit-learn (the [train] extra) is not installed")
    from veriframe.detect.lab.training import linear_from_sklearn

    rng = np.random.default_rng(0)
    x = rng.normal(3, 5, (200, 6)) * np.array([1, 10, 0.1, 1, 100, 1e-3])
    y = (x[:, 0] + rng.normal(0, 2, 200) > 3).astype(int)
    pipe = _sk_pipeline_fit(x, y)
    lin = linear_from_sklearn(pipe)
    assert np.abs(_sigmoid(lin.decision(x)) - pipe.predict_proba(x)[:, 1]).max() <= TOL
    assert np.abs(lin.decision(x) - pipe.decision_function(x)).max() <= TOL


# ------------------------------------------------------------------ the verify path stays light
def test_detection_path_imports_no_training_stack(small_clip: Path) -> None:
    code = (
        "import sys\n"
        "import veriframe.detect\n"
        "from veriframe.detect import Detector\n"
        f"check = Detector.load('default').score_file({str(small_clip)!r})\n"
        "assert check.state == 'scored'\n"
        "heavy = ('sklearn', 'skops', 'scipy.stats', 'torch')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy[:2] + heavy[3:]"
        " or m == 'scipy.stats' or m.startswith('scipy.stats.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout
