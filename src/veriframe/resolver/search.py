"""The resolver's search side: what ``veriframe resolver serve`` answers, as library calls.

On the signer's keys and store: :func:`find_by_binding` (a payload id, exact; a fingerprint,
near), :func:`find_by_content` (an uploaded excerpt's watermark read with the keyring, else its
fingerprint) and :func:`register_manifest` (a signer publishes a manifest store). The verifier's
side of resolution (asking resolvers, validating what they point to, comparing the content)
lives in :mod:`veriframe.recovery`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from veriframe.errors import ErrorKind, ResolverError
from veriframe.results import CredentialState
from veriframe.softbinding.protocol import (
    FINGERPRINT_ALG,
    WATERMARK_ALG,
    Match,
    MatchKind,
    decode_fingerprint,
    decode_payload,
)

if TYPE_CHECKING:
    from veriframe.credentials.store import ManifestStore, StoreRecord
    from veriframe.credentials.trust import TrustConfig
    from veriframe.media import Limits
    from veriframe.watermark import WatermarkKey


@dataclass(frozen=True)
class ContentMatch:
    """A manifest a resolver found for uploaded content."""

    manifest_id: str
    kind: MatchKind
    similarity: int  # 0..100: 100 for the watermark, 100 * (1 - distance) for a fingerprint

    def to_match(self) -> Match:
        """The API's match object."""
        return Match(self.manifest_id, None, self.similarity, self.kind.value)


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
    raise ResolverError("resolver.unsupported-algorithm",
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
        raise ResolverError("resolver.invalid-manifest",
                            f"the manifest does not validate ({codes})",
                            "publish the manifest store exactly as signing produced it",
                            kind=ErrorKind.INPUT)
    binding = read_soft_binding(check.manifest)
    if binding is None or not check.manifest_label:
        raise ResolverError("resolver.no-soft-binding",
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


__all__ = [
    "ContentMatch",
    "find_by_binding",
    "find_by_content",
    "register_manifest",
    "supported_algorithms",
]
