"""Minting a local root CA and a C2PA signing certificate (``keys init`` and ``keys rotate``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from veriframe.credentials.keys.algorithms import algorithm_for_key
from veriframe.credentials.keys.certificates import C2PA_EKU_OID

LEAF_VALIDITY_DAYS = 730
CA_VALIDITY_DAYS = 3650


def subject_name(org: str, cn: str) -> x509.Name:
    """``O=org, CN=cn``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(org: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new P-384 root CA for ``org`` (path length 0: it issues signing leaves only)."""
    key = ec.generate_private_key(ec.SECP384R1())
    now = dt.datetime.now(dt.timezone.utc)
    name = subject_name(org, f"{org} Root CA (veriframe)")
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
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA384())
    )
    return key, cert


def make_leaf(
    *, ca_key: Any, ca_cert: x509.Certificate, org: str, common_name: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new P-256 signing certificate issued by ``ca_key`` that meets the C2PA rules."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    not_after = min(now + dt.timedelta(days=LEAF_VALIDITY_DAYS), ca_cert.not_valid_after_utc)
    digest = algorithm_for_key(ca_key).digest or hashes.SHA256
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject_name(org, common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_EKU_OID]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, digest())
    )
    return key, cert
