"""Training detectors for the platform: scikit-learn fits, exported as plain arrays.

The recipe (:func:`fit`), always grouped by source repository:

1. **Pixel model, trained only on platform copies.** Every training clip is transcoded
   :data:`AUGMENT_COPIES` times the way platforms treat uploads
   (:func:`veriframe.detect.lab.augment.augment_specs`: H.264/H.265 CRF 23-32, 480-720 px wide,
   new frame rate, crop, cut, metadata dropped); the pixel model sees those copies and never
   the clips as published, so its score means the same before and after a re-upload.
   Standardised logistic regression; every source weighs the same within its class.
2. **Feature choice and regularisation inside the training data.** The candidate features
   are ranked one at a time by leave-one-source-out AUC; how many to keep (:data:`K_GRID`)
   and the regularisation (:data:`C_GRID`) are chosen by an inner grouped cross-validation
   (:data:`INNER_FOLDS` folds of whole sources) on the platform copies. An outer evaluation
   that holds a source out therefore never lets it influence any choice.
3. **Calibration** (Platt) on the inner out-of-fold scores of the published clips and their
   copies, so the probability means the same on both.
4. **Metadata fusion**: logistic regression on the calibrated forensic log-odds and the
   metadata features, fitted on the same out-of-fold scores (published clips and copies: the
   copies teach it that metadata is often gone).
   Calibration and fusion weigh every class and source equally; the prior log-odds of
   ``Recipe.prior`` (default: the training data's synthetic share) is then added once, so the
   probabilities do not drift with the class mix of a training set (in a leave-one-source-out
   evaluation that drift alone ranks held-out synthetic sources low).
5. **Abstention**: an out-of-distribution model (mean, scale and a shrunk whitening of every
   feature over the training clips and copies) whose threshold is the
   :data:`OOD_QUANTILE` quantile of the inner *out-of-fold* distances (how far clips of
   unseen sources fall), plus the fixed :data:`BAND` of uncertain scores and the sample
   checks of :class:`~veriframe.detect.modelfile.Abstain`.

Every fitted scikit-learn model is exported to :mod:`veriframe.detect.modelfile` arrays: the
result scores with NumPy alone. Evaluation lives in :mod:`veriframe.detect.lab.evaluation`;
the user-level ``train`` and ``evaluate`` in :mod:`veriframe.detect.lab.workflow`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.detect import features as fx
from veriframe.detect.lab import augment
from veriframe.detect.lab.dataset import (
    Clip,
    ClipFeatures,
    dataset_features,
    family_groups,
    load_dataset,
)
from veriframe.detect.lab.metrics import auc
from veriframe.detect.model import Detector, _logit
from veriframe.detect.modelfile import Abstain, Linear, Ood, Platt
from veriframe.errors import DetectorError

AUGMENT_COPIES = 6  # platform copies of every training clip
# Feature families the pixel model may use. The temporal families (D3-style acceleration,
# block-matching flow, temporal residual correlation) are computed and reported but left out:
# on the design sources they ranked held-out clips at or below chance (they follow how densely
# a clip is sampled and what moves in it, not how it was made). See the model card.
CANDIDATE_FAMILIES: tuple[str, ...] = (
    "fixed_scale_noise", "noise_residual", "sharpness", "cross_channel", "spectrum",
    "grid_peaks",
)
K_GRID = (5, 10, 20, 0)  # features kept (0: all), chosen inside the training data
C_GRID = (0.01, 0.1, 1.0)  # inverse L2 strength, chosen inside the training data
INNER_FOLDS = 5
C_FUSION = 1.0
BAND = (0.35, 0.65)  # uncertain band of the calibrated score (fixed in advance, not tuned)
OOD_SHRINK = 0.3  # shrinkage of the feature correlation towards the identity
OOD_QUANTILE = 0.99
MIN_DISTINCT_FRAMES = 6
MIN_SIDE = 128
MAX_FLAT_FRACTION = 0.6  # camera clips of the training set reach 0.52 (dark stages, walls)

Progress = Callable[[int, int, Clip], None]


# ------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class View:
    """One version of every clip (as published, normalised, or one platform copy): clip
    vectors, metadata vectors and sample quality rows, aligned with the clips."""

    x: np.ndarray
    meta: np.ndarray
    quality: np.ndarray

    @classmethod
    def build(cls, feats: Sequence[ClipFeatures]) -> View:
        """Stack the features of each clip."""
        return cls(x=np.vstack([f.forensic().clip_vector() for f in feats]),
                   meta=np.vstack([f.meta for f in feats]),
                   quality=np.vstack([f.quality for f in feats]))

    def take(self, idx: np.ndarray) -> View:
        """The rows ``idx`` (indices or a mask)."""
        return View(self.x[idx], self.meta[idx], self.quality[idx])


@dataclass(frozen=True)
class Dataset:
    """Labelled clips with the views training and evaluation need."""

    clips: tuple[Clip, ...]
    y: np.ndarray
    groups: np.ndarray  # source repository
    family_groups: np.ndarray  # generator families kept together (see dataset.family_groups)
    orig: View
    augmented: tuple[View, ...] = ()
    normalised: View | None = None

    def take(self, idx: np.ndarray) -> Dataset:
        """The clips ``idx`` (indices or a mask) with every view."""
        sel = np.arange(len(self.y))[idx]
        return Dataset(clips=tuple(self.clips[i] for i in sel), y=self.y[sel],
                       groups=self.groups[sel], family_groups=self.family_groups[sel],
                       orig=self.orig.take(sel),
                       augmented=tuple(v.take(sel) for v in self.augmented),
                       normalised=None if self.normalised is None else self.normalised.take(sel))

    @classmethod
    def from_clips(cls, clips: Sequence[Clip], *, cache_dir: Path | None = None,
                   copies: int = AUGMENT_COPIES, normalised: bool = True,
                   progress: Progress | None = None) -> Dataset:
        """Featurise ``clips``: as published, ``copies`` platform copies each, and (with
        ``normalised``) the evaluation's normalised copy. Transcodes and features are cached
        under ``cache_dir``."""
        from veriframe.media import probe

        orig = View.build(dataset_features(clips, cache_dir=cache_dir, progress=progress))
        aug: list[View] = []
        if copies:
            durations = {c.path: probe(c.path).duration for c in clips}
            plans = {c.path: augment.augment_specs(c.path.name, copies,
                                                   duration=durations[c.path]) for c in clips}
            for k in range(copies):
                aug.append(View.build(dataset_features(
                    clips, cache_dir=cache_dir, progress=progress,
                    transform=_nth_plan(plans, k))))
        norm = None
        if normalised:
            norm = View.build(dataset_features(clips, cache_dir=cache_dir, progress=progress,
                                               transform=augment.NORMALISE))
        return cls(clips=tuple(clips), y=np.array([c.label for c in clips], dtype=int),
                   groups=np.array([c.group for c in clips]),
                   family_groups=np.array(family_groups(clips)), orig=orig,
                   augmented=tuple(aug), normalised=norm)

    @classmethod
    def load(cls, data: str | Path, *, include_gif: bool = False, **kw: Any) -> Dataset:
        """:func:`~veriframe.detect.lab.dataset.load_dataset` then :meth:`from_clips`."""
        return cls.from_clips(load_dataset(data, include_gif=include_gif), **kw)


def _nth_plan(plans: dict[Path, list[augment.TranscodeSpec]], k: int,
              ) -> Callable[[Clip], augment.TranscodeSpec]:
    def spec(clip: Clip) -> augment.TranscodeSpec:
        return plans[clip.path][k]

    return spec


# ------------------------------------------------------------------------------ helpers
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


def _forensic_estimator(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("scale", StandardScaler()),
        ("logreg", LogisticRegression(C=c, max_iter=5000)),
    ])


def _fit_forensic(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float,
                  weights: np.ndarray | None = None) -> Any:
    w = group_weights(y, groups) if weights is None else weights
    return _forensic_estimator(c).fit(x, y, logreg__sample_weight=w)


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


def matrix_digest(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
    """SHA-256 of training rows (features, labels, groups), when there are no files."""
    h = hashlib.sha256()
    for arr in (np.ascontiguousarray(x, dtype=np.float64),
                np.ascontiguousarray(y, dtype=np.int64)):
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    h.update("\n".join(str(g) for g in groups).encode())
    return {"sha256": h.hexdigest(), "n_rows": len(y),
            "method": "sha256 of the training matrix (features, labels, groups)"}


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


def _fast_auc_columns(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """AUC of every column of ``s`` (ties count half), by ranks."""
    from scipy.stats import rankdata

    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return np.full(s.shape[1], np.nan)
    r = rankdata(s, axis=0)
    return np.asarray((r[pos].sum(axis=0) - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def single_feature_oof_auc(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                           weights: np.ndarray | None = None) -> np.ndarray:
    """Grouped out-of-fold AUC of each column of ``x`` on its own: in each fold a weighted 1-D
    logistic regression (:func:`group_weights`, C=1) learns the feature's direction and offset
    on the other sources; the held-out source's scores are pooled into one AUC per column."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y)
    groups = np.asarray(groups)
    out = np.zeros(x.shape)
    for g in np.unique(groups):
        test = groups == g
        train = ~test
        if len(np.unique(y[train])) < 2:
            continue  # scores stay 0: neutral for this fold
        w = group_weights(y[train], groups[train]) if weights is None else weights[train]
        coef, icpt, mean, scale = _univariate_logreg(x[train], y[train], w)
        out[test] = (x[test] - mean) / scale * coef + icpt
    return _fast_auc_columns(y, out)


def rank_features(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                  weights: np.ndarray | None = None) -> tuple[list[int], list[Any]]:
    """Columns of ``x`` best first by grouped out-of-fold single-feature AUC (ties by column
    order), and the ranking as ``[name, auc]`` pairs. With fewer than 3 sources there is no
    out-of-source estimate: column order, empty ranking."""
    n_cols = x.shape[1]
    if len(np.unique(groups)) < 3:
        return list(range(n_cols)), []
    scores = np.nan_to_num(single_feature_oof_auc(x, y, groups, weights), nan=0.0)
    order = sorted(range(n_cols), key=lambda j: (-scores[j], j))
    named = n_cols == len(fx.CLIP_FEATURES)
    ranking = [[fx.CLIP_FEATURES[j] if named else str(j), round(float(scores[j]), 4)]
               for j in order]
    return order, ranking


def grouped_folds(groups: np.ndarray, n_folds: int) -> np.ndarray:
    """Fold number of every row: whole groups, largest first into the smallest fold."""
    names, counts = np.unique(groups, return_counts=True)
    order = sorted(range(len(names)), key=lambda i: (-counts[i], str(names[i])))
    sizes = [0] * n_folds
    fold_of: dict[Any, int] = {}
    for i in order:
        f = min(range(n_folds), key=lambda j: (sizes[j], j))
        fold_of[names[i]] = f
        sizes[f] += int(counts[i])
    return np.array([fold_of[g] for g in groups])


def fit_ood(x: np.ndarray, columns: Sequence[int], *, shrink: float = OOD_SHRINK) -> Ood:
    """An out-of-distribution model of the rows ``x`` over ``columns`` (threshold still to be
    set: 1.0)."""
    x = x[:, list(columns)]
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    corr = np.cov(z, rowvar=False) if len(z) > 1 else np.eye(x.shape[1])
    corr = (1.0 - shrink) * np.atleast_2d(corr) + shrink * np.eye(x.shape[1])
    vals, vecs = np.linalg.eigh(corr)
    whiten = (vecs / np.sqrt(np.maximum(vals, 1e-6))).T
    return Ood(columns=tuple(int(c) for c in columns), mean=mean, scale=scale, whiten=whiten,
               threshold=1.0)


def candidate_columns(width: int, families: Sequence[str] | None) -> list[int]:
    """Clip-vector columns of the feature ``families`` (every column when None, or when the
    vectors are not :data:`~veriframe.detect.features.CLIP_FEATURES`)."""
    if families is None or width != len(fx.CLIP_FEATURES):
        return list(range(width))
    return sorted({c for fam in families for c in fx.family_columns(fam)})


def _candidate_order(x: np.ndarray, y: np.ndarray, groups: np.ndarray, w: np.ndarray,
                     candidates: Sequence[int]) -> tuple[list[int], list[Any]]:
    """:func:`rank_features` over the ``candidates`` columns, as clip-vector columns."""
    cand = list(candidates)
    order, ranking = rank_features(x[:, cand], y, groups, w)
    names = [fx.CLIP_FEATURES[c] if x.shape[1] == len(fx.CLIP_FEATURES) else str(c)
             for c in cand]
    return [cand[i] for i in order], [[names[i], a] for i, (_n, a) in zip(order, ranking,
                                                                           strict=False)]


@dataclass(frozen=True)
class Recipe:
    """The hyper-parameter grid and fixed settings of :func:`fit`."""

    k_grid: tuple[int, ...] = K_GRID
    c_grid: tuple[float, ...] = C_GRID
    families: tuple[str, ...] | None = CANDIDATE_FAMILIES
    inner_folds: int = INNER_FOLDS
    c_fusion: float = C_FUSION
    band: tuple[float, float] = BAND
    ood_quantile: float = OOD_QUANTILE
    min_distinct_frames: int = MIN_DISTINCT_FRAMES
    min_side: int = MIN_SIDE
    max_flat_fraction: float = MAX_FLAT_FRACTION
    prior: float | None = None  # synthetic share the probabilities assume (None: the data's)
    extra: dict[str, Any] = field(default_factory=dict)


def _pixel_rows(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                      np.ndarray]:
    """Rows the pixel model learns from: the platform copies (the clips themselves when
    there are none), with labels, groups, weights and the clip index of each row."""
    views = ds.augmented or (ds.orig,)
    k = len(views)
    n = len(ds.y)
    x = np.vstack([v.x for v in views])
    w = np.tile(group_weights(ds.y, ds.groups), k) / k
    return x, np.tile(ds.y, k), np.tile(ds.groups, k), w, np.tile(np.arange(n), k)


def _calibration_rows(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip vectors, metadata and labels of the published clips and every copy."""
    views = (ds.orig, *ds.augmented)
    return (np.vstack([v.x for v in views]), np.vstack([v.meta for v in views]),
            np.tile(ds.y, len(views)))


def fit(
    ds: Dataset,
    *,
    recipe: Recipe | None = None,
    name: str = "custom",
    info: dict[str, Any] | None = None,
    training_data: dict[str, Any] | None = None,
) -> Detector:
    """Fit a :class:`Detector` on ``ds`` with the recipe of this module (see the module doc).

    The fitted scikit-learn estimators are exported to plain arrays
    (:func:`linear_from_sklearn`, :func:`platt_from_sklearn`): the returned detector scores
    with NumPy alone. ``training_data`` is recorded in the model file (default: a digest of
    the training matrix).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    r = recipe or Recipe()
    if set(np.unique(ds.y)) != {0, 1}:
        raise DetectorError("detector.bad-dataset", "training needs real and synthetic clips",
                            "add clips of the missing class")
    xp, yp, gp, wp, _clip_of = _pixel_rows(ds)
    n_groups = len(np.unique(ds.groups))
    configs = [(k, c) for k in r.k_grid for c in r.c_grid]
    xc, meta_c, yc = _calibration_rows(ds)
    n_views = len(xc) // len(ds.y)
    candidates = candidate_columns(xp.shape[1], r.families)
    inner = _inner_cv(ds, r, configs, candidates) if n_groups >= 3 else None
    if inner is None:  # too few sources for an out-of-source estimate
        k, c = r.k_grid[-1], 0.1
        order, ranking = list(candidates), list[Any]()
        oof_raw = None
        ood_threshold = 1.5
        chosen_auc = float("nan")
    else:
        (k, c), oof_raw, dists, chosen_auc, _config_aucs = inner
        order, ranking = _candidate_order(xp, yp, gp, wp, candidates)
        ood_threshold = float(np.quantile(dists, r.ood_quantile))
    cols = sorted(order[:k] if k else order)
    forensic = _fit_forensic(xp[:, cols], yp, gp, c, wp)
    if oof_raw is None:
        oof_raw = forensic.predict_proba(xc[:, cols])[:, 1]
    # Calibration and fusion learn with every class (and source) weighted equally, then the
    # prior log-odds is added once: the score does not drift with how many synthetic clips a
    # training set happens to hold (which would also bias any leave-one-source-out number).
    prior = float(np.clip(r.prior if r.prior is not None else ds.y.mean(), 1e-3, 1 - 1e-3))
    prior_logit = math.log(prior / (1 - prior))
    wc = np.tile(group_weights(ds.y, ds.groups), n_views)
    calibrator = LogisticRegression(C=1.0, max_iter=1000).fit(
        _logit(oof_raw)[:, None], yc, sample_weight=wc)
    if float(calibrator.coef_[0, 0]) <= 0.0:
        # Out of source, the forensic score ranks the wrong way or not at all: it carries no
        # transferable evidence, so it must not count. Flatten it to the prior.
        calibrator.coef_[:] = 0.0
        calibrator.intercept_[:] = 0.0
    calibrator.intercept_[:] += prior_logit
    p_oof = calibrator.predict_proba(_logit(oof_raw)[:, None])[:, 1]
    fusion = Pipeline([
        ("scale", StandardScaler()),
        ("logreg", LogisticRegression(C=r.c_fusion, max_iter=5000)),
    ]).fit(np.column_stack([_logit(p_oof), meta_c]), yc, logreg__sample_weight=wc)
    fusion.steps[-1][1].intercept_[:] += prior_logit
    ood = replace(fit_ood(xc, candidates), threshold=ood_threshold)
    names = [fx.CLIP_FEATURES[i] for i in cols] if xp.shape[1] == len(fx.CLIP_FEATURES) else [
        str(i) for i in cols]
    meta_info = dict(info or {})
    meta_info.update({
        "recipe": {"k_grid": list(r.k_grid), "c_grid": list(r.c_grid),
                   "families": None if r.families is None else list(r.families),
                   "inner_folds": r.inner_folds, "c_fusion": r.c_fusion,
                   "augment_copies": len(ds.augmented), **r.extra},
        "chosen_k": len(cols),
        "chosen_c": c,
        "inner_oof_auc": None if math.isnan(chosen_auc) else round(chosen_auc, 4),
        "inner_config_auc": (None if inner is None else
                             {f"k={kk or 'all'},C={cc:g}": round(v, 4)
                              for (kk, cc), v in inner[4].items()}),
        "forensic_features": names,
        "feature_ranking": ranking,
        "calibrator_slope": round(float(calibrator.coef_[0, 0]), 4),
        "prior": round(prior, 4),
        "n_clips": len(ds.y),
        "n_synthetic": int(ds.y.sum()),
        "n_sources": n_groups,
        "n_rows_pixel_model": len(yp),
        "n_rows_calibration": len(yc),
        "views_in_calibration": n_views,
    })
    abstain = Abstain(band=r.band, min_distinct_frames=r.min_distinct_frames,
                      min_side=r.min_side, max_flat_fraction=r.max_flat_fraction, ood=ood)
    return Detector(forensic=linear_from_sklearn(forensic),
                    calibration=platt_from_sklearn(calibrator),
                    fusion=linear_from_sklearn(fusion), columns=tuple(cols), name=name,
                    info=meta_info, abstain=abstain,
                    training_data=training_data or matrix_digest(ds.orig.x, ds.y, ds.groups))


def _inner_cv(ds: Dataset, r: Recipe, configs: Sequence[tuple[int, float]],
              candidates: Sequence[int],
              ) -> tuple[tuple[int, float], np.ndarray, np.ndarray, float,
                         dict[tuple[int, float], float]] | None:
    """Inner grouped cross-validation: for every (k, C), out-of-fold raw scores of the
    platform copies (the choice) and of the calibration rows (published clips and copies);
    also each calibration row's distance to its fold's training distribution."""
    xp, yp, gp, wp, clip_of = _pixel_rows(ds)
    xc, _meta, _yc = _calibration_rows(ds)
    n = len(ds.y)
    calib_clip = np.tile(np.arange(n), len(xc) // n)
    n_folds = min(r.inner_folds, len(np.unique(ds.groups)))
    fold_of_clip = grouped_folds(ds.groups, n_folds)
    oof_p = {cfg: np.full(len(yp), 0.5) for cfg in configs}
    oof_c = {cfg: np.full(len(xc), 0.5) for cfg in configs}
    dists = np.zeros(len(xc))
    for f in range(n_folds):
        test_clip = fold_of_clip == f
        tr = ~test_clip[clip_of]
        te = test_clip[clip_of]
        tc = test_clip[calib_clip]
        if len(np.unique(yp[tr])) < 2:
            continue
        ood = fit_ood(xc[~tc], candidates)
        dists[tc] = ood.distance(xc[tc])
        order = _candidate_order(xp[tr], yp[tr], gp[tr], wp[tr], candidates)[0]
        for k, c in configs:
            cols = sorted(order[:k] if k else order)
            est = _fit_forensic(xp[tr][:, cols], yp[tr], gp[tr], c, wp[tr])
            oof_p[(k, c)][te] = est.predict_proba(xp[te][:, cols])[:, 1]
            oof_c[(k, c)][tc] = est.predict_proba(xc[tc][:, cols])[:, 1]
    scores = {cfg: auc(yp, oof_p[cfg]) for cfg in configs}
    # Best AUC; ties (to 3 decimals) go to fewer features, then stronger regularisation.
    best = max(configs, key=lambda cfg: (round(scores[cfg], 3), -(cfg[0] or 10**6), -cfg[1]))
    return best, oof_c[best], dists, scores[best], scores


__all__ = [
    "AUGMENT_COPIES",
    "BAND",
    "CANDIDATE_FAMILIES",
    "C_GRID",
    "K_GRID",
    "Dataset",
    "Recipe",
    "View",
    "candidate_columns",
    "clips_digest",
    "fit",
    "fit_ood",
    "group_weights",
    "grouped_folds",
    "linear_from_sklearn",
    "matrix_digest",
    "platt_from_sklearn",
    "rank_features",
    "single_feature_oof_auc",
]
