"""The C2PA Soft Binding Resolution API, as veriframe speaks it: protocol and client.

A soft binding (an invisible watermark or a content fingerprint) leads from content whose
manifest was stripped back to that manifest. :mod:`.protocol` names veriframe's two soft-binding
algorithms, encodes their values and parses API answers strictly; :mod:`.client` queries a
resolver over HTTP (``GET /services/supportedAlgorithms``, ``GET|POST /matches/byBinding``,
``POST /matches/byContent``, ``GET /manifests/{manifestId}``). A resolver only points to
manifests: what it returns is validated locally, with the verifier's own trust anchors.
"""

from veriframe.softbinding.protocol import (
    FINGERPRINT_ALG,
    WATERMARK_ALG,
    Match,
    ResolverError,
    decode_fingerprint,
    decode_payload,
    encode_fingerprint,
    encode_payload,
)

__all__ = [
    "FINGERPRINT_ALG",
    "WATERMARK_ALG",
    "Match",
    "ResolverError",
    "decode_fingerprint",
    "decode_payload",
    "encode_fingerprint",
    "encode_payload",
]
