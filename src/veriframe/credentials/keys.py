"""Signing keys: a local root CA, a C2PA signing certificate, encrypted keys, watermark keys.

Layout of ``Paths.keys`` (folder 0700, secret files 0600):

- ``ca.pem`` / ``ca.key.pem``: the local root CA (key encrypted; absent after ``import``
  when the real CA's key is not ours).
- ``signing.pem``, ``chain.pem`` (leaf first), ``signing.key.pem``: the current signing
  certificate, its chain and its encrypted PKCS#8 key.
- ``watermark.key``: the current 32-byte watermark key; ``archive/`` keeps rotated signing
  certificates and older watermark keys (the keyring that detection searches).

Passphrases are only ever passed to ``cryptography``; they never reach a message, a log or a
repr.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import os
import secrets
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from veriframe.config import Paths
from veriframe.errors import KeysError

C2PA_EKU_OID = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
PASSPHRASE_ENV = "VERIFRAME_KEY_PASSPHRASE"
MIN_PASSPHRASE_LEN = 8
LEAF_VALIDITY_DAYS = 730
CA_VALIDITY_DAYS = 3650
WATERMARK_KEY_BYTES = 32

CA_CERT = "ca.pem"
CA_KEY = "ca.key.pem"
LEAF_CERT = "signing.pem"
CHAIN = "chain.pem"
LEAF_KEY = "signing.key.pem"
WATERMARK_KEY = "watermark.key"
ARCHIVE = "archive"

_INIT_HINT = 'veriframe keys init --org "Your Organisation"'
# EKUs c2pa-rs 0.91 accepts for a signing certificate under default settings (see NOTES.md).
_ACCEPTED_EKUS = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    ExtendedKeyUsageOID.TIME_STAMPING,
    ExtendedKeyUsageOID.OCSP_SIGNING,
}


def watermark_key_id(key: bytes) -> str:
    """The public id of a watermark key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


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


@dataclass(frozen=True)
class SigningIdentity:
    """Who signs: a certificate chain and a callable that signs bytes with its key.

    ``sign(data) -> signature`` returns the raw signature C2PA's COSE expects (for ECDSA the
    fixed-size ``r || s`` form). The local key and a remote key (KMS, HSM) share this one
    path: see :meth:`remote`. ``watermark_keyring`` holds every watermark key (current first)
    for detection; ``watermark_key`` is the one new clips are marked with.
    """

    chain_pem: bytes
    alg: str
    sign: Callable[[bytes], bytes] = field(repr=False)
    watermark_key: bytes = field(repr=False)
    subject: str = ""
    watermark_keyring: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def key_id(self) -> str:
        """Id of the current watermark key (never the key itself)."""
        return watermark_key_id(self.watermark_key)

    @classmethod
    def remote(
        cls,
        *,
        chain_pem: bytes,
        sign: Callable[[bytes], bytes],
        alg: str = "es256",
        watermark_key: bytes,
        watermark_keyring: tuple[bytes, ...] | None = None,
    ) -> SigningIdentity:
        """An identity whose private key lives elsewhere (KMS, HSM, a signing service).

        ``sign(data)`` must return an signature over ``data`` with the leaf's key: for ECDSA
        either DER or raw ``r || s`` (DER is converted), for PS256/Ed25519 the raw signature.
        The leaf certificate (first in ``chain_pem``) is checked against the C2PA rules.
        """
        alg = alg.lower()
        if alg not in _SIG_SIZES and alg not in ("ps256", "ps384", "ps512", "ed25519"):
            raise KeysError(
                "keys.unsupported-algorithm",
                f"signing algorithm {alg!r} is not supported",
                "use es256, es384, es512, ps256, ps384, ps512 or ed25519",
            )
        certs = _parse_chain(chain_pem)
        check_signing_certificate(certs[0])
        if len(watermark_key) != WATERMARK_KEY_BYTES:
            raise KeysError(
                "keys.bad-watermark-key",
                f"a watermark key has {WATERMARK_KEY_BYTES} bytes, got {len(watermark_key)}",
                "pass the 32-byte key from keys/watermark.key or secrets.token_bytes(32)",
            )
        signer = _normalising_signer(sign, alg)
        ring = watermark_keyring or (watermark_key,)
        if watermark_key not in ring:
            ring = (watermark_key, *ring)
        return cls(
            chain_pem=chain_pem,
            alg=alg,
            sign=signer,
            watermark_key=watermark_key,
            subject=certs[0].subject.rfc4514_string(),
            watermark_keyring=tuple(ring),
        )


# Size of one ECDSA integer in the raw signature, per algorithm.
_SIG_SIZES = {"es256": 32, "es384": 48, "es512": 66}


def _normalising_signer(sign: Callable[[bytes], bytes], alg: str) -> Callable[[bytes], bytes]:
    """Wrap ``sign`` so an ECDSA DER signature is turned into raw ``r || s``."""
    size = _SIG_SIZES.get(alg)
    if size is None:
        return sign

    def wrapped(data: bytes) -> bytes:
        sig = bytes(sign(data))
        if len(sig) == 2 * size:
            return sig
        r, s = decode_dss_signature(sig)
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return wrapped


def _local_signer(key: Any) -> tuple[Callable[[bytes], bytes], str]:
    """A ``sign`` callable and the C2PA algorithm name for a private key object."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = key.curve.name
        alg, digest = {
            "secp256r1": ("es256", hashes.SHA256()),
            "secp384r1": ("es384", hashes.SHA384()),
            "secp521r1": ("es512", hashes.SHA512()),
        }[curve]

        def sign_ec(data: bytes) -> bytes:
            return bytes(key.sign(data, ec.ECDSA(digest)))

        return _normalising_signer(sign_ec, alg), alg
    if isinstance(key, rsa.RSAPrivateKey):

        def sign_rsa(data: bytes) -> bytes:
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            return bytes(key.sign(data, pss, hashes.SHA256()))

        return sign_rsa, "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):

        def sign_ed(data: bytes) -> bytes:
            return bytes(key.sign(data))

        return sign_ed, "ed25519"
    raise KeysError(
        "keys.unsupported-algorithm",
        f"{type(key).__name__} keys cannot sign C2PA manifests",
        "use an EC P-256/P-384/P-521, RSA >= 2048 or Ed25519 key",
    )


# --------------------------------------------------------------------------------------------
# Certificate rules


def _reject(rule: str) -> KeysError:
    return KeysError(
        "keys.cert-rejected",
        f"the signing certificate does not meet the C2PA rules: {rule}",
        "ask your CA for an end-entity certificate: X.509 v3, not a CA, with an Authority Key "
        "Identifier, KeyUsage digitalSignature only, EKU emailProtection (+ 1.3.6.1.4.1.62558.2.1)",
    )


def _ext(cert: x509.Certificate, cls: type[Any]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def check_signing_certificate(cert: x509.Certificate, *, now: dt.datetime | None = None) -> None:
    """Raise ``keys.cert-rejected`` naming the first C2PA rule that ``cert`` breaks.

    The rules are those c2pa-rs enforces on a signing certificate: X.509 v3; not a CA; an
    Authority Key Identifier; KeyUsage with digitalSignature and without keyCertSign/cRLSign;
    an EKU it accepts (emailProtection; also timeStamping/OCSPSigning), never
    anyExtendedKeyUsage; an EC P-256/384/521, RSA >= 2048 or Ed25519 key; inside its validity.
    """
    if cert.version is not x509.Version.v3:
        raise _reject("it is not an X.509 v3 certificate")
    bc = _ext(cert, x509.BasicConstraints)
    if bc is not None and bc.ca:
        raise _reject("it is a CA certificate (BasicConstraints CA:true)")
    if _ext(cert, x509.AuthorityKeyIdentifier) is None:
        raise _reject("it has no Authority Key Identifier extension")
    ku = _ext(cert, x509.KeyUsage)
    if ku is None:
        raise _reject("it has no KeyUsage extension")
    if not ku.digital_signature:
        raise _reject("its KeyUsage lacks digitalSignature")
    if ku.key_cert_sign or ku.crl_sign:
        raise _reject("its KeyUsage allows keyCertSign/cRLSign (a signing leaf must not)")
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if eku is None:
        raise _reject("it has no ExtendedKeyUsage extension")
    ekus = set(eku)
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in ekus:
        raise _reject("its ExtendedKeyUsage contains anyExtendedKeyUsage")
    if not ekus & _ACCEPTED_EKUS:
        raise _reject(
            "its ExtendedKeyUsage has neither emailProtection, timeStamping nor OCSPSigning "
            "(c2pa-rs 0.91 refuses a certificate with only the C2PA or documentSigning EKU)"
        )
    pub = cert.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        if pub.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise _reject(f"its EC curve {pub.curve.name} is not P-256, P-384 or P-521")
    elif isinstance(pub, rsa.RSAPublicKey):
        if pub.key_size < 2048:
            raise _reject(f"its RSA key has {pub.key_size} bits (at least 2048 needed)")
    elif not isinstance(pub, ed25519.Ed25519PublicKey):
        raise _reject(f"its key type {type(pub).__name__} is not EC, RSA or Ed25519")
    now = now or dt.datetime.now(dt.timezone.utc)
    if cert.not_valid_after_utc < now:
        raise _reject(f"it expired on {cert.not_valid_after_utc.isoformat()}")
    if cert.not_valid_before_utc > now + dt.timedelta(minutes=5):
        raise _reject(f"it is not valid before {cert.not_valid_before_utc.isoformat()}")


# --------------------------------------------------------------------------------------------
# Files


def _check_passphrase(passphrase: str | None) -> str:
    if not passphrase:
        raise KeysError(
            "keys.locked",
            "no passphrase for the signing key",
            f"set {PASSPHRASE_ENV} or enter it when prompted",
        )
    if len(passphrase) < MIN_PASSPHRASE_LEN:
        raise KeysError(
            "keys.weak-passphrase",
            f"the passphrase is shorter than {MIN_PASSPHRASE_LEN} characters",
            "choose a longer passphrase (a few random words work well)",
        )
    return passphrase


def _write_secret(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` atomically, created with ``mode`` from the start (never briefly 0644)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _ensure_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _check_permissions(path: Path) -> None:
    """Refuse a secret file that the group or others can read or write."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeysError(
            "keys.insecure-permissions",
            f"{path} is accessible to other users (mode {mode:04o})",
            f"chmod 600 {path}",
        )


def _read_secret(path: Path) -> bytes:
    if not path.is_file():
        raise KeysError(
            "keys.missing", f"no signing keys in {path.parent} ({path.name} missing)", _INIT_HINT
        )
    _check_permissions(path)
    return path.read_bytes()


def _encrypt_key(key: Any, passphrase: str) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
        )
    )


def _decrypt_key(data: bytes, passphrase: str | None, *, what: str) -> Any:
    try:
        return serialization.load_pem_private_key(
            data, password=passphrase.encode("utf-8") if passphrase else None
        )
    except TypeError:
        # Encrypted but no password given, or a password for an unencrypted key.
        if passphrase:
            raise KeysError(
                "keys.unencrypted",
                f"the {what} is not encrypted",
                "import it again with `veriframe keys import` to encrypt it",
            ) from None
        raise KeysError(
            "keys.locked",
            f"the {what} is encrypted and no passphrase was given",
            f"set {PASSPHRASE_ENV} or enter it when prompted",
        ) from None
    except ValueError:
        raise KeysError(
            "keys.bad-passphrase",
            f"the passphrase does not decrypt the {what} (or the file is damaged)",
            "check the passphrase; it is the one given to `veriframe keys init`",
        ) from None
    except UnsupportedAlgorithm:
        raise KeysError(
            "keys.unsupported-algorithm",
            f"the {what} uses an algorithm this system cannot load",
            "use an EC P-256 key",
        ) from None


def _parse_chain(data: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeysError(
            "keys.bad-certificate",
            "the certificate chain is not valid PEM",
            "pass the leaf certificate first, then its intermediates, as PEM",
        ) from None
    if not certs:
        raise KeysError(
            "keys.bad-certificate", "the certificate chain is empty", "pass a PEM chain"
        )
    return certs


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # signature or key-type mismatch: not self-signed
        return False
    return True


# --------------------------------------------------------------------------------------------
# Certificates


def _name(org: str, cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _make_ca(org: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP384R1())
    now = dt.datetime.now(dt.timezone.utc)
    name = _name(org, f"{org} Root CA (veriframe)")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA384())
    )
    return key, cert


def _make_leaf(
    *, ca_key: Any, ca_cert: x509.Certificate, org: str, common_name: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    not_after = min(now + dt.timedelta(days=LEAF_VALIDITY_DAYS), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(org, common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_EKU_OID]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, _ca_digest(ca_key))
    )
    return key, cert


def _ca_digest(ca_key: Any) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    curve = getattr(ca_key, "curve", None)
    if isinstance(curve, ec.SECP384R1):
        return hashes.SHA384()
    if isinstance(curve, ec.SECP521R1):
        return hashes.SHA512()
    return hashes.SHA256()


def _org_of(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else None


def _cn_of(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


# --------------------------------------------------------------------------------------------
# Public API


def _archive_current(keys: Path, *, reason: str) -> Path | None:
    """Move the current leaf files into ``archive/<time>-<reason>/``; return that folder."""
    present = [keys / n for n in (LEAF_CERT, CHAIN, LEAF_KEY) if (keys / n).exists()]
    if not present:
        return None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    dest = keys / ARCHIVE / f"{stamp}-{reason}"
    _ensure_dir(keys / ARCHIVE)
    _ensure_dir(dest)
    for p in present:
        shutil.move(str(p), dest / p.name)
    return dest


def _move_to_archive(path: Path, keys: Path) -> None:
    _ensure_dir(keys / ARCHIVE)
    shutil.move(str(path), keys / ARCHIVE / f"replaced-{secrets.token_hex(4)}-{path.name}")


def _archive_watermark_key(keys: Path) -> None:
    current = keys / WATERMARK_KEY
    if not current.exists():
        return
    data = current.read_bytes()
    _ensure_dir(keys / ARCHIVE)
    target = keys / ARCHIVE / f"watermark-{watermark_key_id(data)}.key"
    if not target.exists():
        _write_secret(target, data)


def _new_watermark_key(keys: Path) -> None:
    _archive_watermark_key(keys)
    _write_secret(keys / WATERMARK_KEY, secrets.token_bytes(WATERMARK_KEY_BYTES))


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
        raise KeysError("keys.bad-org", "the organisation name is empty", _INIT_HINT)
    passphrase = _check_passphrase(passphrase)
    keys = Paths.resolve(home).keys
    existing = [n for n in (CA_KEY, CA_CERT, LEAF_KEY, CHAIN, WATERMARK_KEY) if (keys / n).exists()]
    if existing and not force:
        raise KeysError(
            "keys.exists",
            f"signing keys already exist in {keys}",
            "use `veriframe keys rotate` for a new signing certificate, or --force to replace "
            "the whole identity (old files are archived)",
        )
    _ensure_dir(keys)
    if existing:
        _archive_current(keys, reason="replaced")
        for name in (CA_CERT, CA_KEY):
            if (keys / name).exists():
                _move_to_archive(keys / name, keys)
    ca_key, ca_cert = _make_ca(org)
    leaf_key, leaf_cert = _make_leaf(
        ca_key=ca_key, ca_cert=ca_cert, org=org, common_name=common_name or f"{org} C2PA signer"
    )
    _write_secret(keys / CA_KEY, _encrypt_key(ca_key, passphrase))
    _write_secret(keys / CA_CERT, _pem(ca_cert), mode=0o644)
    _write_secret(keys / LEAF_KEY, _encrypt_key(leaf_key, passphrase))
    _write_secret(keys / LEAF_CERT, _pem(leaf_cert), mode=0o644)
    _write_secret(keys / CHAIN, _pem(leaf_cert) + _pem(ca_cert), mode=0o644)
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
    passphrase = _check_passphrase(passphrase)
    for p in (Path(chain), Path(key)):
        if not p.is_file():
            raise KeysError("keys.not-found", f"{p} does not exist", "check the path")
    certs = _parse_chain(Path(chain).read_bytes())
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
    _local_signer(private)  # refuses key types C2PA cannot use
    keys = Paths.resolve(home).keys
    if (keys / LEAF_KEY).exists() and not force:
        raise KeysError(
            "keys.exists",
            f"signing keys already exist in {keys}",
            "pass --force to replace them (the old certificate is archived)",
        )
    _ensure_dir(keys)
    _archive_current(keys, reason="replaced")
    # Keep our own CA only if it issued this leaf; otherwise trust the imported root, if any.
    if (keys / CA_KEY).exists():
        _ensure_dir(keys / ARCHIVE)
        _move_to_archive(keys / CA_KEY, keys)
    root = certs[-1] if len(certs) > 1 and _is_self_signed(certs[-1]) else None
    if root is not None:
        _write_secret(keys / CA_CERT, _pem(root), mode=0o644)
    elif (keys / CA_CERT).exists():
        _move_to_archive(keys / CA_CERT, keys)
    _write_secret(keys / LEAF_KEY, _encrypt_key(private, passphrase))
    _write_secret(keys / LEAF_CERT, _pem(leaf), mode=0o644)
    _write_secret(keys / CHAIN, b"".join(_pem(c) for c in certs), mode=0o644)
    if not (keys / WATERMARK_KEY).exists():
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
    passphrase = _resolve_passphrase(passphrase)
    keys = Paths.resolve(home).keys
    if not (keys / CA_KEY).exists():
        if (keys / LEAF_KEY).exists():
            raise KeysError(
                "keys.no-ca",
                "these keys were imported from an external CA; veriframe cannot issue a new "
                "certificate for them",
                "get a new certificate from your CA and run `veriframe keys import --force`",
            )
        raise KeysError("keys.missing", f"no signing keys in {keys}", _INIT_HINT)
    ca_key = _decrypt_key(_read_secret(keys / CA_KEY), passphrase, what="CA key")
    ca_cert = _parse_chain((keys / CA_CERT).read_bytes())[0]
    old = _parse_chain((keys / LEAF_CERT).read_bytes())[0] if (keys / LEAF_CERT).exists() else None
    org = (_org_of(old) if old else None) or _org_of(ca_cert) or "veriframe"
    cn = (_cn_of(old) if old else None) or f"{org} C2PA signer"
    leaf_key, leaf_cert = _make_leaf(ca_key=ca_key, ca_cert=ca_cert, org=org, common_name=cn)
    _archive_current(keys, reason="rotated")
    _write_secret(keys / LEAF_KEY, _encrypt_key(leaf_key, passphrase))
    _write_secret(keys / LEAF_CERT, _pem(leaf_cert), mode=0o644)
    _write_secret(keys / CHAIN, _pem(leaf_cert) + _pem(ca_cert), mode=0o644)
    _new_watermark_key(keys)
    return show_keys(home=home)


def _resolve_passphrase(passphrase: str | None) -> str:
    value = passphrase if passphrase else os.environ.get(PASSPHRASE_ENV)
    if not value:
        raise KeysError(
            "keys.locked",
            "the signing key is locked: no passphrase given",
            f"set {PASSPHRASE_ENV} or enter the passphrase when prompted",
        )
    return value


def load_watermark_keys(*, home: str | os.PathLike[str] | None = None) -> list[bytes]:
    """Every watermark key, current first then archived ones; needs no passphrase.

    Returns an empty list when there are no keys at all (a verifier without keys simply
    cannot find veriframe's mark). Insecure permissions are refused.
    """
    keys = Paths.resolve(home).keys
    out: list[bytes] = []
    current = keys / WATERMARK_KEY
    if current.is_file():
        out.append(_read_secret(current))
    archive = keys / ARCHIVE
    if archive.is_dir():
        older = sorted(archive.glob("watermark-*.key"), key=lambda q: q.stat().st_mtime)
        for p in reversed(older):
            data = _read_secret(p)
            if data not in out:
                out.append(data)
    for data in out:
        if len(data) != WATERMARK_KEY_BYTES:
            raise KeysError(
                "keys.bad-watermark-key",
                f"a watermark key in {keys} has {len(data)} bytes, not {WATERMARK_KEY_BYTES}",
                "restore it from a backup, or `veriframe keys rotate` for a new one",
            )
    return out


def load_identity(
    *, home: str | os.PathLike[str] | None = None, passphrase: str | None = None
) -> SigningIdentity:
    """The local signing identity: chain, a signer over the decrypted key, watermark keys.

    ``passphrase`` falls back to ``$VERIFRAME_KEY_PASSPHRASE``. Errors: ``keys.missing``,
    ``keys.locked``, ``keys.bad-passphrase``, ``keys.insecure-permissions``, ``keys.expired``.
    """
    keys = Paths.resolve(home).keys
    if not (keys / LEAF_KEY).exists() or not (keys / CHAIN).exists():
        raise KeysError("keys.missing", f"no signing keys in {keys}", _INIT_HINT)
    key_pem = _read_secret(keys / LEAF_KEY)
    ring = load_watermark_keys(home=home)
    if not ring:
        raise KeysError("keys.missing", f"no watermark key in {keys}", "veriframe keys rotate")
    chain_pem = (keys / CHAIN).read_bytes()
    certs = _parse_chain(chain_pem)
    leaf = certs[0]
    now = dt.datetime.now(dt.timezone.utc)
    if leaf.not_valid_after_utc < now:
        raise KeysError(
            "keys.expired",
            f"the signing certificate expired on {leaf.not_valid_after_utc.date().isoformat()}",
            "veriframe keys rotate",
        )
    private = _decrypt_key(key_pem, _resolve_passphrase(passphrase), what="signing key")
    sign, alg = _local_signer(private)
    return SigningIdentity(
        chain_pem=chain_pem,
        alg=alg,
        sign=sign,
        watermark_key=ring[0],
        subject=leaf.subject.rfc4514_string(),
        watermark_keyring=tuple(ring),
    )


def _alg_name(cert: x509.Certificate) -> str:
    pub = cert.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(
            pub.curve.name, pub.curve.name
        )
    if isinstance(pub, rsa.RSAPublicKey):
        return "ps256"
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "ed25519"
    return type(pub).__name__


def show_keys(*, home: str | os.PathLike[str] | None = None) -> KeyInfo:
    """Describe the current signing certificate, its CA and the watermark keyring."""
    keys = Paths.resolve(home).keys
    if not (keys / LEAF_CERT).exists():
        raise KeysError("keys.missing", f"no signing keys in {keys}", _INIT_HINT)
    leaf = _parse_chain((keys / LEAF_CERT).read_bytes())[0]
    ca_fp = None
    if (keys / CA_CERT).exists():
        ca = _parse_chain((keys / CA_CERT).read_bytes())[0]
        ca_fp = ca.fingerprint(hashes.SHA256()).hex()
    ring = load_watermark_keys(home=home)
    archive = keys / ARCHIVE
    archived = len([p for p in archive.glob("*/" + LEAF_CERT)]) if archive.is_dir() else 0
    paths = {
        "keys": str(keys),
        "certificate": str(keys / LEAF_CERT),
        "chain": str(keys / CHAIN),
        "key": str(keys / LEAF_KEY),
        "watermark_key": str(keys / WATERMARK_KEY),
    }
    if (keys / CA_CERT).exists():
        paths["ca"] = str(keys / CA_CERT)
    return KeyInfo(
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        organization=_org_of(leaf),
        serial_number=format(leaf.serial_number, "x"),
        not_before=leaf.not_valid_before_utc.isoformat(),
        not_after=leaf.not_valid_after_utc.isoformat(),
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        ca_fingerprint_sha256=ca_fp,
        algorithm=_alg_name(leaf),
        source="local-ca" if (keys / CA_KEY).exists() else "imported",
        key_id=watermark_key_id(ring[0]) if ring else "",
        watermark_key_ids=tuple(watermark_key_id(k) for k in ring),
        archived_certificates=archived,
        paths=paths,
    )


def archived_chains(*, home: str | os.PathLike[str] | None = None) -> list[bytes]:
    """PEM chains of rotated-out signing certificates, newest first."""
    archive = Paths.resolve(home).keys / ARCHIVE
    if not archive.is_dir():
        return []
    dirs = sorted((p for p in archive.iterdir() if (p / CHAIN).is_file()), reverse=True)
    return [(d / CHAIN).read_bytes() for d in dirs]
