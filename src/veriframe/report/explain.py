"""Plain words for verdicts, states and validation codes, shared by every renderer.

The wording follows what users of Content Credentials tools found confusing: "no content
credentials" must not read as "fake", and "valid but unknown signer" is not "trusted".
"""

from __future__ import annotations

from dataclasses import dataclass

from veriframe.results import (
    CredentialState,
    RecoveryState,
    Verdict,
    VerifyReport,
    WatermarkState,
)


@dataclass(frozen=True)
class Banner:
    """The verdict in plain words: a headline, a sentence, and a tone for styling."""

    headline: str
    summary: str
    tone: str  # good | caution | bad | neutral | error


def banner(report: VerifyReport) -> Banner:
    """The verdict banner for ``report``."""
    v = report.verdict
    cred = report.credentials
    if v is Verdict.SIGNED:
        if cred.state is CredentialState.TRUSTED:
            return Banner(
                "Signed by a trusted signer",
                "The Content Credentials are intact and the signer's certificate chains to a "
                "trust anchor you configured. This shows who signed the file, not that what it "
                "shows is true.",
                "good",
            )
        return Banner(
            "Signed, but the signer is not verified",
            "The Content Credentials are intact, but the signer is not on your trust list. "
            "Anyone can make a certificate with any name: the signer's name is a claim, not a "
            "verified identity.",
            "caution",
        )
    if v is Verdict.RECOVERED and report.watermark.recovered is not None \
            and report.watermark.recovered.source == "resolver":
        return Banner(
            "Credentials recovered through a resolver",
            "The file carries no intact embedded credentials (re-encoding and uploads often "
            "strip them). A soft-binding resolver pointed to a signed manifest; its signature "
            "was validated here, with your own trust settings, and the content fingerprint it "
            "signs matches this video.",
            "caution",
        )
    if v is Verdict.RECOVERED:
        return Banner(
            "Credentials recovered through the watermark",
            "The file carries no intact embedded credentials (re-encoding and uploads often "
            "strip them), but its invisible watermark points to a signed manifest in the store "
            "that matches this content.",
            "caution",
        )
    if v is Verdict.TAMPERED:
        rec = report.watermark.recovered
        if cred.state is not CredentialState.INVALID and rec is not None and (
            rec.state in (RecoveryState.MISMATCH, RecoveryState.INVALID)
        ):
            if rec.source == "resolver":
                return Banner(
                    "Tampered: the credentials a resolver found do not match this video",
                    "A soft-binding resolver matched this video to a validly signed manifest "
                    "made for different content: the video is not what was signed, or its mark "
                    "was copied onto it. Its claims are not shown as fact.",
                    "bad",
                )
            return Banner(
                "Tampered: the watermark's credentials do not match this video",
                "A veriframe watermark was found, but the manifest it points to was made for "
                "different content or fails validation: the mark may have been copied onto this "
                "video. Its claims are not shown as fact.",
                "bad",
            )
        return Banner(
            "Tampered: the credentials do not match this file",
            "The file carries Content Credentials, but validation failed: it was changed after "
            "signing, or the credentials are damaged. What they claim is not shown as fact.",
            "bad",
        )
    if v is Verdict.UNSIGNED:
        return Banner(
            "No content credentials found",
            "Neither Content Credentials nor a veriframe watermark were found. Most videos "
            "carry none: this does not mean the video is fake or AI-made, only that its origin "
            "cannot be confirmed from the file itself.",
            "neutral",
        )
    err = report.error
    return Banner(
        "Could not be checked",
        "veriframe could not verify this file"
        + (f": {err.message}" if err is not None and err.message else ".")
        + " Nothing can be concluded about it.",
        "error",
    )


CREDENTIAL_STATE_WORDS = {
    CredentialState.TRUSTED: "trusted: intact, signer chains to a trust anchor",
    CredentialState.VALID: "valid: intact, but the signer is not trusted (unknown signer)",
    CredentialState.INVALID: "invalid: validation failed (tampered or damaged)",
    CredentialState.ABSENT: "absent: the file has no Content Credentials",
    CredentialState.ERROR: "error: the credentials could not be read",
    CredentialState.NOT_CHECKED: "not checked",
}

WATERMARK_STATE_WORDS = {
    WatermarkState.PRESENT: "present: a veriframe watermark was found",
    WatermarkState.ABSENT: "absent: no veriframe watermark found under the configured keys",
    WatermarkState.ERROR: "error: the watermark check could not run",
    WatermarkState.NOT_CHECKED: "not checked",
}

RECOVERED_STATE_WORDS = {
    RecoveryState.RECOVERED: "recovered: the stored manifest's signature is valid and it "
    "matches this content",
    RecoveryState.MISMATCH: "mismatch: the stored manifest was made for different content "
    "(a copied mark?)",
    RecoveryState.INVALID: "invalid: the stored manifest fails signature validation",
    RecoveryState.NOT_FOUND: "not found: the watermark's id is not in the manifest store",
    RecoveryState.ERROR: "error: the manifest store could not be searched",
}

# C2PA validation status codes (and veriframe's own) in plain words.
CODE_EXPLANATIONS = {
    "assertion.bmffHash.mismatch": "the video or audio data changed after signing",
    "assertion.dataHash.mismatch": "the file's bytes changed after signing",
    "assertion.boxesHash.mismatch": "the file's boxes changed after signing",
    "assertion.hashedURI.mismatch": "an assertion (a recorded claim) changed after signing",
    "assertion.hashedURI.missing": "an assertion the claim refers to is missing",
    "assertion.missing": "an assertion the claim refers to is missing",
    "assertion.action.malformed": "an action assertion is malformed",
    "assertion.cbor.invalid": "an assertion's data cannot be decoded",
    "claimSignature.mismatch": "the signature does not match the claim",
    "claimSignature.missing": "the claim has no signature",
    "claimSignature.outsideValidity": "the signature was made outside the certificate's validity",
    "claim.missing": "the manifest has no claim",
    "claim.malformed": "the claim cannot be decoded",
    "claim.cbor.invalid": "the claim's data cannot be decoded",
    "signingCredential.untrusted": "the signing certificate does not chain to a trusted anchor",
    "signingCredential.invalid": "the signing certificate is not valid for signing",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.expired": "the signing certificate had expired",
    "timeStamp.mismatch": "the time stamp does not match the signature",
    "timeStamp.untrusted": "the time stamp authority is not trusted",
    "timeStamp.outsideValidity": "the time stamp is outside the certificate's validity",
    "manifest.inaccessible": "the manifest cannot be reached",
    "manifest.multipleParents": "the manifest names more than one parent ingredient",
    "ingredient.hashedURI.mismatch": "an ingredient's manifest changed",
    "algorithm.unsupported": "the manifest uses an algorithm the validator does not support",
    "general.error": "the validator hit an error",
}


def explain_code(code: str, given: str = "") -> str:
    """A plain explanation of validation ``code`` (``given`` is the validator's own text)."""
    return CODE_EXPLANATIONS.get(code) or given or "see the C2PA specification for this code"


# What each kind of finding proves, and what it does not (shown in the HTML report).
PROVES = (
    ("Content Credentials (C2PA)",
     "Who signed the file and what they recorded (tool, model, actions, ingredients); that the "
     "file has not changed since it was signed.",
     "That the content is true or that the recorded claims are honest: a signature binds a "
     "claim to a signer, it does not check the claim. An unknown signer proves no identity."),
    ("Missing credentials",
     "Only that the file carries no manifest now.",
     "Anything about authenticity: most cameras, editors and platforms strip or never write "
     "credentials. No credentials is not evidence of manipulation or of AI generation."),
    ("Invisible watermark",
     "That the content passed through a veriframe signer holding the watermark key; the "
     "p-value bounds the chance of a false match on unmarked video.",
     "Who made the content unless the recovered manifest validates and matches; a watermark "
     "can be removed by heavy editing, so its absence proves nothing."),
    ("Detector score",
     "A statistical estimate from pixel and metadata cues, with the signals that drove it.",
     "Ground truth: detectors make mistakes, especially on new generators and heavy "
     "re-encoding. Treat a score as a lead to check, not as proof."),
    ("Policy decision",
     "What this organisation's rules do with the findings above.",
     "A fact about the video: it is a rule applied to evidence."),
)

RESOLVER_STATE_WORDS = {
    "recovered": "recovered: manifest validated here; its signed fingerprint matches",
    "mismatch": "mismatch: a valid manifest, but for different content",
    "unconfirmed": "unconfirmed: a valid manifest this clip cannot be checked against",
    "invalid-manifest": "invalid manifest: what the resolver sent does not validate (ignored)",
    "no-match": "no match: the resolver knows no manifest for this clip",
    "unreachable": "unreachable: the resolver could not be reached",
    "timeout": "timeout: the resolver did not answer in time",
    "refused": "refused: the resolver wants a token",
    "busy": "busy: the resolver asked to retry later",
    "invalid-response": "invalid response: the answer was not a soft-binding result",
    "error": "error",
}
