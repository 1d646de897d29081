"""Soft-binding algorithm names, binding values, and strict parsing of resolver answers.

veriframe registers two algorithms with a resolver (namespaced, as the C2PA soft-binding
algorithm list expects for unregistered ones):

- ``org.veriframe.watermark.1``: the watermark's 64-bit payload id; the binding value is the
  8 bytes, base64-encoded (the ``c2pa.soft-binding`` assertion carries the same id in hex).
- ``org.veriframe.fingerprint.p2``: the perceptual content fingerprint (``p2:`` + hex); the
  binding value is its bytes, base64-encoded. Matches are near, not exact: the similarity
  score is ``round(100 * (1 - distance))``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from veriframe.credentials import SOFT_BINDING_ALG
from veriframe.errors import ErrorKind, ResolverError

WATERMARK_ALG = SOFT_BINDING_ALG  # "org.veriframe.watermark.1"
FINGERPRINT_ALG = "org.veriframe.fingerprint.p2"
FINGERPRINT_PREFIX = "p2:"
PAYLOAD_BYTES = 8
MAX_MATCHES = 100  # more than this in one answer is not a plausible resolver answer
# A C2PA manifest id (its label): urn:c2pa:<uuid>[:claim generator][:version_reason], or the
# older urn:uuid: form; bounded and printable so it is safe in a URL path and a report.
_MANIFEST_ID = re.compile(r"^urn:(c2pa|uuid):[0-9A-Za-z:._\-]{8,200}$")


class MatchKind(str, enum.Enum):
    """How a resolver found a manifest."""

    WATERMARK = "watermark"  # the watermark's payload id, read with the signer's key
    FINGERPRINT = "fingerprint"  # the perceptual content fingerprint (near match)


class ResolverMode(str, enum.Enum):
    """What a verifier sends to a resolver."""

    FINGERPRINT = "fingerprint"  # only the content fingerprint: no pixels leave the machine
    EXCERPT = "excerpt"  # the sampled frames as a short MP4, so the resolver reads the mark
    BOTH = "both"  # the fingerprint first; the excerpt only when that recovers nothing


KIND_FIELD = "org.veriframe.matchKind"  # an extension field: how the match was found
KINDS = ("watermark", "fingerprint")


@dataclass(frozen=True)
class Match:
    """One ``matches[]`` entry of a ``c2pa.softBindingQueryResult``."""

    manifest_id: str
    endpoint: str | None = None
    similarity_score: int | None = None
    kind: str | None = None  # veriframe's extension: watermark | fingerprint

    def to_dict(self) -> dict[str, Any]:
        """The API's JSON form (camelCase; absent fields left out)."""
        out: dict[str, Any] = {"manifestId": self.manifest_id}
        if self.endpoint is not None:
            out["endpoint"] = self.endpoint
        if self.similarity_score is not None:
            out["similarityScore"] = self.similarity_score
        if self.kind is not None:
            out[KIND_FIELD] = self.kind
        return out


def valid_manifest_id(value: str) -> bool:
    """Whether ``value`` looks like a C2PA manifest id (safe to put in a URL path)."""
    return bool(_MANIFEST_ID.match(value))


def encode_payload(payload_hex: str) -> str:
    """The binding value of a watermark payload id (16 hex digits)."""
    raw = bytes.fromhex(payload_hex)
    if len(raw) != PAYLOAD_BYTES:
        raise ValueError(f"a payload id has {PAYLOAD_BYTES} bytes")
    return base64.b64encode(raw).decode("ascii")


def decode_payload(value: str) -> str:
    """The payload id (hex) of a watermark binding value; ``resolver.bad-query`` otherwise."""
    raw = _b64(value)
    if len(raw) != PAYLOAD_BYTES:
        raise ResolverError("resolver.bad-query",
                             f"a {WATERMARK_ALG} value is {PAYLOAD_BYTES} bytes, base64-encoded",
                             "send the watermark's payload id", kind=ErrorKind.INPUT)
    return raw.hex()


def encode_fingerprint(fingerprint: str) -> str:
    """The binding value of a content fingerprint (``p2:`` + hex)."""
    if not fingerprint.startswith(FINGERPRINT_PREFIX):
        raise ValueError("not a p2 fingerprint")
    return base64.b64encode(bytes.fromhex(fingerprint[len(FINGERPRINT_PREFIX):])).decode("ascii")


def decode_fingerprint(value: str) -> str:
    """The fingerprint (``p2:`` + hex) of a fingerprint binding value."""
    raw = _b64(value)
    if not raw or len(raw) > 4096:
        raise ResolverError("resolver.bad-query", "the fingerprint value is empty or too long",
                             "send a veriframe p2 fingerprint", kind=ErrorKind.INPUT)
    return FINGERPRINT_PREFIX + raw.hex()


def _b64(value: str) -> bytes:
    # A '+' sent unescaped in a query string arrives as a space; base64 never holds a space.
    value = value.replace(" ", "+")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ResolverError("resolver.bad-query", "the binding value is not base64",
                             "base64-encode the binding value", kind=ErrorKind.INPUT) from None


def parse_query_result(doc: object, *, source: str) -> list[Match]:
    """The matches of a ``c2pa.softBindingQueryResult``; ``resolver.invalid-response`` for
    anything that does not follow the schema (an attacker may run the resolver)."""
    if not isinstance(doc, Mapping):
        raise _invalid(source, "the answer is not a JSON object")
    matches = doc.get("matches", [])
    if not isinstance(matches, list) or len(matches) > MAX_MATCHES:
        raise _invalid(source, "'matches' is not a list of at most 100 entries")
    out = []
    for item in matches:
        if not isinstance(item, Mapping):
            raise _invalid(source, "a match is not an object")
        mid = item.get("manifestId")
        if not isinstance(mid, str) or not valid_manifest_id(mid):
            raise _invalid(source, "a match has no valid manifestId")
        endpoint = item.get("endpoint")
        if endpoint is not None and (not isinstance(endpoint, str) or len(endpoint) > 2048):
            raise _invalid(source, "a match's endpoint is not a URL")
        score = item.get("similarityScore")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int)
                                  or not 0 <= score <= 100):
            raise _invalid(source, "a similarityScore is not an integer in 0..100")
        kind = item.get(KIND_FIELD)
        out.append(Match(mid, endpoint, score, kind if kind in KINDS else None))
    return out


def parse_alg_list(doc: object, *, source: str) -> dict[str, list[str]]:
    """``{"watermarks": [...], "fingerprints": [...]}`` of a ``c2pa.softBindingAlgList``."""
    if not isinstance(doc, Mapping):
        raise _invalid(source, "the algorithm list is not a JSON object")
    out: dict[str, list[str]] = {}
    for kind in ("watermarks", "fingerprints"):
        items = doc.get(kind, [])
        if not isinstance(items, list) or not all(
                isinstance(i, Mapping) and isinstance(i.get("alg"), str) for i in items):
            raise _invalid(source, f"'{kind}' is not a list of {{alg}} objects")
        out[kind] = [str(i["alg"]) for i in items]
    return out


def _invalid(source: str, what: str) -> ResolverError:
    return ResolverError("resolver.invalid-response",
                         f"the resolver at {source} answered something that is not a soft-"
                         f"binding resolution result: {what}",
                         "the resolver is broken or not a C2PA soft-binding resolver")
