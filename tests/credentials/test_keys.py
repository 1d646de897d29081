"""Keys: certificate properties, encryption at rest, permissions, import, rotation, remote."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.credentials.conftest import PASSPHRASE
from veriframe.credentials import keys as K
from veriframe.credentials.keys import (
    C2PA_EKU_OID,
    SigningIdentity,
    import_keys,
    init_keys,
    load_identity,
    load_watermark_keys,
    pem,
    rotate_keys,
    show_keys,
    watermark_key_id,
)
from veriframe.credentials.keys.minting import make_ca, subject_name
from veriframe.errors import KeysError
from veriframe.home import HomePaths


def _leaf(home: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((HomePaths.resolve(home).keys / K.LEAF_CERT).read_bytes())


def test_certificates_meet_c2pa_rules(vf_home: Path) -> None:
    info = init_keys(home=vf_home, org="Example Newsroom", passphrase=PASSPHRASE)
    keys = HomePaths.resolve(vf_home).keys
    leaf = _leaf(vf_home)
    ca = x509.load_pem_x509_certificate((keys / K.CA_CERT).read_bytes())
    assert leaf.version is x509.Version.v3
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign and not ku.crl_sign
    ekus = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert ekus == {ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_EKU_OID}
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    assert leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert dt.timedelta(days=365) < life <= dt.timedelta(days=K.LEAF_VALIDITY_DAYS + 1)
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Example Newsroom"
    )
    assert info.algorithm == "es256" and info.source == "local-ca"
    assert info.fingerprint_sha256 == leaf.fingerprint(hashes.SHA256()).hex()


def test_private_keys_encrypted_and_files_private(vf_home: Path) -> None:
    init_keys(home=vf_home, org="Org", passphrase=PASSPHRASE)
    keys = HomePaths.resolve(vf_home).keys
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for name in (K.LEAF_KEY, K.CA_KEY, K.WATERMARK_KEY):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600, name
    for name in (K.LEAF_KEY, K.CA_KEY):
        pem = (keys / name).read_bytes()
        assert b"ENCRYPTED PRIVATE KEY" in pem
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(pem, password=None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(pem, password=b"wrong passphrase")
        serialization.load_pem_private_key(pem, password=PASSPHRASE.encode())
    wm = (keys / K.WATERMARK_KEY).read_bytes()
    assert len(wm) == 32
    assert (
        show_keys(home=vf_home).key_id
        == watermark_key_id(wm)
        == hashlib.sha256(wm).hexdigest()[:16]
    )


def test_refuses_to_overwrite_without_force(vf_home: Path) -> None:
    first = init_keys(home=vf_home, org="Org", passphrase=PASSPHRASE)
    with pytest.raises(KeysError) as exc:
        init_keys(home=vf_home, org="Org", passphrase=PASSPHRASE)
    assert exc.value.code == "keys.exists"
    second = init_keys(home=vf_home, org="Org", passphrase=PASSPHRASE, force=True)
    assert second.fingerprint_sha256 != first.fingerprint_sha256
    # The old watermark key stays in the keyring.
    assert first.key_id in second.watermark_key_ids


@pytest.mark.parametrize("name", [K.LEAF_KEY, K.WATERMARK_KEY])
def test_group_readable_key_is_refused(vf_home: Path, name: str) -> None:
    init_keys(home=vf_home, org="Org", passphrase=PASSPHRASE)
    path = HomePaths.resolve(vf_home).keys / name
    os.chmod(path, 0o644)
    with pytest.raises(KeysError) as exc:
        load_identity(home=vf_home, passphrase=PASSPHRASE)
    assert exc.value.code == "keys.insecure-permissions"
    assert "chmod 600" in exc.value.hint


def test_load_identity_errors(vf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeysError) as exc:
        load_identity(home=vf_home, passphrase=PASSPHRASE)
    assert exc.value.code == "keys.missing" and "keys init --org" in exc.value.hint
    init_keys(home=vf_home, org="Org", passphrase=PASSPHRASE)
    monkeypatch.delenv("VERIFRAME_KEY_PASSPHRASE")
    with pytest.raises(KeysError) as exc:
        load_identity(home=vf_home)
    assert exc.value.code == "keys.locked"
    with pytest.raises(KeysError) as exc:
        load_identity(home=vf_home, passphrase="not the passphrase")
    assert exc.value.code == "keys.bad-passphrase"
    assert "not the passphrase" not in str(exc.value) + exc.value.hint
    assert exc.value.__cause__ is None and exc.value.__suppress_context__
    ident = load_identity(home=vf_home, passphrase=PASSPHRASE)
    assert PASSPHRASE not in repr(ident)
    assert ident.watermark_key.hex() not in repr(ident)


def test_weak_passphrase_refused(vf_home: Path) -> None:
    with pytest.raises(KeysError) as exc:
        init_keys(home=vf_home, org="Org", passphrase="zq7x")
    assert exc.value.code == "keys.weak-passphrase"
    assert "zq7x" not in exc.value.message + exc.value.hint


def test_watermark_keys_need_no_passphrase(vf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_watermark_keys(home=vf_home) == []
    init_keys(home=vf_home, org="Org", passphrase=PASSPHRASE)
    monkeypatch.delenv("VERIFRAME_KEY_PASSPHRASE")
    ring = load_watermark_keys(home=vf_home)
    assert len(ring) == 1 and len(ring[0]) == 32


def test_rotation_keeps_ca_and_keyring(vf_home: Path) -> None:
    before = init_keys(home=vf_home, org="Org", passphrase=PASSPHRASE)
    after = rotate_keys(home=vf_home, passphrase=PASSPHRASE)
    assert after.fingerprint_sha256 != before.fingerprint_sha256
    assert after.ca_fingerprint_sha256 == before.ca_fingerprint_sha256
    assert after.issuer == before.issuer
    assert after.archived_certificates == 1
    assert after.watermark_key_ids[0] != before.key_id
    assert after.watermark_key_ids[1] == before.key_id
    ident = load_identity(home=vf_home, passphrase=PASSPHRASE)
    assert ident.key_id == after.key_id and len(ident.watermark_keyring) == 2
    with pytest.raises(KeysError) as exc:
        rotate_keys(home=vf_home, passphrase="wrong passphrase!")
    assert exc.value.code == "keys.bad-passphrase"


# ---------------------------------------------------------------------------------------------
# import


def _ca(tmp: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return make_ca("Real CA")


def _issue(ca_key, ca_cert, *, eku=None, ku_cert_sign=False, aki=True, ca=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject_name("Imported Org", "Imported signer"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, ku_cert_sign, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(eku or [ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_EKU_OID]),
            critical=False,
        )
    )
    if aki:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    cert = b.sign(ca_key, hashes.SHA384())
    return key, cert


def _write(tmp: Path, key, cert, ca_cert, *, key_pass: bytes | None = None):
    chain = tmp / "chain.pem"
    chain.write_bytes(pem(cert) + pem(ca_cert))
    keyf = tmp / "leaf.key"
    enc: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if key_pass:
        enc = serialization.BestAvailableEncryption(key_pass)
    keyf.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    )
    return chain, keyf


def test_import_good_chain(vf_home: Path, tmp_path: Path) -> None:
    ca_key, ca_cert = _ca(tmp_path)
    key, cert = _issue(ca_key, ca_cert)
    chain, keyf = _write(tmp_path, key, cert, ca_cert, key_pass=b"their pass")
    info = import_keys(
        home=vf_home, chain=chain, key=keyf, passphrase=PASSPHRASE, key_passphrase="their pass"
    )
    assert info.source == "imported" and "Imported signer" in info.subject
    stored = (HomePaths.resolve(vf_home).keys / K.LEAF_KEY).read_bytes()
    assert b"ENCRYPTED" in stored
    serialization.load_pem_private_key(stored, password=PASSPHRASE.encode())
    assert load_identity(home=vf_home, passphrase=PASSPHRASE).alg == "es256"
    # The imported root becomes the user's own anchor.
    assert (HomePaths.resolve(vf_home).keys / K.CA_CERT).read_bytes() == pem(ca_cert)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"aki": False}, "Authority Key Identifier"),
        ({"ku_cert_sign": True}, "keyCertSign"),
        ({"ca": True}, "CA certificate"),
        ({"eku": [C2PA_EKU_OID]}, "emailProtection"),
        ({"eku": [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]}, "anyExtendedKeyUsage"),
    ],
)
def test_import_rejects_rule_breaking_leaf(vf_home, tmp_path, kwargs, fragment) -> None:
    ca_key, ca_cert = _ca(tmp_path)
    key, cert = _issue(ca_key, ca_cert, **kwargs)
    chain, keyf = _write(tmp_path, key, cert, ca_cert)
    with pytest.raises(KeysError) as exc:
        import_keys(home=vf_home, chain=chain, key=keyf, passphrase=PASSPHRASE)
    assert exc.value.code == "keys.cert-rejected"
    assert fragment in exc.value.message
    assert not (HomePaths.resolve(vf_home).keys / K.LEAF_KEY).exists()


def test_import_rejects_key_mismatch(vf_home: Path, tmp_path: Path) -> None:
    ca_key, ca_cert = _ca(tmp_path)
    _, cert = _issue(ca_key, ca_cert)
    other, _ = _issue(ca_key, ca_cert)
    chain, keyf = _write(tmp_path, other, cert, ca_cert)
    with pytest.raises(KeysError) as exc:
        import_keys(home=vf_home, chain=chain, key=keyf, passphrase=PASSPHRASE)
    assert exc.value.code == "keys.key-mismatch"


def test_remote_identity_checks_certificate(vf_home: Path, tmp_path: Path) -> None:
    ca_key, ca_cert = _ca(tmp_path)
    _, bad = _issue(ca_key, ca_cert, aki=False)
    with pytest.raises(KeysError) as exc:
        SigningIdentity.remote(chain_pem=pem(bad), sign=lambda d: b"", watermark_key=b"k" * 32)
    assert exc.value.code == "keys.cert-rejected"
    _key, good = _issue(ca_key, ca_cert)
    with pytest.raises(KeysError) as exc:
        SigningIdentity.remote(chain_pem=pem(good), sign=lambda d: b"", watermark_key=b"short")
    assert exc.value.code == "keys.bad-watermark-key"
