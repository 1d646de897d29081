"""The detector model file: a small, versioned JSON document of numbers, read with NumPy.

A detector is a few standardisation constants, logistic-regression coefficients and a Platt
calibration. They are stored as plain JSON (``detectors/<name>/model.json``) and scored with
NumPy: nothing is deserialised into objects, so loading a model cannot run code, and the
verify path needs neither scikit-learn nor skops. Training (scikit-learn, the ``[train]``
extra) writes this file.

Format ``veriframe.detector``, version 2::

    {
      "format": "veriframe.detector",
      "version": 2,
      "feature_version": 6,              # veriframe.detect.features.FEATURE_VERSION
      "features": ["fs_noise_mean", ...],  # the clip vector's columns, in order
      "metadata_features": ["meta_format_match", ...],
      "columns": [17, 18, ...],          # forensic model's columns of the clip vector
      "forensic": {"mean": [...], "scale": [...], "coef": [...], "intercept": -0.3},
      "calibration": {"method": "platt", "slope": 1.13, "intercept": -0.7},
      "fusion": {"inputs": ["forensic_logit", "meta_format_match", ...],
                 "mean": [...], "scale": [...], "coef": [...], "intercept": 0.1},
      "tool_tag_llr": 4.0,
      "abstain": {                       # when the detector says "inconclusive"
        "band": [0.35, 0.65],            # learned p_synthetic inside this band
        "min_distinct_frames": 6,        # fewer distinct frames in the sample
        "min_side": 128,                 # frames smaller than this on the short side
        "max_flat_fraction": 0.6,        # more of the picture perfectly flat
        "ood": {"columns": [...], "mean": [...], "scale": [...], "whiten": [[...], ...],
                "threshold": 1.9}
      },
      "training_data": {"sha256": "…", "n_clips": 184, "method": "…"},
      "info": {...}                      # free-form JSON shown in the model card
    }

Version 1 (veriframe 0.1's exported model) had no ``abstain`` block; version 2 requires it.
``ood`` measures how far a clip vector is from the training clips: over its ``columns`` (the
recipe's candidate features), ``z = (x[columns] - mean) / scale`` and
``d = sqrt(mean((whiten @ z) ** 2))``; beyond ``threshold`` the sample is out of distribution.

A linear block scores ``z = sum(coef * (x - mean) / scale) + intercept`` and
``p = 1 / (1 + exp(-z))``; the calibration maps the forensic model's raw probability ``q`` to
``1 / (1 + exp(-(slope * logit(q) + intercept)))``. :func:`parse` refuses an unknown format or
version, a missing or unexpected key, a value of the wrong type, a non-finite number, a
non-positive scale and arrays of the wrong length, each with ``detector.untrusted-model``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.errors import DetectorError

FORMAT = "veriframe.detector"
VERSION = 2
SUPPORTED_VERSIONS = (2,)
MAX_BYTES = 4 << 20  # a model is a few kB; anything this large is not one
FORENSIC_INPUT = "forensic_logit"
_HINT = "only load detectors written by 'veriframe detector train'; retrain it"


def _bad(what: str, source: str) -> DetectorError:
    return DetectorError("detector.untrusted-model", f"{source}: {what}", _HINT)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number(v: Any, where: str, source: str) -> float:
    if not _is_number(v):
        raise _bad(f"{where} must be a number, not {type(v).__name__}", source)
    out = float(v)
    if not math.isfinite(out):
        raise _bad(f"{where} is not a finite number", source)
    return out


def _vector(v: Any, where: str, source: str, *, length: int) -> np.ndarray:
    if not isinstance(v, list):
        raise _bad(f"{where} must be a list of numbers, not {type(v).__name__}", source)
    if len(v) != length:
        raise _bad(f"{where} has {len(v)} values, expected {length}", source)
    return np.array([_number(x, f"{where}[{i}]", source) for i, x in enumerate(v)],
                    dtype=np.float64)


def _names(v: Any, where: str, source: str) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise _bad(f"{where} must be a list of non-empty strings", source)
    if len(set(v)) != len(v):
        raise _bad(f"{where} names a feature twice", source)
    return tuple(v)


def _columns(v: Any, where: str, source: str, features: int) -> tuple[int, ...]:
    if not isinstance(v, list) or not v or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in v):
        raise _bad(f"{where} must be a non-empty list of integers", source)
    columns = tuple(v)
    if len(set(columns)) != len(columns) or min(columns) < 0 or max(columns) >= features:
        raise _bad(f"{where} must be distinct indices into the {features} features", source)
    return columns


def _table(v: Any, where: str, source: str, keys: Sequence[str],
           optional: Sequence[str] = ()) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise _bad(f"{where} must be an object, not {type(v).__name__}", source)
    missing = [k for k in keys if k not in v]
    if missing:
        raise _bad(f"{where} lacks {', '.join(missing)}", source)
    extra = sorted(set(v) - set(keys) - set(optional))
    if extra:
        raise _bad(f"{where} has unknown key(s) {', '.join(extra)}", source)
    return v


@dataclass(frozen=True)
class Linear:
    """A standardised linear score: ``z = ((x - mean) / scale) @ coef + intercept``.

    The same arithmetic as scikit-learn's ``StandardScaler`` followed by
    ``LogisticRegression.decision_function``.
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def __post_init__(self) -> None:
        n = self.coef.shape
        if self.mean.shape != n or self.scale.shape != n or len(n) != 1:
            raise ValueError("mean, scale and coef must be 1-D arrays of one length")

    @property
    def size(self) -> int:
        """Number of inputs."""
        return int(self.coef.shape[0])

    def standardise(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / scale`` for rows ``x``."""
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.scale

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Log-odds for each row of ``x`` (shape (n, size))."""
        z = self.standardise(np.atleast_2d(x))
        return np.asarray(z @ self.coef + self.intercept, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        """The block as JSON values."""
        return {"mean": [float(v) for v in self.mean], "scale": [float(v) for v in self.scale],
                "coef": [float(v) for v in self.coef], "intercept": float(self.intercept)}

    @classmethod
    def parse(cls, v: Any, where: str, source: str, *, size: int,
              extra: Sequence[str] = ()) -> Linear:
        """Validate and build a block of ``size`` inputs from JSON values."""
        t = _table(v, where, source, ("mean", "scale", "coef", "intercept"), extra)
        scale = _vector(t["scale"], f"{where}.scale", source, length=size)
        if (scale <= 0).any():
            raise _bad(f"{where}.scale must be positive", source)
        return cls(mean=_vector(t["mean"], f"{where}.mean", source, length=size),
                   scale=scale,
                   coef=_vector(t["coef"], f"{where}.coef", source, length=size),
                   intercept=_number(t["intercept"], f"{where}.intercept", source))


@dataclass(frozen=True)
class Platt:
    """Platt calibration of a raw probability: ``sigmoid(slope * logit(q) + intercept)``."""

    slope: float
    intercept: float

    def to_json(self) -> dict[str, Any]:
        """The calibration as JSON values."""
        return {"method": "platt", "slope": float(self.slope),
                "intercept": float(self.intercept)}

    @classmethod
    def parse(cls, v: Any, where: str, source: str) -> Platt:
        """Validate and build the calibration from JSON values."""
        t = _table(v, where, source, ("method", "slope", "intercept"))
        if t["method"] != "platt":
            raise _bad(f"{where}.method {t['method']!r} is not 'platt'", source)
        return cls(slope=_number(t["slope"], f"{where}.slope", source),
                   intercept=_number(t["intercept"], f"{where}.intercept", source))


@dataclass(frozen=True)
class Ood:
    """Distance of a clip vector from the training clips (whitened, root-mean-square), over
    the clip vector's ``columns``."""

    columns: tuple[int, ...]
    mean: np.ndarray
    scale: np.ndarray
    whiten: np.ndarray  # (components, len(columns))
    threshold: float

    def distance(self, x: np.ndarray) -> np.ndarray:
        """RMS whitened distance of each row of ``x`` (whole clip vectors) from the mean."""
        rows = np.atleast_2d(np.asarray(x, dtype=np.float64))[:, list(self.columns)]
        z = (rows - self.mean) / self.scale
        w = z @ self.whiten.T
        return np.asarray(np.sqrt((w * w).mean(axis=1)))

    def to_json(self) -> dict[str, Any]:
        """The block as JSON values."""
        return {"columns": [int(c) for c in self.columns],
                "mean": [float(v) for v in self.mean], "scale": [float(v) for v in self.scale],
                "whiten": [[float(v) for v in row] for row in self.whiten],
                "threshold": float(self.threshold)}

    @classmethod
    def parse(cls, v: Any, where: str, source: str, *, features: int) -> Ood:
        """Validate and build the block for clip vectors of ``features`` features."""
        t = _table(v, where, source, ("columns", "mean", "scale", "whiten", "threshold"))
        columns = _columns(t["columns"], f"{where}.columns", source, features)
        size = len(columns)
        scale = _vector(t["scale"], f"{where}.scale", source, length=size)
        if (scale <= 0).any():
            raise _bad(f"{where}.scale must be positive", source)
        rows = t["whiten"]
        if not isinstance(rows, list) or not rows or len(rows) > size:
            raise _bad(f"{where}.whiten must be a list of 1 to {size} rows", source)
        whiten = np.vstack([_vector(r, f"{where}.whiten[{i}]", source, length=size)
                            for i, r in enumerate(rows)])
        threshold = _number(t["threshold"], f"{where}.threshold", source)
        if threshold <= 0:
            raise _bad(f"{where}.threshold must be positive", source)
        return cls(columns=columns,
                   mean=_vector(t["mean"], f"{where}.mean", source, length=size), scale=scale,
                   whiten=whiten, threshold=threshold)


@dataclass(frozen=True)
class Abstain:
    """When the detector answers "inconclusive" instead of a score-based label."""

    band: tuple[float, float] = (0.35, 0.65)
    min_distinct_frames: int = 6
    min_side: int = 128
    max_flat_fraction: float = 0.6
    ood: Ood | None = None

    def to_json(self) -> dict[str, Any]:
        """The block as JSON values (``ood`` is required in a saved file)."""
        if self.ood is None:
            raise ValueError("a saved detector needs its out-of-distribution model")
        return {"band": [float(self.band[0]), float(self.band[1])],
                "min_distinct_frames": int(self.min_distinct_frames),
                "min_side": int(self.min_side),
                "max_flat_fraction": float(self.max_flat_fraction),
                "ood": self.ood.to_json()}

    @classmethod
    def parse(cls, v: Any, where: str, source: str, *, size: int) -> Abstain:
        """Validate and build the block for clip vectors of ``size`` features."""
        t = _table(v, where, source, ("band", "min_distinct_frames", "min_side",
                                      "max_flat_fraction", "ood"))
        band = _vector(t["band"], f"{where}.band", source, length=2)
        if not 0.0 <= band[0] <= band[1] <= 1.0:
            raise _bad(f"{where}.band must be [low, high] with 0 <= low <= high <= 1", source)
        ints = {}
        for key in ("min_distinct_frames", "min_side"):
            val = t[key]
            if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                raise _bad(f"{where}.{key} must be a non-negative integer", source)
            ints[key] = val
        flat = _number(t["max_flat_fraction"], f"{where}.max_flat_fraction", source)
        if not 0.0 <= flat <= 1.0:
            raise _bad(f"{where}.max_flat_fraction must be in [0, 1]", source)
        return cls(band=(float(band[0]), float(band[1])),
                   min_distinct_frames=ints["min_distinct_frames"], min_side=ints["min_side"],
                   max_flat_fraction=flat,
                   ood=Ood.parse(t["ood"], f"{where}.ood", source, features=size))


@dataclass(frozen=True)
class ModelFile:
    """Everything in a ``model.json``, validated."""

    feature_version: int
    features: tuple[str, ...]
    metadata_features: tuple[str, ...]
    columns: tuple[int, ...]
    forensic: Linear
    calibration: Platt
    fusion: Linear
    tool_tag_llr: float
    abstain: Abstain
    training_data: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        """The document, as JSON values (keys in the documented order)."""
        fusion = {"inputs": [FORENSIC_INPUT, *self.metadata_features], **self.fusion.to_json()}
        return {
            "format": FORMAT,
            "version": self.version,
            "feature_version": self.feature_version,
            "features": list(self.features),
            "metadata_features": list(self.metadata_features),
            "columns": [int(c) for c in self.columns],
            "forensic": self.forensic.to_json(),
            "calibration": self.calibration.to_json(),
            "fusion": fusion,
            "tool_tag_llr": float(self.tool_tag_llr),
            "abstain": self.abstain.to_json(),
            "training_data": self.training_data,
            "info": self.info,
        }

    def dumps(self) -> str:
        """The document as JSON text (finite numbers only; ``repr`` precision)."""
        return json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n"


_TOP_KEYS = ("format", "version", "feature_version", "features", "metadata_features", "columns",
             "forensic", "calibration", "fusion", "tool_tag_llr", "abstain", "training_data",
             "info")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse(doc: Any, *, source: str = "model") -> ModelFile:
    """Validate a decoded ``model.json`` document and build a :class:`ModelFile`."""
    if not isinstance(doc, dict):
        raise _bad(f"the document must be a JSON object, not {type(doc).__name__}", source)
    if doc.get("format") != FORMAT:
        raise _bad(f"format {doc.get('format')!r} is not {FORMAT!r}", source)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or (
            version not in SUPPORTED_VERSIONS):
        raise _bad(f"unknown model version {version!r} (this veriframe reads "
                   f"{', '.join(str(v) for v in SUPPORTED_VERSIONS)})", source)
    _table(doc, "the document", source, _TOP_KEYS)
    fv = doc["feature_version"]
    if not isinstance(fv, int) or isinstance(fv, bool):
        raise _bad("feature_version must be an integer", source)
    features = _names(doc["features"], "features", source)
    meta = _names(doc["metadata_features"], "metadata_features", source)
    columns = _columns(doc["columns"], "columns", source, len(features))
    forensic = Linear.parse(doc["forensic"], "forensic", source, size=len(columns))
    calibration = Platt.parse(doc["calibration"], "calibration", source)
    fusion_doc = doc["fusion"]
    fusion = Linear.parse(fusion_doc, "fusion", source, size=1 + len(meta), extra=("inputs",))
    inputs = fusion_doc.get("inputs") if isinstance(fusion_doc, dict) else None
    if inputs != [FORENSIC_INPUT, *meta]:
        raise _bad(f"fusion.inputs must be {[FORENSIC_INPUT, *meta]}", source)
    llr = _number(doc["tool_tag_llr"], "tool_tag_llr", source)
    abstain = Abstain.parse(doc["abstain"], "abstain", source, size=len(features))
    for key in ("training_data", "info"):
        if not isinstance(doc[key], dict):
            raise _bad(f"{key} must be an object", source)
    return ModelFile(feature_version=fv, features=features, metadata_features=meta,
                     columns=columns, forensic=forensic, calibration=calibration, fusion=fusion,
                     tool_tag_llr=llr, abstain=abstain,
                     training_data=dict(doc["training_data"]),
                     info=dict(doc["info"]), version=version)


def loads(text: str | bytes, *, source: str = "model") -> ModelFile:
    """Parse and validate ``model.json`` text (NaN/Infinity literals are refused)."""
    if len(text) > MAX_BYTES:
        raise _bad(f"the file is over {MAX_BYTES >> 20} MiB: not a detector model", source)
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _bad(f"not valid JSON ({exc})", source) from None
    return parse(doc, source=source)


def read(path: Path) -> ModelFile:
    """Read and validate the model file at ``path``."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DetectorError("detector.bad-model", f"cannot read {path}: {exc.strerror or exc}",
                            "check the file's permissions") from None
    return loads(raw, source=str(path))


__all__ = [
    "FORENSIC_INPUT",
    "FORMAT",
    "SUPPORTED_VERSIONS",
    "VERSION",
    "Abstain",
    "Linear",
    "ModelFile",
    "Ood",
    "Platt",
    "loads",
    "parse",
    "read",
]
