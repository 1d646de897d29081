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
    from veriframe.credentials import ManifestStore, StoreRecord, TrustConfig
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
        labels = store.watermark_labels(decode_payload(value), alg, value, limit=max_results)
        return [Match(label, None, 100, MatchKind.WATERMARK.value) for label in labels]
    if alg == FINGERPRINT_ALG:
        found = store.find_by_fingerprint(decode_fingerprint(value),
                                          max_distance=MATCH_THRESHOLD, limit=max_results)
        return [Match(r.manifest_label, None, _similarity(d), MatchKind.FINGERPRINT.value)
                for r, d in found]
    bound = store.bound_labels(alg, value, limit=max_results)  # POST /bindings of another alg
    if bound:
        return [Match(label, None, 100, None) for label in bound]
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
    sample = media.sample_runs(path, count=sample_count, info=info, limits=limits)
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


def is_manifest_store(data: bytes) -> bool:
    """Whether ``data`` is a bare C2PA manifest store: one JUMBF superbox (``jumb``) that
    spans the data, labelled ``c2pa``; not an asset that carries one."""
    if len(data) < 16 or data[4:8] != b"jumb":
        return False
    size = int.from_bytes(data[0:4], "big")
    if size == 1 and len(data) >= 16:
        size = int.from_bytes(data[8:16], "big")
    return size == len(data) and b"c2pa" in data[8:64]


def publisher_owner(check: object) -> str:
    """Whose a published manifest is: its signing certificate's subject (common name and
    organisation, which c2pa reports as ``issuer``), as ``sign`` records it."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from veriframe.credentials import normalize_owner

    signer = getattr(check, "signer", None)
    attrs = []
    common = getattr(signer, "common_name", None)
    org = getattr(signer, "organization", None) or getattr(signer, "issuer", None)
    if common:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, str(common)))
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(org)))
    # Name() orders RFC 4514 output last-first: build it in reverse so CN comes first.
    return normalize_owner(x509.Name(list(reversed(attrs))).rfc4514_string())


def check_publication(data: bytes, *, trust: TrustConfig, key_ids: set[str],
                      publisher: str | None = None) -> StoreRecord:
    """The store record of a publication this resolver accepts, or a
    :class:`~veriframe.errors.ResolverError` with the HTTP status that says why.

    It must be a bare manifest store (415 ``resolver.not-a-manifest-store``: an MP4 that
    carries one is refused, so a stored manifest cannot be replaced by an asset), validate
    with the publishers' anchors and be ``trusted`` by them (422
    ``resolver.invalid-manifest``; 403 ``resolver.untrusted-publisher`` for a signer outside
    the organisation and its configured publishers), and carry veriframe's watermark soft
    binding (422 ``resolver.no-soft-binding``) made with a key of this resolver's keyring
    (403 ``resolver.foreign-key``).
    """
    from veriframe.credentials import StoreRecord, read_soft_binding, validate_manifest_store

    if not is_manifest_store(data):
        raise ResolverError("resolver.not-a-manifest-store",
                             "the body is not a bare C2PA manifest store (JUMBF)",
                             "publish the manifest store `veriframe sign` made, not the asset",
                             status=415)
    check = validate_manifest_store(data, trust=trust)
    if check.state not in (CredentialState.VALID, CredentialState.TRUSTED):
        codes = ", ".join(i.code for i in check.failures[:5]) or (
            check.error.code if check.error else "unreadable")
        raise ResolverError("resolver.invalid-manifest",
                             f"the manifest does not validate ({codes})",
                             "publish the manifest store exactly as signing produced it",
                             status=422)
    if check.state is not CredentialState.TRUSTED:
        raise ResolverError("resolver.untrusted-publisher",
                             "the manifest's signer does not chain to this resolver's "
                             "organisation or its configured publishers",
                             "only the resolver's own signers publish here", status=403)
    binding = read_soft_binding(check.manifest)
    if binding is None or not check.manifest_label:
        raise ResolverError("resolver.no-soft-binding",
                             "the manifest has no veriframe watermark soft binding",
                             "only manifests signed by veriframe sign/generate can be "
                             "resolved here", status=422)
    if not binding.key_id or binding.key_id not in key_ids:
        raise ResolverError("resolver.foreign-key",
                             "the manifest's soft binding names a watermark key this resolver "
                             "does not hold", "publish to the resolver of the key that marked "
                             "the clip", status=403)
    signer = check.signer.common_name if check.signer is not None else None
    return StoreRecord(
        payload_id=binding.payload_id, manifest_label=check.manifest_label,
        manifest_store=bytes(data), fmt="video/mp4", key_id=binding.key_id or None,
        signer=signer, created_at=None, content_sha256=None, fingerprint=binding.fingerprint,
        title=check.title, owner=publisher_owner(check), publisher=publisher)


def register_manifest(store: ManifestStore, data: bytes, *, trust: TrustConfig,
                      key_ids: set[str], publisher: str | None = None) -> StoreRecord:
    """Check a publication (:func:`check_publication`) and append it to ``store``
    (``store.conflict`` where it would replace or shadow another record)."""
    return store.put(check_publication(data, trust=trust, key_ids=key_ids,
                                       publisher=publisher))


__all__ = [
    "ContentMatch",
    "check_publication",
    "find_by_binding",
    "find_by_content",
    "register_manifest",
    "supported_algorithms",
]
