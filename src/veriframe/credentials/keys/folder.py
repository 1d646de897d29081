"""The signing identity kept in a veriframe home: create, import, rotate, show, load.

Existing keys are never deleted: replaced and rotated certificates, keys and watermark keys go
to ``archive/``, so manifests signed before keep verifying and old marks stay detectable.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization

from veriframe.credentials.keys import files as F
from veriframe.credentials.keys.algorithms import algorithm_for_key
from veriframe.credentials.keys.certificates import (
    check_signing_certificate,
    common_name_of,
    is_self_signed,
    organization_of,
    parse_chain,
    pem,
)
from veriframe.credentials.keys.identity import SigningIdentity, local_signer
from veriframe.credentials.keys.minting import make_ca, make_leaf
from veriframe.credentials.keys.passphrase import (
    check_new_passphrase,
    decrypt_key,
    encrypt_key,
    require_passphrase,
)
from veriframe.errors import KeysError
from veriframe.home import HomePaths
from veriframe.watermark.keys import KEY_BYTES, key_id


@dataclass(frozen=True)
class KeyInfo:
    """What ``keys show`` prints: the signing certificate, its CA and the watermark keyring."""

    subject: str
    issuer: str
    organization: str | None
    serial_number: str
    not_before: str
    not_after: str
    fingerprint_sha256: str
    ca_fingerprint_sha256: str | None
    algorithm: str
    source: str  # "local-ca" (keys init) or "imported"
    key_id: str  # current watermark key id
    watermark_key_ids: tuple[str, ...]  # the keyring, current first
    archived_certificates: int
    paths: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        out = dict(self.__dict__)
        out["watermark_key_ids"] = list(self.watermark_key_ids)
        out["paths"] = dict(self.paths)
        return out


def _archive_watermark_key(keys: Path) -> None:
    current = keys / F.WATERMARK_KEY
    if not current.exists():
        return
    data = current.read_bytes()
    F.ensure_dir(keys / F.ARCHIVE)
    target = keys / F.ARCHIVE / f"watermark-{key_id(data)}.key"
    if not target.exists():
        F.write_secret(target, data)


def _new_watermark_key(keys: Path) -> None:
    _archive_watermark_key(keys)
    F.write_secret(keys / F.WATERMARK_KEY, secrets.token_bytes(KEY_BYTES))


def _write_leaf(keys: Path, key: Any, chain: list[Any], passphrase: str) -> None:
    F.write_secret(keys / F.LEAF_KEY, encrypt_key(key, passphrase))
    F.write_secret(keys / F.LEAF_CERT, pem(chain[0]), mode=0o644)
    F.write_secret(keys / F.CHAIN, b"".join(pem(c) for c in chain), mode=0o644)


def init_keys(
    *,
    org: str,
    passphrase: str,
    home: str | os.PathLike[str] | None = None,
    force: bool = False,
    common_name: str | None = None,
) -> KeyInfo:
    """Create a local root CA, a P-256 C2PA signing certificate and a watermark key.

    Both private keys are stored encrypted with ``passphrase`` (PKCS#8, best available
    encryption), every secret file is 0600 inside a 0700 folder. Existing keys are kept
    unless ``force`` is true; even then the old leaf and watermark key are archived, not
    deleted, so the old watermark stays detectable.
    """
    org = org.strip()
    if not org:
        raise KeysError("keys.bad-org", "the organisation name is empty", F.INIT_HINT)
    passphrase = check_new_passphrase(passphrase)
    keys = HomePaths.resolve(home).keys
    names = (F.CA_KEY, F.CA_CERT, F.LEAF_KEY, F.CHAIN, F.WATERMARK_KEY)
    existing = [n for n in names if (keys / n).exists()]
    if existing and not force:
        raise KeysError(
            "keys.exists",
            f"signing keys already exist in {keys}",
            "use `veriframe keys rotate` for a new signing certificate, or --force to replace "
            "the whole identity (old files are archived)",
        )
    F.ensure_dir(keys)
    if existing:
        F.archive_current(keys, reason="replaced")
        for name in (F.CA_CERT, F.CA_KEY):
            if (keys / name).exists():
                F.move_to_archive(keys / name, keys)
    ca_key, ca_cert = make_ca(org)
    leaf_key, leaf_cert = make_leaf(
        ca_key=ca_key, ca_cert=ca_cert, org=org, common_name=common_name or f"{org} C2PA signer"
    )
    F.write_secret(keys / F.CA_KEY, encrypt_key(ca_key, passphrase))
    F.write_secret(keys / F.CA_CERT, pem(ca_cert), mode=0o644)
    _write_leaf(keys, leaf_key, [leaf_cert, ca_cert], passphrase)
    _new_watermark_key(keys)
    return show_keys(home=home)


def import_keys(
    *,
    chain: Path,
    key: Path,
    passphrase: str,
    key_passphrase: str | None = None,
    home: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> KeyInfo:
    """Use a certificate chain and key issued by a real CA.

    ``chain`` is PEM, leaf first; ``key`` is the leaf's PEM private key (``key_passphrase``
    if it is encrypted). The leaf is checked against the C2PA rules (``keys.cert-rejected``
    names the rule it breaks) and against the key; the key is stored re-encrypted with
    ``passphrase``. A watermark key is created when there is none.
    """
    passphrase = check_new_passphrase(passphrase)
    for p in (Path(chain), Path(key)):
        if not p.is_file():
            raise KeysError("keys.not-found", f"{p} does not exist", "check the path")
    certs = parse_chain(Path(chain).read_bytes())
    leaf = certs[0]
    check_signing_certificate(leaf)
    try:
        private = serialization.load_pem_private_key(
            Path(key).read_bytes(),
            password=key_passphrase.encode("utf-8") if key_passphrase else None,
        )
    except TypeError:
        raise KeysError(
            "keys.locked",
            f"{key} is encrypted",
            "pass its passphrase (--key-passphrase, or it is prompted)",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeysError(
            "keys.bad-key",
            f"{key} is not a readable PEM private key (or its passphrase is wrong)",
            "pass the leaf's private key as PEM (PKCS#8 or traditional)",
        ) from None
    pub = private.public_key()
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if pub.public_bytes(enc, fmt) != leaf.public_key().public_bytes(enc, fmt):
        raise KeysError(
            "keys.key-mismatch",
            "the private key does not belong to the first certificate of the chain",
            "put the leaf certificate first in the chain and pass its own key",
        )
    for child, parent in itertools.pairwise(certs):
        try:
            child.verify_directly_issued_by(parent)
        except Exception:
            raise KeysError(
                "keys.bad-chain",
                f"{child.subject.rfc4514_string()} is not issued by the next certificate",
                "order the chain leaf first, then each issuer",
            ) from None
    local_signer(private)  # refuses key types C2PA cannot use
    keys = HomePaths.resolve(home).keys
    if (keys / F.LEAF_KEY).exists() and not force:
        raise KeysError(
            "keys.exists",
            f"signing keys already exist in {keys}",
            "pass --force to replace them (the old certificate is archived)",
        )
    F.ensure_dir(keys)
    F.archive_current(keys, reason="replaced")
    # Keep our own CA only if it issued this leaf; otherwise trust the imported root, if any.
    if (keys / F.CA_KEY).exists():
        F.move_to_archive(keys / F.CA_KEY, keys)
    root = certs[-1] if len(certs) > 1 and is_self_signed(certs[-1]) else None
    if root is not None:
        F.write_secret(keys / F.CA_CERT, pem(root), mode=0o644)
    elif (keys / F.CA_CERT).exists():
        F.move_to_archive(keys / F.CA_CERT, keys)
    _write_leaf(keys, private, certs, passphrase)
    if not (keys / F.WATERMARK_KEY).exists():
        _new_watermark_key(keys)
    return show_keys(home=home)


def rotate_keys(
    *, passphrase: str | None = None, home: str | os.PathLike[str] | None = None
) -> KeyInfo:
    """Issue a new signing certificate from the same local CA and a new watermark key.

    The old certificate and key go to ``archive/``; manifests signed with them still verify
    (the chain travels inside each manifest) and stay trusted by the same CA. The old
    watermark key stays in the keyring, so clips marked with it are still detected.
    """
    passphrase = require_passphrase(passphrase)
    keys = HomePaths.resolve(home).keys
    if not (keys / F.CA_KEY).exists():
        if (keys / F.LEAF_KEY).exists():
            raise KeysError(
                "keys.no-ca",
                "these keys were imported from an external CA; veriframe cannot issue a new "
                "certificate for them",
                "get a new certificate from your CA and run `veriframe keys import --force`",
            )
        raise KeysError("keys.missing", f"no signing keys in {keys}", F.INIT_HINT)
    ca_key = decrypt_key(F.read_secret(keys / F.CA_KEY), passphrase, what="CA key")
    ca_cert = parse_chain((keys / F.CA_CERT).read_bytes())[0]
    old = parse_chain((keys / F.LEAF_CERT).read_bytes())[0] if (keys / F.LEAF_CERT).exists() \
        else None
    org = (organization_of(old) if old else None) or organization_of(ca_cert) or "veriframe"
    cn = (common_name_of(old) if old else None) or f"{org} C2PA signer"
    leaf_key, leaf_cert = make_leaf(ca_key=ca_key, ca_cert=ca_cert, org=org, common_name=cn)
    F.archive_current(keys, reason="rotated")
    _write_leaf(keys, leaf_key, [leaf_cert, ca_cert], passphrase)
    _new_watermark_key(keys)
    return show_keys(home=home)


def load_watermark_keys(*, home: str | os.PathLike[str] | None = None) -> list[bytes]:
    """Every watermark key, current first then archived ones; needs no passphrase.

    Returns an empty list when there are no keys at all (a verifier without keys simply
    cannot find veriframe's mark). Insecure permissions are refused.
    """
    keys = HomePaths.resolve(home).keys
    out: list[bytes] = []
    current = keys / F.WATERMARK_KEY
    if current.is_file():
        out.append(F.read_secret(current))
    archive = keys / F.ARCHIVE
    if archive.is_dir():
        older = sorted(archive.glob("watermark-*.key"), key=lambda q: q.stat().st_mtime)
        for p in reversed(older):
            data = F.read_secret(p)
            if data not in out:
                out.append(data)
    for data in out:
        if len(data) != KEY_BYTES:
            raise KeysError(
                "keys.bad-watermark-key",
                f"a watermark key in {keys} has {len(data)} bytes, not {KEY_BYTES}",
                "restore it from a backup, or `veriframe keys rotate` for a new one",
            )
    return out


def load_identity(
    *,
    home: str | os.PathLike[str] | None = None,
    passphrase: str | None = None,
    tsa_url: str | None = None,
) -> SigningIdentity:
    """The local signing identity: chain, a signer over the decrypted key, watermark keys.

    ``passphrase`` unlocks the signing key. ``tsa_url``: time-stamp every signature there.
    Errors: ``keys.missing``, ``keys.locked``, ``keys.bad-passphrase``,
    ``keys.insecure-permissions``, ``keys.expired``.
    """
    keys = HomePaths.resolve(home).keys
    if not (keys / F.LEAF_KEY).exists() or not (keys / F.CHAIN).exists():
        raise KeysError("keys.missing", f"no signing keys in {keys}", F.INIT_HINT)
    key_pem = F.read_secret(keys / F.LEAF_KEY)
    ring = load_watermark_keys(home=home)
    if not ring:
        raise KeysError("keys.missing", f"no watermark key in {keys}", "veriframe keys rotate")
    chain_pem = (keys / F.CHAIN).read_bytes()
    leaf = parse_chain(chain_pem)[0]
    now = dt.datetime.now(dt.timezone.utc)
    if leaf.not_valid_after_utc < now:
        raise KeysError(
            "keys.expired",
            f"the signing certificate expired on {leaf.not_valid_after_utc.date().isoformat()}",
            "veriframe keys rotate",
        )
    private = decrypt_key(key_pem, require_passphrase(passphrase), what="signing key")
    sign, alg = local_signer(private)
    return SigningIdentity(
        chain_pem=chain_pem,
        alg=alg.name,
        sign=sign,
        watermark_key=ring[0],
        subject=leaf.subject.rfc4514_string(),
        watermark_keyring=tuple(ring),
        tsa_url=tsa_url,
    )


def show_keys(*, home: str | os.PathLike[str] | None = None) -> KeyInfo:
    """Describe the current signing certificate, its CA and the watermark keyring."""
    keys = HomePaths.resolve(home).keys
    if not (keys / F.LEAF_CERT).exists():
        raise KeysError("keys.missing", f"no signing keys in {keys}", F.INIT_HINT)
    leaf = parse_chain((keys / F.LEAF_CERT).read_bytes())[0]
    ca_fp = None
    if (keys / F.CA_CERT).exists():
        ca = parse_chain((keys / F.CA_CERT).read_bytes())[0]
        ca_fp = ca.fingerprint(hashes.SHA256()).hex()
    ring = load_watermark_keys(home=home)
    archive = keys / F.ARCHIVE
    archived = len(list(archive.glob("*/" + F.LEAF_CERT))) if archive.is_dir() else 0
    paths = {
        "keys": str(keys),
        "certificate": str(keys / F.LEAF_CERT),
        "chain": str(keys / F.CHAIN),
        "key": str(keys / F.LEAF_KEY),
        "watermark_key": str(keys / F.WATERMARK_KEY),
    }
    if (keys / F.CA_CERT).exists():
        paths["ca"] = str(keys / F.CA_CERT)
    try:
        algorithm = algorithm_for_key(leaf.public_key()).name
    except KeysError:
        algorithm = type(leaf.public_key()).__name__
    return KeyInfo(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        organization=organization_of(leaf),
        serial_number=format(leaf.serial_number, "x"),
        not_before=leaf.not_valid_before_utc.isoformat(),
        not_after=leaf.not_valid_after_utc.isoformat(),
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        ca_fingerprint_sha256=ca_fp,
        algorithm=algorithm,
        source="local-ca" if (keys / F.CA_KEY).exists() else "imported",
        key_id=key_id(ring[0]) if ring else "",
        watermark_key_ids=tuple(key_id(k) for k in ring),
        archived_certificates=archived,
        paths=paths,
    )
