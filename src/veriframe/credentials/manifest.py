"""What goes into a veriframe C2PA manifest (``ManifestSpec``) and how it is built."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from veriframe._version import __version__
from veriframe.errors import CredentialsError

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC + "trainedAlgorithmicMedia"
COMPOSITE_WITH_TRAINED = IPTC + "compositeWithTrainedAlgorithmicMedia"
DIGITAL_CAPTURE = IPTC + "digitalCapture"

# IPTC digital source types (last path segment) that declare the content was made, in whole or
# in part, by an algorithm or a trained model. "dataDrivenMedia" (charts and other renderings of
# data by human programming) is deliberately not one of them.
AI_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
    }
)

SOFT_BINDING_ALG = "org.veriframe.watermark.1"

ACTIONS_LABEL = "c2pa.actions"
TRAINING_MINING_LABEL = "cawg.training-mining"
SOFT_BINDING_LABEL = "c2pa.soft-binding"
# Parameters that hold prompt text: hashed unless the caller asks to record them verbatim.
PROMPT_KEYS = ("prompt", "negative_prompt")
_TRAINING_USES = ("ai_training", "ai_generative_training", "data_mining", "ai_inference")


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


def ingredient_label(path: str | Path) -> str:
    """The label that links an ingredient file to the action that used it.

    ``build_manifest`` lists it in the created action's ``ingredientIds`` and
    ``sign.sign_mp4`` gives the ingredient the same label, so the two agree without
    depending on the order of the ingredients.
    """
    digest = hashlib.sha256(str(Path(path).expanduser().resolve()).encode("utf-8")).hexdigest()
    return f"veriframe-input-{digest[:12]}"


def ingredient_format(path: str | Path) -> str:
    """MIME type of an ingredient file, from its extension."""
    suffix = Path(path).suffix.lower()
    known = {
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".png": "image/png",
        ".webp": "image/webp",
        ".gif": "image/gif",
        ".tif": "image/tiff",
        ".tiff": "image/tiff",
        ".avif": "image/avif",
        ".heic": "image/heic",
        ".wav": "audio/wav",
        ".mp3": "audio/mpeg",
        ".m4a": "audio/mp4",
        ".mp4": "video/mp4",
        ".mov": "video/quicktime",
    }
    if suffix in known:
        return known[suffix]
    guessed, _ = mimetypes.guess_type(str(path))
    return guessed or "application/octet-stream"


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON (paths and other objects become strings)."""
    return json.loads(json.dumps(value, default=str, allow_nan=False))


def _generator_info(claim_generator: str) -> dict[str, str]:
    name, _, version = claim_generator.partition("/")
    info = {"name": name or "veriframe"}
    if version:
        info["version"] = version
    return info


def _parameters(spec: ManifestSpec) -> dict[str, Any]:
    try:
        params: dict[str, Any] = _jsonable(dict(spec.parameters))
    except ValueError:
        raise CredentialsError(
            "manifest.bad-parameters",
            "a generation parameter is not a finite number or JSON value",
            "pass parameters as plain numbers, strings, lists and mappings",
        ) from None
    prompts = {k: params.pop(k) for k in PROMPT_KEYS if k in params}
    if spec.prompt is not None:
        prompts["prompt"] = spec.prompt
    for key, text in prompts.items():
        if text is None:
            continue
        if spec.record_prompt:
            params[key] = str(text)
        else:
            params[f"{key}_sha256"] = hashlib.sha256(str(text).encode("utf-8")).hexdigest()
    return params


def _soft_binding(sb: SoftBinding) -> dict[str, Any]:
    if sb.frame_end < sb.frame_start or sb.duration_s < 0:
        raise CredentialsError(
            "manifest.bad-soft-binding",
            f"soft binding frame range {sb.frame_start}..{sb.frame_end} is empty or reversed",
            "this is a bug in the caller of build_manifest",
        )
    data: dict[str, Any] = {
        "alg": sb.alg,
        "name": "veriframe invisible video watermark (payload id)",
        # c2pa-rs decodes timespans as integer milliseconds.
        "blocks": [
            {
                "scope": {"timespan": {"start": 0, "end": round(sb.duration_s * 1000)}},
                "value": sb.payload_id,
            }
        ],
        "alg_params": f"frames={sb.frame_start}-{sb.frame_end};key_id={sb.key_id}",
        "pad": [0],  # required by c2pa-rs' SoftBinding struct
        "org.veriframe.key_id": sb.key_id,
        "org.veriframe.frames": {"start": sb.frame_start, "end": sb.frame_end},
    }
    if sb.fingerprint:
        data["org.veriframe.fingerprint"] = sb.fingerprint
    return data


def read_soft_binding(assertions: Mapping[str, Any] | None) -> SoftBinding | None:
    """The veriframe watermark binding in a manifest's assertions (``CredentialCheck.manifest``,
    label -> data), or None when there is none or it is not veriframe's."""
    data = (assertions or {}).get(SOFT_BINDING_LABEL)
    if not isinstance(data, Mapping) or data.get("alg") != SOFT_BINDING_ALG:
        return None
    blocks = data.get("blocks")
    block = blocks[0] if isinstance(blocks, list) and blocks else None
    payload = block.get("value") if isinstance(block, Mapping) else None
    key_id = data.get("org.veriframe.key_id")
    frames = data.get("org.veriframe.frames")
    fingerprint = data.get("org.veriframe.fingerprint")
    span = block.get("scope", {}).get("timespan", {}) if isinstance(block, Mapping) else {}
    if not isinstance(payload, str) or not payload:
        return None
    try:
        return SoftBinding(
            payload_id=payload.lower(),
            key_id=str(key_id or ""),
            frame_start=int(frames.get("start", 0)) if isinstance(frames, Mapping) else 0,
            frame_end=int(frames.get("end", 0)) if isinstance(frames, Mapping) else 0,
            duration_s=float(span.get("end", 0)) / 1000 if isinstance(span, Mapping) else 0.0,
            fingerprint=fingerprint if isinstance(fingerprint, str) else None,
        )
    except (TypeError, ValueError):
        return None


def build_manifest(spec: ManifestSpec) -> dict[str, Any]:
    """The c2pa ``Builder`` manifest definition for ``spec``.

    Assertions: ``c2pa.actions`` (``c2pa.created`` with the digital source type, the model as
    softwareAgent and the parameters; ``c2pa.transcoded`` when the source was converted),
    ``cawg.training-mining`` (everything ``notAllowed`` unless ``allow_training``),
    ``c2pa.soft-binding`` when the watermark is set, then ``extra_assertions``. Ingredient
    files (input image/audio) are linked by :func:`ingredient_label` and added by
    ``sign.sign_mp4``.
    """
    if not spec.title or not spec.title.strip():
        raise CredentialsError("manifest.bad-title", "the manifest title is empty", "give a title")
    if not spec.digital_source_type:
        raise CredentialsError(
            "manifest.bad-source-type",
            "c2pa.created needs a digitalSourceType",
            f"use {TRAINED_ALGORITHMIC_MEDIA}",
        )
    created: dict[str, Any] = {
        "action": "c2pa.created",
        "digitalSourceType": spec.digital_source_type,
        "when": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
    }
    if spec.model:
        agent = {"name": spec.model}
        if spec.model_version:
            agent["version"] = spec.model_version
        created["softwareAgent"] = agent
    params = _parameters(spec)
    ingredient_ids = [
        ingredient_label(p) for p in (spec.input_image, spec.input_audio) if p is not None
    ]
    if ingredient_ids:
        params["ingredientIds"] = ingredient_ids
    if params:
        created["parameters"] = params
    actions: list[dict[str, Any]] = [created]
    if spec.converted_from:
        actions.append(
            {
                "action": "c2pa.transcoded",
                "description": f"converted from {spec.converted_from} to MP4 for signing",
                "parameters": {"from": spec.converted_from, "to": "video/mp4"},
            }
        )
    use = "allowed" if spec.allow_training else "notAllowed"
    assertions: list[dict[str, Any]] = [
        {"label": ACTIONS_LABEL, "data": {"actions": actions}},
        {
            "label": TRAINING_MINING_LABEL,
            "data": {"entries": {f"cawg.{u}": {"use": use} for u in _TRAINING_USES}},
        },
    ]
    if spec.soft_binding is not None:
        assertions.append({"label": SOFT_BINDING_LABEL, "data": _soft_binding(spec.soft_binding)})
    for extra in spec.extra_assertions:
        if not isinstance(extra, Mapping) or not isinstance(extra.get("label"), str):
            raise CredentialsError(
                "manifest.bad-assertion",
                "an extra assertion has no string 'label'",
                'pass extra assertions as {"label": ..., "data": {...}}',
            )
        assertions.append(_jsonable(dict(extra)))
    return {
        "claim_generator_info": [_generator_info(spec.claim_generator)],
        "title": spec.title,
        "format": "video/mp4",
        "assertions": assertions,
    }
