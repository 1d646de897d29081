"""Detect synthetic (AI-generated) video and show the evidence.

Three kinds of signal are fused into one calibrated ``p_synthetic``: provenance (C2PA digital
source type, the veriframe watermark's recovered manifest, known open-generator marks), which
bounds the result when decisive; container/metadata fingerprints (a separate term, off with
``use_metadata=False``); and a learned forensic score from pixels alone, with per-frame scores.

Scoring is NumPy and SciPy only: a model is a small JSON file of coefficients
(:mod:`veriframe.detect.modelfile`), never a pickled object. Training and evaluation
live apart, in :mod:`veriframe.detect.lab` (scikit-learn, the ``[train]`` extra); importing
this package loads none of the lab (``train`` and ``evaluate`` are loaded on first use).

>>> from veriframe.detect import Detector
>>> det = Detector.load("default")
>>> check = det.score_file("clip.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from veriframe.detect.features import CLIP_FEATURES, ForensicFeatures, extract
from veriframe.detect.metadata import KNOWN_FORMATS, METADATA_FEATURES, metadata_evidence
from veriframe.detect.model import Detector
from veriframe.detect.provenance import provenance_evidence

if TYPE_CHECKING:
    from veriframe.detect.lab.workflow import evaluate, train

_LAZY = {"evaluate", "train"}


def __getattr__(name: str) -> Any:
    """``train`` and ``evaluate`` import scikit-learn's side of the package on first use."""
    if name in _LAZY:
        from veriframe.detect.lab import workflow

        return getattr(workflow, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CLIP_FEATURES",
    "KNOWN_FORMATS",
    "METADATA_FEATURES",
    "Detector",
    "ForensicFeatures",
    "evaluate",
    "extract",
    "metadata_evidence",
    "provenance_evidence",
    "train",
]
