"""The resolver service: the C2PA Soft Binding Resolution API on a signer's keys and store.

Whoever signs (an AI video provider, a newsroom) runs it so that anyone can find their
manifests again after a platform stripped them: ``veriframe resolver serve``. It answers the
Soft Binding Resolution API 2.4.0 under ``/v1`` (found through
``/.well-known/c2pa-soft-binding-resolution``; ``c2pa-soft-binding-api-2.4.0.json`` beside
this file) and, for 1.0.0 clients, the same routes at the root
(``c2pa-soft-binding-api-1.0.0.json``: the C2PA Soft Binding API, version 1.0.0, © the
Coalition for Content Provenance and Authenticity, licensed under CC BY 4.0): queries
(``byBinding``, ``byContent``, ``byReference`` when turned on), manifests (fetch, publish,
delete, receipts), bindings, capabilities and status, plus ``GET /health``. Publishing takes
only the signer's own validating manifest stores and never replaces a record. The store is
SQLite or PostgreSQL (several replicas). See docs/resolver.md.
"""

from veriframe.resolver.app import ResolverConfig, create_app

__all__ = ["ResolverConfig", "create_app"]
