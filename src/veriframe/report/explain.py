"""Plain words for verdicts, states and validation codes, shared by every renderer.

The wording follows what users of Content Credentials tools found confusing: "no content
credentials" must not read as "fake", and "valid but unknown signer" is not "trusted".
"""

from __future__ import annotations

from dataclasses import dataclass

from veriframe._text import clean_text
from veriframe.report.words import compared_words, describe_difference
from veriframe.results import (
    CredentialCheck,
    CredentialState,
    IdentityAssertion,
    IdentityState,
    IngredientFailure,
    Issue,
    RecoveryState,
    TimeCheck,
    TimeStampState,
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
            "was validated here, with your own trust settings; "
            + compared_words(report.watermark.recovered) + ".",
            "caution",
        )
    if v is Verdict.RECOVERED:
        return Banner(
            "Credentials recovered through the watermark",
            "The file carries no intact embedded credentials (re-encoding and uploads often "
            "strip them), but its invisible watermark points to a signed manifest in the "
            "store; " + compared_words(report.watermark.recovered) + ".",
            "caution",
        )
    if v is Verdict.TAMPERED:
        rec = report.watermark.recovered
        if cred.state is not CredentialState.INVALID and rec is not None and (
                rec.state is RecoveryState.EDITED):
            changes = "; ".join(describe_difference(d) for d in rec.differences[:3])
            return Banner(
                "Tampered: this clip was changed after it was signed",
                "Its credentials were recovered and are genuine, but comparing it with the "
                f"fingerprints signed into them shows local changes: {changes}. The signer "
                "vouches for the original, not for this edit.",
                "bad",
            )
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
        if where_it_failed(cred):
            return Banner(
                "Invalid: an ingredient's credentials fail validation",
                where_it_failed(cred) + " Content Credentials validators (c2pa-rs) judge the "
                "whole file invalid when any ingredient fails: what the ingredient's "
                "credentials claim is not shown as fact.",
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
    RecoveryState.RECOVERED: "recovered: the stored manifest's signature is valid and the "
    "content matches it where compared",
    RecoveryState.EDITED: "edited: the manifest is genuine and for this content, but the clip "
    "was changed in places after signing",
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
    "ingredient.manifest.missing": "an ingredient's manifest is missing from the file",
    "ingredient.manifest.mismatch": "an ingredient's manifest changed after it was added",
    "ingredient.claimSignature.mismatch": "an ingredient's signature does not match its claim",
    "assertion.required.missing": "an assertion the specification requires is missing",
    "assertion.action.ingredientMismatch": "an action names an ingredient that is not there",
    "hardBindings.missing": "the manifest does not bind to the file's content",
    "manifest.missing": "the file has no active manifest",
    "timeStamp.malformed": "the time stamp cannot be decoded",
    "cawg.identity.pad.invalid": "the identity assertion's padding is invalid",
    "cawg.identity.hard_binding_missing": "the identity assertion does not cover the file's "
    "content hash, so it could have been copied from another file",
    "cawg.identity.assertion.mismatch": "the identity assertion refers to assertions that do "
    "not match the claim",
    "cawg.identity.assertion.duplicate": "the identity assertion refers to one assertion twice",
    "cawg.identity.sig_type.unknown": "the identity assertion uses an unknown kind of "
    "credential",
    "cawg.x509.credential.untrusted": "the identity's certificate does not chain to a trusted "
    "anchor",
    "cawg.x509.signature.mismatch": "the identity's signature does not match",
    "cawg.ica.signature_mismatch": "the identity credential's signature does not match",
    "cawg.ica.did_unavailable": "the identity issuer's DID could not be resolved (veriframe "
    "contacts no host a file names, so a did:web issuer always reads this way)",
    "cawg.ica.invalid_issuer": "the identity credential's issuer is not a valid DID",
    "cawg.ica.invalid_verifiable_credential": "the identity credential is malformed",
    "cawg.ica.valid_from.invalid": "the identity credential is not valid yet (or was issued "
    "after the time stamp)",
    "cawg.ica.valid_from.missing": "the identity credential has no start of validity",
    "cawg.ica.valid_until.invalid": "the identity credential has expired",
    "cawg.ica.time_stamp.invalid": "the identity credential's time stamp is invalid",
    "cawg.ica.signer_payload.mismatch": "the identity credential was made for other content",
    "cawg.ica.invalid_alg": "the identity credential uses an unsupported algorithm",
    "cawg.ica.invalid_cose_sign1": "the identity credential's signature cannot be decoded",
    "cawg.ica.invalid_content_type": "the identity credential has the wrong content type",
    "veriframe.reference-invalid": "the C2PA validator (c2pa-rs) judged the file invalid",
}


def ingredient_name(failure: IngredientFailure) -> str:
    """``'title'`` of a failing ingredient (its path when nested), safe for any output."""
    names = failure.path if len(failure.path) > 1 else (failure.title or "(untitled)",)
    shown = [clean_text(n, max_len=120) for n in names[1:] or names]
    return " > ".join(f"'{n}'" for n in shown)


def where_it_failed(cred: CredentialCheck) -> str:
    """One sentence naming the failing ingredient(s) and the file's own result ("" if none).

    For example: "The file's own signature is intact; ingredient 'interview.mov' failed:
    assertion.hashedURI.mismatch."
    """
    if not cred.ingredient_failures:
        return ""
    own = cred.active_manifest_result
    intact = own is not None and own.state in (CredentialState.VALID, CredentialState.TRUSTED)
    head = ("The file's own signature is intact; " if intact else
            "The file's own manifest also fails; ")
    parts = []
    for f in cred.ingredient_failures[:3]:
        codes = ", ".join(clean_text(i.code, max_len=80) for i in f.failures[:3])
        parts.append(f"ingredient {ingredient_name(f)} failed: {codes}")
    more = len(cred.ingredient_failures) - 3
    tail = f" (and {more} more)" if more > 0 else ""
    return head + "; ".join(parts) + tail + "."


def failure_rows(cred: CredentialCheck) -> list[tuple[str, Issue]]:
    """``(where, issue)`` for every failure: the file's own manifest, then each ingredient.

    A failure c2pa reports both on the active manifest and on an ingredient is listed once,
    on the ingredient.
    """
    own = cred.active_manifest_result
    if own is None and not cred.ingredient_failures:  # a check without the 1.1 fields
        return [("this file", i) for i in cred.failures]
    ingredient_rows: list[tuple[str, Issue]] = []
    for f in cred.ingredient_failures:
        label = f"ingredient {ingredient_name(f)}"
        if f.manifest_label:
            label += f" (manifest {clean_text(f.manifest_label, max_len=200)})"
        ingredient_rows += [(label, i) for i in f.failures]
    seen = {(i.code, i.url) for _, i in ingredient_rows}
    rows = [("this file's manifest", i) for i in (own.failures if own is not None else ())
            if (i.code, i.url) not in seen]
    seen |= {(i.code, i.url) for _, i in rows}
    rows += ingredient_rows
    rows += [("this file", i) for i in cred.failures if (i.code, i.url) not in seen]
    return rows


NODE_STATE_WORDS = {
    CredentialState.TRUSTED: "intact, signer trusted",
    CredentialState.VALID: "intact",
    CredentialState.INVALID: "FAILED",
    CredentialState.ABSENT: "no credentials",
    CredentialState.ERROR: "error",
    CredentialState.NOT_CHECKED: "not checked",
}


IDENTITY_STATE_WORDS = {
    IdentityState.TRUSTED: "validated, credential trusted",
    IdentityState.VALID: "validated, but its issuer is not on a trust list",
    IdentityState.INVALID: "FAILED validation: the identity it names is not shown",
    IdentityState.NOT_VALIDATED: "not validated",
}


def identity_line(identity: IdentityAssertion) -> str:
    """One line for a CAWG identity assertion: who, what kind of credential, the result."""
    names = []
    for actor in identity.actors[:4]:
        name = actor.name or actor.username or actor.uri
        if not name:
            continue
        kind = (actor.kind or "").removeprefix("cawg.").replace("_", " ")
        via = f" via {actor.provider}" if actor.provider and kind != "x509.subject" else ""
        label = f" ({kind}{via})" if kind and kind != "x509.subject" else ""
        names.append(f"{name}{label}")
    who = "; ".join(names) if names else "(no named actor shown)"
    result = IDENTITY_STATE_WORDS.get(identity.state, str(identity.state))
    codes = [i.code for i in identity.failures
             if not (identity.state is not IdentityState.INVALID and i.code.endswith("untrusted"))]
    if codes:
        result += f" ({', '.join(codes[:3])})"
    issuer = f", issued by {identity.issuer}" if identity.issuer else ""
    return clean_text(f"{who} [{identity.credential}{issuer}]: {result}", max_len=600)


TIME_STAMP_WORDS = {
    TimeStampState.TRUSTED: "time-stamped by a trusted time-stamp authority",
    TimeStampState.VALID: "time-stamped, but the time-stamp authority is not on a trust list",
    TimeStampState.INVALID: "the time-stamp does not match the signature (ignored)",
    TimeStampState.ABSENT: "no time-stamp: the signing time is the signer's own claim",
}


def time_lines(time: TimeCheck) -> list[tuple[str, str]]:
    """(label, text) rows for the signature's time and the certificate's validity."""
    rows: list[tuple[str, str]] = []
    stamp = TIME_STAMP_WORDS.get(time.time_stamp, str(time.time_stamp))
    if time.time:
        by = f" by {clean_text(time.authority, max_len=200)}" if time.authority else ""
        rows.append(("Time-stamp", f"{clean_text(time.time, max_len=60)}{by} ({stamp})"))
    else:
        rows.append(("Time-stamp", stamp))
    stamped = time.basis == "time-stamp"
    if time.inside_validity is True:
        rows.append(("Certificate", "was valid when it signed (checked at the time-stamp's "
                     "time)" if stamped else "valid today; without a time-stamp the time of "
                     "signing cannot be checked"))
    elif time.inside_validity is False:
        rows.append(("Certificate", "was NOT valid at the time-stamp's time (expired or not yet "
                     "valid)" if stamped else "NOT valid today (expired or not yet valid); "
                     "without a time-stamp it is checked against today's date, so a file "
                     "signed while it was valid fails too"))
    return rows


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

# A recovered manifest's hard binding (its hash of the signed file's bytes) always fails
# against a copy a platform re-encoded: expected, not a finding.
REENCODED_NOTE = ("this file is not the signed file's bytes; it was re-encoded, which recovery "
                  "allows: the content was compared with the signed fingerprints instead")

RESOLVER_STATE_WORDS = {
    "recovered": "recovered: manifest validated here; the content matches where compared",
    "edited": "edited: a valid manifest for this content, but the clip was changed in places",
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
