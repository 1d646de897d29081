"""Signing keys: a local root CA, a C2PA signing certificate, encrypted keys, watermark keys.

One module per job: :mod:`.algorithms` (the one table of signing algorithms),
:mod:`.certificates` (the C2PA certificate rules, PEM chains), :mod:`.minting` (a local CA and
its signing leaves), :mod:`.files` (the key folder: 0600 files, the archive),
:mod:`.passphrase` (encrypting keys at rest), :mod:`.identity` (who signs: local key or a KMS/HSM
callable) and :mod:`.folder` (init, import, rotate, show, load).
"""

from __future__ import annotations

from veriframe.credentials.keys.algorithms import ALGORITHMS, Algorithm, get_algorithm
from veriframe.credentials.keys.certificates import (
    C2PA_EKU_OID,
    check_signing_certificate,
    parse_chain,
    pem,
)
from veriframe.credentials.keys.files import (
    ARCHIVE,
    CA_CERT,
    CA_KEY,
    CHAIN,
    LEAF_CERT,
    LEAF_KEY,
    WATERMARK_KEY,
)
from veriframe.credentials.keys.folder import (
    KeyInfo,
    import_keys,
    init_keys,
    load_identity,
    load_watermark_keys,
    rotate_keys,
    show_keys,
)
from veriframe.credentials.keys.identity import SigningIdentity
from veriframe.credentials.keys.minting import CA_VALIDITY_DAYS, LEAF_VALIDITY_DAYS
from veriframe.credentials.keys.passphrase import MIN_PASSPHRASE_LEN
from veriframe.watermark.keys import key_id as watermark_key_id

__all__ = [
    "ALGORITHMS",
    "ARCHIVE",
    "C2PA_EKU_OID",
    "CA_CERT",
    "CA_KEY",
    "CA_VALIDITY_DAYS",
    "CHAIN",
    "LEAF_CERT",
    "LEAF_KEY",
    "LEAF_VALIDITY_DAYS",
    "MIN_PASSPHRASE_LEN",
    "WATERMARK_KEY",
    "Algorithm",
    "KeyInfo",
    "SigningIdentity",
    "check_signing_certificate",
    "get_algorithm",
    "import_keys",
    "init_keys",
    "load_identity",
    "load_watermark_keys",
    "parse_chain",
    "pem",
    "rotate_keys",
    "show_keys",
    "watermark_key_id",
]
