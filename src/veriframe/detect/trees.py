"""Gradient-boosted decision trees scored with NumPy alone.

A candidate pixel model on the clip features: the trees are fitted in the lab
(:mod:`veriframe.detect.lab.trees`, scikit-learn's ``HistGradientBoostingClassifier``) and
exported to flat arrays, one row per node of every tree:

- ``feature`` (int): the clip-vector column a split reads (-1 at a leaf);
- ``threshold`` (float): go left when ``x[feature] <= threshold``;
- ``missing_left`` (bool): where a NaN goes;
- ``left`` / ``right`` (int): child rows (absolute indices; -1 at a leaf);
- ``value`` (float): a leaf's contribution to the raw score (learning rate included);
- ``roots`` (int): each tree's root row; ``baseline``: the raw score before any tree.

The raw score is ``baseline + sum of the leaves reached``; ``p = sigmoid(raw)``. All trees
are walked at once, one level per step, so a few hundred trees cost a few NumPy operations
per level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TreeEnsemble:
    """Boosted trees as arrays (see the module doc)."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    baseline: float
    depth: int

    def __post_init__(self) -> None:
        n = len(self.feature)
        for name in ("threshold", "missing_left", "left", "right", "value"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"tree arrays: {name} has the wrong length")
        inner = self.feature >= 0
        if ((self.left[inner] < 0) | (self.left[inner] >= n) | (self.right[inner] < 0)
                | (self.right[inner] >= n)).any() or (self.roots >= n).any():
            raise ValueError("tree arrays: a child or root index out of range")

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds) of the rows of ``x`` (n, features)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            v = x[rows, np.where(inner, f, 0)]
            go_left = np.where(np.isnan(v), self.missing_left[node], v <= self.threshold[node])
            nxt = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, nxt, node)
        return np.asarray(self.baseline + self.value[node].sum(axis=1))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``sigmoid(decision(x))``: p of the positive class."""
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(self.decision(x), -50.0, 50.0))))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON lists."""
        return {"feature": self.feature.tolist(), "threshold": self.threshold.tolist(),
                "missing_left": self.missing_left.astype(int).tolist(),
                "left": self.left.tolist(), "right": self.right.tolist(),
                "value": self.value.tolist(), "roots": self.roots.tolist(),
                "baseline": self.baseline, "depth": self.depth}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TreeEnsemble:
        """Read :meth:`to_json`'s document (numbers only; indices checked)."""
        return cls(feature=np.asarray(doc["feature"], dtype=np.int64),
                   threshold=np.asarray(doc["threshold"], dtype=np.float64),
                   missing_left=np.asarray(doc["missing_left"], dtype=bool),
                   left=np.asarray(doc["left"], dtype=np.int64),
                   right=np.asarray(doc["right"], dtype=np.int64),
                   value=np.asarray(doc["value"], dtype=np.float64),
                   roots=np.asarray(doc["roots"], dtype=np.int64),
                   baseline=float(doc["baseline"]), depth=int(doc["depth"]))


__all__ = ["TreeEnsemble"]
