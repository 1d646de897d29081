"""Gradient-boosted trees on the clip features: fitting (scikit-learn) and the export to the
NumPy arrays of :class:`veriframe.detect.trees.TreeEnsemble`.

The settings are fixed in advance (not tuned on any evaluation): shallow trees, a small
learning rate, strong leaf regularisation, no early stopping (a fit is deterministic).
Rows are weighted like the feature model's (every class half the weight, every source the
same weight within its class). :func:`fit_calibrated` adds what the comparison needs: a Platt
calibration fitted on inner grouped out-of-fold scores, and the prior log-odds added once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from veriframe.detect.trees import TreeEnsemble

PARAMS: dict[str, Any] = {
    "max_iter": 150,
    "learning_rate": 0.05,
    "max_depth": 3,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "max_bins": 64,
    "early_stopping": False,
}
INNER_FOLDS = 3


def fit_trees(x: np.ndarray, y: np.ndarray, *, sample_weight: np.ndarray | None = None,
              seed: int = 0, **params: Any) -> Any:
    """A fitted ``HistGradientBoostingClassifier`` (:data:`PARAMS`, overridable)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    est = HistGradientBoostingClassifier(**{**PARAMS, **params}, random_state=seed)
    return est.fit(np.asarray(x, dtype=np.float64), np.asarray(y),
                   sample_weight=sample_weight)


def export_trees(est: Any) -> TreeEnsemble:
    """The fitted binary ``HistGradientBoostingClassifier`` ``est`` as flat arrays:
    :meth:`TreeEnsemble.decision` equals ``est.decision_function`` (numeric features only)."""
    predictors = est._predictors
    if any(len(it) != 1 for it in predictors):
        raise ValueError("only binary classifiers export")
    feats, thr, miss, left, right, val, roots = [], [], [], [], [], [], []
    offset = 0
    depth = 1
    for (pred,) in predictors:
        nodes = pred.nodes
        if np.asarray(nodes["is_categorical"]).any():
            raise ValueError("categorical splits do not export")
        leaf = np.asarray(nodes["is_leaf"], dtype=bool)
        n = len(nodes)
        feats.append(np.where(leaf, -1, nodes["feature_idx"]).astype(np.int64))
        thr.append(np.asarray(nodes["num_threshold"], dtype=np.float64))
        miss.append(np.asarray(nodes["missing_go_to_left"], dtype=bool))
        left.append(np.where(leaf, -1, nodes["left"].astype(np.int64) + offset))
        right.append(np.where(leaf, -1, nodes["right"].astype(np.int64) + offset))
        val.append(np.where(leaf, nodes["value"], 0.0).astype(np.float64))
        roots.append(offset)
        depth = max(depth, int(np.max(nodes["depth"])) + 1)
        offset += n
    return TreeEnsemble(feature=np.concatenate(feats), threshold=np.concatenate(thr),
                        missing_left=np.concatenate(miss), left=np.concatenate(left),
                        right=np.concatenate(right), value=np.concatenate(val),
                        roots=np.asarray(roots, dtype=np.int64),
                        baseline=float(np.ravel(est._baseline_prediction)[0]), depth=depth)


@dataclass(frozen=True)
class CalibratedTrees:
    """Trees on ``columns`` of the clip vector, with a Platt calibration of their raw score
    (the prior log-odds already in ``intercept``)."""

    trees: TreeEnsemble
    columns: tuple[int, ...]
    slope: float
    intercept: float

    def p(self, x: np.ndarray) -> np.ndarray:
        """Calibrated p of clip vectors ``x`` (n, all features)."""
        z = self.trees.decision(np.asarray(x)[:, list(self.columns)])
        t = np.clip(self.slope * z + self.intercept, -50.0, 50.0)
        return np.asarray(1.0 / (1.0 + np.exp(-t)))


def fit_platt(z: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1.0, max_iter=1000).fit(z[:, None], y, sample_weight=w)
    slope = float(lr.coef_[0, 0])
    if slope <= 0.0:  # ranks the wrong way out of fold: no transferable evidence
        return 0.0, 0.0
    return slope, float(lr.intercept_[0])


def fit_calibrated(train_x: np.ndarray, train_y: np.ndarray, train_groups: np.ndarray,
                   calib_x: np.ndarray, calib_y: np.ndarray, calib_clip: np.ndarray,
                   clip_of: np.ndarray, *, columns: Sequence[int], prior: float,
                   inner_folds: int = INNER_FOLDS, seed: int = 0) -> CalibratedTrees:
    """Fit trees on the rows ``train_x`` (platform copies) and calibrate them.

    ``clip_of`` gives each training row's clip index and ``calib_clip`` each calibration
    row's (published clips and their copies); the Platt calibration learns from the
    calibration rows' scores by inner models that never saw those clips' sources (``inner_folds``
    grouped folds), class- and source-balanced, then the log-odds of ``prior`` is added.
    """
    from veriframe.detect.lab.training import group_weights, grouped_folds

    cols = list(columns)
    w = group_weights(train_y, train_groups)
    est = fit_trees(train_x[:, cols], train_y, sample_weight=w, seed=seed)
    n_clips = int(max(clip_of.max(), calib_clip.max())) + 1
    group_of_clip = np.empty(n_clips, dtype=object)
    group_of_clip[clip_of] = train_groups
    clip_groups = group_of_clip.astype(str)
    n_folds = min(inner_folds, len(np.unique(train_groups)))
    z = np.zeros(len(calib_y))
    if n_folds >= 2:
        fold = grouped_folds(clip_groups, n_folds)
        for f in range(n_folds):
            tr = fold[clip_of] != f
            te = fold[calib_clip] == f
            if len(np.unique(train_y[tr])) < 2:
                continue
            inner = fit_trees(train_x[tr][:, cols], train_y[tr],
                              sample_weight=group_weights(train_y[tr], train_groups[tr]),
                              seed=seed)
            z[te] = inner.decision_function(calib_x[te][:, cols])
    else:
        z = est.decision_function(calib_x[:, cols])
    cw = group_weights(calib_y, clip_groups[calib_clip])
    slope, icpt = fit_platt(z, calib_y, cw)
    prior = min(max(prior, 1e-3), 1 - 1e-3)
    return CalibratedTrees(trees=export_trees(est), columns=tuple(cols), slope=slope,
                           intercept=icpt + math.log(prior / (1 - prior)))


__all__ = ["INNER_FOLDS", "PARAMS", "CalibratedTrees", "export_trees", "fit_calibrated",
           "fit_platt", "fit_trees"]
