"""The resolver service: the C2PA Soft Binding Resolution API on a signer's keys and store.

Whoever signs (an AI video provider, a newsroom) runs it so that anyone can find their
manifests again after a platform stripped them: ``veriframe resolver serve``. It answers
``GET /services/supportedAlgorithms``, ``GET|POST /matches/byBinding``,
``POST /matches/byContent`` and ``GET /manifests/{manifestId}`` as the C2PA OpenAPI document
says (``c2pa-soft-binding-api-1.0.0.json`` beside this file: the C2PA Soft Binding API,
version 1.0.0, © the Coalition for Content Provenance and Authenticity, licensed under
CC BY 4.0), plus ``POST /manifests`` (publishing, with a bearer token) and ``GET /health``.
See docs/resolver.md.
"""

from veriframe.resolver.app import ResolverConfig, create_app

__all__ = ["ResolverConfig", "create_app"]
