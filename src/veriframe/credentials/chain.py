"""The provenance chain of a manifest store: ingredients, identities, time, thumbnails.

Built from what c2pa's ``Reader`` gives (``reader.json()``: every manifest in the store, each
with its ingredients; ``validation_results``: the active manifest's statuses and one
``ingredientDeltas`` entry per ingredient with something new to say). Everything here comes
from the file: sizes and depths are bounded, cycles are cut, and the contents of a manifest
that fails validation are not presented as fact (a node keeps its title, label and codes only).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from veriframe.credentials.validation import (
    SIGNATURE_INSIDE_VALIDITY,
    SIGNING_TRUSTED,
    Judgement,
    counts,
    issues,
)
from veriframe.results import (
    CredentialState,
    IdentityAssertion,
    IdentityState,
    IngredientFailure,
    Issue,
    NamedActor,
    ProvenanceNode,
    SignerInfo,
    Thumbnail,
    TimeCheck,
    TimeStampState,
)

_MAX_TEXT = 4096
_IDENTITY_LABEL = re.compile(r"^cawg\.identity(__\d+)?$")
_MANIFEST_URI = re.compile(r"^self#jumbf=/c2pa/([^/]+)(?:/(.*))?$")
_ACTIONS = ("c2pa.actions", "c2pa.actions.v2")
_SUCCESS_SUFFIXES = (".match", ".validated", ".trusted", ".insideValidity", ".well-formed",
                     ".credential_valid", ".skipped")
_TIME_FAILURES = ("timeStamp.mismatch", "timeStamp.malformed", "timeStamp.outsideValidity")
_OUTSIDE_VALIDITY = ("claimSignature.outsideValidity", "signingCredential.expired")
# Image formats a thumbnail may have, by their first bytes (the declared format is ignored).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)

ThumbnailFetcher = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class ChainLimits:
    """Bounds on what a file can make us build."""

    max_depth: int = 16
    max_nodes: int = 256
    max_thumbnails: int = 32
    max_thumbnail_bytes: int = 256 * 1024


def text(value: Any) -> str | None:
    """A field from the file as a bounded string (None stays None)."""
    return None if value is None else str(value)[:_MAX_TEXT]


def ingredient_uri(parent_label: str, ingredient_label: str) -> str:
    """The URI c2pa uses for an ingredient assertion in ``ingredientDeltas``."""
    return f"self#jumbf=/c2pa/{parent_label}/c2pa.assertions/{ingredient_label}"


def thumbnail_from_bytes(data: bytes | None, *, limit: int) -> Thumbnail | None:
    """A :class:`Thumbnail` for image bytes whose magic says JPEG, PNG, GIF or WebP."""
    if not data or len(data) > limit:
        return None
    fmt = next((f for magic, f in _MAGIC if data.startswith(magic)), None)
    if fmt is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        fmt = "image/webp"
    if fmt is None:
        return None
    return Thumbnail(format=fmt, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
                     data=bytes(data))


def assertions(m: Mapping[str, Any]) -> dict[str, Any]:
    """A manifest's assertions by label (a repeated label gets ``__n`` appended)."""
    out: dict[str, Any] = {}
    entries = m.get("assertions")
    for a in entries if isinstance(entries, list) else ():
        if not isinstance(a, Mapping) or not isinstance(a.get("label"), str):
            continue
        label, n = a["label"], 1
        key = label
        while key in out:
            key = f"{label}__{n}"
            n += 1
        out[key] = a.get("data")
    return out


def actions(assertion_map: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every action of the ``c2pa.actions`` assertions."""
    acts: list[dict[str, Any]] = []
    for label, data in assertion_map.items():
        if label.split("__")[0] in _ACTIONS and isinstance(data, Mapping):
            entries = data.get("actions")
            acts.extend(dict(a) for a in entries or () if isinstance(a, Mapping))
    return acts


def digital_source_type(acts: Iterable[Mapping[str, Any]]) -> str | None:
    """The first digital source type an action declares."""
    return next((str(a["digitalSourceType"])[:_MAX_TEXT] for a in acts
                 if a.get("digitalSourceType")), None)


def signer_info(m: Mapping[str, Any], acts: Iterable[Mapping[str, Any]] = ()) -> SignerInfo | None:
    """Who signed manifest ``m`` (``signature_info``); the time falls back to c2pa.created."""
    si = m.get("signature_info")
    if not isinstance(si, Mapping):
        return None
    when = si.get("time")
    if not when:
        when = next((a["when"] for a in acts
                     if a.get("action") == "c2pa.created" and isinstance(a.get("when"), str)),
                    None)
    alg = si.get("alg")
    return SignerInfo(
        common_name=text(si.get("common_name")),
        organization=None,
        issuer=text(si.get("issuer")),
        serial_number=text(si.get("cert_serial_number")),
        algorithm=str(alg).lower()[:40] if alg else None,
        signed_at=text(when),
    )


def claim_generator(m: Mapping[str, Any]) -> str | None:
    """``name/version`` of the tool that made manifest ``m``."""
    info = m.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], Mapping) and info[0].get("name"):
        name = str(info[0]["name"])
        version = info[0].get("version")
        return text(f"{name}/{version}" if version else name)
    return text(m.get("claim_generator"))


@dataclass
class _Statuses:
    """Every validation status of the store, by the URL it is about."""

    by_url: dict[str, list[tuple[str, Issue]]] = field(default_factory=dict)

    @classmethod
    def of(cls, results: Mapping[str, Any]) -> _Statuses:
        out = cls()
        blocks: list[Any] = [results.get("activeManifest")]
        deltas = results.get("ingredientDeltas")
        for d in deltas if isinstance(deltas, list) else ():
            if isinstance(d, Mapping):
                blocks.append(d.get("validationDeltas"))
        for block in blocks:
            if not isinstance(block, Mapping):
                continue
            for kind in ("success", "informational", "failure"):
                for issue in issues(block.get(kind)):
                    out.by_url.setdefault(issue.url, []).append((kind, issue))
        return out

    def about(self, manifest_label: str, assertion_label: str) -> list[tuple[str, Issue]]:
        suffix = f"/c2pa/{manifest_label}/c2pa.assertions/{assertion_label}"
        return [s for url, items in self.by_url.items() if url.endswith(suffix) for s in items]


def _actors_ica(data: Mapping[str, Any]) -> tuple[NamedActor, ...]:
    out: list[NamedActor] = []
    ids = data.get("verifiedIdentities")
    for vi in ids[:20] if isinstance(ids, list) else ():
        if not isinstance(vi, Mapping):
            continue
        provider = vi.get("provider")
        out.append(NamedActor(
            name=text(vi.get("name")), kind=text(vi.get("type")),
            username=text(vi.get("username")), uri=text(vi.get("uri")),
            provider=text(provider.get("name") or provider.get("id"))
            if isinstance(provider, Mapping) else None,
            verified_at=text(vi.get("verifiedAt")),
        ))
    return tuple(out)


def identity_assertions(m: Mapping[str, Any], label: str,
                        statuses: _Statuses) -> tuple[IdentityAssertion, ...]:
    """The CAWG identity assertions of manifest ``m`` (label ``label``) and their results."""
    out: list[IdentityAssertion] = []
    for a_label, data in assertions(m).items():
        if not _IDENTITY_LABEL.match(a_label) or len(out) >= 16:
            continue
        data = data if isinstance(data, Mapping) else {}
        found = [(k, i) for k, i in statuses.about(label, a_label) if i.code.startswith("cawg.")]
        failures = tuple(i for k, i in found if k == "failure")
        successes = tuple(i.code for k, i in found if k == "success")
        informational = tuple(i for k, i in found if k == "informational")
        payload = data.get("signer_payload")
        asset = data.get("c2paAsset")
        sig_type: str | None = None
        credential = "unknown"
        issuer: str | None = None
        actors: tuple[NamedActor, ...] = ()
        if isinstance(asset, Mapping) or "verifiedIdentities" in data:
            sig_type = text(asset.get("sig_type")) if isinstance(asset, Mapping) else None
            sig_type = sig_type or "cawg.identity_claims_aggregation"
            credential = "identity claims aggregation"
            issuer = text(data.get("issuer"))
            actors = _actors_ica(data)
        elif isinstance(payload, Mapping):
            sig_type = text(payload.get("sig_type"))
            si = data.get("signature_info")
            if sig_type == "cawg.x509.cose":
                credential = "X.509 certificate"
                if isinstance(si, Mapping):
                    issuer = text(si.get("issuer"))
                    actors = (NamedActor(name=text(si.get("common_name")), kind="x509.subject",
                                         provider=issuer),)
        fatal = [i for i in failures if i.code != "cawg.x509.credential.untrusted"]
        if fatal:
            state = IdentityState.INVALID
            issuer, actors = None, ()
        elif {"cawg.ica.credential_valid", "cawg.x509.credential.trusted"} & set(successes):
            state = IdentityState.TRUSTED
        elif failures or successes or informational:
            state = IdentityState.VALID
        else:
            state = IdentityState.NOT_VALIDATED
        out.append(IdentityAssertion(
            label=a_label, state=state, sig_type=sig_type, credential=credential, issuer=issuer,
            actors=actors, failures=failures, successes=successes, informational=informational,
        ))
    return tuple(out)


def time_check(m: Mapping[str, Any], results: Mapping[str, Any]) -> TimeCheck:
    """The time-stamp of the active manifest's signature and whether it was in validity."""
    active = results.get("activeManifest")
    active = active if isinstance(active, Mapping) else {}
    found = {kind: issues(active.get(kind)) for kind in ("success", "informational", "failure")}
    every = [i for group in found.values() for i in group]
    codes = tuple(dict.fromkeys(
        i.code for i in every
        if i.code.startswith("timeStamp.") or i.code in (SIGNATURE_INSIDE_VALIDITY,
                                                          *_OUTSIDE_VALIDITY)))
    success = {i.code for i in found["success"]}
    if any(i.code in _TIME_FAILURES for i in every):
        ts = TimeStampState.INVALID
    elif "timeStamp.trusted" in success:
        ts = TimeStampState.TRUSTED
    elif "timeStamp.validated" in success:
        ts = TimeStampState.VALID
    else:
        ts = TimeStampState.ABSENT
    authority = next((i.explanation.split(": ", 1)[1] for i in found["success"]
                      if i.code == "timeStamp.validated" and ": " in i.explanation), None)
    inside: bool | None = None
    if SIGNATURE_INSIDE_VALIDITY in success:
        inside = True
    if any(i.code in _OUTSIDE_VALIDITY for i in found["failure"]):
        inside = False
    si = m.get("signature_info")
    stamped = ts in (TimeStampState.TRUSTED, TimeStampState.VALID)
    when = text(si.get("time")) if stamped and isinstance(si, Mapping) else None
    return TimeCheck(time_stamp=ts, time=when, authority=text(authority) if stamped else None,
                     inside_validity=inside, basis="time-stamp" if stamped else
                     "verification-time", codes=codes)


def _recorded(ing: Mapping[str, Any]) -> tuple[Issue, ...]:
    """Failures the parent recorded for an ingredient when it was added (those that count)."""
    found: list[Issue] = []
    vr = ing.get("validation_results")
    if isinstance(vr, Mapping):
        am = vr.get("activeManifest")
        if isinstance(am, Mapping):
            found += issues(am.get("failure"))
        deltas = vr.get("ingredientDeltas")
        for d in deltas if isinstance(deltas, list) else ():
            if isinstance(d, Mapping) and isinstance(d.get("validationDeltas"), Mapping):
                found += issues(d["validationDeltas"].get("failure"))
    else:
        found += [i for i in issues(ing.get("validation_status"))
                  if not i.code.endswith(_SUCCESS_SUFFIXES)]
    return tuple(i for i in found if counts(i.code))[:50]


class _Builder:
    def __init__(self, store: Mapping[str, Any], results: Mapping[str, Any],
                 fetch: ThumbnailFetcher | None, limits: ChainLimits) -> None:
        manifests = store.get("manifests")
        self.manifests: Mapping[str, Any] = manifests if isinstance(manifests, Mapping) else {}
        self.statuses = _Statuses.of(results)
        self.deltas: dict[str, tuple[list[Issue], set[str]]] = {}
        entries = results.get("ingredientDeltas")
        for d in entries if isinstance(entries, list) else ():
            if isinstance(d, Mapping) and isinstance(d.get("validationDeltas"), Mapping):
                body = d["validationDeltas"]
                self.deltas[str(d.get("ingredientAssertionURI"))] = (
                    issues(body.get("failure")), {i.code for i in issues(body.get("success"))})
        self.fetch = fetch
        self.limits = limits
        self.nodes = 0
        self.thumbs = 0
        self.paths: dict[str, tuple[str, ...]] = {}

    def thumbnail(self, ref: Any) -> Thumbnail | None:
        if self.fetch is None or not isinstance(ref, Mapping):
            return None
        uri = ref.get("identifier")
        if not isinstance(uri, str) or self.thumbs >= self.limits.max_thumbnails:
            return None
        self.thumbs += 1
        return thumbnail_from_bytes(self.fetch(uri), limit=self.limits.max_thumbnail_bytes)

    def manifest(self, label: Any) -> Mapping[str, Any] | None:
        m = self.manifests.get(label) if isinstance(label, str) else None
        return m if isinstance(m, Mapping) else None

    def describe(self, m: Mapping[str, Any], label: str) -> dict[str, Any]:
        acts = actions(assertions(m))
        return {
            "signer": signer_info(m, acts),
            "claim_generator": claim_generator(m),
            "digital_source_type": digital_source_type(acts),
            "identities": identity_assertions(m, label, self.statuses),
        }

    def children(self, m: Mapping[str, Any], label: str, depth: int,
                 path: tuple[str, ...], seen: frozenset[str]) -> tuple[list[ProvenanceNode], int]:
        ings = m.get("ingredients")
        ings = [i for i in ings if isinstance(i, Mapping)] if isinstance(ings, list) else []
        out: list[ProvenanceNode] = []
        omitted = 0
        for ing in ings:
            if depth >= self.limits.max_depth or self.nodes >= self.limits.max_nodes:
                omitted += 1
                continue
            self.nodes += 1
            out.append(self.ingredient(ing, label, depth, path, seen))
        return out, omitted

    def ingredient(self, ing: Mapping[str, Any], parent: str, depth: int,
                   path: tuple[str, ...], seen: frozenset[str]) -> ProvenanceNode:
        ing_label = text(ing.get("label"))
        title = text(ing.get("title"))
        uri = ingredient_uri(parent, ing_label or "")
        self.paths[uri] = (*path, title or "(untitled)")
        found, delta_successes = self.deltas.get(uri, ([], set()))
        failures = tuple(i for i in found if counts(i.code))
        recorded = _recorded(ing)
        child_label = ing.get("active_manifest")
        child = self.manifest(child_label)
        if isinstance(child_label, str) and child is None and not failures:
            failures = (Issue(code="ingredient.manifest.missing",
                              explanation="the ingredient's manifest is not in the file"),)
        if failures or recorded:
            state = CredentialState.INVALID
        elif child is None:
            state = CredentialState.ABSENT
        elif SIGNING_TRUSTED in delta_successes and not found:
            state = CredentialState.TRUSTED
        else:
            state = CredentialState.VALID
        details: dict[str, Any] = {}
        kids: list[ProvenanceNode] = []
        omitted = 0
        if child is not None and isinstance(child_label, str):
            if state in (CredentialState.VALID, CredentialState.TRUSTED):
                details = self.describe(child, child_label)
            if child_label in seen:
                omitted = 1  # a cycle: the same manifest again below itself
            else:
                kids, omitted = self.children(child, child_label, depth + 1,
                                              self.paths[uri], seen | {child_label})
            if state is CredentialState.INVALID:
                # The ingredients an invalid manifest lists are not facts: counted, not shown
                # (walking them still names any failure further down).
                omitted += len(kids)
                kids = []
        return ProvenanceNode(
            title=title, format=text(ing.get("format")), relationship=text(ing.get("relationship")),
            manifest_label=text(child_label), ingredient_label=ing_label, state=state,
            failures=failures, recorded_failures=recorded,
            thumbnail=self.thumbnail(ing.get("thumbnail")), ingredients=tuple(kids),
            omitted=omitted, **details,
        )


@dataclass(frozen=True)
class Chain:
    """What :func:`build_chain` found."""

    root: ProvenanceNode | None
    ingredient_failures: tuple[IngredientFailure, ...]
    identities: tuple[IdentityAssertion, ...]
    time: TimeCheck | None


def build_chain(
    store: Mapping[str, Any],
    results: Mapping[str, Any],
    judgement: Judgement,
    *,
    fetch: ThumbnailFetcher | None = None,
    limits: ChainLimits | None = None,
) -> Chain:
    """The provenance tree of ``store`` rooted at its active manifest, and where it failed.

    A node whose own manifest fails keeps its title, label and codes; its signer, identities
    and ingredients are left out (``omitted`` counts them).

    ``fetch(uri)`` returns a resource's bytes (thumbnails) or None. The tree is None when the
    active manifest itself fails (its list of ingredients is then not a fact); the failing
    ingredients are named in any case, since that is where a journalist has to look.
    """
    b = _Builder(store, results, fetch, limits or ChainLimits())
    label = store.get("active_manifest")
    m = b.manifest(label)
    root: ProvenanceNode | None = None
    identities: tuple[IdentityAssertion, ...] = ()
    time: TimeCheck | None = None
    if m is not None and isinstance(label, str):
        time = time_check(m, results)
        if judgement.own_state is not CredentialState.INVALID:
            details = b.describe(m, label)
            identities = details["identities"]
            title = text(m.get("title"))
            kids, omitted = b.children(m, label, 1, (title or "(untitled)",),
                                       frozenset({label}))
            root = ProvenanceNode(
                title=title, format=text(m.get("format")), manifest_label=text(label),
                state=judgement.own_state, failures=judgement.own_failures,
                thumbnail=b.thumbnail(m.get("thumbnail")), ingredients=tuple(kids),
                omitted=omitted, **details,
            )
    failed: list[IngredientFailure] = []
    for delta in judgement.deltas:
        parsed = _MANIFEST_URI.match(delta.ingredient_uri)
        parent = parsed.group(1) if parsed else None
        ing_label = (parsed.group(2) or "").rsplit("/", 1)[-1] if parsed else None
        pm = b.manifest(parent)
        ing: Mapping[str, Any] = {}
        if pm is not None and isinstance(pm.get("ingredients"), list):
            ing = next((i for i in pm["ingredients"]
                        if isinstance(i, Mapping) and i.get("label") == ing_label), {})
        title = text(ing.get("title"))
        failed.append(IngredientFailure(
            title=title, manifest_label=text(ing.get("active_manifest")),
            ingredient_label=text(ing_label), relationship=text(ing.get("relationship")),
            path=b.paths.get(delta.ingredient_uri, (title or "(untitled)",)),
            failures=delta.failures,
        ))
    return Chain(root, tuple(failed), identities, time)
