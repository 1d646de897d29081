"""The detector: a forensic model, a metadata fusion term, provenance bounds; JSON on disk.

Fusion, in log-odds:

1. ``forensic``: standardised pixel features → logistic regression (class-balanced), then a
   1-D Platt calibrator fitted on out-of-fold scores (grouped by source) → ``p_forensic``.
2. ``fusion`` (metadata on): logistic regression on ``[logit(p_forensic), metadata features]``
   fitted on the same out-of-fold forensic scores, plus a fixed likelihood ratio for
   generation-tool tags (ComfyUI ``prompt``/``workflow``...), which no training clip carries.
   With metadata off, ``p = p_forensic``.
3. provenance bounds: decisive AI provenance sets a floor (0.99), a trusted capture claim a
   ceiling (0.10) — see :mod:`veriframe.detect.provenance`.

A model is a small JSON data file (``model.json``, see :mod:`veriframe.detect.modelfile`):
standardisation constants, coefficients, intercepts and the calibration, scored here with
NumPy alone. No object is ever deserialised: a file whose values are not exactly the numbers,
lists and strings the format names is refused (``detector.untrusted-model``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from veriframe.detect import features as fx
from veriframe.detect import modelfile as mf
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

if TYPE_CHECKING:
    from veriframe.media import Limits

MODEL_FORMAT = mf.FORMAT
MODEL_FILE = "model.json"
TOOL_TAG_LLR = 4.0  # log-odds added when generation-tool tags are present (prior, not learned)
_CLIP = 1e-4

_SIGNAL_TEXT = {
    "meta_format_match": "size/frame count/fps match a known open model's output",
    "meta_frames_4k1": "frame count is 4k+1 (causal 3D-VAE models)",
    "meta_fps_low": "frame rate at or below 16 fps",
    "meta_short": "clip is 6.5 s or shorter",
    "meta_size_mult16": "width and height are multiples of 16",
    "meta_no_audio": "no audio track",
    "meta_capture_encoder": "encoder tag names a camera, editor or platform transcoder",
}


def _logit(p: np.ndarray | float) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _CLIP, 1 - _CLIP)
    return np.asarray(np.log(q / (1 - q)))


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    """The logistic function, without overflow warnings for large ``|z|``."""
    x = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.asarray(np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))


@dataclass
class Detector:
    """A loaded detector model: :meth:`load`, or :func:`veriframe.detect.lab.training.fit`.

    Every part is an array of numbers (see :mod:`veriframe.detect.modelfile`), scored with
    NumPy.
    """

    forensic: mf.Linear  # standardised logistic regression on the ``columns`` of the clip vector
    calibration: mf.Platt  # on the logit of the forensic model's raw probability
    fusion: mf.Linear  # on [forensic logit, metadata features]
    columns: tuple[int, ...] = ()  # forensic feature columns used (empty: all)
    name: str = "custom"
    info: dict[str, Any] = field(default_factory=dict)
    feature_names: tuple[str, ...] = fx.CLIP_FEATURES
    metadata_names: tuple[str, ...] = METADATA_FEATURES
    training_data: dict[str, Any] = field(default_factory=dict)
    tool_tag_llr: float = TOOL_TAG_LLR
    abstain: mf.Abstain = field(default_factory=mf.Abstain)

    # ---------------------------------------------------------------- persistence
    @classmethod
    def load(cls, name: str | os.PathLike[str] = "default") -> Detector:
        """Load a shipped detector by name (``"default"``) or a model folder / ``.json`` file.

        Raises :class:`~veriframe.errors.DetectorError`: ``detector.not-found``,
        ``detector.untrusted-model`` (unknown format version, malformed values),
        ``detector.stale-model`` (trained on other features than this veriframe computes).
        """
        from veriframe._resources import data_dir

        path = Path(name)
        if path.suffix != ".json" and not path.is_dir():
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
                "use 'default', a folder with model.json, or train one with "
                "'veriframe detector train'",
            )
        doc = mf.read(path)
        if doc.feature_version != fx.FEATURE_VERSION or doc.features != fx.CLIP_FEATURES:
            raise DetectorError(
                "detector.stale-model",
                f"{path} was trained on feature version {doc.feature_version}, "
                f"this veriframe computes version {fx.FEATURE_VERSION}",
                "retrain it with 'veriframe detector train'",
            )
        if doc.metadata_features != METADATA_FEATURES:
            raise DetectorError(
                "detector.stale-model",
                f"{path} was trained on other metadata features than this veriframe computes",
                "retrain it with 'veriframe detector train'",
            )
        label = path.parent.name if path.name == MODEL_FILE else path.stem
        return cls(
            forensic=doc.forensic,
            calibration=doc.calibration,
            fusion=doc.fusion,
            columns=doc.columns,
            name=label,
            info=doc.info,
            feature_names=doc.features,
            metadata_names=doc.metadata_features,
            training_data=doc.training_data,
            tool_tag_llr=doc.tool_tag_llr,
            abstain=doc.abstain,
        )

    def model_file(self) -> mf.ModelFile:
        """This detector as a :class:`~veriframe.detect.modelfile.ModelFile`."""
        columns = self.columns or tuple(range(len(self.feature_names)))
        return mf.ModelFile(
            feature_version=fx.FEATURE_VERSION,
            features=tuple(self.feature_names),
            metadata_features=tuple(self.metadata_names),
            columns=tuple(int(c) for c in columns),
            forensic=self.forensic,
            calibration=self.calibration,
            fusion=self.fusion,
            tool_tag_llr=self.tool_tag_llr,
            abstain=self.abstain,
            training_data=dict(self.training_data),
            info=dict(self.info),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``model.json`` into the folder ``path`` (atomically); return the file."""
        from veriframe._atomic import write_bytes_atomic

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        dst = folder / MODEL_FILE
        text = self.model_file().dumps()
        mf.loads(text, source=str(dst))  # never write a file this veriframe would refuse
        write_bytes_atomic(dst, text.encode("utf-8"), mode=0o644)
        return dst

    # ---------------------------------------------------------------- scoring parts
    def raw_forensic_p(self, vectors: np.ndarray) -> np.ndarray:
        """The forensic model's uncalibrated probability for clip-shaped vectors (rows)."""
        x = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
        if self.columns:
            x = x[:, list(self.columns)]
        return _sigmoid(self.forensic.decision(x))

    def forensic_p(self, vectors: np.ndarray) -> np.ndarray:
        """Calibrated forensic p_synthetic for clip-shaped feature vectors (rows)."""
        raw = self.raw_forensic_p(vectors)
        cal = self.calibration
        return _sigmoid(_logit(raw) * cal.slope + cal.intercept)

    def fused_logit(self, p_forensic: np.ndarray, meta: np.ndarray) -> np.ndarray:
        """Fusion log-odds from forensic p and metadata vectors (rows)."""
        x = np.column_stack([_logit(p_forensic), np.atleast_2d(meta)])
        return self.fusion.decision(x)

    @property
    def uses_temporal(self) -> bool:
        """Whether any column this model reads (pixel model or out-of-distribution check) is a
        temporal feature; when none is, scoring skips computing them."""
        used = set(self.columns or range(len(self.feature_names)))
        if self.abstain.ood is not None:
            used |= set(self.abstain.ood.columns)
        temporal = set(fx.TEMPORAL_FEATURES)
        return any(self.feature_names[c] in temporal for c in used)

    def out_of_depth(self, quality: fx.SampleQuality | None, vector: np.ndarray) -> str | None:
        """Why the sample is outside what this detector was trained on, or None.

        Checks, in order: too few distinct frames, frames too small, large perfectly flat
        areas (animation, screen recordings, slides), and a clip vector far from every
        training clip (the ``ood`` distance).
        """
        ab = self.abstain
        if quality is not None:
            if quality.distinct < ab.min_distinct_frames:
                return (f"too short for the detector: {quality.distinct} distinct frame(s) in "
                        f"the sample, it needs {ab.min_distinct_frames}")
            side = min(quality.width, quality.height)
            if side < ab.min_side:
                return (f"frames too small for the detector: {quality.width}x"
                        f"{quality.height}, it needs {ab.min_side} px on the short side")
            if quality.flat_fraction > ab.max_flat_fraction:
                return (f"looks like animation, a screen recording or a slide "
                        f"({quality.flat_fraction:.0%} of the analysed picture is perfectly "
                        f"flat; the detector was trained on camera and generator footage)")
        if ab.ood is not None:
            d = float(ab.ood.distance(vector)[0])
            if d > ab.ood.threshold:
                return (f"unlike the clips the detector was trained on (feature distance "
                        f"{d:.2f}, limit {ab.ood.threshold:.2f})")
        return None

    def uncertain(self, p: float) -> str | None:
        """Why ``p`` is too close to a coin flip to label, or None."""
        lo, hi = self.abstain.band
        if lo < p < hi:
            return (f"p_synthetic {p:.2f} is inside the detector's uncertain band "
                    f"({lo:.2f}-{hi:.2f})")
        return None

    def _contributions(self, p_forensic: float, meta: np.ndarray) -> np.ndarray:
        """Per-term log-odds contributions of the fusion (forensic first, then metadata)."""
        x = np.concatenate([[float(_logit(p_forensic))], meta])
        return np.asarray(self.fusion.coef * self.fusion.standardise(x))

    # ---------------------------------------------------------------- public scoring
    def features(self, sample: Any) -> fx.ForensicFeatures:
        """The forensic features :meth:`score` reads from a sample (the costly part of
        scoring: a caller may work them out in another thread while it checks the mark)."""
        if getattr(sample, "rgb", None) is None:
            raise DetectorError("detector.no-pixels", "the frame sample holds no RGB frames",
                                "sample frames with rgb=True")
        try:
            return fx.extract(sample, temporal=self.uses_temporal)
        except ValueError as exc:
            raise DetectorError("detector.bad-sample", str(exc),
                                "the clip is too small or empty for forensic analysis") from None

    def score(
        self,
        sample: Any,
        *,
        credentials: CredentialCheck | None = None,
        watermark: WatermarkCheck | None = None,
        use_metadata: bool = True,
        forensic: fx.ForensicFeatures | None = None,
    ) -> DetectionCheck:
        """Score a decoded :class:`veriframe.media.FrameSample` (its ``info`` gives metadata).

        Returns a scored :class:`DetectionCheck` with ``p_synthetic``, the per-signal breakdown
        and per-frame forensic scores with timestamps. ``inconclusive`` says why the score
        should not be labelled when the sample is out of the detector's depth (too short, too
        small, animation or screen recording, unlike the training clips) or the learned score
        sits in the model's uncertain band; it stays None when provenance decided. The label
        is left to the policy. ``forensic``: the sample's :meth:`features`, when the caller
        worked them out already (beside the mark search).
        """
        if forensic is None:
            forensic = self.features(sample)
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
                logit += self.tool_tag_llr
            tool_c = self.tool_tag_llr if meta.tool_tags else 0.0
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
                p_synthetic=(round(float(_sigmoid(self.tool_tag_llr)), 4)
                             if meta.tool_tags else None),
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
        inconclusive = None
        if not decided:  # provenance that decides is never inconclusive
            inconclusive = (self.out_of_depth(forensic.quality, forensic.clip_vector())
                            or self.uncertain(p))
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
            inconclusive=inconclusive,
        )

    def score_file(
        self,
        path: str | os.PathLike[str],
        *,
        credentials: CredentialCheck | None = None,
        watermark: WatermarkCheck | None = None,
        use_metadata: bool = True,
        limits: Limits | None = None,
    ) -> DetectionCheck:
        """Probe and sample ``path`` (32 frames) within ``limits`` (the decode limits and
        budget, default :class:`~veriframe.media.Limits`), then :meth:`score` it.

        Raises :class:`~veriframe.errors.MediaError` (``media.limits`` for a file over the
        limits) as ``verify`` would for the same file and limits.
        """
        from veriframe.detect.features import SAMPLE_COUNT
        from veriframe.media import probe, sample_runs

        info = probe(path, limits=limits)
        sample = sample_runs(path, count=SAMPLE_COUNT, info=info, limits=limits)
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


__all__ = ["MODEL_FILE", "MODEL_FORMAT", "TOOL_TAG_LLR", "Detector"]
