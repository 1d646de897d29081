"""Sign then read: valid, trusted, tampered, stripped, recovered bytes, bad input, rotation."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.credentials.conftest import (
    PASSPHRASE,
    flip_mdat_byte,
    reencode,
    remux,
    spec_for_tests,
)
from veriframe.credentials import keys as K
from veriframe.credentials.keys import SigningIdentity, load_identity, pem, rotate_keys
from veriframe.credentials.keys.minting import make_ca
from veriframe.credentials.manifest import TRAINED_ALGORITHMIC_MEDIA, build_manifest
from veriframe.credentials.read import read_credentials, validate_manifest_bytes
from veriframe.credentials.sign import sign_mp4
from veriframe.credentials.trust import TrustConfig
from veriframe.errors import CredentialsError, SignError
from veriframe.home import HomePaths
from veriframe.results import CredentialState


def test_signed_clip_is_valid_without_anchors(signed_clip: Path) -> None:
    t0 = time.perf_counter()
    check = read_credentials(signed_clip, trust=TrustConfig.none())
    assert time.perf_counter() - t0 < 2.0
    assert check.state is CredentialState.VALID, check
    assert check.failures == ()
    assert "signingCredential.untrusted" in [i.code for i in check.informational]
    assert "claimSignature.validated" in check.successes
    assert check.hard_binding == "match"
    assert check.signer is not None
    assert check.signer.common_name == "Example Newsroom C2PA signer"
    assert check.signer.issuer == "Example Newsroom"
    assert check.signer.algorithm == "es256" and check.signer.signed_at
    assert check.claim_generator and check.claim_generator.startswith("veriframe/")
    assert check.title == "clip.mp4"
    assert check.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    created = check.actions[0]
    assert created["softwareAgent"]["name"] == "Wan2.1-I2V-14B-480P"
    assert created["parameters"]["seed"] == 1234
    assert check.manifest is not None
    assert check.manifest["c2pa.soft-binding"]["blocks"][0]["value"] == "00112233aabbccdd"
    assert check.manifest["cawg.training-mining"]["entries"]
    assert check.manifest_label and check.manifest_label.startswith("urn:c2pa:")
    assert check.to_dict()["state"] == "valid"


def test_signed_clip_is_trusted_with_own_ca(
    vf_home: Path, signed_clip: Path, tmp_path: Path
) -> None:
    check = read_credentials(signed_clip, trust=TrustConfig.load(home=vf_home))
    assert check.state is CredentialState.TRUSTED, check
    assert "signingCredential.trusted" in check.successes
    # The CA given as an explicit --trust file, without the home's own CA.
    anchor = tmp_path / "anchor.pem"
    anchor.write_bytes((HomePaths.resolve(vf_home).keys / "ca.pem").read_bytes().rstrip(b"\n"))
    explicit = TrustConfig.load(home=vf_home, trust_file=anchor, include_own_ca=False)
    assert read_credentials(signed_clip, trust=explicit).state is CredentialState.TRUSTED
    # Another CA does not make it trusted.
    _, other_ca = make_ca("Someone else")
    assert (
        read_credentials(signed_clip, trust=TrustConfig.from_pem(pem(other_ca))).state
        is CredentialState.VALID
    )


def test_flipped_mdat_byte_is_invalid(vf_home: Path, signed_clip: Path, tmp_path: Path) -> None:
    bad = tmp_path / "tampered.mp4"
    flip_mdat_byte(signed_clip, bad)
    check = read_credentials(bad, trust=TrustConfig.load(home=vf_home))
    assert check.state is CredentialState.INVALID
    assert "assertion.bmffHash.mismatch" in [f.code for f in check.failures]
    assert check.hard_binding == "mismatch"
    # Contents of an invalid manifest are not reported as fact.
    assert check.manifest is None and check.signer is None and check.actions == ()
    assert check.title is None and check.digital_source_type is None


def test_remuxed_clip_has_no_manifest(signed_clip: Path, tmp_path: Path) -> None:
    stripped = tmp_path / "stripped.mp4"
    remux(signed_clip, stripped)
    check = read_credentials(stripped, trust=TrustConfig.none())
    assert check.state is CredentialState.ABSENT and check.error is None


def test_recovered_manifest_revalidates_on_reencoded_copy(
    vf_home: Path, identity: SigningIdentity, small_clip: Path, tmp_path: Path
) -> None:
    signed = tmp_path / "signed.mp4"
    store = sign_mp4(
        small_clip, signed, manifest=build_manifest(spec_for_tests()), identity=identity
    )
    assert store[4:8] == b"jumb"
    copy = tmp_path / "reencoded.mp4"
    reencode(signed, copy)
    assert read_credentials(copy, trust=TrustConfig.none()).state is CredentialState.ABSENT
    check = validate_manifest_bytes(
        store, asset_path=copy, fmt="video/mp4", trust=TrustConfig.load(home=vf_home)
    )
    assert check.state is CredentialState.TRUSTED, check
    assert check.hard_binding == "mismatch"
    assert check.actions[0]["softwareAgent"]["name"] == "Wan2.1-I2V-14B-480P"
    same = validate_manifest_bytes(
        store, asset_path=signed, fmt="video/mp4", trust=TrustConfig.none()
    )
    assert same.state is CredentialState.VALID and same.hard_binding == "match"
    # A damaged stored manifest does not validate.
    broken = bytearray(store)
    broken[len(broken) - 40] ^= 0xFF  # inside the COSE signature at the end of the store
    damaged = validate_manifest_bytes(
        bytes(broken), asset_path=signed, fmt="video/mp4", trust=TrustConfig.none()
    )
    assert damaged.state in (CredentialState.INVALID, CredentialState.ERROR)
    garbage = validate_manifest_bytes(
        b"not a manifest", asset_path=signed, fmt="video/mp4", trust=TrustConfig.none()
    )
    assert garbage.state is CredentialState.ERROR and garbage.error


def test_ingredient_recorded(identity: SigningIdentity, small_clip: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    img = tmp_path / "input.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(img)
    out = tmp_path / "signed.mp4"
    spec = spec_for_tests(input_image=img)
    sign_mp4(small_clip, out, manifest=build_manifest(spec), identity=identity, ingredients=[img])
    check = read_credentials(out, trust=TrustConfig.none())
    assert check.state is CredentialState.VALID
    pairs = [(i["title"], i["relationship"]) for i in check.ingredients]
    assert pairs == [("input.png", "inputTo")]
    linked = check.actions[0]["parameters"]["ingredients"]
    assert len(linked) == 1 and "c2pa.ingredient" in linked[0]["url"]


def test_sign_never_touches_input(identity: SigningIdentity, small_clip: Path, tmp_path: Path):
    src = tmp_path / "in.mp4"
    src.write_bytes(small_clip.read_bytes())
    before = src.read_bytes()
    with pytest.raises(SignError) as exc:
        sign_mp4(src, src, manifest=build_manifest(spec_for_tests()), identity=identity)
    assert exc.value.code == "sign.same-file"
    assert src.read_bytes() == before


def test_failed_signer_leaves_no_output(
    identity: SigningIdentity, small_clip: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(data: bytes) -> bytes:
        raise RuntimeError("HSM offline")

    remote = SigningIdentity.remote(
        chain_pem=identity.chain_pem, sign=broken, watermark_key=identity.watermark_key
    )
    outdir = tmp_path / "out"
    outdir.mkdir()
    with pytest.raises(SignError) as exc:
        sign_mp4(
            small_clip, outdir / "o.mp4", manifest=build_manifest(spec_for_tests()), identity=remote
        )
    assert exc.value.code == "sign.signer-failed"
    assert os.listdir(outdir) == []
    # c2pa logs the callback's exception text: ours is generic, never the signer's message.
    assert "HSM offline" not in caplog.text


@pytest.mark.parametrize("form", ["der", "raw"])
def test_remote_signer_hook(vf_home: Path, small_clip: Path, tmp_path: Path, form: str) -> None:
    from veriframe.credentials.keys import init_keys

    init_keys(home=vf_home, org="Remote Org", passphrase=PASSPHRASE)
    keys = HomePaths.resolve(vf_home).keys
    hsm_key = serialization.load_pem_private_key(
        (keys / K.LEAF_KEY).read_bytes(), password=PASSPHRASE.encode()
    )
    calls: list[int] = []

    def kms_sign(data: bytes) -> bytes:  # stands in for a KMS/HSM API call
        calls.append(len(data))
        der = hsm_key.sign(data, ec.ECDSA(hashes.SHA256()))
        if form == "der":
            return der
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    ident = SigningIdentity.remote(
        chain_pem=(keys / K.CHAIN).read_bytes(), sign=kms_sign, watermark_key=os.urandom(32)
    )
    out = tmp_path / "remote.mp4"
    sign_mp4(small_clip, out, manifest=build_manifest(spec_for_tests()), identity=ident)
    assert calls
    assert (
        read_credentials(out, trust=TrustConfig.load(home=vf_home)).state is CredentialState.TRUSTED
    )


def test_rotation_keeps_old_signatures_trusted(
    vf_home: Path, identity: SigningIdentity, small_clip: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old.mp4"
    sign_mp4(small_clip, old, manifest=build_manifest(spec_for_tests()), identity=identity)
    rotate_keys(home=vf_home, passphrase=PASSPHRASE)
    new_ident = load_identity(home=vf_home, passphrase=PASSPHRASE)
    assert new_ident.chain_pem != identity.chain_pem
    assert identity.watermark_key in new_ident.watermark_keyring
    new = tmp_path / "new.mp4"
    sign_mp4(small_clip, new, manifest=build_manifest(spec_for_tests()), identity=new_ident)
    trust = TrustConfig.load(home=vf_home)
    for path in (old, new):
        assert read_credentials(path, trust=trust).state is CredentialState.TRUSTED
    assert (
        read_credentials(old, trust=trust).signer.serial_number
        != read_credentials(new, trust=trust).signer.serial_number
    )


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda p: None, "credentials.not-found"),
        (lambda p: p.mkdir(), "credentials.unreadable"),
        (lambda p: p.write_bytes(b""), "credentials.unreadable"),
        (lambda p: p.write_bytes(os.urandom(4096)), "credentials.unsupported-format"),
    ],
    ids=["missing", "directory", "empty", "random"],
)
def test_bad_input_gives_error_state(tmp_path: Path, make, code: str) -> None:
    path = tmp_path / "bad.mp4"
    make(path)
    check = read_credentials(path, trust=TrustConfig.none())
    assert check.state is CredentialState.ERROR
    assert check.error is not None and check.error.code == code and check.error.hint


def test_truncated_signed_file(signed_clip: Path, tmp_path: Path) -> None:
    data = signed_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    check = read_credentials(cut, trust=TrustConfig.none())
    assert check.state in (CredentialState.INVALID, CredentialState.ERROR)
    assert check.failures or check.error


def test_timeout_guard(signed_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from veriframe.credentials import read as R

    def slow(path, trust):
        time.sleep(2)
        raise AssertionError("not reached in time")

    monkeypatch.setattr(R, "_read_file", slow)
    t0 = time.perf_counter()
    check = read_credentials(signed_clip, trust=TrustConfig.none(), timeout_s=0.2)
    assert time.perf_counter() - t0 < 1.5
    assert check.state is CredentialState.ERROR and check.error.code == "credentials.timeout"


def test_trust_file_errors(tmp_path: Path, vf_home: Path) -> None:
    with pytest.raises(CredentialsError) as exc:
        TrustConfig.load(home=vf_home, trust_file=tmp_path / "nope.pem")
    assert exc.value.code == "trust.not-found"
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(CredentialsError) as exc:
        TrustConfig.load(home=vf_home, trust_file=junk)
    assert exc.value.code == "trust.bad-anchors"
    assert TrustConfig.load(home=vf_home).anchors == ()  # nothing configured, no keys yet
