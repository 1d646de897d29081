"""The user-level detector flows: train a detector on a clip folder (and write its model file,
metrics and card), and evaluate a recipe or a fixed model on one.

Fitting lives in :mod:`veriframe.detect.lab.training`, cross-validation and the tables in
:mod:`veriframe.detect.lab.evaluation`; both need scikit-learn (the ``[train]`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from veriframe.detect import features as fx
from veriframe.detect.lab import evaluation
from veriframe.detect.lab.dataset import load_dataset
from veriframe.detect.lab.metrics import summarize
from veriframe.detect.lab.training import (
    AUGMENT_COPIES,
    Dataset,
    Progress,
    Recipe,
    clips_digest,
    fit,
)
from veriframe.detect.model import Detector
from veriframe.errors import DetectorError


def train(
    *,
    data: str | Path,
    out: str | Path | None = None,
    name: str | None = None,
    cache_dir: Path | None = None,
    include_gif: bool = False,
    copies: int = AUGMENT_COPIES,
    with_metrics: bool = True,
    recipe: Recipe | None = None,
    progress: Progress | None = None,
) -> Detector:
    """Train a detector on ``data``; with ``out``, write model.json, metrics.json, card.md.

    ``copies`` platform copies of every clip are made (cached under ``cache_dir``) and the
    pixel model learns from them only. ``with_metrics`` runs
    :func:`veriframe.detect.lab.evaluation.evaluate` (leave-one-source-out and
    leave-one-generator-family-out, as published and normalised) for metrics.json and the
    card: that transcodes every clip once more and refits the recipe once per fold.
    """
    import datetime as _dt

    clips = load_dataset(data, include_gif=include_gif)
    ds = Dataset.from_clips(clips, cache_dir=cache_dir, copies=copies,
                            normalised=with_metrics, progress=progress)
    label = name or (Path(out).name if out else "custom")
    info = {
        "trained_on": str(data),
        "trained_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sources": sorted(set(ds.groups.tolist())),
        "generators": sorted({c.generator for c in clips if c.label == 1}),
        "families": sorted({c.family for c in clips if c.label == 1}),
        "feature_version": fx.FEATURE_VERSION,
        "include_gif": include_gif,
    }
    root = Path(data).parent if Path(data).is_file() else Path(data)
    det = fit(ds, recipe=recipe, name=label, info=info,
              training_data=clips_digest(clips, root))
    if out is not None:
        import json

        from veriframe._atomic import write_bytes_atomic
        folder = Path(out)
        det.save(folder)
        if with_metrics:
            report = evaluation.evaluate(ds, recipe=recipe, data=str(data))
            report.pop("predictions", None)  # per-clip scores: benchmarks/detector_eval.py
            metrics = {"model": label, **report}
            from veriframe.results import to_jsonable

            write_bytes_atomic(folder / "metrics.json", (json.dumps(
                to_jsonable(metrics), indent=1, allow_nan=False) + "\n").encode())
            write_bytes_atomic(folder / "card.md",
                               evaluation.model_card(det, metrics).encode())
    return det


def evaluate(
    *,
    data: str | Path,
    model: Detector | None = None,
    cv: bool = True,
    reencode: bool = True,
    cache_dir: Path | None = None,
    include_gif: bool = False,
    copies: int = AUGMENT_COPIES,
    recipe: Recipe | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate on ``data``.

    ``cv=True``: cross-validate the recipe (:func:`veriframe.detect.lab.evaluation.evaluate`:
    leave-one-source-out and leave-one-generator-family-out, as published and, with
    ``reencode``, normalised). ``cv=False``: score every clip with the fixed ``model`` (as
    published and normalised; optimistic when the model was trained on these clips). Returns
    a JSON-ready report whose ``summary`` renders with
    :func:`~veriframe.detect.lab.evaluation.summary_table` and ``per_generator`` with
    :func:`~veriframe.detect.lab.evaluation.generator_table`.
    """
    ds = Dataset.load(data, include_gif=include_gif, cache_dir=cache_dir,
                      copies=copies if cv else 0, normalised=reencode, progress=progress)
    if cv:
        report = evaluation.evaluate(ds, recipe=recipe, data=str(data))
        report["protocol"] = "leave-one-source-out and leave-one-generator-family-out"
        return report
    if model is None:
        raise DetectorError("detector.no-model", "scoring without CV needs a model",
                            "pass --model or use cross-validation")
    fs = evaluation.FoldScores(p={}, reason={}, folds={})
    summary: dict[str, Any] = {}
    for vname, view in (("published", ds.orig), ("normalised", ds.normalised)):
        if view is None:
            continue
        for sig, (p, reasons) in evaluation.score_view(model, view).items():
            fs.p[(vname, sig)] = p
            fs.reason[(vname, sig)] = reasons
            covered = np.array([r == "" for r in reasons])
            summary[f"fixed/{vname}/{sig}"] = summarize(
                ds.y, p, groups=ds.groups, covered=covered)
    return {"protocol": "fixed model (no cross-validation; optimistic on its training clips)",
            "data": str(data), "summary": summary,
            "per_generator": evaluation._per_key(ds, {"fixed": fs},
                                                 [c.generator for c in ds.clips])}


__all__ = ["evaluate", "train"]
