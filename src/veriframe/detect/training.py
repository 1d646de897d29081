"""Training and evaluation of detectors, always grouped by source repository.

``train`` fits the forensic model, its calibrator (on out-of-fold scores) and the metadata
fusion; ``evaluate`` runs leave-one-source-out cross-validation of that recipe (every fold
retrains from scratch, the held-out source never seen) and reports AUC with a bootstrap
interval, accuracy at the policy thresholds, expected calibration error and a per-generator
table, for the forensic score alone and for all signals, on the clips as they are and after an
H.264 CRF 28 re-encode.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.detect import features as fx
from veriframe.detect.dataset import (
    Clip,
    ClipFeatures,
    dataset_features,
    load_dataset,
)
from veriframe.detect.model import Detector, _logit
from veriframe.detect.modelfile import Linear, Platt
from veriframe.errors import DetectorError

THRESHOLDS = (0.3, 0.5, 0.7)  # 0.5 plus the policies' review/label thresholds
DEFAULT_C_FORENSIC = 0.1
DEFAULT_TOP_K = 5  # forensic features kept (chosen inside each training set)
TOP_K_CHOICES = (1, 2, 3, 5, 8)  # tried inside each training set when top_k is None
DEFAULT_C_FUSION = 1.0
REENCODE_CRF = 28

Progress = Callable[[int, int, Clip], None]


@dataclass(frozen=True)
class Matrix:
    """Arrays for fitting: clip forensic vectors, metadata vectors, labels, groups."""

    forensic: np.ndarray
    meta: np.ndarray
    y: np.ndarray
    groups: np.ndarray

    @classmethod
    def build(cls, clips: Sequence[Clip], feats: Sequence[ClipFeatures]) -> Matrix:
        """Stack the features of ``clips``."""
        return cls(
            forensic=np.vstack([f.forensic().clip_vector() for f in feats]),
            meta=np.vstack([f.meta for f in feats]),
            y=np.array([c.label for c in clips], dtype=int),
            groups=np.array([c.group for c in clips]),
        )

    def take(self, mask: np.ndarray) -> Matrix:
        """The rows selected by ``mask``."""
        return Matrix(self.forensic[mask], self.meta[mask], self.y[mask], self.groups[mask])

    def stack(self, other: Matrix) -> Matrix:
        """These rows followed by ``other``'s (e.g. the same clips re-encoded: same groups,
        so a grouped split keeps both versions of a clip on one side)."""
        return Matrix(np.vstack([self.forensic, other.forensic]),
                      np.vstack([self.meta, other.meta]),
                      np.concatenate([self.y, other.y]),
                      np.concatenate([self.groups, other.groups]))


def _forensic_estimator(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("scale", StandardScaler()),
        ("logreg", LogisticRegression(C=c, max_iter=5000)),
    ])


def group_weights(y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sample weights that give each class half the total weight and, within a class, every
    source repository the same weight (so a source with 17 clips does not outvote one with 2:
    the model must find what the sources share, not what the largest one looks like)."""
    y = np.asarray(y)
    groups = np.asarray(groups)
    w = np.ones(len(y), dtype=np.float64)
    for label in np.unique(y):
        cells = np.unique(groups[y == label])
        for g in cells:
            sel = (groups == g) & (y == label)
            w[sel] = 1.0 / sel.sum() / len(cells)
    return w / w.mean()


def _fit_forensic(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float) -> Any:
    return _forensic_estimator(c).fit(x, y, logreg__sample_weight=group_weights(y, groups))


def linear_from_sklearn(est: Any) -> Linear:
    """Export ``Pipeline(StandardScaler, LogisticRegression)`` (binary) as a :class:`Linear`.

    :meth:`Linear.decision` then equals the pipeline's ``decision_function``.
    """
    scaler = est.steps[0][1]
    lr = est.steps[-1][1]
    coef = np.asarray(lr.coef_, dtype=np.float64)
    if coef.shape[0] != 1:
        raise DetectorError("detector.bad-model", "only binary logistic regressions export",
                            "train with two classes")
    return Linear(mean=np.array(scaler.mean_, dtype=np.float64),
                  scale=np.array(scaler.scale_, dtype=np.float64),
                  coef=coef[0].copy(), intercept=float(np.asarray(lr.intercept_)[0]))


def platt_from_sklearn(lr: Any) -> Platt:
    """Export a 1-D ``LogisticRegression`` calibrator as a :class:`Platt` calibration."""
    return Platt(slope=float(np.asarray(lr.coef_)[0, 0]),
                 intercept=float(np.asarray(lr.intercept_)[0]))


def matrix_digest(m: Matrix) -> dict[str, Any]:
    """SHA-256 of the training rows (features, metadata, labels, groups), for the model file."""
    h = hashlib.sha256()
    for arr in (m.forensic, m.meta, m.y.astype(np.int64)):
        a = np.ascontiguousarray(arr, dtype=np.float64 if arr is not m.y else np.int64)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update("\n".join(str(g) for g in m.groups).encode())
    return {"sha256": h.hexdigest(), "n_rows": len(m.y),
            "method": "sha256 of the training matrix (features, metadata, labels, groups)"}


def clips_digest(clips: Sequence[Clip], root: Path | None = None) -> dict[str, Any]:
    """SHA-256 over the training clips: each file's bytes, label and source, in path order.

    ``root`` makes the recorded paths relative (to the dataset folder).
    """
    rows = []
    for c in clips:
        fh = hashlib.sha256()
        with c.path.open("rb") as f:
            while block := f.read(1 << 20):
                fh.update(block)
        rel = c.path.relative_to(root) if root is not None else c.path
        rows.append(f"{rel.as_posix()}\t{c.label}\t{c.group}\t{fh.hexdigest()}")
    rows.sort()
    return {"sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest(),
            "n_clips": len(clips),
            "method": "sha256 of the sorted lines 'path<TAB>label<TAB>source<TAB>sha256(file)'"}


def fit(
    m: Matrix,
    *,
    c_forensic: float = DEFAULT_C_FORENSIC,
    c_fusion: float = DEFAULT_C_FUSION,
    top_k: int | None = DEFAULT_TOP_K,
    augment: Matrix | None = None,
    name: str = "custom",
    info: dict[str, Any] | None = None,
    training_data: dict[str, Any] | None = None,
) -> Detector:
    """Fit a :class:`Detector` on ``m`` (calibrator and fusion on grouped out-of-fold scores).

    The forensic model keeps the ``top_k`` features that rank best one at a time in a
    leave-one-source-out loop over ``m`` (:func:`rank_features`); ``top_k=None`` chooses how
    many among :data:`TOP_K_CHOICES` by nested out-of-fold AUC. The calibrator is fitted on
    *nested* out-of-fold scores: for every source of ``m`` the ranking and the model are
    redone without it, so the calibrator sees scores made the way the shipped model will make
    them on a source it has never seen. An outer leave-one-source-out evaluation of
    :func:`fit` therefore stays honest.

    ``augment`` (the same clips re-encoded, rows aligned with ``m``) is added to the training
    rows: every step then also learns from compressed copies (compression augmentation).

    The fitted scikit-learn estimators are exported to plain arrays
    (:func:`linear_from_sklearn`, :func:`platt_from_sklearn`): the returned detector scores
    with NumPy alone. ``training_data`` is recorded in the model file (default: a digest of
    ``m``, :func:`matrix_digest`).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if set(np.unique(m.y)) != {0, 1}:
        raise DetectorError("detector.bad-dataset", "training needs real and synthetic clips",
                            "add clips of the missing class")
    if augment is not None:
        m = m.stack(augment)
    groups = np.unique(m.groups)
    choices = TOP_K_CHOICES if top_k is None else (top_k,)
    order, ranking = rank_features(m)
    nested = _nested_oof(m, choices, c_forensic=c_forensic)
    if nested is None:  # too few sources for any out-of-source estimate
        k = min(choices[-1], len(order))
        cols = sorted(order[:k])
        est = _fit_forensic(m.forensic[:, cols], m.y, m.groups, c_forensic)
        raw_oof, oof_auc = est.predict_proba(m.forensic[:, cols])[:, 1], float("nan")
    else:
        aucs = {kk: auc(m.y, p) for kk, p in nested.items()}
        k = max(choices, key=lambda kk: (round(aucs[kk], 4), -kk))  # ties: fewer features
        raw_oof, oof_auc = nested[k], round(aucs[k], 4)
        cols = sorted(order[:k])
    forensic = _fit_forensic(m.forensic[:, cols], m.y, m.groups, c_forensic)
    calibrator = LogisticRegression(C=1.0, max_iter=1000).fit(_logit(raw_oof)[:, None], m.y)
    if float(calibrator.coef_[0, 0]) <= 0.0:
        # Out of source, the forensic score ranks the wrong way or not at all: it carries no
        # transferable evidence, so it must not count. Flatten it to the base rate.
        calibrator.coef_[:] = 0.0
        base = float(np.clip(m.y.mean(), 1e-3, 1 - 1e-3))
        calibrator.intercept_[:] = np.log(base / (1 - base))
    p_oof = calibrator.predict_proba(_logit(raw_oof)[:, None])[:, 1]
    fusion = Pipeline([
        ("scale", StandardScaler()),
        ("logreg", LogisticRegression(C=c_fusion, max_iter=5000)),
    ]).fit(np.column_stack([_logit(p_oof), m.meta]), m.y)
    names = [fx.CLIP_FEATURES[c] for c in cols] if m.forensic.shape[1] == len(
        fx.CLIP_FEATURES) else [str(c) for c in cols]
    meta_info = dict(info or {})
    meta_info.update({"c_forensic": c_forensic, "c_fusion": c_fusion, "top_k": top_k,
                      "augmented": augment is not None,
                      "chosen_k": len(cols),
                      "forensic_family": f"top {len(cols)}: {', '.join(names)}",
                      "forensic_features": names,
                      "feature_ranking": ranking,
                      "forensic_nested_oof_auc": oof_auc,
                      "calibrator_slope": round(float(calibrator.coef_[0, 0]), 4),
                      "n_clips": len(m.y) // (2 if augment is not None else 1),
                      "n_synthetic": int(m.y.sum()) // (2 if augment is not None else 1),
                      "n_sources": len(groups)})
    return Detector(forensic=linear_from_sklearn(forensic),
                    calibration=platt_from_sklearn(calibrator),
                    fusion=linear_from_sklearn(fusion), columns=tuple(cols), name=name,
                    info=meta_info, training_data=training_data or matrix_digest(m))


def _nested_oof(m: Matrix, choices: Sequence[int], *, c_forensic: float,
                ) -> dict[int, np.ndarray] | None:
    """Raw forensic probabilities of every clip from a model that never saw its source, with
    the feature ranking redone without that source, for each number of features in
    ``choices``. None with fewer than 3 sources."""
    if len(np.unique(m.groups)) < 3:
        return None
    out = {k: np.full(len(m.y), 0.5) for k in choices}
    for g in np.unique(m.groups):
        test = m.groups == g
        train = ~test
        sub = m.take(train)
        if len(np.unique(sub.y)) < 2:
            continue  # no model can be fitted without this source: neutral 0.5
        order, _ = rank_features(sub)
        for k in choices:
            cols = sorted(order[:k])
            est = _fit_forensic(sub.forensic[:, cols], sub.y, sub.groups, c_forensic)
            out[k][test] = est.predict_proba(m.forensic[test][:, cols])[:, 1]
    return out


def _univariate_logreg(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, *, c: float = 1.0, iters: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One weighted 1-D logistic regression per column of ``x`` (n, p), all at once.

    Each column is standardised, then ``0.5 * coef**2 + c * sum(w * log-loss)`` is minimised
    by Newton's method (intercept unpenalised): the same model as scikit-learn's
    ``StandardScaler`` + ``LogisticRegression(C=c)`` with ``sample_weight=w``, without a
    Python-level fit per column. Returns ``(coef, intercept, mean, scale)`` per column.
    """
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    t = (np.asarray(y) == 1).astype(np.float64)[:, None]
    cw = c * np.asarray(w, dtype=np.float64)[:, None]
    coef = np.zeros(x.shape[1])
    icpt = np.zeros(x.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(z * coef + icpt, -50.0, 50.0)))
        r = cw * (p - t)
        g_a = (r * z).sum(axis=0) + coef
        g_b = r.sum(axis=0)
        h = cw * p * (1.0 - p)
        h_aa = (h * z * z).sum(axis=0) + 1.0
        h_ab = (h * z).sum(axis=0)
        h_bb = h.sum(axis=0) + 1e-12
        det = h_aa * h_bb - h_ab * h_ab
        d_a = (h_bb * g_a - h_ab * g_b) / det
        d_b = (h_aa * g_b - h_ab * g_a) / det
        coef -= d_a
        icpt -= d_b
        if max(float(np.abs(d_a).max()), float(np.abs(d_b).max())) < 1e-10:
            break
    return coef, icpt, mean, scale


def single_feature_oof_auc(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Grouped out-of-fold AUC of each column of ``x`` on its own: in each fold a weighted 1-D
    logistic regression (:func:`group_weights`, C=1) learns the feature's direction and offset
    on the other sources; the held-out source's scores are pooled into one AUC per column."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape)
    for g in np.unique(groups):
        test = groups == g
        train = ~test
        if len(np.unique(y[train])) < 2:
            continue  # scores stay 0: neutral for this fold
        coef, icpt, mean, scale = _univariate_logreg(
            x[train], y[train], group_weights(y[train], groups[train]))
        out[test] = (x[test] - mean) / scale * coef + icpt
    return np.array([auc(y, out[:, j]) for j in range(x.shape[1])])


def rank_features(m: Matrix) -> tuple[list[int], list[Any]]:
    """Columns of ``m.forensic`` best first by grouped out-of-fold single-feature AUC (ties
    by column order), and the ranking as ``[name, auc]`` pairs. With fewer than 3 sources
    there is no out-of-source estimate: column order, empty ranking."""
    n_cols = m.forensic.shape[1]
    if len(np.unique(m.groups)) < 3:
        return list(range(n_cols)), []
    scores = np.nan_to_num(single_feature_oof_auc(m.forensic, m.y, m.groups), nan=0.0)
    order = sorted(range(n_cols), key=lambda j: (-scores[j], j))
    named = n_cols == len(fx.CLIP_FEATURES)
    ranking = [[fx.CLIP_FEATURES[j] if named else str(j), round(float(scores[j]), 4)]
               for j in order]
    return order, ranking


# ------------------------------------------------------------------------------ metrics
def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC (ties count half); NaN when one class is missing."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    pos = p[y == 1]
    neg = p[y == 0]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def auc_ci(y: np.ndarray, p: np.ndarray, *, n_boot: int = 1000, seed: int = 0,
           ) -> tuple[float, float]:
    """95% percentile bootstrap interval of the AUC (clips resampled within each class)."""
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(y == 1)
    neg = np.flatnonzero(y == 0)
    if pos.size == 0 or neg.size == 0:
        return float("nan"), float("nan")
    vals = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
        vals.append(auc(y[idx], p[idx]))
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return float(lo), float(hi)


def ece(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> float:
    """Expected calibration error with ``bins`` equal-width bins."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = ids == b
        if sel.any():
            total += sel.mean() * abs(float(p[sel].mean()) - float(y[sel].mean()))
    return float(total)


def summarize(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """AUC (+CI), accuracy at each of :data:`THRESHOLDS`, ECE, counts."""
    lo, hi = auc_ci(y, p)
    return {
        "auc": round(auc(y, p), 4),
        "auc_ci95": [round(lo, 4), round(hi, 4)],
        "accuracy": {f"{t:g}": round(float(((p >= t).astype(int) == y).mean()), 4)
                     for t in THRESHOLDS},
        "ece": round(ece(y, p), 4),
        "n": len(y),
        "n_synthetic": int(np.sum(y)),
    }


# ------------------------------------------------------------------------------ evaluation
def loso_predictions(
    m: Matrix,
    *,
    reencoded: Matrix | None = None,
    c_forensic: float = DEFAULT_C_FORENSIC,
    c_fusion: float = DEFAULT_C_FUSION,
    top_k: int | None = DEFAULT_TOP_K,
    chosen: dict[str, list[str]] | None = None,
    augment: Matrix | None = None,
) -> dict[str, np.ndarray]:
    """Leave-one-source-out predictions: forensic and all-signals, as is and re-encoded.

    ``chosen``, when given, receives the forensic features each fold's model kept (keyed by
    the held-out source). ``augment`` (re-encoded copies, rows aligned with ``m``) adds the
    training sources' copies to each fold's training rows (never the held-out source's)."""
    out = {k: np.empty(len(m.y)) for k in ("forensic", "all")}
    if reencoded is not None:
        out.update({k: np.empty(len(m.y)) for k in ("forensic_reenc", "all_reenc")})
    for g in np.unique(m.groups):
        test = m.groups == g
        det = fit(m.take(~test), c_forensic=c_forensic, c_fusion=c_fusion, top_k=top_k,
                  augment=None if augment is None else augment.take(~test))
        if chosen is not None:
            chosen[str(g)] = list(det.info.get("forensic_features", []))
        pf = det.forensic_p(m.forensic[test])
        out["forensic"][test] = pf
        out["all"][test] = 1.0 / (1.0 + np.exp(-det.fused_logit(pf, m.meta[test])))
        if reencoded is not None:
            pr = det.forensic_p(reencoded.forensic[test])
            out["forensic_reenc"][test] = pr
            out["all_reenc"][test] = 1.0 / (1.0 + np.exp(-det.fused_logit(pr,
                                                                            reencoded.meta[test])))
    return out


def _per_generator(clips: Sequence[Clip], preds: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    rows = []
    gens = sorted({(c.generator, c.label) for c in clips}, key=lambda t: (t[1], t[0]))
    for gen, label in gens:
        sel = np.array([c.generator == gen and c.label == label for c in clips])
        row: dict[str, Any] = {"generator": gen, "label": "synthetic" if label else "real",
                               "n": int(sel.sum()),
                               "sources": sorted({c.group for c, s in zip(clips, sel,
                                                                         strict=True) if s})}
        for key, p in preds.items():
            row[f"mean_p_{key}"] = round(float(p[sel].mean()), 3)
            row[f"acc05_{key}"] = round(float(((p[sel] >= 0.5).astype(int) == label).mean()), 3)
        rows.append(row)
    return rows


def evaluate(
    *,
    data: str | os.PathLike[str],
    model: Detector | None = None,
    cv: bool = True,
    reencode: bool = True,
    cache_dir: Path | None = None,
    include_gif: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate on ``data``: leave-one-source-out CV of the recipe (``cv=True``; the model's
    hyper-parameters are reused) or scoring with the fixed ``model`` (``cv=False``).

    Returns a JSON-ready report: ``summary`` (forensic / all signals, as is and re-encoded),
    ``per_generator`` and ``per_source`` tables, and the per-clip predictions.
    """
    clips = load_dataset(data, include_gif=include_gif)
    feats = dataset_features(clips, cache_dir=cache_dir, progress=progress)
    m = Matrix.build(clips, feats)
    info = model.info if model is not None else {}
    augmented = bool(info.get("augment_crf")) and cv
    re_all = None
    if reencode or augmented:
        re_feats = dataset_features(clips, cache_dir=cache_dir, reencode_crf=REENCODE_CRF,
                                    progress=progress)
        re_all = Matrix.build(clips, re_feats)
    re_m = re_all if reencode else None
    c_f = float(info.get("c_forensic", DEFAULT_C_FORENSIC))
    c_u = float(info.get("c_fusion", DEFAULT_C_FUSION))
    k_raw = info.get("top_k", DEFAULT_TOP_K)
    top_k = None if k_raw is None else int(k_raw)
    fold_features: dict[str, list[str]] = {}
    if cv:
        preds = loso_predictions(m, reencoded=re_m, c_forensic=c_f, c_fusion=c_u, top_k=top_k,
                                 chosen=fold_features, augment=re_all if augmented else None)
    else:
        if model is None:
            raise DetectorError("detector.no-model", "scoring without CV needs a model",
                                "pass --model or use cross-validation")
        preds = {"forensic": model.forensic_p(m.forensic)}
        preds["all"] = 1.0 / (1.0 + np.exp(-model.fused_logit(preds["forensic"], m.meta)))
        if re_m is not None:
            preds["forensic_reenc"] = model.forensic_p(re_m.forensic)
            preds["all_reenc"] = 1.0 / (1.0 + np.exp(-model.fused_logit(
                preds["forensic_reenc"], re_m.meta)))
    summary = {key: summarize(m.y, p) for key, p in preds.items()}
    per_source = []
    for g in sorted(set(m.groups.tolist())):
        sel = m.groups == g
        per_source.append({"source": g, "n": int(sel.sum()), "n_synthetic": int(m.y[sel].sum()),
                           **{f"mean_p_{k}": round(float(p[sel].mean()), 3)
                              for k, p in preds.items()}})
    within_source = []
    for g in sorted(set(m.groups.tolist())):
        sel = m.groups == g
        if len(np.unique(m.y[sel])) == 2:
            within_source.append({"source": g, "n": int(sel.sum()),
                                  "n_synthetic": int(m.y[sel].sum()),
                                  **{f"auc_{k}": round(auc(m.y[sel], p[sel]), 4)
                                     for k, p in preds.items()}})
    return {
        "protocol": "leave-one-source-repository-out" if cv else "fixed model",
        "data": str(data),
        "include_gif": include_gif,
        "reencode": f"H.264 CRF {REENCODE_CRF} (libx264 veryfast)" if reencode else None,
        "summary": summary,
        "per_generator": _per_generator(clips, preds),
        "per_source": per_source,
        "within_source": within_source,
        "predictions": [
            {"file": str(c.path), "label": c.label, "source": c.group, "generator": c.generator,
             **{k: round(float(p[i]), 4) for k, p in preds.items()}}
            for i, c in enumerate(clips)
        ],
        "c_forensic": c_f,
        "c_fusion": c_u,
        "top_k": top_k,
        "augment_crf": REENCODE_CRF if augmented else None,
        "fold_features": fold_features,
    }


def train(
    *,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    name: str | None = None,
    c_forensic: float = DEFAULT_C_FORENSIC,
    c_fusion: float = DEFAULT_C_FUSION,
    top_k: int | None = DEFAULT_TOP_K,
    cache_dir: Path | None = None,
    include_gif: bool = False,
    with_metrics: bool = True,
    reencode: bool = False,
    augment_crf: bool = False,
    progress: Progress | None = None,
) -> Detector:
    """Train a detector on ``data``; with ``out``, write model.json, metrics.json, card.md.

    ``with_metrics`` runs the leave-one-source-out evaluation (``reencode`` adds the CRF 28
    re-encoded pass, which transcodes every clip once and caches it). ``augment_crf`` also
    trains on the CRF 28 re-encodes of the training clips (steadier under recompression,
    somewhat lower on clips as published; see the model card).
    """
    clips = load_dataset(data, include_gif=include_gif)
    feats = dataset_features(clips, cache_dir=cache_dir, progress=progress)
    m = Matrix.build(clips, feats)
    label = name or (Path(out).name if out else "custom")
    info = {
        "trained_on": str(data),
        "trained_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sources": sorted(set(m.groups.tolist())),
        "generators": sorted({c.generator for c in clips if c.label == 1}),
        "feature_version": fx.FEATURE_VERSION,
        "include_gif": include_gif,
        "augment_crf": REENCODE_CRF if augment_crf else None,
    }
    augment = None
    if augment_crf:
        augment = Matrix.build(clips, dataset_features(clips, cache_dir=cache_dir,
                                                       reencode_crf=REENCODE_CRF,
                                                       progress=progress))
    root = Path(data).parent if Path(data).is_file() else Path(data)
    det = fit(m, c_forensic=c_forensic, c_fusion=c_fusion, top_k=top_k, augment=augment,
              name=label, info=info, training_data=clips_digest(clips, root))
    if out is not None:
        folder = Path(out)
        det.save(folder)
        if with_metrics:
            report = evaluate(data=data, model=det, cv=True, reencode=reencode,
                              cache_dir=cache_dir, include_gif=include_gif)
            report.pop("predictions", None)
            metrics = {"model": label, **report}
            from veriframe._atomic import atomic_output

            with atomic_output(folder / "metrics.json") as tmp:
                tmp.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
            with atomic_output(folder / "card.md") as tmp:
                tmp.write_text(model_card(det, metrics, clips), encoding="utf-8")
    return det


def _fmt(s: dict[str, Any]) -> str:
    lo, hi = s["auc_ci95"]
    acc = s["accuracy"]
    return (f"{s['auc']:.3f} [{lo:.3f}, {hi:.3f}] | {acc['0.3']:.3f} | {acc['0.5']:.3f} | "
            f"{acc['0.7']:.3f} | {s['ece']:.3f}")


def metrics_table(summary: dict[str, dict[str, Any]]) -> str:
    """Markdown table of a ``summary`` (forensic / all, as is / re-encoded)."""
    names = {"forensic": "forensic only (pixels)", "all": "all signals (forensic + metadata)",
             "forensic_reenc": "forensic only, after CRF 28 re-encode",
             "all_reenc": "all signals, after CRF 28 re-encode"}
    lines = ["| score | AUC [95% CI] | acc@0.3 | acc@0.5 | acc@0.7 | ECE |",
             "|---|---|---|---|---|---|"]
    for key, label in names.items():
        if key in summary:
            lines.append(f"| {label} | {_fmt(summary[key])} |")
    return "\n".join(lines)


def within_source_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of AUCs inside the sources that hold both classes."""
    keys = [k for k in ("forensic", "all", "forensic_reenc", "all_reenc")
            if rows and f"auc_{k}" in rows[0]]
    lines = ["| source | n | synthetic | " + " | ".join(f"AUC {k}" for k in keys) + " |",
             "|" + "---|" * (3 + len(keys))]
    for r in rows:
        cells = " | ".join(f"{r[f'auc_{k}']:.3f}" for k in keys)
        lines.append(f"| {r['source']} | {r['n']} | {r['n_synthetic']} | {cells} |")
    return "\n".join(lines)


def generator_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown per-generator table (mean p and accuracy at 0.5)."""
    keys = [k for k in ("forensic", "all", "forensic_reenc", "all_reenc")
            if rows and f"mean_p_{k}" in rows[0]]
    head = "| generator | label | n | " + " | ".join(f"p̄ {k} / acc" for k in keys) + " |"
    lines = [head, "|" + "---|" * (3 + len(keys))]
    for r in rows:
        cells = " | ".join(f"{r[f'mean_p_{k}']:.2f} / {r[f'acc05_{k}']:.2f}" for k in keys)
        lines.append(f"| {r['generator']} | {r['label']} | {r['n']} | {cells} |")
    return "\n".join(lines)


def model_card(det: Detector, metrics: dict[str, Any], clips: Sequence[Clip]) -> str:
    """The model card (card.md) for a trained detector and its evaluation."""
    info = det.info
    n_syn = sum(c.label for c in clips)
    summary = metrics["summary"]
    chosen = ", ".join(f"`{n}`" for n in info.get("forensic_features", [])) or "all"
    families = "; ".join(f"{fam}: " + ", ".join(fx.CLIP_FEATURES[c]
                                                 for c in fx.family_columns(fam))
                         for fam in fx.FAMILIES)
    f_auc = float(summary["forensic"]["auc"])
    k_text = (f"{info.get('top_k')} (fixed in advance)" if info.get("top_k") is not None else
              f"k (chosen among {', '.join(str(k) for k in TOP_K_CHOICES)} by nested "
              "leave-one-source-out AUC)")
    aug_text = (f"Trained on the clips and on their H.264 CRF {info['augment_crf']} re-encodes "
                "(compression augmentation)." if info.get("augment_crf") else
                "Trained on the clips as published (no compression augmentation).")
    re_note = ""
    if "forensic_reenc" in summary:
        f_re = float(summary["forensic_reenc"]["auc"])
        re_note = (
            f"\n- After an H.264 CRF 28 re-encode the forensic AUC is {f_re:.2f} "
            f"({f_re - f_auc:+.2f}). The up-sampling grid peaks (`grid*`) are the strongest "
            "single cue on the clips as published and the most fragile: recompression smooths "
            "the high frequencies they live in. The fixed-scale noise cues (`fs_*`) survive "
            "re-encoding much better.")
    if not f_auc >= 0.7:
        forensic_note = (
            f"- The forensic score does **not** generalise across sources here (held-out AUC "
            f"{f_auc:.2f}): pixel features separate the *sources* (camera, codec, resolution, "
            "era) better than real from synthetic, and what is learned on the other sources "
            "does not transfer. Its calibrator slope is "
            f"{info.get('calibrator_slope')} (0 means it was flattened to the base rate because "
            "its out-of-source scores ranked the wrong way). Do not rely on it.")
    else:
        forensic_note = (
            f"- The forensic score (held-out AUC {f_auc:.2f}) rests on {info.get('n_sources')} "
            "sources and a handful of generators; expect lower numbers on new cameras, codecs "
            "and models. Real footage that is clean and sharp at a 256-pixel scale (high-end "
            "cameras, high bitrates, 1080p and up) tends to score higher than low-resolution "
            "or heavily compressed real footage, and synthetic clips that were re-encoded or "
            "down-scaled after generation lose most of the forensic evidence.")
    return f"""# Detector `{det.name}`

Estimates whether a video clip is AI-generated (`p_synthetic` in [0, 1]) and shows the evidence.
Trained {info.get('trained_at', '?')} on `{info.get('trained_on')}` (GIFs
{'included' if info.get('include_gif') else 'left out'}): {len(clips)} clips, {n_syn} synthetic,
{len(clips) - n_syn} real, from {info.get('n_sources')} source repositories.

## Intended use
A *hint* for triage (journalists, moderation queues) on clips that carry no provenance. It is
not proof: decisive evidence is a valid C2PA manifest or a watermark, which dominate the score
when present. Never use the score alone to accuse anyone of fabrication.

## Data and licences
Clips from public repositories' demo assets and test fixtures (the shared `clips/INDEX.csv`):
sources {', '.join(info.get('sources', []))}.
Synthetic generators: {', '.join(info.get('generators', []))}.
Licences are mostly research-only and several real clips come from third-party datasets
(DAVIS, SA-V, UCF101, Kinetics); the clips are **not** redistributed with this model, only the
fitted coefficients (logistic regressions). Check the source licences before any commercial use.

## Model
- forensic: {len(det.columns) or len(det.feature_names)} of {len(det.feature_names)} candidate
  pixel features (feature version {fx.FEATURE_VERSION}; per-frame values averaged over up to
  {fx.MAX_FRAMES} sampled frames, {fx.CROPS_PER_FRAME} native crops of {fx.CROP} px plus one
  copy of the frame at a {fx.FIXED_SIDE}-px short side; some pooled over the clip): {chosen}.
  The candidates are ranked one at a time by leave-one-source-out AUC *inside the training
  data* and the best {k_text} are kept, so held-out sources never influence the choice.
  Standardised logistic regression (C={info.get('c_forensic')}) with every source weighted
  equally within its class, Platt-calibrated (slope {info.get('calibrator_slope')}) on nested
  out-of-fold scores, where ranking and fit are redone without each source in turn (nested
  out-of-fold AUC {info.get('forensic_nested_oof_auc')}). {aug_text}
- candidate features by family: {families}.
- metadata fusion: logistic regression (C={info.get('c_fusion')}) on the forensic log-odds and
  {', '.join(det.metadata_names)}; generation-tool tags add a fixed log-odds of 4 (a prior: no
  training clip carries them).
- provenance bounds (not learned): a valid C2PA manifest declaring an AI digital source type,
  one recovered through the veriframe watermark, or a known generator mark at p ≤ 1e-6 sets
  `p ≥ 0.99`; a trusted signer's capture claim sets `p ≤ 0.10`.

## Metrics ({metrics['protocol']}, every fold retrained without the held-out source)
{metrics_table(summary)}

AUC intervals: 1000 bootstrap resamples of clips within each class (clips of one source are
correlated, so the true uncertainty is wider). ECE: 10 equal-width bins.

Every fit, feature choice and calibration happens inside the training folds, but the candidate
features of version {fx.FEATURE_VERSION} were designed while looking at leave-one-source-out
results on the shared clip set: on that set the numbers above are somewhat optimistic.

Most sources hold only real or only synthetic clips, so the pooled AUC above also asks every
fold's model to put its scores on the same scale as the other folds'. Inside the sources that
hold both classes (each scored by the one fold model that never saw that source), the ranking
alone is measured:

{within_source_table(metrics.get('within_source', []))}

### Per generator (mean p_synthetic / accuracy at 0.5)
{generator_table(metrics['per_generator'])}

## Known failure modes
{forensic_note}{re_note}
- Metadata cues (4k+1 frame counts, 8-16 fps, known sizes, no audio) carry most of the
  all-signals score. They are trivially removed (re-encode to 30 fps, trim) or faked, and real
  clips prepared for a model (e.g. a 1280x704 121-frame 24 fps input) trip them.
- Synthetic clips here come from a dozen open models' showcase assets; closed models, newer
  open models, heavy post-processing and screen recordings are out of distribution.
- Calibration follows the training mix ({n_syn}/{len(clips)} synthetic); at another base rate
  the probabilities shift.
"""


__all__ = [
    "REENCODE_CRF",
    "THRESHOLDS",
    "Matrix",
    "auc",
    "auc_ci",
    "clips_digest",
    "ece",
    "evaluate",
    "fit",
    "generator_table",
    "group_weights",
    "linear_from_sklearn",
    "loso_predictions",
    "matrix_digest",
    "metrics_table",
    "model_card",
    "platt_from_sklearn",
    "rank_features",
    "single_feature_oof_auc",
    "summarize",
    "train",
    "within_source_table",
]
