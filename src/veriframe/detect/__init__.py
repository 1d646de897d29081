"""Detect synthetic (AI-generated) video and show the evidence.

Three kinds of signal are fused into one calibrated ``p_synthetic``: provenance (C2PA digital
source type, the veriframe watermark's recovered manifest, known open-generator marks), which
bounds the result when decisive; container/metadata fingerprints (a separate term, off with
``use_metadata=False``); and a learned forensic score from pixels alone, with per-frame scores.

No torch on this path. Training and evaluation (``veriframe.detect.training``, scikit-learn)
are imported only by the commands that train, never by ``import veriframe.detect``.

>>> from veriframe.detect import Detector
>>> det = Detector.load("default")
>>> check = det.score_file("clip.mp4")  # doctest: +SKIP
"""

from __future__ import annotations

from veriframe.detect.dataset import Clip, load_dataset
from veriframe.detect.features import CLIP_FEATURES, ForensicFeatures, extract
from veriframe.detect.metadata import KNOWN_FORMATS, METADATA_FEATURES, metadata_evidence
from veriframe.detect.model import TRUSTED_TYPES, Detector
from veriframe.detect.provenance import provenance_evidence

__all__ = [
    "CLIP_FEATURES",
    "KNOWN_FORMATS",
    "METADATA_FEATURES",
    "TRUSTED_TYPES",
    "Clip",
    "Detector",
    "ForensicFeatures",
    "extract",
    "load_dataset",
    "metadata_evidence",
    "provenance_evidence",
]
