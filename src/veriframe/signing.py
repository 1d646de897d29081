"""The sign path: media → watermark → C2PA manifest → signed MP4 + manifest-store record.

Frames are marked in the same pass that encodes them (a video is decoded once, generated
frames are encoded once). Fail closed: the output appears (atomically, by rename) only after
the watermark was embedded *and found again* in the encoded file, the manifest was signed,
and its record was written to the manifest store. On any failure nothing is written and the
input is untouched. An existing output is replaced only with ``overwrite=True``, and the
input never.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from veriframe import watermark
from veriframe._atomic import atomic_output, same_file
from veriframe._hashing import sha256_file
from veriframe.credentials import (
    TRAINED_ALGORITHMIC_MEDIA,
    ManifestSpec,
    SoftBinding,
    build_manifest,
)
from veriframe.errors import MediaError, SignError, WatermarkError
from veriframe.integrity import ASSERTION_LABEL as PRINTS_LABEL
from veriframe.integrity import PrintBuilder
from veriframe.results import SignResult, WatermarkState
from veriframe.settings import Settings, resolve_settings

if TYPE_CHECKING:
    from veriframe.credentials import ManifestStore, SigningIdentity

READ_BACK_FRAMES = 32  # frames decoded from the encoded output to check the mark survived
# Containers C2PA signs in place; anything else is converted to MP4 and the report says so.
_MP4_FAMILY = {"mp4", "mov", "m4v", "mov,mp4,m4a,3gp,3g2,mj2"}
_OUTPUT_SUFFIXES = {".mp4", ".m4v"}


def check_output(output: Path, *, overwrite: bool, src: Path | None = None) -> None:
    """Refuse an output that is not ``.mp4``, is a folder, is the input, or exists already.

    An existing output file is replaced only with ``overwrite`` (``--force``); the input
    itself never, whatever ``overwrite`` says.
    """
    if output.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise SignError(
            "sign.output-format",
            f"the signed output must be an MP4 file, not {output.name!r}",
            "name the output with a .mp4 extension, e.g. -o clip.signed.mp4",
        )
    if output.exists() and output.is_dir():
        raise SignError(
            "sign.output-is-directory", f"{output} is a directory", "give a file name with -o"
        )
    if src is not None and same_file(src, output):
        raise SignError(
            "sign.same-file",
            "the output would overwrite the input",
            "veriframe never overwrites an input: choose another output path with -o",
        )
    if output.exists() and not overwrite:
        raise SignError(
            "sign.output-exists",
            f"{output} already exists",
            "choose another output path, or pass --force to replace it",
        )


def _identity(identity: SigningIdentity | None, settings: Settings,
              tsa_url: str | None = None) -> SigningIdentity:
    if tsa_url is not None:
        from veriframe.credentials import check_tsa_url

        check_tsa_url(tsa_url)  # a bad URL fails before the expensive watermark pass
    if identity is not None:
        return identity if tsa_url is None else dataclasses.replace(identity, tsa_url=tsa_url)
    from veriframe.credentials import load_identity

    return load_identity(home=settings.home, passphrase=settings.passphrase, tsa_url=tsa_url)


def _open_store(store: ManifestStore | None, settings: Settings) -> ManifestStore:
    from veriframe.credentials import ManifestStore

    return store if store is not None else ManifestStore(settings.store_path)


def _split_store(
    store: ManifestStore | str | os.PathLike[str] | None,
) -> tuple[ManifestStore | None, str | os.PathLike[str] | None]:
    """An open store, or a path for the settings."""
    from veriframe.credentials import ManifestStore

    if isinstance(store, ManifestStore):
        return store, None
    return None, store


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
    settings: Settings | None = None,
    home: str | os.PathLike[str] | None = None,
    passphrase: str | None = None,
    store: ManifestStore | str | os.PathLike[str] | None = None,
    crf: int = 18,
    overwrite: bool = False,
    publish: Publication | None = None,
    tsa_url: str | None = None,
) -> SignResult:
    """Watermark ``src`` and sign it with C2PA Content Credentials, writing ``output`` (MP4).

    Either pass a complete ``spec`` or describe the generation with the keyword arguments
    (model, parameters, prompt, input image). Keys come from ``identity`` (e.g. a remote
    signer built with ``SigningIdentity.remote``) or from the home of ``settings`` (``home``
    overrides it), unlocked with ``passphrase``. An existing ``output`` is refused unless
    ``overwrite``. ``publish``: also register the signed manifest with a soft-binding resolver
    (a failure to publish fails the whole sign). ``tsa_url``: time-stamp the signature at that
    RFC 3161 authority (it fails closed: ``credentials.tsa-unavailable``). Raises
    :class:`VeriframeError` on any failure, in which case nothing was written.
    """
    from veriframe import media

    open_store, store_path = _split_store(store)
    cfg = resolve_settings(settings, home=home, store=store_path, passphrase=passphrase)
    src_path, out_path = Path(src), Path(output)
    info = media.probe(src_path, limits=cfg.limits)  # bad input raises here, before keys
    check_output(out_path, overwrite=overwrite, src=src_path)
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
    _ingredients(spec)
    ident = _identity(identity, cfg, tsa_url)
    manifest_store = _open_store(open_store, cfg)
    key = watermark.WatermarkKey(ident.watermark_key)
    payload = watermark.Payload.new()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".veriframe-", dir=out_path.parent) as tmp:
        marked = Path(tmp) / "marked.mp4"
        marker = _Marker(key, payload, fps=float(info.fps or 0.0))
        media.rewrite_video(src_path, marked, transform=marker, crf=crf, limits=cfg.limits)
        return _check_and_sign(
            marked, out_path, spec=spec, identity=ident, store=manifest_store, marker=marker,
            publish=publish,
        )


def sign_frames(
    frames: np.ndarray | Iterable[np.ndarray],
    *,
    fps: float,
    output: str | os.PathLike[str],
    spec: ManifestSpec,
    identity: SigningIdentity | None = None,
    settings: Settings | None = None,
    home: str | os.PathLike[str] | None = None,
    passphrase: str | None = None,
    audio_from: str | os.PathLike[str] | None = None,
    store: ManifestStore | str | os.PathLike[str] | None = None,
    crf: int = 18,
    overwrite: bool = False,
    publish: Publication | None = None,
) -> SignResult:
    """Encode RGB uint8 ``frames`` (N,H,W,3) to a watermarked, signed MP4 at ``output``.

    Generators call this. Each frame is marked on exactly the generated pixels (after the
    conversion to yuv420p) in the pass that encodes it at ``crf``: one encode, no
    intermediate file. Keys, store, ``overwrite`` and ``publish`` as in :func:`sign_video`.
    """
    from veriframe import media

    open_store, store_path = _split_store(store)
    cfg = resolve_settings(settings, home=home, store=store_path, passphrase=passphrase)
    out_path = Path(output)
    check_output(out_path, overwrite=overwrite)
    _ingredients(spec)
    ident = _identity(identity, cfg)
    manifest_store = _open_store(open_store, cfg)
    key = watermark.WatermarkKey(ident.watermark_key)
    payload = watermark.Payload.new()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".veriframe-", dir=out_path.parent) as tmp:
        marked = Path(tmp) / "marked.mp4"
        marker = _Marker(key, payload, fps=fps)
        media.write_video(
            marked,
            frames,
            fps=fps,
            audio_from=Path(audio_from) if audio_from is not None else None,
            crf=crf,
            transform=marker,
        )
        return _check_and_sign(
            marked, out_path, spec=spec, identity=ident, store=manifest_store, marker=marker,
            publish=publish,
        )


@dataclass(frozen=True)
class Publication:
    """Where a signed manifest is published: a soft-binding resolver and a bearer token."""

    url: str
    token: str = field(repr=False)
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        from veriframe.softbinding.client import check_url
        from veriframe.softbinding.protocol import ResolverError

        check_url(self.url)
        if not self.token:
            raise ResolverError("resolver.no-token", "publishing to a resolver needs a token",
                                "set VERIFRAME_RESOLVER_TOKEN to a token made with "
                                "`veriframe resolver token` on the resolver")

    def send(self, manifest_store: bytes) -> str:
        """Register ``manifest_store``; return the resolver's URL. Raises ResolverError."""
        from veriframe.softbinding.client import ResolverClient

        with ResolverClient(self.url, token=self.token, timeout_s=self.timeout_s) as client:
            client.publish(manifest_store)
            return client.url


def _ingredients(spec: ManifestSpec) -> list[Path]:
    """The spec's ingredient files, each of which must exist (checked before any encoding)."""
    ingredients = [Path(p) for p in (spec.input_image, spec.input_audio) if p is not None]
    for ingredient in ingredients:
        if not ingredient.is_file():
            raise MediaError(
                "media.not-found", f"ingredient {ingredient} does not exist", "check the path"
            )
    return ingredients


class _Marker:
    """The per-frame transform of the encoding pass: embeds the payload, feeds the marked luma
    to the segment-and-region fingerprints, and keeps a bounded, evenly spread set of the marked
    frames for the global fingerprint (so the output is never decoded in full again): the
    frames :func:`veriframe.watermark.signed_frame_indices` names, which verify compares with
    the frames of a copy shown at the same moments."""

    def __init__(self, key: watermark.WatermarkKey, payload: watermark.Payload, *,
                 fps: float) -> None:
        self.key = key
        self.payload = payload
        self.kept: list[np.ndarray] = []
        self.stride = 1
        self.frames = 0
        self.prints = PrintBuilder(fps=fps)

    def __call__(self, index: int, y: np.ndarray) -> np.ndarray:
        # index: the frame's position in the clip, which a v2 mark's sign schedule follows
        out = watermark.embed_luma(y, key=self.key, payload=self.payload, index=index)
        self.prints.add(index, out)
        if index % self.stride == 0:
            self.kept.append(out.copy())
            # thin out: every other kept frame, twice the stride
            if len(self.kept) > watermark.SIGN_KEEP:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.frames += 1
        return out

    def fingerprint(self) -> str:
        """The content fingerprint of the marked frames (as encoded, before compression)."""
        if not self.kept:
            raise WatermarkError("watermark.embed-failed", "no frame was marked",
                                 "the input holds no pictures; nothing was written")
        return watermark.fingerprint(np.stack(self.kept))


def _check_and_sign(
    marked: Path,
    output: Path,
    *,
    spec: ManifestSpec,
    identity: SigningIdentity,
    store: ManifestStore,
    marker: _Marker,
    publish: Publication | None,
) -> SignResult:
    from veriframe import media
    from veriframe.credentials import StoreRecord, sign_mp4

    key, payload = marker.key, marker.payload
    # Fail closed: the mark must be found again in what will be published. The mark is the
    # same in every stretch of the clip, so the first frames are a fair, cheap read-back.
    sample = media.first_frames(marked, count=READ_BACK_FRAMES)
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
        frame_end=int(info.frame_count or marker.frames),
        duration_s=float(info.duration or 0.0),
        fingerprint=marker.fingerprint(),
    )
    prints = marker.prints.build()
    extra = () if prints is None else (
        {"label": PRINTS_LABEL, "data": prints.to_assertion()},)
    spec = dataclasses.replace(spec, soft_binding=soft,
                               extra_assertions=(*spec.extra_assertions, *extra))
    manifest = build_manifest(spec)
    ingredients = _ingredients(spec)
    with atomic_output(output) as tmp_out:
        store_bytes = sign_mp4(
            marked, tmp_out, manifest=manifest, identity=identity, ingredients=ingredients
        )
        signed_sha = sha256_file(tmp_out)
        label = _active_label(tmp_out)
        published = publish.send(store_bytes) if publish is not None else None
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
    if published is not None:
        notes.append(f"published to the resolver at {published}")
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
    from veriframe.credentials import active_manifest_label

    return active_manifest_label(path)
