"""The detector: a forensic model, a metadata fusion term, provenance bounds; skops on disk.

Fusion, in log-odds:

1. ``forensic``: standardised pixel features → logistic regression (class-balanced), then a
   1-D Platt calibrator fitted on out-of-fold scores (grouped by source) → ``p_forensic``.
2. ``fusion`` (metadata on): logistic regression on ``[logit(p_forensic), metadata features]``
   fitted on the same out-of-fold forensic scores, plus a fixed likelihood ratio for
   generation-tool tags (ComfyUI ``prompt``/``workflow``...), which no training clip carries.
   With metadata off, ``p = p_forensic``.
3. provenance bounds: decisive AI provenance sets a floor (0.99), a trusted capture claim a
   ceiling (0.10) — see :mod:`veriframe.detect.provenance`.

Models are saved with ``skops.io.dump`` and loaded with an explicit list of trusted types;
a file that needs any other type is refused (``detector.untrusted-model``).
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.detect import features as fx
from veriframe.detect.metadata import METADATA_FEATURES, metadata_evidence
from veriframe.detect.provenance import provenance_evidence
from veriframe.errors import DetectorError
from veriframe.results import (
    CredentialCheck,
    DetectionCheck,
    DetectionState,
    FrameScore,
    Signal,
    WatermarkCheck,
)

MODEL_FORMAT = "veriframe.detector/1"
MODEL_FILE = "model.skops"
TOOL_TAG_LLR = 4.0  # log-odds added when generation-tool tags are present (prior, not learned)
_CLIP = 1e-4

# Every type a veriframe detector file may contain. skops refuses anything else.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
)

_SIGNAL_TEXT = {
    "meta_format_match": "size/frame count/fps match a known open model's output",
    "meta_frames_4k1": "frame count is 4k+1 (causal 3D-VAE models)",
    "meta_fps_low": "frame rate at or below 16 fps",
    "meta_short": "clip is 6.5 s or shorter",
    "meta_size_mult16": "width and height are multiples of 16",
    "meta_no_audio": "no audio track",
    "meta_capture_encoder": "encoder tag names a camera, editor or platform transcoder",
}


class _BlockTorch(importlib.abc.MetaPathFinder):
    """Make ``import torch`` fail (ImportError) while it is on ``sys.meta_path``."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is not imported on veriframe's detection path")
        return None


def _skops_io() -> Any:
    """``skops.io``, imported without importing torch.

    skops builds its default trusted-type list with scikit-learn's ``all_estimators()``,
    which walks and imports every scikit-learn module, including the array-API shim for
    torch, which imports torch when it is installed (seconds and gigabytes for nothing). The
    walk skips modules that raise ImportError, so torch is blocked for the duration of the
    import; skops never needs it for our trusted types.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io as sio

        return sio
    blocker = _BlockTorch()
    sys.meta_path.insert(0, blocker)
    try:
        import skops.io as sio
    finally:
        sys.meta_path.remove(blocker)
    return sio


def _logit(p: np.ndarray | float) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _CLIP, 1 - _CLIP)
    return np.asarray(np.log(q / (1 - q)))


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))))


@dataclass
class Detector:
    """A loaded detector model: :meth:`load`, or trained by ``detect.training.train``."""

    forensic: Any  # Pipeline(StandardScaler, LogisticRegression) on CLIP_FEATURES
    calibrator: Any  # LogisticRegression on [logit(raw forensic p)]
    fusion: Any  # Pipeline(StandardScaler, LogisticRegression) on [forensic logit, metadata]
    columns: tuple[int, ...] = ()  # forensic feature columns used (empty: all)
    name: str = "custom"
    info: dict[str, Any] = field(default_factory=dict)
    feature_names: tuple[str, ...] = fx.CLIP_FEATURES
    metadata_names: tuple[str, ...] = METADATA_FEATURES

    # ---------------------------------------------------------------- persistence
    @classmethod
    def load(cls, name: str | os.PathLike[str] = "default") -> Detector:
        """Load a shipped detector by name (``"default"``) or a model folder / ``.skops`` file."""
        from veriframe._resources import data_dir

        path = Path(name)
        if path.suffix != ".skops" and not path.is_dir():
            if os.sep in str(name) or "/" in str(name):
                candidate = path
            else:
                candidate = data_dir("detectors") / str(name)
            path = candidate
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.is_file():
            raise DetectorError(
                "detector.not-found",
                f"no detector model at {path}",
                "use 'default', a folder with model.skops, or train one with "
                "'veriframe detector train'",
            )
        bundle = load_bundle(path)
        if bundle.get("format") != MODEL_FORMAT:
            raise DetectorError("detector.bad-model",
                                f"{path} is not a {MODEL_FORMAT} model",
                                "retrain it with 'veriframe detector train'")
        if int(bundle.get("feature_version", -1)) != fx.FEATURE_VERSION:
            raise DetectorError(
                "detector.stale-model",
                f"{path} was trained on feature version {bundle.get('feature_version')}, "
                f"this veriframe computes version {fx.FEATURE_VERSION}",
                "retrain it with 'veriframe detector train'",
            )
        label = path.parent.name if path.name == MODEL_FILE else path.stem
        return cls(
            forensic=bundle["forensic"],
            calibrator=bundle["calibrator"],
            fusion=bundle["fusion"],
            columns=tuple(int(c) for c in bundle.get("columns", [])),
            name=label,
            info=json.loads(bundle.get("info", "{}")),
            feature_names=tuple(bundle["feature_names"]),
            metadata_names=tuple(bundle["metadata_names"]),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``model.skops`` into the folder ``path`` (atomically); return the file."""
        from veriframe._atomic import atomic_output

        sio = _skops_io()

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        dst = folder / MODEL_FILE
        bundle = {
            "format": MODEL_FORMAT,
            "feature_version": fx.FEATURE_VERSION,
            "feature_names": list(self.feature_names),
            "metadata_names": list(self.metadata_names),
            "forensic": self.forensic,
            "calibrator": self.calibrator,
            "fusion": self.fusion,
            "columns": [int(c) for c in self.columns],
            "info": json.dumps(self.info, sort_keys=True),
        }
        with atomic_output(dst) as tmp:
            sio.dump(bundle, tmp)
        return dst

    # ---------------------------------------------------------------- scoring parts
    def forensic_p(self, vectors: np.ndarray) -> np.ndarray:
        """Calibrated forensic p_synthetic for clip-shaped feature vectors (rows)."""
        x = np.atleast_2d(vectors)
        if self.columns:
            x = x[:, list(self.columns)]
        raw = self.forensic.predict_proba(x)[:, 1]
        return np.asarray(self.calibrator.predict_proba(_logit(raw)[:, None])[:, 1])

    def fused_logit(self, p_forensic: np.ndarray, meta: np.ndarray) -> np.ndarray:
        """Fusion log-odds from forensic p and metadata vectors (rows)."""
        x = np.column_stack([_logit(p_forensic), np.atleast_2d(meta)])
        return np.asarray(self.fusion.decision_function(x))

    def _contributions(self, p_forensic: float, meta: np.ndarray) -> np.ndarray:
        """Per-term log-odds contributions of the fusion (forensic first, then metadata)."""
        scaler = self.fusion.steps[0][1]
        lr = self.fusion.steps[-1][1]
        x = np.concatenate([[float(_logit(p_forensic))], meta])
        z = (x - scaler.mean_) / scaler.scale_
        return np.asarray(lr.coef_[0] * z)

    # ---------------------------------------------------------------- public scoring
    def score(
        self,
        sample: Any,
        *,
        credentials: CredentialCheck | None = None,
        watermark: WatermarkCheck | None = None,
        use_metadata: bool = True,
    ) -> DetectionCheck:
        """Score a decoded :class:`veriframe.media.FrameSample` (its ``info`` gives metadata).

        Returns a scored :class:`DetectionCheck` with ``p_synthetic``, the per-signal breakdown
        and per-frame forensic scores with timestamps. The label is left to the policy.
        """
        if getattr(sample, "rgb", None) is None:
            raise DetectorError("detector.no-pixels", "the frame sample holds no RGB frames",
                                "sample frames with rgb=True")
        try:
            forensic = fx.extract(sample)
        except ValueError as exc:
            raise DetectorError("detector.bad-sample", str(exc),
                                "the clip is too small or empty for forensic analysis") from None
        p_f = float(self.forensic_p(forensic.clip_vector()[None, :])[0])
        frame_p = self.forensic_p(forensic.frame_vectors())
        indices = list(getattr(sample, "indices", range(len(sample.rgb))))
        times = list(getattr(sample, "timestamps", [0.0] * len(indices)))
        frame_scores = tuple(
            FrameScore(index=int(indices[pos]), timestamp=round(float(times[pos]), 4),
                       p_synthetic=round(float(p), 4))
            for pos, p in zip(forensic.frame_positions, frame_p, strict=True)
        )
        signals: list[Signal] = []
        info = getattr(sample, "info", None)
        if use_metadata and info is not None:
            meta = metadata_evidence(info)
            contrib = self._contributions(p_f, meta.vector)
            logit = float(self.fused_logit(np.array([p_f]), meta.vector[None, :])[0])
            if meta.tool_tags:
                logit += TOOL_TAG_LLR
            tool_c = TOOL_TAG_LLR if meta.tool_tags else 0.0
            total = float(np.abs(contrib).sum()) + tool_c or 1.0
            signals.append(Signal(
                name="forensic", kind="forensic", value=round(p_f, 4),
                p_synthetic=round(p_f, 4), weight=round(abs(float(contrib[0])) / total, 4),
                detail=f"pixel model over {len(frame_scores)} sampled frames "
                f"(spectrum, noise residuals, colour, temporal)"))
            for i, fname in enumerate(self.metadata_names):
                c = float(contrib[i + 1])
                signals.append(Signal(
                    name=fname.removeprefix("meta_"), kind="metadata",
                    value=round(float(meta.vector[i]), 4),
                    p_synthetic=round(float(_sigmoid(c)), 4),
                    weight=round(abs(c) / total, 4),
                    detail=_meta_detail(fname, float(meta.vector[i]), meta.facts)))
            signals.append(Signal(
                name="tool_tags", kind="metadata", value=", ".join(meta.tool_tags) or None,
                p_synthetic=round(float(_sigmoid(TOOL_TAG_LLR)), 4) if meta.tool_tags else None,
                weight=round(tool_c / total, 4),
                detail="generation-tool metadata tags (ComfyUI prompt/workflow, diffusers...)"
                if meta.tool_tags else "no generation-tool metadata tags"))
            p = float(_sigmoid(logit))
        else:
            p = p_f
            signals.append(Signal(
                name="forensic", kind="forensic", value=round(p_f, 4), p_synthetic=round(p_f, 4),
                weight=1.0, detail=f"pixel model over {len(frame_scores)} sampled frames"))
        prov = provenance_evidence(credentials=credentials, watermark=watermark)
        bounded = p
        if prov.floor is not None:
            bounded = max(p, prov.floor)
        elif prov.ceiling is not None:
            bounded = min(p, prov.ceiling)
        decided = bounded != p
        if decided:  # the bound decided: the learned terms no longer count
            signals = [Signal(s.name, s.kind, s.value, s.p_synthetic, 0.0, s.detail)
                       for s in signals]
        prov_signals = [
            s if (decided and s.name in prov.decisive) else
            Signal(s.name, s.kind, s.value, s.p_synthetic, 0.0, s.detail)
            for s in prov.signals
        ]
        p = bounded
        signals = [*prov_signals, *signals]
        return DetectionCheck(
            state=DetectionState.SCORED,
            p_synthetic=round(float(np.clip(p, 0.0, 1.0)), 4),
            label=None,
            model=self.name,
            signals=tuple(signals),
            frame_scores=frame_scores,
            used_metadata=use_metadata and info is not None,
        )

    def score_file(
        self,
        path: str | os.PathLike[str],
        *,
        credentials: CredentialCheck | None = None,
        watermark: WatermarkCheck | None = None,
        use_metadata: bool = True,
    ) -> DetectionCheck:
        """Probe and sample ``path`` (32 frames), then :meth:`score` it."""
        from veriframe.detect.dataset import SAMPLE_COUNT
        from veriframe.media import probe, sample_frames

        info = probe(path)
        sample = sample_frames(path, count=SAMPLE_COUNT, info=info)
        return self.score(sample, credentials=credentials, watermark=watermark,
                          use_metadata=use_metadata)


def _meta_detail(name: str, value: float, facts: dict[str, str]) -> str:
    text = _SIGNAL_TEXT.get(name, name)
    fact = {
        "meta_format_match": f"{facts.get('format_match')} [{facts.get('format')}]",
        "meta_capture_encoder": f"encoder {facts.get('encoder')}",
        "meta_short": f"duration {facts.get('duration')}",
        "meta_no_audio": f"audio: {facts.get('audio')}",
    }.get(name, facts.get("format", ""))
    if name == "meta_format_match":
        return f"{text}: {fact}"
    return f"{'yes' if value >= 0.5 else 'no'}, {text} ({fact})"


def _schema_types(path: Path) -> set[str]:
    """Every ``module.class`` named anywhere in a skops file's schema.

    skops' own ``get_untrusted_types`` leaves out the types skops trusts by default (most
    scikit-learn estimators); veriframe trusts only :data:`TRUSTED_TYPES`, so it reads the
    schema itself.
    """
    import zipfile

    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add(f"{node.get('__module__', '')}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def load_bundle(path: Path) -> dict[str, Any]:
    """Load a skops file, refusing any type outside :data:`TRUSTED_TYPES`."""
    sio = _skops_io()

    try:
        named = _schema_types(path) | set(sio.get_untrusted_types(file=path))
    except Exception as exc:  # zipfile/json/skops raise a variety of errors on a bad archive
        raise DetectorError("detector.bad-model", f"cannot read {path}: {exc}",
                            "the file is not a skops model; retrain it") from None
    unknown = sorted(named - set(TRUSTED_TYPES))
    if unknown:
        raise DetectorError(
            "detector.untrusted-model",
            f"{path} contains types veriframe does not trust: {', '.join(unknown)}",
            "only load detectors trained by veriframe; retrain it with "
            "'veriframe detector train'",
        )
    try:
        bundle = sio.load(path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise DetectorError("detector.bad-model", f"cannot load {path}: {exc}",
                            "retrain it with 'veriframe detector train'") from None
    if not isinstance(bundle, dict):
        raise DetectorError("detector.bad-model", f"{path} does not hold a detector bundle",
                            "retrain it with 'veriframe detector train'")
    return bundle


__all__ = ["MODEL_FORMAT", "TOOL_TAG_LLR", "TRUSTED_TYPES", "Detector", "load_bundle"]
