"""Metrics for detector evaluation: AUC with bootstrap intervals, calibration error, accuracy.

NumPy only. Clips of one source repository are correlated (one camera, one generator, one
encoder), so the default interval resamples whole sources (a cluster bootstrap), which is
wider and more honest than resampling clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

THRESHOLDS = (0.3, 0.5, 0.7)  # 0.5 plus the policies' review/label thresholds


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


def auc_ci(y: np.ndarray, p: np.ndarray, *, groups: np.ndarray | None = None,
           n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the AUC.

    With ``groups``, whole groups (source repositories) are resampled with replacement (a
    cluster bootstrap); without, clips are resampled within each class.
    """
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    rng = np.random.default_rng(seed)
    if not (y == 1).any() or not (y == 0).any():
        return float("nan"), float("nan")
    vals: list[float] = []
    if groups is None:
        pos = np.flatnonzero(y == 1)
        neg = np.flatnonzero(y == 0)
        for _ in range(n_boot):
            idx = np.concatenate([rng.choice(pos, pos.size), rng.choice(neg, neg.size)])
            vals.append(auc(y[idx], p[idx]))
    else:
        g = np.asarray(groups)
        names = np.unique(g)
        members = [np.flatnonzero(g == n) for n in names]
        tries = 0
        while len(vals) < n_boot and tries < 20 * n_boot:
            tries += 1
            pick = rng.integers(0, len(names), len(names))
            idx = np.concatenate([members[i] for i in pick])
            value = auc(y[idx], p[idx])
            if np.isfinite(value):
                vals.append(value)
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


def summarize(y: np.ndarray, p: np.ndarray, *, groups: np.ndarray | None = None,
              covered: np.ndarray | None = None, n_boot: int = 1000) -> dict[str, Any]:
    """AUC with a cluster-bootstrap 95% interval (by ``groups``) and a clip-bootstrap one,
    accuracy at each of :data:`THRESHOLDS`, ECE and counts. With ``covered`` (the clips the
    detector did not abstain on), also the coverage and the AUC and accuracy on those."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    lo, hi = auc_ci(y, p, groups=groups, n_boot=n_boot)
    clo, chi = auc_ci(y, p, n_boot=n_boot)
    out: dict[str, Any] = {
        "auc": round(auc(y, p), 4),
        "auc_ci95": [round(lo, 4), round(hi, 4)],
        "auc_ci95_clips": [round(clo, 4), round(chi, 4)],
        "accuracy": {f"{t:g}": round(float(((p >= t).astype(int) == y).mean()), 4)
                     for t in THRESHOLDS},
        "ece": round(ece(y, p), 4),
        "n": len(y),
        "n_synthetic": int(np.sum(y)),
    }
    if covered is not None:
        c = np.asarray(covered, dtype=bool)
        out["coverage"] = round(float(c.mean()), 4)
        out["auc_covered"] = round(auc(y[c], p[c]), 4) if c.any() else float("nan")
        out["accuracy_covered_0.5"] = (round(float(((p[c] >= 0.5) == y[c]).mean()), 4)
                                       if c.any() else float("nan"))
    return out


def per_group_means(y: np.ndarray, p: np.ndarray, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Mean p and accuracy at 0.5 for each distinct (key, label)."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    k = np.asarray(keys)
    rows = []
    for name, label in sorted({(str(a), int(b)) for a, b in zip(k, y, strict=True)},
                              key=lambda t: (t[1], t[0])):
        sel = (k == name) & (y == label)
        rows.append({"key": name, "label": "synthetic" if label else "real",
                     "n": int(sel.sum()), "mean_p": round(float(p[sel].mean()), 3),
                     "acc05": round(float(((p[sel] >= 0.5).astype(int) == label).mean()), 3)})
    return rows


__all__ = ["THRESHOLDS", "auc", "auc_ci", "ece", "per_group_means", "summarize"]
