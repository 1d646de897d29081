"""The validation state of a manifest store, computed the way c2pa-rs computes it.

The rule (c2pa-rs ``sdk/src/validation_results.rs``, ``ValidationResults::validation_state``
and ``is_tolerated_manifest_failure_code``): a store is **valid** when the active manifest's
claim signature validated and was made inside its certificate's validity
(``claimSignature.validated`` and ``claimSignature.insideValidity``), and neither the active
manifest nor any entry of ``ingredientDeltas`` has a failure other than a tolerated one
(``signingCredential.untrusted``, and every CAWG X.509 identity code, ``cawg.x509.*``). It is
**trusted** when, in addition, the signer is trusted (``signingCredential.trusted``) and there
is no failure at all, tolerated or not, anywhere.

One more family is judged on its own: the ``cawg.identity.*`` codes belong to one CAWG identity
assertion, and c2pa-python 0.38.1 (c2pa-rs 0.91.3) reports ``Valid`` with them in the failure
list (its CAWG validator adds them after the state is fixed). veriframe shows them on the
identity assertion (``IdentityState.INVALID``) and does not count them against the manifest,
which keeps the state equal to the reference's and never better than it. The ``cawg.ica.*``
codes do count, as they do for the reference.

Our state is then combined with the reference's (``Reader.get_validation_state()``): it is
never better than the reference's, and when it is stricter, :attr:`Judgement.stricter` says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from veriframe.results import CredentialState, Issue

SIGNING_UNTRUSTED = "signingCredential.untrusted"
SIGNING_TRUSTED = "signingCredential.trusted"
SIGNATURE_VALIDATED = "claimSignature.validated"
SIGNATURE_INSIDE_VALIDITY = "claimSignature.insideValidity"
CAWG_X509_PREFIX = "cawg.x509."
CAWG_IDENTITY_PREFIX = "cawg.identity."
# Hard-binding codes: does the manifest's content hash match these bytes?
BINDING = re.compile(r"^assertion\.(dataHash|bmffHash|boxesHash|collectionHash)\.(match|mismatch)$")
_MAX_TEXT = 4096
_RANK = {CredentialState.INVALID: 0, CredentialState.VALID: 1, CredentialState.TRUSTED: 2}
_REFERENCE = {"invalid": CredentialState.INVALID, "valid": CredentialState.VALID,
              "trusted": CredentialState.TRUSTED}


def is_tolerated(code: str) -> bool:
    """c2pa-rs ``is_tolerated_manifest_failure_code``: not a failure of the manifest."""
    return code == SIGNING_UNTRUSTED or code.startswith(CAWG_X509_PREFIX)


def is_identity_scoped(code: str) -> bool:
    """A code about one CAWG identity assertion's structure (judged on that assertion)."""
    return code.startswith(CAWG_IDENTITY_PREFIX)


def counts(code: str) -> bool:
    """Whether a failure with ``code`` makes the manifest store invalid."""
    return not (is_tolerated(code) or is_identity_scoped(code))


def issues(entries: Any) -> list[Issue]:
    """Validation status entries (``{code, explanation, url}``) as :class:`Issue`s."""
    out: list[Issue] = []
    if not isinstance(entries, (list, tuple)):
        return out
    for e in entries:
        if isinstance(e, Mapping) and isinstance(e.get("code"), str):
            out.append(Issue(
                code=e["code"][:200],
                explanation=str(e.get("explanation") or "")[:_MAX_TEXT],
                url=str(e.get("url") or "")[:_MAX_TEXT],
            ))
    return out


def reference_state(value: Any) -> CredentialState | None:
    """c2pa's ``validation_state`` string (``Trusted``/``Valid``/``Invalid``), or None."""
    return _REFERENCE.get(str(value).lower()) if isinstance(value, str) else None


def worst(a: CredentialState, b: CredentialState) -> CredentialState:
    """The less favourable of two of trusted, valid and invalid."""
    return a if _RANK[a] <= _RANK[b] else b


@dataclass(frozen=True)
class DeltaFailures:
    """The failures c2pa-rs found now in one ingredient (one ``ingredientDeltas`` entry)."""

    ingredient_uri: str
    failures: tuple[Issue, ...]  # those that count
    all_failures: tuple[Issue, ...]  # every failure, tolerated ones included


@dataclass(frozen=True)
class Judgement:
    """The state of a manifest store and where it failed."""

    state: CredentialState
    own_state: CredentialState  # the active manifest alone (its ingredients' deltas ignored)
    own_failures: tuple[Issue, ...]  # active-manifest failures that count
    informational: tuple[Issue, ...]  # active-manifest failures that do not count
    deltas: tuple[DeltaFailures, ...]  # ingredients with failures that count
    successes: tuple[str, ...]
    reference: CredentialState | None
    stricter: str | None  # why ``state`` is below the reference's, if it is

    @property
    def failures(self) -> tuple[Issue, ...]:
        """Every failure that counted: the active manifest's first, then the ingredients'."""
        seen: set[tuple[str, str]] = set()
        out: list[Issue] = []
        for issue in (*self.own_failures, *(i for d in self.deltas for i in d.failures)):
            key = (issue.code, issue.url)
            if key not in seen:
                seen.add(key)
                out.append(issue)
        return tuple(out)


def _codes(entries: Iterable[Issue]) -> set[str]:
    return {e.code for e in entries}


def judge(
    results: Mapping[str, Any],
    reference: Any,
    *,
    ignore_binding: bool = False,
) -> Judgement:
    """Judge c2pa's ``validation_results`` (``activeManifest`` + ``ingredientDeltas``).

    ``reference``: c2pa's own ``validation_state`` string. ``ignore_binding``: the content
    hash is judged elsewhere (a manifest recovered from the store, checked against a copy of
    the file): binding codes neither fail nor disqualify, and the reference (which counts a
    binding mismatch) is not consulted.
    """
    active = results.get("activeManifest")
    active = active if isinstance(active, Mapping) else {}
    successes = tuple(i.code for i in issues(active.get("success")))
    raw = issues(active.get("failure"))

    def decisive(issue: Issue) -> bool:
        return counts(issue.code) and not (ignore_binding and BINDING.match(issue.code))

    own = tuple(i for i in raw if counts(i.code))
    informational = tuple(i for i in raw if not counts(i.code))
    deltas: list[DeltaFailures] = []
    any_delta_failure = False
    entries = results.get("ingredientDeltas")
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, Mapping):
            continue
        body = entry.get("validationDeltas")
        found = issues(body.get("failure")) if isinstance(body, Mapping) else []
        any_delta_failure = any_delta_failure or bool(found)
        counted = tuple(i for i in found if counts(i.code))
        if counted:
            deltas.append(DeltaFailures(str(entry.get("ingredientAssertionURI") or "")[:_MAX_TEXT],
                                        counted, tuple(found)))
    signature_ok = SIGNATURE_VALIDATED in successes and SIGNATURE_INSIDE_VALIDITY in successes
    own_ok = signature_ok and not any(decisive(i) for i in own)
    own_state = CredentialState.VALID if own_ok else CredentialState.INVALID
    state = CredentialState.VALID if own_ok and not deltas else CredentialState.INVALID
    other = [i for i in raw if not (ignore_binding and BINDING.match(i.code))]
    if state is CredentialState.VALID and SIGNING_TRUSTED in successes and not other and (
        not any_delta_failure
    ):
        state = CredentialState.TRUSTED
    if own_ok and SIGNING_TRUSTED in successes and not other:
        own_state = CredentialState.TRUSTED
    ref = None if ignore_binding else reference_state(reference)
    stricter: str | None = None
    if ref is not None:
        if _RANK[state] < _RANK[ref]:
            stricter = _why_stricter(state, successes, own, deltas, ref)
        state = worst(state, ref)
        if ref is CredentialState.INVALID and not deltas:
            # The reference found a failure we could not place in an ingredient: it is the
            # active manifest's own.
            own_state = CredentialState.INVALID
    return Judgement(state, own_state, own, informational, tuple(deltas), successes, ref,
                     stricter)


def _why_stricter(state: CredentialState, successes: tuple[str, ...], own: tuple[Issue, ...],
                  deltas: list[DeltaFailures], ref: CredentialState) -> str:
    """Why our state is below the reference's (one sentence, for the report)."""
    if state is CredentialState.VALID:  # the reference says trusted
        return ("c2pa-rs says trusted, but a failure it tolerates (e.g. an ingredient or "
                "identity credential that is not trusted) was reported: veriframe requires none")
    if SIGNATURE_VALIDATED not in successes:
        return (f"c2pa-rs says {ref.value}, but it did not report {SIGNATURE_VALIDATED}: "
                "veriframe requires a validated claim signature")
    if SIGNATURE_INSIDE_VALIDITY not in successes:
        return (f"c2pa-rs says {ref.value}, but it did not report {SIGNATURE_INSIDE_VALIDITY}: "
                "veriframe requires the signature to be made inside the certificate's validity")
    codes = sorted(_codes(own) | {i.code for d in deltas for i in d.failures})
    return (f"c2pa-rs says {ref.value}, but it reported failures its own rule does not "
            f"tolerate ({', '.join(codes[:5])})")
