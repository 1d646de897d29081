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
from veriframe.errors import DetectorError

THRESHOLDS = (0.3, 0.5, 0.7)  # 0.5 plus the policies' review/label thresholds
DEFAULT_C_FORENSIC = 0.05
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


def _forensic_estimator(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([
        ("scale", StandardScaler()),
        ("logreg", LogisticRegression(C=c, class_weight="balanced", max_iter=5000)),
    ])


def fit(
    m: Matrix,
    *,
    c_forensic: float = DEFAULT_C_FORENSIC,
    c_fusion: float = DEFAULT_C_FUSION,
    families: Sequence[str] | None = None,
    name: str = "custom",
    info: dict[str, Any] | None = None,
) -> Detector:
    """Fit a :class:`Detector` on ``m`` (calibrator and fusion on grouped out-of-fold scores)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if set(np.unique(m.y)) != {0, 1}:
        raise DetectorError("detector.bad-dataset", "training needs real and synthetic clips",
                            "add clips of the missing class")
    groups = np.unique(m.groups)
    family, raw_oof, family_auc = _select_family(m, c_forensic=c_forensic, families=families)
    cols = fx.family_columns(family)
    forensic = _forensic_estimator(c_forensic).fit(m.forensic[:, cols], m.y)
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
    meta_info = dict(info or {})
    meta_info.update({"c_forensic": c_forensic, "c_fusion": c_fusion,
                      "forensic_family": family, "forensic_family_oof_auc": family_auc,
                      "calibrator_slope": round(float(calibrator.coef_[0, 0]), 4),
                      "n_clips": len(m.y), "n_synthetic": int(m.y.sum()),
                      "n_sources": len(groups)})
    return Detector(forensic=forensic, calibrator=calibrator, fusion=fusion,
                    columns=tuple(cols), name=name, info=meta_info)


def _oof(m: Matrix, cols: list[int], *, c_forensic: float) -> np.ndarray:
    """Leave-one-source-out raw forensic probabilities on ``cols``."""
    out = np.empty(len(m.y))
    for g in np.unique(m.groups):
        test = m.groups == g
        train = ~test
        if len(np.unique(m.y[train])) < 2:  # a fold without both classes: use every clip
            train = np.ones_like(test)
        est = _forensic_estimator(c_forensic).fit(m.forensic[train][:, cols], m.y[train])
        out[test] = est.predict_proba(m.forensic[test][:, cols])[:, 1]
    return out


def _select_family(
    m: Matrix, *, c_forensic: float, families: Sequence[str] | None
) -> tuple[str, np.ndarray, float]:
    """The forensic feature family with the best grouped out-of-fold AUC (part of the recipe,
    so an outer leave-one-source-out evaluation of :func:`fit` stays honest)."""
    names = list(families) if families is not None else ["all", *fx.FAMILIES]
    if len(np.unique(m.groups)) < 3:
        fam = names[0]
        cols = fx.family_columns(fam)
        raw = _forensic_estimator(c_forensic).fit(m.forensic[:, cols], m.y).predict_proba(
            m.forensic[:, cols])[:, 1]
        return fam, raw, float("nan")
    best: tuple[str, np.ndarray, float] | None = None
    for fam in names:
        raw = _oof(m, fx.family_columns(fam), c_forensic=c_forensic)
        score = auc(m.y, raw)
        if best is None or score > best[2]:
            best = (fam, raw, score)
    assert best is not None
    return best[0], best[1], round(best[2], 4)


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
) -> dict[str, np.ndarray]:
    """Leave-one-source-out predictions: forensic and all-signals, as is and re-encoded."""
    out = {k: np.empty(len(m.y)) for k in ("forensic", "all")}
    if reencoded is not None:
        out.update({k: np.empty(len(m.y)) for k in ("forensic_reenc", "all_reenc")})
    for g in np.unique(m.groups):
        test = m.groups == g
        det = fit(m.take(~test), c_forensic=c_forensic, c_fusion=c_fusion)
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
    re_m = None
    if reencode:
        re_feats = dataset_features(clips, cache_dir=cache_dir, reencode_crf=REENCODE_CRF,
                                    progress=progress)
        re_m = Matrix.build(clips, re_feats)
    info = model.info if model is not None else {}
    c_f = float(info.get("c_forensic", DEFAULT_C_FORENSIC))
    c_u = float(info.get("c_fusion", DEFAULT_C_FUSION))
    if cv:
        preds = loso_predictions(m, reencoded=re_m, c_forensic=c_f, c_fusion=c_u)
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
    return {
        "protocol": "leave-one-source-repository-out" if cv else "fixed model",
        "data": str(data),
        "include_gif": include_gif,
        "reencode": f"H.264 CRF {REENCODE_CRF} (libx264 veryfast)" if reencode else None,
        "summary": summary,
        "per_generator": _per_generator(clips, preds),
        "per_source": per_source,
        "predictions": [
            {"file": str(c.path), "label": c.label, "source": c.group, "generator": c.generator,
             **{k: round(float(p[i]), 4) for k, p in preds.items()}}
            for i, c in enumerate(clips)
        ],
        "c_forensic": c_f,
        "c_fusion": c_u,
    }


def train(
    *,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    name: str | None = None,
    c_forensic: float = DEFAULT_C_FORENSIC,
    c_fusion: float = DEFAULT_C_FUSION,
    cache_dir: Path | None = None,
    include_gif: bool = False,
    with_metrics: bool = True,
    reencode: bool = False,
    progress: Progress | None = None,
) -> Detector:
    """Train a detector on ``data``; with ``out``, write model.skops, metrics.json, card.md.

    ``with_metrics`` runs the leave-one-source-out evaluation (``reencode`` adds the CRF 28
    re-encoded pass, which transcodes every clip once and caches it).
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
    }
    det = fit(m, c_forensic=c_forensic, c_fusion=c_fusion, name=label, info=info)
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
    forensic_names = ", ".join(sorted({n.rsplit("_", 1)[0] for n in fx.CLIP_FEATURES}))
    f_auc = float(summary["forensic"]["auc"])
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
            f"- The forensic score (held-out AUC {f_auc:.2f}) rests on few sources and "
            "generators; expect lower numbers on new cameras, codecs and models.")
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
- forensic: {len(det.feature_names)} pixel features (mean and spread over up to
  {fx.MAX_FRAMES} sampled frames, {fx.CROPS_PER_FRAME} crops of {fx.CROP} px each, plus
  temporal ones): {forensic_names}. Standardised, class-balanced logistic regression
  (C={info.get('c_forensic')}), Platt-calibrated on grouped out-of-fold scores.
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

### Per generator (mean p_synthetic / accuracy at 0.5)
{generator_table(metrics['per_generator'])}

## Known failure modes
{forensic_note}
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
    "ece",
    "evaluate",
    "fit",
    "generator_table",
    "loso_predictions",
    "metrics_table",
    "model_card",
    "summarize",
    "train",
]
