"""What goes into a veriframe C2PA manifest (``ManifestSpec``) and how it is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veriframe import __version__

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC + "trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED = IPTC + "compositeWithTrainedAlgorithmicMedia"
DIGITAL_CAPTURE = IPTC + "digitalCapture"

SOFT_BINDING_ALG = "org.veriframe.watermark.1"


@dataclass(frozen=True)
class SoftBinding:
    """The watermark that binds a manifest to its content (``c2pa.soft-binding``)."""

    payload_id: str  # hex content id carried by the watermark
    key_id: str  # which watermark key embedded it (a fingerprint, never the key)
    frame_start: int
    frame_end: int  # exclusive
    duration_s: float
    alg: str = SOFT_BINDING_ALG
    fingerprint: str | None = None  # perceptual fingerprint of the signed content (hex)


@dataclass(frozen=True)
class ManifestSpec:
    """Everything the caller knows about how a video was made.

    ``parameters`` are recorded as given (effect, seed, steps, guidance, ...). The prompt is
    recorded verbatim only when ``record_prompt`` is true; otherwise only its SHA-256.
    """

    title: str
    digital_source_type: str = TRAINED_ALGORITHMIC_MEDIA
    model: str | None = None  # softwareAgent name, e.g. "Wan2.1-I2V-14B-480P"
    model_version: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    record_prompt: bool = False
    input_image: Path | None = None  # becomes an ingredient (inputTo)
    input_audio: Path | None = None  # becomes an ingredient (inputTo), e.g. avatar audio
    allow_training: bool = False  # c2pa.training-mining: notAllowed unless true
    soft_binding: SoftBinding | None = None
    converted_from: str | None = None  # source container when it was converted to MP4
    extra_assertions: tuple[Mapping[str, Any], ...] = ()
    claim_generator: str = f"veriframe/{__version__}"
