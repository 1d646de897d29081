"""Which pixel model to ship: the feature model against learned candidates, on one protocol.

Candidates (every one trained on the same platform copies, calibrated class- and
source-balanced with the same prior added once, and scored by the same abstention rules):

- ``features``: the shipped recipe (:func:`veriframe.detect.lab.training.fit`: ranked hand-made
  features, logistic regression, Platt, out-of-distribution abstention); ``features+meta`` is
  the same fold model with the metadata fusion (all signals), for reference;
- ``trees``: gradient-boosted trees on the same candidate features
  (:mod:`veriframe.detect.lab.trees`), Platt on inner grouped out-of-fold scores;
- ``cnn``: the residual-patch network trained from scratch (:mod:`veriframe.detect.lab.cnn`),
  Platt on sources held out of its training.

Protocols, always grouped so that no source (repository) sits on both sides of a fold:

- ``source``: leave-one-source-out for the cheap candidates; for the network (or any
  candidate given a fold count) grouped K-fold by source;
- ``family``: leave-one-generator-family-group-out
  (:func:`veriframe.detect.lab.dataset.family_groups`), or grouped K-fold over those groups.

Each held-out clip is scored as published and after the normalising re-encode
(:data:`veriframe.detect.lab.augment.NORMALISE`). Reported per candidate, protocol and view:
AUC with a 95% interval from a bootstrap over sources, ECE (10 bins), the share of clips the
candidate abstains on and the AUC on the others, and the time spent fitting and scoring.
:func:`compare` returns a JSON-ready dict; :func:`table` renders it.

This module decides nothing by itself: the clips it is given are the design set; sources
locked away as the final set must never reach it (the benchmark script filters them out
before anything is decoded).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.detect.lab import augment
from veriframe.detect.lab import cnn as cnn_lab
from veriframe.detect.lab import trees as trees_lab
from veriframe.detect.lab.dataset import Clip
from veriframe.detect.lab.metrics import auc, auc_ci, ece
from veriframe.detect.lab.training import (
    BAND,
    CANDIDATE_FAMILIES,
    MAX_FLAT_FRACTION,
    MIN_DISTINCT_FRAMES,
    MIN_SIDE,
    Dataset,
    Recipe,
    candidate_columns,
    fit,
    grouped_folds,
)

CANDIDATES = ("features", "trees", "cnn")
PROTOCOLS = {"source": "by source", "family": "by generator family"}
VIEW_NAMES = ("published", "normalised")
# Folds per candidate: None = one per group (leave-one-out); an int = grouped K-fold.
DEFAULT_FOLDS: dict[str, int | None] = {"features": None, "trees": None, "cnn": 5}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CandidateData:
    """The clips with what every candidate needs: the feature views (``ds``: published,
    platform copies, normalised) and, for the network, the patches of the same views."""

    ds: Dataset
    patches: Mapping[str, Sequence[np.ndarray]]  # "published", "copy0".., "normalised"
    dropped: tuple[tuple[str, str], ...] = ()  # clips that could not be prepared, and why

    @property
    def copies(self) -> int:
        """Platform copies per clip."""
        return len(self.ds.augmented)

    def take(self, idx: np.ndarray) -> CandidateData:
        """The clips ``idx``."""
        sel = np.arange(len(self.ds.y))[idx]
        return CandidateData(ds=self.ds.take(sel),
                             patches={k: [v[i] for i in sel] for k, v in self.patches.items()})


def prepare(clips: Sequence[Clip], *, cache_dir: Path, copies: int = 1, patches: bool = True,
            progress: Callable[[int, int, Clip], None] | None = None) -> CandidateData:
    """Features and patches of every clip: as published, ``copies`` platform copies each (the
    same transcodes as the feature model's) and the normalised copy, all cached under
    ``cache_dir``. A clip that cannot be transcoded or decoded is left out and listed in
    :attr:`CandidateData.dropped`, with the reason."""
    from veriframe.detect.lab.dataset import dataset_features, family_groups
    from veriframe.detect.lab.training import View
    from veriframe.errors import DetectorError
    from veriframe.media import probe

    kept: list[Clip] = []
    views: list[list[Any]] = [[] for _ in range(copies + 2)]  # published, copies, normalised
    pats: dict[str, list[np.ndarray]] = {}
    names = ["published", *(f"copy{k}" for k in range(copies)), "normalised"]
    dropped: list[tuple[str, str]] = []
    for i, clip in enumerate(clips):
        if progress is not None:
            progress(i, len(clips), clip)
        try:
            plan = augment.augment_specs(clip.path.name, copies,
                                         duration=probe(clip.path).duration) if copies else []
            specs: list[augment.TranscodeSpec | None] = [None, *plan, augment.NORMALISE]
            feats = [dataset_features([clip], cache_dir=cache_dir, transform=spec)[0]
                     for spec in specs]
            cut = ([cnn_lab.clip_patches([clip], cache_dir=cache_dir, transform=spec,
                                         training=name.startswith("copy"))[0]
                    for spec, name in zip(specs, names, strict=True)] if patches else [])
        except (DetectorError, OSError) as exc:
            dropped.append((str(clip.path), getattr(exc, "message", str(exc))))
            continue
        kept.append(clip)
        for v, f in zip(views, feats, strict=True):
            v.append(f)
        for name, p in zip(names, cut, strict=False):
            pats.setdefault(name, []).append(p)
    if not kept or len({c.label for c in kept}) < 2:
        raise DetectorError("detector.bad-dataset", "too few clips could be prepared",
                            "check the clips and the cache folder")
    ds = Dataset(clips=tuple(kept), y=np.array([c.label for c in kept], dtype=int),
                 groups=np.array([c.group for c in kept]),
                 family_groups=np.array(family_groups(kept)),
                 orig=View.build(views[0]),
                 augmented=tuple(View.build(v) for v in views[1:-1]),
                 normalised=View.build(views[-1]))
    return CandidateData(ds=ds, patches=pats, dropped=tuple(dropped))


# ------------------------------------------------------------------------------ scoring
def sample_reasons(quality: np.ndarray) -> list[str]:
    """The sample checks every candidate shares (the shipped model's limits): "" when the
    sample is usable."""
    out = []
    for q in np.atleast_2d(quality):
        if q[1] < MIN_DISTINCT_FRAMES:
            out.append("too short")
        elif min(q[2], q[3]) < MIN_SIDE:
            out.append("too small")
        elif q[4] > MAX_FLAT_FRACTION:
            out.append("animation / screen")
        else:
            out.append("")
    return out


def _with_band(p: np.ndarray, reasons: list[str], band: tuple[float, float]) -> list[str]:
    out = []
    for v, r in zip(p, reasons, strict=True):
        if r:
            out.append(r)
        elif not np.isfinite(v):
            out.append("no usable patch")
        elif band[0] < v < band[1]:
            out.append("uncertain score")
        else:
            out.append("")
    return out


Scores = dict[str, tuple[np.ndarray, list[str]]]  # candidate row -> (p, reasons)
Scorer = Callable[[str, "CandidateData"], Scores]  # (view, held-out clips) -> scores


def _fit_features(data: CandidateData, prior: float, seed: int) -> Scorer:
    from veriframe.detect.lab.evaluation import score_view

    det = fit(data.ds, recipe=Recipe(prior=prior))

    def score(view: str, rows: CandidateData) -> Scores:
        v = rows.ds.orig if view == "published" else rows.ds.normalised
        assert v is not None
        scored = score_view(det, v)
        return {"features": scored["pixels"], "features+meta": scored["all"]}

    return score


def _fit_trees(data: CandidateData, prior: float, seed: int) -> Scorer:
    ds = data.ds
    n = len(ds.y)
    views = ds.augmented or (ds.orig,)
    train_x = np.vstack([v.x for v in views])
    calib = (ds.orig, *ds.augmented)
    model = trees_lab.fit_calibrated(
        train_x, np.tile(ds.y, len(views)), np.tile(ds.groups, len(views)),
        np.vstack([v.x for v in calib]), np.tile(ds.y, len(calib)),
        np.tile(np.arange(n), len(calib)), np.tile(np.arange(n), len(views)),
        columns=candidate_columns(train_x.shape[1], CANDIDATE_FAMILIES), prior=prior,
        seed=seed)

    def score(view: str, rows: CandidateData) -> Scores:
        v = rows.ds.orig if view == "published" else rows.ds.normalised
        assert v is not None
        p = model.p(v.x)
        return {"trees": (p, _with_band(p, sample_reasons(v.quality), BAND))}

    return score


def _fit_cnn(data: CandidateData, prior: float, seed: int,
             **train_kw: Any) -> Scorer:
    copies = [data.patches[f"copy{k}"] for k in range(data.copies)]
    train = copies or [data.patches["published"]]
    calib = [data.patches["published"], *copies]
    net = cnn_lab.fit(train, calib, data.ds.y, data.ds.groups, prior=prior, seed=seed,
                      **train_kw)

    def score(view: str, rows: CandidateData) -> Scores:
        v = rows.ds.orig if view == "published" else rows.ds.normalised
        assert v is not None
        p = cnn_lab.p_of(net, rows.patches[view])
        return {"cnn": (p, _with_band(p, sample_reasons(v.quality), BAND))}

    return score


_FITTERS: dict[str, Callable[..., Any]] = {
    "features": _fit_features, "trees": _fit_trees, "cnn": _fit_cnn}


def fold_of(keys: np.ndarray, n_folds: int | None) -> np.ndarray:
    """Fold number of every clip: one fold per distinct key (``n_folds`` None), else
    ``n_folds`` grouped folds (whole keys, balanced by size)."""
    keys = np.asarray(keys)
    names = sorted(set(keys.tolist()))
    if n_folds is None or n_folds >= len(names):
        index = {g: i for i, g in enumerate(names)}
        return np.array([index[g] for g in keys.tolist()])
    return grouped_folds(keys, n_folds)


def merge_keys(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """One split key per clip joining every clip that shares a key of ``a`` or of ``b``
    (e.g. generator-family groups and groups of sources that share duplicate footage), so a
    fold keeps both kinds of group whole."""
    from veriframe.detect.lab.dataset import Links

    links = Links()
    find = links.find
    for ka, kb in zip(a, b, strict=True):
        links.join(f"b:{kb}", f"a:{ka}")
    names: dict[str, set[str]] = {}
    for ka in a:
        names.setdefault(find(f"a:{ka}"), set()).add(str(ka))
    return np.array([" | ".join(sorted(names[find(f"a:{ka}")])) for ka in a])


def cross_validate(data: CandidateData, candidate: str, keys: np.ndarray, *,
                   n_folds: int | None, prior: float,
                   progress: Progress | None = None, **fit_kw: Any) -> dict[str, Any]:
    """Out-of-fold p and abstention reasons of every clip, per view and candidate row (a
    candidate may give more than one row: ``features`` and ``features+meta``)."""
    folds = fold_of(keys, n_folds)
    n = len(data.ds.y)
    p: dict[tuple[str, str], np.ndarray] = {}
    reasons: dict[tuple[str, str], list[str]] = {}
    fit_s = score_s = 0.0
    done = 0
    for f in sorted(set(folds.tolist())):
        test = folds == f
        train = ~test
        if len(np.unique(data.ds.y[train])) < 2:
            continue
        if progress is not None:
            progress(f"{candidate}: fold {done + 1}/{len(set(folds.tolist()))}")
        t0 = time.process_time()
        scorer = _FITTERS[candidate](data.take(train), prior, int(f), **fit_kw)
        t1 = time.process_time()
        held = data.take(test)
        idx = np.flatnonzero(test)
        for view in VIEW_NAMES:
            for row, (pv, rv) in scorer(view, held).items():
                arr = p.setdefault((row, view), np.full(n, np.nan))
                rs = reasons.setdefault((row, view), ["not scored"] * n)
                arr[idx] = pv
                for j, r in zip(idx, rv, strict=True):
                    rs[j] = r
        score_s += time.process_time() - t1
        fit_s += t1 - t0
        done += 1
    return {"p": p, "reasons": reasons, "n_folds": done, "fit_cpu_s": fit_s,
            "score_cpu_s": score_s}


def _clean(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), 4)


def summarize_scores(y: np.ndarray, p: np.ndarray, reasons: Sequence[str], groups: np.ndarray,
                     *, n_boot: int = 200) -> dict[str, Any]:
    """AUC (with a source-bootstrap 95% interval), ECE, abstention share, AUC where the
    candidate does not abstain. Clips without a score (no patch) count as p = 0.5."""
    p = np.where(np.isfinite(p), p, 0.5)
    lo, hi = auc_ci(y, p, groups=groups, n_boot=n_boot) if n_boot else (math.nan, math.nan)
    abstain = np.array([bool(r) for r in reasons])
    covered = ~abstain
    kinds: dict[str, int] = {}
    for r in reasons:
        if r:
            kinds[r] = kinds.get(r, 0) + 1
    return {"auc": _clean(auc(y, p)), "auc_ci95": [_clean(lo), _clean(hi)],
            "ece": _clean(ece(y, p)), "abstain_share": _clean(float(abstain.mean())),
            "auc_covered": _clean(auc(y[covered], p[covered])) if covered.any() else None,
            "n": len(y), "n_synthetic": int(np.sum(y)), "abstentions": kinds}


def compare(data: CandidateData, *, candidates: Sequence[str] = CANDIDATES,
            protocols: Sequence[str] = ("source", "family"),
            folds: Mapping[str, int | None] | None = None, prior: float | None = None,
            n_boot: int = 200, progress: Progress | None = None,
            cnn_kw: Mapping[str, Any] | None = None,
            source_keys: Sequence[str] | None = None) -> dict[str, Any]:
    """Cross-validate every candidate under every protocol; a JSON-ready report.

    ``folds``: per candidate, None for leave-one-group-out or a number of grouped folds
    (default :data:`DEFAULT_FOLDS`). ``prior``: the synthetic share every fold's
    probabilities assume (default: the data's). ``cnn_kw``: passed to the network's training
    (e.g. ``epochs``, ``max_visits``). ``source_keys``: the split key of the ``source``
    protocol (default: the source repository; the corpus gives sources joined by duplicate
    footage, :func:`veriframe.detect.lab.corpus.fold_groups`); the ``family`` protocol keeps
    those groups whole too.
    """
    ds = data.ds
    y = ds.y
    folds = {**DEFAULT_FOLDS, **(folds or {})}
    prior = float(y.mean()) if prior is None else prior
    report: dict[str, Any] = {
        "n_clips": len(y), "n_synthetic": int(y.sum()),
        "n_sources": len(set(ds.groups.tolist())),
        "n_family_groups": len(set(ds.family_groups.tolist())),
        "platform_copies": data.copies, "prior": round(prior, 4),
        "normalise": augment.NORMALISE.describe(), "band": list(BAND),
        "dropped": [{"file": f, "reason": r} for f, r in data.dropped],
        "results": {}, "timings": {}, "folds": {}, "predictions": [],
    }
    per_clip: dict[str, np.ndarray] = {}
    src_keys = ds.groups if source_keys is None else np.asarray(source_keys)
    split = {"source": src_keys,
             "family": merge_keys(ds.family_groups.tolist(), src_keys.tolist())}
    report["n_source_folds"] = len(set(src_keys.tolist()))
    report["n_family_folds"] = len(set(split["family"].tolist()))
    for candidate in candidates:
        if candidate not in _FITTERS:
            raise ValueError(f"unknown candidate {candidate!r}; known: {', '.join(_FITTERS)}")
        kw = dict(cnn_kw or {}) if candidate == "cnn" else {}
        for proto in protocols:
            keys = split[proto]
            k = folds.get(candidate)
            t0 = time.perf_counter()
            cv = cross_validate(data, candidate, keys, n_folds=k, prior=prior,
                                progress=progress, **kw)
            wall = time.perf_counter() - t0
            label = ("leave-one-out" if k is None or k >= len(set(keys.tolist()))
                     else f"{k}-fold")
            report["folds"][f"{candidate}/{proto}"] = {"scheme": label,
                                                       "folds": cv["n_folds"]}
            report["timings"][f"{candidate}/{proto}"] = {
                "wall_s": round(wall, 1), "fit_cpu_s": round(cv["fit_cpu_s"], 1),
                "score_cpu_s": round(cv["score_cpu_s"], 1)}
            for (row, view), p in cv["p"].items():
                report["results"][f"{row}/{proto}/{view}"] = {
                    "scheme": label,
                    **summarize_scores(y, p, cv["reasons"][(row, view)], ds.groups,
                                       n_boot=n_boot)}
                per_clip[f"{row}/{proto}/{view}"] = p
    report["predictions"] = [
        {"file": c.path.name, "label": int(c.label), "source": c.group, "family": c.family,
         **{k: _clean(float(v[i])) for k, v in per_clip.items()}}
        for i, c in enumerate(ds.clips)]
    return report


def table(report: Mapping[str, Any]) -> str:
    """A Markdown table of :func:`compare`'s results."""
    lines = ["| candidate | protocol | folds | AUC published [95% CI] | AUC normalised [95% CI] "
             "| ECE pub / norm | abstains pub / norm | AUC covered pub / norm |",
             "|---|---|---|---|---|---|---|---|"]

    def ci(s: Mapping[str, Any]) -> str:
        lo, hi = s["auc_ci95"]
        return (f"{_fmt(s['auc'])} [{_fmt(lo)}, {_fmt(hi)}]")

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for key, s in report["results"].items():
        row, proto, view = key.split("/")
        rows.setdefault((row, proto), {})[view] = s
    for (row, proto), views in rows.items():
        pub, norm = views.get("published"), views.get("normalised")
        if pub is None or norm is None:
            continue
        lines.append(
            f"| {row} | {PROTOCOLS.get(proto, proto)} | {pub['scheme']} | {ci(pub)} | {ci(norm)} "
            f"| {_fmt(pub['ece'])} / {_fmt(norm['ece'])} "
            f"| {_fmt(pub['abstain_share'], 2)} / {_fmt(norm['abstain_share'], 2)} "
            f"| {_fmt(pub['auc_covered'])} / {_fmt(norm['auc_covered'])} |")
    return "\n".join(lines)


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def timing_table(report: Mapping[str, Any]) -> str:
    """A Markdown table of the time each candidate and protocol took."""
    lines = ["| candidate / protocol | folds | wall s | fit CPU s | score CPU s |",
             "|---|---|---|---|---|"]
    for key, t in report["timings"].items():
        f = report["folds"][key]
        lines.append(f"| {key} | {f['folds']} ({f['scheme']}) | {t['wall_s']} | "
                     f"{t['fit_cpu_s']} | {t['score_cpu_s']} |")
    return "\n".join(lines)


__all__ = ["CANDIDATES", "DEFAULT_FOLDS", "CandidateData", "compare", "cross_validate",
           "fold_of", "merge_keys", "prepare", "sample_reasons", "summarize_scores", "table",
           "timing_table"]
