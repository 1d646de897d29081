"""Soft-binding resolution: find a stripped clip's manifest by its watermark or its content.

Both sides of the C2PA Soft Binding Resolution API, as library calls:

- the resolver's side (what ``veriframe resolver serve`` runs, on the signer's keys and store):
  :func:`find_by_binding`, :func:`find_by_content` and :func:`register_manifest`;
- the verifier's side (what ``verify --resolver URL`` runs): :func:`recover_via_resolvers` asks
  each resolver, downloads what it points to, validates it locally with the verifier's own
  trust anchors, and compares the content fingerprint signed into the manifest with the clip's.
  A resolver can only point: it can never make a clip ``recovered`` on its word, and one that
  is down, slow or answers garbage only adds a line to the report.
"""

from __future__ import annotations

import enum
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.errors import ErrorKind, VeriframeError
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    RecoveredCredentials,
    RecoveryState,
    ResolverAttempt,
    ResolverState,
)
from veriframe.softbinding.protocol import (
    FINGERPRINT_ALG,
    WATERMARK_ALG,
    Match,
    ResolverError,
    decode_fingerprint,
    decode_payload,
    encode_fingerprint,
)

if TYPE_CHECKING:
    from veriframe.credentials.store import ManifestStore, StoreRecord
    from veriframe.credentials.trust import TrustConfig
    from veriframe.media import FrameSample, Limits
    from veriframe.watermark import WatermarkKey

MAX_MATCHES_CHECKED = 3  # manifests downloaded and validated per resolver answer
EXCERPT_CRF = 12  # the excerpt a verifier sends: the sampled frames, nearly lossless


class MatchKind(str, enum.Enum):
    """How a resolver found a manifest."""

    WATERMARK = "watermark"  # the watermark's payload id, read with the signer's key
    FINGERPRINT = "fingerprint"  # the perceptual content fingerprint (near match)


class ResolverMode(str, enum.Enum):
    """What a verifier sends to a resolver."""

    FINGERPRINT = "fingerprint"  # only the content fingerprint: no pixels leave the machine
    EXCERPT = "excerpt"  # the sampled frames as a short MP4, so the resolver reads the mark
    BOTH = "both"  # the fingerprint first; the excerpt only when that recovers nothing


@dataclass(frozen=True)
class ContentMatch:
    """A manifest a resolver found for uploaded content."""

    manifest_id: str
    kind: MatchKind
    similarity: int  # 0..100: 100 for the watermark, 100 * (1 - distance) for a fingerprint

    def to_match(self) -> Match:
        """The API's match object."""
        return Match(self.manifest_id, None, self.similarity, self.kind.value)


# --- the resolver's side ----------------------------------------------------------------

def supported_algorithms() -> dict[str, list[dict[str, str]]]:
    """The ``c2pa.softBindingAlgList`` of a veriframe resolver."""
    return {"watermarks": [{"alg": WATERMARK_ALG}], "fingerprints": [{"alg": FINGERPRINT_ALG}]}


def _similarity(distance: float) -> int:
    return max(0, min(100, round(100 * (1 - distance))))


def find_by_binding(store: ManifestStore, *, alg: str, value: str,
                    max_results: int = 10) -> list[Match]:
    """Manifests for one soft-binding value: a payload id (exact) or a fingerprint (near).

    ``resolver.unsupported-algorithm`` for another algorithm, ``resolver.bad-query`` for a
    value that does not decode.
    """
    from veriframe.watermark import MATCH_THRESHOLD

    if alg == WATERMARK_ALG:
        return [Match(label, None, 100, MatchKind.WATERMARK.value)
                for label in store.labels(decode_payload(value), limit=max_results)]
    if alg == FINGERPRINT_ALG:
        found = store.find_by_fingerprint(decode_fingerprint(value),
                                          max_distance=MATCH_THRESHOLD, limit=max_results)
        return [Match(r.manifest_label, None, _similarity(d), MatchKind.FINGERPRINT.value)
                for r, d in found]
    raise VeriframeError("resolver.unsupported-algorithm",
                         f"this resolver does not know the soft-binding algorithm {alg[:80]!r}",
                         f"use {WATERMARK_ALG} or {FINGERPRINT_ALG}", kind=ErrorKind.INPUT)


def find_by_content(
    path: str | os.PathLike[str],
    *,
    keys: Sequence[WatermarkKey],
    store: ManifestStore,
    limits: Limits,
    sample_count: int = 32,
    max_results: int = 10,
) -> list[ContentMatch]:
    """Manifests for uploaded content: its watermark read with every key of the keyring, and,
    where no registered mark is found, its perceptual fingerprint searched in the store."""
    from veriframe import media, watermark
    from veriframe.results import WatermarkState

    info = media.probe(path, limits=limits)
    sample = media.sample_frames(path, count=sample_count, info=info, limits=limits)
    matches: list[ContentMatch] = []
    if keys:
        check = watermark.detect(sample, keys=list(keys))
        if check.state is WatermarkState.PRESENT and check.payload_id:
            record = store.get(check.payload_id)
            if record is not None:
                matches.append(ContentMatch(record.manifest_label, MatchKind.WATERMARK, 100))
    if not matches and watermark.structure(sample) >= watermark.MIN_STRUCTURE:
        found = store.find_by_fingerprint(watermark.fingerprint(sample),
                                          max_distance=watermark.MATCH_THRESHOLD,
                                          limit=max_results)
        matches += [ContentMatch(r.manifest_label, MatchKind.FINGERPRINT, _similarity(d))
                    for r, d in found]
    return matches[:max_results]


def register_manifest(store: ManifestStore, data: bytes, *, trust: TrustConfig) -> StoreRecord:
    """Add a signed manifest store (published by a signer) to ``store``; return its record.

    The manifest must validate (signature, certificate, assertion hashes) and carry veriframe's
    watermark soft binding: ``resolver.invalid-manifest`` or ``resolver.no-soft-binding``
    otherwise. Publishing the same manifest again replaces its record.
    """
    from veriframe.credentials.manifest import read_soft_binding
    from veriframe.credentials.read import validate_manifest_store
    from veriframe.credentials.store import StoreRecord

    check = validate_manifest_store(data, trust=trust)
    if check.state not in (CredentialState.VALID, CredentialState.TRUSTED):
        codes = ", ".join(i.code for i in check.failures[:5]) or (
            check.error.code if check.error else "unreadable")
        raise VeriframeError("resolver.invalid-manifest",
                             f"the manifest does not validate ({codes})",
                             "publish the manifest store exactly as signing produced it",
                             kind=ErrorKind.INPUT)
    binding = read_soft_binding(check.manifest)
    if binding is None or not check.manifest_label:
        raise VeriframeError("resolver.no-soft-binding",
                             "the manifest has no veriframe watermark soft binding",
                             "only manifests signed by veriframe sign/generate can be "
                             "resolved here", kind=ErrorKind.INPUT)
    signer = check.signer.common_name if check.signer is not None else None
    record = StoreRecord(
        payload_id=binding.payload_id, manifest_label=check.manifest_label,
        manifest_store=bytes(data), fmt="video/mp4", key_id=binding.key_id or None,
        signer=signer, created_at=None, content_sha256=None, fingerprint=binding.fingerprint,
        title=check.title)
    return store.put(record)


# --- the verifier's side ----------------------------------------------------------------

_STATE_FOR_CODE = {
    "resolver.unreachable": ResolverState.UNREACHABLE,
    "resolver.timeout": ResolverState.TIMEOUT,
    "resolver.refused": ResolverState.REFUSED,
    "resolver.busy": ResolverState.BUSY,
    "resolver.bad-url": ResolverState.ERROR,
}
# When several matches were checked, the most telling outcome is reported.
_RANK = [ResolverState.RECOVERED, ResolverState.MISMATCH, ResolverState.UNCONFIRMED,
         ResolverState.INVALID_MANIFEST, ResolverState.NO_MATCH]


@dataclass(frozen=True)
class _Outcome:
    attempt: ResolverAttempt
    recovered: RecoveredCredentials | None


def make_excerpt(sample: FrameSample, dst: Path) -> Path:
    """The sampled frames as a short, nearly lossless H.264 MP4 (what a resolver's watermark
    detection needs, and nothing of the clip beyond the frames the verifier decoded)."""
    from veriframe import media

    if sample.rgb is None:
        raise VeriframeError("resolver.no-frames", "the sample holds no RGB frames",
                             "sample frames with RGB")
    media.write_video(dst, sample.rgb, fps=8, crf=EXCERPT_CRF, preset="veryfast")
    return dst


def recover_via_resolvers(
    path: str | os.PathLike[str],
    sample: FrameSample,
    *,
    resolvers: Sequence[str],
    trust: TrustConfig,
    mode: ResolverMode | str = ResolverMode.BOTH,
    timeout_s: float = 10.0,
    transport: Any = None,
) -> tuple[tuple[ResolverAttempt, ...], RecoveredCredentials | None]:
    """Ask each resolver in turn for the clip's manifest; stop at the first that recovers it.

    Returns one :class:`ResolverAttempt` per resolver asked, and the recovered (or mismatching)
    credentials, if any. Never raises for a resolver's failure.
    """
    from veriframe import watermark
    from veriframe.softbinding.client import ResolverClient

    how = ResolverMode(mode)
    fp = watermark.fingerprint(sample)
    flat = watermark.structure(sample) < watermark.MIN_STRUCTURE
    attempts: list[ResolverAttempt] = []
    found: RecoveredCredentials | None = None
    with tempfile.TemporaryDirectory(prefix="veriframe-excerpt-") as tmp:
        excerpt: bytes | None = None
        for url in resolvers:
            try:
                with ResolverClient(url, timeout_s=timeout_s, transport=transport) as client:
                    outcomes: list[_Outcome] = []
                    if how in (ResolverMode.FINGERPRINT, ResolverMode.BOTH) and not flat:
                        matches = client.by_binding(FINGERPRINT_ALG, encode_fingerprint(fp))
                        outcomes += _check_matches(client, matches, MatchKind.FINGERPRINT,
                                                   path=Path(path), fp=fp, flat=flat,
                                                   trust=trust)
                    if how in (ResolverMode.EXCERPT, ResolverMode.BOTH) and not any(
                            o.attempt.state is ResolverState.RECOVERED for o in outcomes):
                        if excerpt is None:
                            excerpt = make_excerpt(sample, Path(tmp) / "excerpt.mp4").read_bytes()
                        matches = client.by_content(excerpt, content_type="video/mp4")
                        outcomes += _check_matches(client, matches, None, path=Path(path),
                                                   fp=fp, flat=flat, trust=trust)
            except ResolverError as exc:
                attempts.append(ResolverAttempt(
                    url=url, state=_STATE_FOR_CODE.get(exc.code, ResolverState.INVALID_RESPONSE),
                    detail=exc.message))
                continue
            best = _best(outcomes)
            if best is None:
                attempts.append(ResolverAttempt(url=url, state=ResolverState.NO_MATCH,
                                                detail="the resolver knows no manifest for "
                                                "this content"))
                continue
            attempts.append(best.attempt)
            if best.recovered is not None and best.recovered.state is RecoveryState.RECOVERED:
                found = best.recovered
                break
            if best.recovered is not None and found is None:
                found = best.recovered  # a mismatch: kept unless a later resolver recovers
    return tuple(attempts), found


def _best(outcomes: list[_Outcome]) -> _Outcome | None:
    if not outcomes:
        return None
    return min(outcomes, key=lambda o: _RANK.index(o.attempt.state)
               if o.attempt.state in _RANK else len(_RANK))


def _check_matches(client: Any, matches: list[Match], kind: MatchKind | None, *, path: Path,
                   fp: str, flat: bool, trust: TrustConfig) -> list[_Outcome]:
    out = []
    for match in matches[:MAX_MATCHES_CHECKED]:
        out.append(_check_match(client, match, kind, path=path, fp=fp, flat=flat, trust=trust))
    return out


def _check_match(client: Any, match: Match, kind: MatchKind | None, *, path: Path, fp: str,
                 flat: bool, trust: TrustConfig) -> _Outcome:
    """Download, validate locally, compare the signed fingerprint: one match's outcome."""
    from veriframe import watermark
    from veriframe.credentials.manifest import read_soft_binding
    from veriframe.credentials.read import validate_manifest_bytes

    url = client.url
    how = match.kind or (kind.value if kind is not None else None)

    def outcome(state: ResolverState, detail: str, *, distance: float | None = None,
                creds: CredentialCheck | None = None) -> _Outcome:
        attempt = ResolverAttempt(
            url=url, state=state, detail=detail, match_kind=how, manifest_id=match.manifest_id,
            similarity=match.similarity_score,
            fingerprint_distance=None if distance is None else round(distance, 4))
        rec = None
        if creds is not None and distance is not None:
            rec = RecoveredCredentials(
                state=(RecoveryState.RECOVERED if state is ResolverState.RECOVERED
                       else RecoveryState.MISMATCH),
                store=None, credentials=creds, fingerprint_distance=round(distance, 4),
                detail=detail, source="resolver", resolver=url, match_kind=how,
                manifest_id=match.manifest_id)
        return _Outcome(attempt, rec)

    if match.endpoint is not None and match.endpoint.rstrip("/") != url:
        return outcome(ResolverState.UNCONFIRMED,
                       "the match points to another resolver, which is not followed")
    data = client.manifest(match.manifest_id)
    creds = validate_manifest_bytes(data, asset_path=path, fmt=_fmt(path), trust=trust)
    if creds.state not in (CredentialState.VALID, CredentialState.TRUSTED):
        return outcome(ResolverState.INVALID_MANIFEST,
                       "the manifest the resolver sent does not validate; it is ignored")
    if creds.manifest_label != match.manifest_id:
        return outcome(ResolverState.INVALID_MANIFEST,
                       "the resolver sent a different manifest than the one it matched")
    binding = read_soft_binding(creds.manifest)
    signed_fp = binding.fingerprint if binding is not None else None
    if flat:
        return outcome(ResolverState.UNCONFIRMED, "the clip is nearly flat, so its "
                       "fingerprint cannot confirm the match")
    if signed_fp is None:
        return outcome(ResolverState.UNCONFIRMED, "the manifest carries no content "
                       "fingerprint to confirm the match")
    try:
        distance = watermark.fingerprint_distance(fp, signed_fp)
    except VeriframeError as exc:
        return outcome(ResolverState.UNCONFIRMED,
                       f"the signed fingerprint cannot be compared: {exc.message}")
    if distance > watermark.MATCH_THRESHOLD:
        return outcome(ResolverState.MISMATCH, "the resolver's manifest is validly signed but "
                       "for different content: the clip is not what was signed, or its mark "
                       "was copied", distance=distance, creds=creds)
    return outcome(ResolverState.RECOVERED, "credentials recovered through a resolver; "
                   "signature validated here and the signed content fingerprint matches this "
                   "clip", distance=distance, creds=creds)


def _fmt(path: Path) -> str:
    return "video/quicktime" if path.suffix.lower() == ".mov" else "video/mp4"


__all__ = [
    "ContentMatch",
    "MatchKind",
    "ResolverMode",
    "find_by_binding",
    "find_by_content",
    "make_excerpt",
    "recover_via_resolvers",
    "register_manifest",
    "supported_algorithms",
]
