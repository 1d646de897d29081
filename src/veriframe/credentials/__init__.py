"""C2PA Content Credentials: keys, manifests, signing, reading, trust, the manifest store.

The front of the package: what the sign and verify paths, the services, the CLI and users
take from it. Importing it loads none of its modules (some pull in cryptography, c2pa or
SQLite): each name is imported on first use.

>>> from veriframe.credentials import ManifestSpec, read_credentials, TrustConfig

The key folder's own details (file names, algorithms, certificate rules) stay in
:mod:`veriframe.credentials.keys`; the PostgreSQL store in :mod:`.store_pg`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veriframe._lazy import front

if TYPE_CHECKING:
    from veriframe.credentials.keys import (
        KeyInfo,
        SigningIdentity,
        import_keys,
        init_keys,
        load_identity,
        load_watermark_keys,
        rotate_keys,
        show_keys,
    )
    from veriframe.credentials.manifest import (
        AI_SOURCE_TYPES,
        SOFT_BINDING_ALG,
        TRAINED_ALGORITHMIC_MEDIA,
        ManifestSpec,
        SoftBinding,
        build_manifest,
        read_soft_binding,
    )
    from veriframe.credentials.read import (
        active_manifest_label,
        read_credentials,
        validate_manifest_bytes,
        validate_manifest_store,
    )
    from veriframe.credentials.sign import check_tsa_url, sign_mp4
    from veriframe.credentials.store import (
        ManifestStore,
        StoreRecord,
        normalize_owner,
        redact_url,
        store_location,
    )
    from veriframe.credentials.trust import TrustConfig

_MODULES = {
    "keys": ("KeyInfo", "SigningIdentity", "import_keys", "init_keys", "load_identity",
             "load_watermark_keys", "rotate_keys", "show_keys"),
    "manifest": ("AI_SOURCE_TYPES", "SOFT_BINDING_ALG", "TRAINED_ALGORITHMIC_MEDIA",
                 "ManifestSpec", "SoftBinding", "build_manifest", "read_soft_binding"),
    "read": ("active_manifest_label", "read_credentials", "validate_manifest_bytes",
             "validate_manifest_store"),
    "sign": ("check_tsa_url", "sign_mp4"),
    "store": ("ManifestStore", "StoreRecord", "normalize_owner", "redact_url", "store_location"),
    "trust": ("TrustConfig",),
}
__getattr__ = front(__name__, _MODULES)


__all__ = [
    "AI_SOURCE_TYPES",
    "SOFT_BINDING_ALG",
    "TRAINED_ALGORITHMIC_MEDIA",
    "KeyInfo",
    "ManifestSpec",
    "ManifestStore",
    "SigningIdentity",
    "SoftBinding",
    "StoreRecord",
    "TrustConfig",
    "active_manifest_label",
    "build_manifest",
    "check_tsa_url",
    "import_keys",
    "init_keys",
    "load_identity",
    "load_watermark_keys",
    "normalize_owner",
    "read_credentials",
    "read_soft_binding",
    "redact_url",
    "rotate_keys",
    "show_keys",
    "sign_mp4",
    "store_location",
    "validate_manifest_bytes",
    "validate_manifest_store",
]
