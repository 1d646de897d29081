"""The validation-state rule (c2pa-rs ``validation_state``), on hand-built validation results."""

from __future__ import annotations

from typing import Any

import pytest

from veriframe.credentials.trust import TrustConfig
from veriframe.credentials.validation import counts, judge
from veriframe.results import CredentialState

SIG = "self#jumbf=/c2pa/urn:c2pa:A/c2pa.signature"
OK = [{"code": "claimSignature.validated", "url": SIG},
      {"code": "claimSignature.insideValidity", "url": SIG}]
TRUSTED = [*OK, {"code": "signingCredential.trusted", "url": SIG}]
UNTRUSTED = {"code": "signingCredential.untrusted", "url": SIG}
ING = "self#jumbf=/c2pa/urn:c2pa:A/c2pa.assertions/c2pa.ingredient.v3"


def results(success: list[dict[str, str]], failure: list[dict[str, str]] | None = None,
            deltas: list[list[dict[str, str]]] | None = None) -> dict[str, Any]:
    return {
        "activeManifest": {"success": list(success), "failure": list(failure or [])},
        "ingredientDeltas": [
            {"ingredientAssertionURI": f"{ING}__{i}" if i else ING,
             "validationDeltas": {"success": [], "failure": f}}
            for i, f in enumerate(deltas or [])
        ],
    }


def code(c: str, url: str = SIG) -> dict[str, str]:
    return {"code": c, "url": url, "explanation": f"{c} happened"}


@pytest.mark.parametrize(("c", "counted"), [
    ("signingCredential.untrusted", False),
    ("cawg.x509.credential.untrusted", False),
    ("cawg.x509.signature.mismatch", False),  # every CAWG X.509 code is tolerated by c2pa-rs
    ("cawg.identity.pad.invalid", False),  # judged on the identity assertion
    ("cawg.ica.signature_mismatch", True),  # counts, as for the reference
    ("assertion.hashedURI.mismatch", True),
    ("signingCredential.expired", True),
    ("ingredient.manifest.mismatch", True),
])
def test_which_codes_count(c: str, counted: bool) -> None:
    assert counts(c) is counted


def test_untrusted_only_is_valid() -> None:
    j = judge(results(OK, [UNTRUSTED], [[UNTRUSTED]]), "Valid")
    assert j.state is CredentialState.VALID and j.own_state is CredentialState.VALID
    assert j.failures == () and [i.code for i in j.informational] == [UNTRUSTED["code"]]
    assert j.reference is CredentialState.VALID and j.stricter is None


def test_an_ingredient_failure_makes_the_store_invalid_and_is_kept_apart() -> None:
    bad = code("assertion.hashedURI.mismatch", "self#jumbf=/c2pa/urn:c2pa:B/c2pa.assertions/x")
    j = judge(results(OK, [UNTRUSTED], [[], [UNTRUSTED, bad]]), "Invalid")
    assert j.state is CredentialState.INVALID
    assert j.own_state is CredentialState.VALID and j.own_failures == ()
    assert len(j.deltas) == 1 and j.deltas[0].ingredient_uri == f"{ING}__1"
    assert [i.code for i in j.deltas[0].failures] == ["assertion.hashedURI.mismatch"]
    assert [i.code for i in j.failures] == ["assertion.hashedURI.mismatch"]
    assert j.stricter is None


def test_never_better_than_the_reference() -> None:
    j = judge(results(OK, [UNTRUSTED]), "Invalid")
    assert j.state is CredentialState.INVALID
    # nothing to blame on an ingredient: the reference's failure is the manifest's own
    assert j.own_state is CredentialState.INVALID
    j = judge(results(TRUSTED), "Valid")
    assert j.state is CredentialState.VALID


def test_stricter_than_the_reference_says_why() -> None:
    # No insideValidity success: c2pa-rs's own rule says invalid whatever its state says.
    j = judge(results(OK[:1], [UNTRUSTED]), "Valid")
    assert j.state is CredentialState.INVALID and j.reference is CredentialState.VALID
    assert j.stricter and "claimSignature.insideValidity" in j.stricter
    j = judge(results(OK, [code("assertion.dataHash.mismatch")]), "Valid")
    assert j.state is CredentialState.INVALID
    assert j.stricter and "assertion.dataHash.mismatch" in j.stricter


def test_identity_scoped_failures_do_not_invalidate_but_do_prevent_trusted() -> None:
    pad = code("cawg.identity.pad.invalid",
               "self#jumbf=/c2pa/urn:c2pa:A/c2pa.assertions/cawg.identity")
    j = judge(results(TRUSTED, [pad]), "Valid")
    assert j.state is CredentialState.VALID and j.stricter is None
    assert [i.code for i in j.informational] == ["cawg.identity.pad.invalid"]
    ica = code("cawg.ica.signature_mismatch")
    assert judge(results(OK, [ica]), "Invalid").state is CredentialState.INVALID


def test_trusted_needs_no_failure_anywhere() -> None:
    assert judge(results(TRUSTED), "Trusted").state is CredentialState.TRUSTED
    # an untrusted ingredient: c2pa-rs says Valid, and so do we (was "trusted" in 0.1)
    j = judge(results(TRUSTED, [], [[UNTRUSTED]]), "Valid")
    assert j.state is CredentialState.VALID and j.own_state is CredentialState.TRUSTED
    # even if a reference said Trusted, our rule is not satisfied: stricter, with a reason
    j = judge(results(TRUSTED, [], [[UNTRUSTED]]), "Trusted")
    assert j.state is CredentialState.VALID and j.stricter


def test_ignore_binding_judges_the_manifest_alone() -> None:
    mismatch = code("assertion.bmffHash.mismatch")
    j = judge(results(TRUSTED, [mismatch]), "Invalid", ignore_binding=True)
    assert j.state is CredentialState.TRUSTED and j.reference is None
    assert judge(results(TRUSTED, [mismatch]), "Invalid").state is CredentialState.INVALID


def test_malformed_results_do_not_crash() -> None:
    for bad in ({}, {"activeManifest": []}, {"activeManifest": {"failure": "x"}},
                {"activeManifest": {"success": OK}, "ingredientDeltas": [None, 3, {}]}):
        assert judge(bad, "Valid").state in (CredentialState.INVALID, CredentialState.VALID)


def test_verification_makes_no_network_request() -> None:
    """c2pa-rs would resolve a did:web issuer (DNS + HTTPS to a host the file names)."""
    settings = TrustConfig.none().settings_dict()
    assert settings["core"]["allowed_network_hosts"] == []
    assert settings["verify"] == {"remote_manifest_fetch": False, "ocsp_fetch": False}
