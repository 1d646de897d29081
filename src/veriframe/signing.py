"""The sign path: media → watermark → C2PA manifest → signed MP4 + manifest-store record.

Fail closed: the output appears (atomically, by rename) only after the watermark was
embedded *and found again* in the encoded file, the manifest was signed, and its record was
written to the manifest store. On any failure nothing is written and the input is untouched.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from veriframe._atomic import atomic_output
from veriframe.config import Paths
from veriframe.credentials.manifest import (
    TRAINED_ALGORITHMIC_MEDIA,
    ManifestSpec,
    SoftBinding,
    build_manifest,
)
from veriframe.errors import MediaError, VeriframeError, WatermarkError
from veriframe.results import SignResult, WatermarkState

if TYPE_CHECKING:
    from veriframe.credentials.keys import SigningIdentity
    from veriframe.credentials.store import ManifestStore

# Containers C2PA signs in place; anything else is converted to MP4 and the report says so.
_MP4_FAMILY = {"mp4", "mov", "m4v", "mov,mp4,m4a,3gp,3g2,mj2"}
_OUTPUT_SUFFIXES = {".mp4", ".m4v"}


def _check_paths(src: Path, output: Path) -> None:
    if output.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise VeriframeError(
            "sign.output-format",
            f"the signed output must be an MP4 file, not {output.name!r}",
            "name the output with a .mp4 extension, e.g. -o clip.signed.mp4",
        )
    if output.exists() and output.is_dir():
        raise VeriframeError(
            "sign.output-is-directory", f"{output} is a directory", "give a file name with -o"
        )
    try:
        same = output.exists() and os.path.samefile(src, output)
    except OSError:
        same = False
    if same or src.resolve() == output.resolve():
        raise VeriframeError(
            "sign.same-file",
            "the output would overwrite the input",
            "veriframe never overwrites an input: choose another output path with -o",
        )


def _identity(
    identity: SigningIdentity | None, home: str | os.PathLike[str] | None, passphrase: str | None
) -> SigningIdentity:
    if identity is not None:
        return identity
    from veriframe.credentials.keys import load_identity

    return load_identity(home=home, passphrase=passphrase)


def _open_store(
    store: ManifestStore | str | os.PathLike[str] | None, home: str | os.PathLike[str] | None
) -> ManifestStore:
    from veriframe.credentials.store import ManifestStore

    if isinstance(store, ManifestStore):
        return store
    path = Path(store) if store is not None else Paths.resolve(home).store
    return ManifestStore(path)


def sign_video(
    src: str | os.PathLike[str],
    *,
    output: str | os.PathLike[str],
    spec: ManifestSpec | None = None,
    model: str | None = None,
    model_version: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    prompt: str | None = None,
    record_prompt: bool = False,
    input_image: str | os.PathLike[str] | None = None,
    title: str | None = None,
    digital_source_type: str = TRAINED_ALGORITHMIC_MEDIA,
    allow_training: bool = False,
    identity: SigningIdentity | None = None,
    home: str | os.PathLike[str] | None = None,
    passphrase: str | None = None,
    store: ManifestStore | str | os.PathLike[str] | None = None,
    crf: int = 18,
) -> SignResult:
    """Watermark ``src`` and sign it with C2PA Content Credentials, writing ``output`` (MP4).

    Either pass a complete ``spec`` or describe the generation with the keyword arguments
    (model, parameters, prompt, input image). Keys come from ``identity`` (e.g. a remote
    signer built with ``SigningIdentity.remote``) or from the veriframe home, unlocked with
    ``passphrase`` or ``$VERIFRAME_KEY_PASSPHRASE``. Raises :class:`VeriframeError` on any
    failure, in which case nothing was written.
    """
    from veriframe import media

    src_path, out_path = Path(src), Path(output)
    info = media.probe(src_path)  # not-found / unreadable / unsupported raise here, before keys
    _check_paths(src_path, out_path)
    if spec is None:
        spec = ManifestSpec(
            title=title or out_path.name,
            digital_source_type=digital_source_type,
            model=model,
            model_version=model_version,
            parameters=dict(parameters or {}),
            prompt=prompt,
            record_prompt=record_prompt,
            input_image=Path(input_image) if input_image is not None else None,
            allow_training=allow_training,
        )
    container = (info.container or "").lower()
    if container not in _MP4_FAMILY and src_path.suffix.lower() not in {".mp4", ".mov", ".m4v"}:
        spec = dataclasses.replace(spec, converted_from=src_path.suffix.lstrip(".") or container)
    ident = _identity(identity, home, passphrase)
    manifest_store = _open_store(store, home)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".veriframe-", dir=out_path.parent) as tmp:
        return _mark_and_sign(
            src_path, out_path, Path(tmp), spec=spec, identity=ident, store=manifest_store, crf=crf
        )


def sign_frames(
    frames: np.ndarray | Iterable[np.ndarray],
    *,
    fps: float,
    output: str | os.PathLike[str],
    spec: ManifestSpec,
    identity: SigningIdentity | None = None,
    home: str | os.PathLike[str] | None = None,
    passphrase: str | None = None,
    audio_from: str | os.PathLike[str] | None = None,
    store: ManifestStore | str | os.PathLike[str] | None = None,
    crf: int = 18,
) -> SignResult:
    """Encode RGB uint8 ``frames`` (N,H,W,3) to a watermarked, signed MP4 at ``output``.

    Generators call this. The frames are first written losslessly (x264 CRF 0) to a private
    temporary file, so the mark is embedded on exactly the generated pixels and the output is
    encoded once at ``crf``.
    """
    from veriframe import media

    out_path = Path(output)
    if out_path.suffix.lower() not in _OUTPUT_SUFFIXES:
        _check_paths(out_path, out_path)
    ident = _identity(identity, home, passphrase)
    manifest_store = _open_store(store, home)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".veriframe-", dir=out_path.parent) as tmp:
        raw = Path(tmp) / "generated.mp4"
        media.write_video(
            raw,
            frames,
            fps=fps,
            audio_from=Path(audio_from) if audio_from is not None else None,
            crf=0,
            preset="ultrafast",
        )
        return _mark_and_sign(
            raw, out_path, Path(tmp), spec=spec, identity=ident, store=manifest_store, crf=crf
        )


def _mark_and_sign(
    src: Path,
    output: Path,
    tmp: Path,
    *,
    spec: ManifestSpec,
    identity: SigningIdentity,
    store: ManifestStore,
    crf: int,
) -> SignResult:
    from veriframe import media, watermark
    from veriframe.credentials.sign import sign_mp4
    from veriframe.credentials.store import StoreRecord

    key = watermark.WatermarkKey(identity.watermark_key)
    payload = watermark.Payload.new()
    marked = tmp / "marked.mp4"
    watermark.embed_video(src, marked, key=key, payload=payload, crf=crf)

    # Fail closed: the mark must be found again in what will be published.
    sample = media.sample_frames(marked, count=32)
    check = watermark.detect(sample, keys=[key])
    if check.state is not WatermarkState.PRESENT or check.payload_id != payload.hex:
        raise WatermarkError(
            "watermark.embed-failed",
            "the watermark could not be read back from the encoded video "
            f"(state {check.state.value}, p={check.p_value})",
            "the clip may be too small, too short or too flat to carry the mark; "
            "nothing was written",
        )
    info = sample.info
    soft = SoftBinding(
        payload_id=payload.hex,
        key_id=key.key_id,
        frame_start=0,
        frame_end=int(info.frame_count or len(sample.indices)),
        duration_s=float(info.duration or 0.0),
        fingerprint=watermark.fingerprint(sample),
    )
    spec = dataclasses.replace(spec, soft_binding=soft)
    manifest = build_manifest(spec)
    ingredients = [p for p in (spec.input_image, spec.input_audio) if p is not None]
    for ingredient in ingredients:
        if not Path(ingredient).is_file():
            raise MediaError(
                "media.not-found", f"ingredient {ingredient} does not exist", "check the path"
            )
    with atomic_output(output) as tmp_out:
        store_bytes = sign_mp4(
            marked, tmp_out, manifest=manifest, identity=identity, ingredients=ingredients
        )
        signed_sha = hashlib.sha256(tmp_out.read_bytes()).hexdigest()
        label = _active_label(tmp_out)
        store.put(
            StoreRecord(
                payload_id=payload.hex,
                manifest_label=label or "",
                manifest_store=store_bytes,
                fmt="video/mp4",
                key_id=key.key_id,
                signer=identity.subject,
                created_at=None,
                content_sha256=signed_sha,
                fingerprint=soft.fingerprint,
                title=spec.title,
            )
        )
    notes: list[str] = []
    if spec.converted_from:
        notes.append(
            f"converted from {spec.converted_from} to MP4 (C2PA cannot sign that container "
            "in place)"
        )
    return SignResult(
        output=str(output),
        manifest_label=label,
        payload_id=payload.hex,
        converted_from=spec.converted_from,
        watermarked=True,
        store=str(store.path),
        manifest=manifest,
        notes=tuple(notes),
    )


def _active_label(path: Path) -> str | None:
    """The active manifest label of a freshly signed file (for the store record)."""
    from veriframe.credentials.read import active_manifest_label

    return active_manifest_label(path)
