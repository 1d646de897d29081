"""The rules c2pa-rs enforces on a signing certificate, and PEM chain helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from veriframe.credentials.keys.algorithms import CURVES, MIN_RSA_BITS
from veriframe.errors import KeysError

C2PA_EKU_OID = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
# EKUs c2pa-rs 0.91 accepts for a signing certificate under default settings (see NOTES.md).
ACCEPTED_EKUS = frozenset(
    {
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.TIME_STAMPING,
        ExtendedKeyUsageOID.OCSP_SIGNING,
    }
)


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
    if not ekus & ACCEPTED_EKUS:
        raise _reject(
            "its ExtendedKeyUsage has neither emailProtection, timeStamping nor OCSPSigning "
            "(c2pa-rs 0.91 refuses a certificate with only the C2PA or documentSigning EKU)"
        )
    pub = cert.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        if pub.curve.name not in CURVES:
            raise _reject(f"its EC curve {pub.curve.name} is not P-256, P-384 or P-521")
    elif isinstance(pub, rsa.RSAPublicKey):
        if pub.key_size < MIN_RSA_BITS:
            raise _reject(f"its RSA key has {pub.key_size} bits (at least {MIN_RSA_BITS} needed)")
    elif not isinstance(pub, ed25519.Ed25519PublicKey):
        raise _reject(f"its key type {type(pub).__name__} is not EC, RSA or Ed25519")
    now = now or dt.datetime.now(dt.timezone.utc)
    if cert.not_valid_after_utc < now:
        raise _reject(f"it expired on {cert.not_valid_after_utc.isoformat()}")
    if cert.not_valid_before_utc > now + dt.timedelta(minutes=5):
        raise _reject(f"it is not valid before {cert.not_valid_before_utc.isoformat()}")


def parse_chain(data: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM chain (leaf first); ``keys.bad-certificate`` when unusable."""
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


def pem(cert: x509.Certificate) -> bytes:
    """``cert`` as PEM bytes."""
    return cert.public_bytes(serialization.Encoding.PEM)


def is_self_signed(cert: x509.Certificate) -> bool:
    """Whether ``cert`` is a root: its own issuer, with a signature its own key verifies."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # signature or key-type mismatch: not self-signed
        return False
    return True


def organization_of(cert: x509.Certificate) -> str | None:
    """The subject's O attribute."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else None


def common_name_of(cert: x509.Certificate) -> str | None:
    """The subject's CN attribute."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None
