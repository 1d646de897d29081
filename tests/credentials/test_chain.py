"""The provenance chain, where a check failed, CAWG identities, time-stamps and thumbnails."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import c2pa
import pytest

from tests.credentials.chainfiles import CAPTURE, ChainFiles
from veriframe.credentials.chain import ChainLimits, build_chain, thumbnail_from_bytes
from veriframe.credentials.read import read_credentials
from veriframe.credentials.trust import TrustConfig
from veriframe.credentials.validation import judge
from veriframe.results import CredentialState, IdentityState, TimeStampState


def reference(path: Path) -> str:
    with open(path, "rb") as fh:
        reader = c2pa.Reader(fh, context=TrustConfig.none().context())
        try:
            return str(reader.get_validation_state())
        finally:
            reader.close()


def test_three_level_chain(chain_files: ChainFiles) -> None:
    check = read_credentials(chain_files.final, trust=TrustConfig.none())
    assert check.state is CredentialState.VALID and check.reference_state == "valid"
    root = check.chain
    assert root is not None and root.title == "final.mp4" and root.relationship is None
    assert root.state is CredentialState.VALID and root.signer is not None
    assert root.signer.common_name and "Example Newsroom" in root.signer.common_name
    [interview] = root.ingredients
    assert (interview.title, interview.relationship) == ("interview.mp4", "inputTo")
    assert interview.state is CredentialState.VALID and interview.failures == ()
    assert interview.signer is not None and interview.claim_generator
    assert interview.manifest_label and interview.manifest_label != root.manifest_label
    [camera] = interview.ingredients
    assert camera.title == "camera.mp4" and camera.digital_source_type == CAPTURE
    assert camera.ingredients == () and camera.omitted == 0
    assert check.ingredient_failures == ()
    assert check.active_manifest_result is not None
    assert check.active_manifest_result.state is CredentialState.VALID
    doc = check.to_dict()
    assert doc["chain"]["ingredients"][0]["ingredients"][0]["title"] == "camera.mp4"
    json.dumps(doc)  # plain JSON all the way down


def test_tampered_ingredient_is_invalid_and_named(chain_files: ChainFiles) -> None:
    check = read_credentials(chain_files.tampered, trust=TrustConfig.none())
    # the reference says Invalid; veriframe 0.1 judged only the active manifest: "valid"
    assert reference(chain_files.tampered) == "Invalid"
    assert check.state is CredentialState.INVALID and check.reference_state == "invalid"
    assert check.active_manifest_result is not None
    assert check.active_manifest_result.state is CredentialState.VALID
    assert check.active_manifest_result.failures == ()
    [failed] = check.ingredient_failures
    assert failed.title == "interview.mp4" and failed.relationship == "inputTo"
    assert failed.path == ("final.mp4", "interview.mp4")
    assert failed.manifest_label and failed.manifest_label.startswith("urn:c2pa:")
    codes = [i.code for i in failed.failures]
    assert "assertion.hashedURI.mismatch" in codes
    assert {i.code for i in check.failures} == set(codes)
    # the file's own manifest is intact, so its chain is shown, the ingredient marked failed
    assert check.chain is not None and check.chain.state is CredentialState.VALID
    [node] = check.chain.ingredients
    assert node.state is CredentialState.INVALID and node.signer is None
    assert node.ingredients == () and node.omitted == 1  # listed by a failing manifest
    # an invalid file's claims are still not presented as fact at the top level
    assert check.signer is None and check.manifest is None and check.actions == ()


def test_clean_files_of_the_shared_corpus(shared_dir: Path) -> None:
    check = read_credentials(shared_dir / "c2pa" / "adobe-20220124-CAI.jpg",
                             trust=TrustConfig.none())
    root = check.chain
    assert root is not None and root.title == "CAI.jpg"
    assert [n.relationship for n in root.ingredients] == ["parentOf", "componentOf"]
    assert [n.state for n in root.ingredients] == [CredentialState.ABSENT] * 2
    thumbs = [n.thumbnail for n in (root, *root.ingredients)]
    assert all(t is not None and t.format == "image/jpeg" for t in thumbs)
    t = thumbs[0]
    assert t is not None and t.data.startswith(b"\xff\xd8\xff")
    assert t.sha256 == hashlib.sha256(t.data).hexdigest() and t.size_bytes == len(t.data)
    assert check.to_dict()["chain"]["thumbnail"] == {
        "format": "image/jpeg", "size_bytes": t.size_bytes, "sha256": t.sha256}


def test_ingredient_failure_when_the_own_manifest_fails_too(shared_dir: Path) -> None:
    check = read_credentials(shared_dir / "c2pa" / "adobe-20220124-E-clm-CAICAI.jpg",
                             trust=TrustConfig.none())
    assert check.state is CredentialState.INVALID and check.chain is None
    assert check.active_manifest_result is not None
    assert check.active_manifest_result.state is CredentialState.INVALID
    assert "assertion.hashedURI.mismatch" in [i.code for i in check.active_manifest_result.failures]
    [failed] = check.ingredient_failures
    assert failed.title == "CAI.jpg" and failed.ingredient_label == "c2pa.ingredient__1"
    assert [i.code for i in failed.failures] == ["ingredient.manifest.missing"]


def test_cawg_x509_identity(shared_dir: Path) -> None:
    check = read_credentials(shared_dir / "c2pa" / "C_with_CAWG_data.jpg",
                             trust=TrustConfig.none())
    assert check.state is CredentialState.VALID
    [identity] = check.identities
    assert identity.label == "cawg.identity" and identity.sig_type == "cawg.x509.cose"
    assert identity.credential == "X.509 certificate"
    assert identity.state is IdentityState.VALID  # its certificate is not on a trust list
    assert [a.name for a in identity.actors] == ["C2PA Signer"]
    assert identity.issuer == "C2PA Test Signing Cert"
    assert "cawg.x509.signature.validated" in identity.successes
    assert [i.code for i in identity.failures] == ["cawg.x509.credential.untrusted"]


def test_cawg_identity_claims_aggregation(shared_dir: Path) -> None:
    check = read_credentials(shared_dir / "c2pa" / "cawg_ica_success.jpg",
                             trust=TrustConfig.none())
    [identity] = check.identities
    assert identity.credential == "identity claims aggregation"
    assert identity.sig_type == "cawg.identity_claims_aggregation"
    assert identity.state is IdentityState.VALID  # issuer not in the trusted ICA issuers
    assert identity.issuer and identity.issuer.startswith("did:jwk:")
    names = {a.name: a for a in identity.actors}
    assert names["First-Name Last-Name"].kind == "cawg.document_verification"
    assert names["First-Name Last-Name"].provider == "Example ID Verifier"
    assert "cawg.ica.untrusted_issuer" in [i.code for i in identity.informational]


def test_time_stamp_and_validity(shared_dir: Path) -> None:
    stamped = read_credentials(shared_dir / "c2pa" / "video1.mp4", trust=TrustConfig.none())
    t = stamped.time
    assert t is not None and t.time_stamp in (TimeStampState.TRUSTED, TimeStampState.VALID)
    assert stamped.signer is not None and t.time == stamped.signer.signed_at
    assert t.authority and t.inside_validity is True and t.basis == "time-stamp"
    expired = read_credentials(shared_dir / "c2pa" / "nikon-20221019-building.jpeg",
                               trust=TrustConfig.none())
    t = expired.time
    assert t is not None and t.time_stamp is TimeStampState.ABSENT and t.time is None
    assert t.inside_validity is False and t.basis == "verification-time"
    assert "signingCredential.expired" in t.codes


def test_unstamped_signature(signed_clip: Path) -> None:
    t = read_credentials(signed_clip, trust=TrustConfig.none()).time
    assert t is not None and t.time_stamp is TimeStampState.ABSENT
    assert t.inside_validity is True and t.basis == "verification-time"


@pytest.mark.parametrize("data", [
    b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    b"<html><script>alert(1)</script></html>",
    b"",
    b"\xff\xd8\xff" + b"x" * 300_000,  # over the limit
])
def test_thumbnail_must_be_a_small_known_image(data: bytes) -> None:
    assert thumbnail_from_bytes(data, limit=256 * 1024) is None


def test_thumbnail_formats_by_magic() -> None:
    assert thumbnail_from_bytes(b"\x89PNG\r\n\x1a\n....", limit=100).format == "image/png"  # type: ignore[union-attr]
    assert thumbnail_from_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 ", limit=100).format == (  # type: ignore[union-attr]
        "image/webp")
    assert thumbnail_from_bytes(b"GIF89a....", limit=100).format == "image/gif"  # type: ignore[union-attr]


def _store(manifests: dict[str, Any], active: str) -> dict[str, Any]:
    return {"active_manifest": active, "manifests": manifests}


def _signed(title: str, ingredients: list[dict[str, Any]]) -> dict[str, Any]:
    return {"title": title, "signature_info": {"common_name": f"signer of {title}"},
            "ingredients": ingredients}


OK_RESULTS = {"activeManifest": {"success": [{"code": "claimSignature.validated"},
                                             {"code": "claimSignature.insideValidity"}]}}


def test_a_cycle_is_cut() -> None:
    store = _store({
        "A": _signed("a", [{"title": "b", "label": "c2pa.ingredient", "active_manifest": "B"}]),
        "B": _signed("b", [{"title": "a again", "label": "c2pa.ingredient",
                            "active_manifest": "A"}]),
    }, "A")
    chain = build_chain(store, OK_RESULTS, judge(OK_RESULTS, "Valid"))
    assert chain.root is not None
    [b] = chain.root.ingredients
    [a_again] = b.ingredients
    assert a_again.title == "a again" and a_again.ingredients == () and a_again.omitted == 1


def test_depth_and_size_are_bounded() -> None:
    manifests = {f"M{i}": _signed(f"m{i}", [{"title": f"m{i + 1}", "label": "c2pa.ingredient",
                                            "active_manifest": f"M{i + 1}"}])
                 for i in range(60)}
    manifests["M60"] = _signed("m60", [])
    chain = build_chain(_store(manifests, "M0"), OK_RESULTS, judge(OK_RESULTS, "Valid"),
                        limits=ChainLimits(max_depth=5))
    depth, node = 0, chain.root
    while node is not None and node.ingredients:
        node, depth = node.ingredients[0], depth + 1
    assert depth == 4 and node is not None and node.omitted == 1
    wide = {"W": _signed("w", [{"title": f"i{i}", "label": f"c2pa.ingredient__{i}"}
                               for i in range(500)])}
    chain = build_chain(_store(wide, "W"), OK_RESULTS, judge(OK_RESULTS, "Valid"),
                        limits=ChainLimits(max_nodes=50))
    assert chain.root is not None and len(chain.root.ingredients) == 50
    assert chain.root.omitted == 450


def test_hostile_store_shapes_do_not_crash() -> None:
    for store in ({}, {"manifests": []}, {"active_manifest": 3, "manifests": {}},
                  _store({"A": {"ingredients": "x", "assertions": [1, {"label": 2}],
                                "signature_info": []}}, "A"),
                  _store({"A": {"ingredients": [None, {"label": None, "thumbnail": "x"}]}}, "A")):
        build_chain(store, OK_RESULTS, judge(OK_RESULTS, "Valid"), fetch=lambda uri: b"x")
