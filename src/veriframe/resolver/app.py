"""The resolver's ASGI app: routes a few lines each over :mod:`veriframe.resolver.search`.

``create_app(config)`` builds one app (no globals: tests build one per case). The keyring,
the manifest store and the trust anchors are opened in the lifespan. Limits are middleware
(body size, a token bucket per client) and a bounded gate for watermark detection; every
error is JSON with veriframe's stable code; no response carries key material, a file path or
an exception's text.

The Soft Binding API is served twice: at the root (as 1.0.0 clients call it) and under
``/v1`` (as the 2.4 discovery document ``/.well-known/c2pa-soft-binding-resolution`` names
it). Writes (``POST /manifests``, ``DELETE /manifests/{id}``, ``POST|PUT /bindings``) need a
token with the matching scope, are append-only, and each one is written to the store's audit
log.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from veriframe._service.admission import BodyLimit, Gate, RateLimit, TokenBuckets
from veriframe._service.errors import EXCEPTION_HANDLERS, HTTPError
from veriframe._service.headers import DefaultHeaders
from veriframe._service.logs import AccessLog
from veriframe._service.site import Site, SiteGuard
from veriframe.errors import ResolverError, StoreError
from veriframe.media import Limits
from veriframe.resolver.bodies import read_json
from veriframe.resolver.reference import ReferencePolicy
from veriframe.resolver.tokens import TokenRegistry
from veriframe.settings import Settings
from veriframe.softbinding.protocol import KIND_FIELD, WATERMARK_ALG, Match, valid_manifest_id

log = logging.getLogger("veriframe.resolver")

SPEC_FILE = "c2pa-soft-binding-api-1.0.0.json"
SPEC_FILE_24 = "c2pa-soft-binding-api-2.4.0.json"
SPEC_VERSION = "2.4.0"
API_PREFIX = "/v1"
MAX_VALUE_CHARS = 4096  # a longer GET value is refused with 414: use POST


def _excerpt_limits() -> Limits:
    # What a byContent upload may be: an excerpt, not a feature film.
    return Limits(max_pixels=3840 * 2160, max_frames=7200, max_duration_s=300.0,
                  max_file_bytes=64 << 20, max_decoded_bytes=1 << 30)


@dataclass(frozen=True)
class ResolverConfig:
    """How one resolver runs: whose keys and store, and its limits.

    ``store``: the manifest store (a path or a ``postgresql://`` URL; default the settings'
    store). ``tokens_file``: the tokens file the service rereads when it changes (see
    :mod:`veriframe.resolver.tokens`); ``token_hashes``: SHA-256 hashes of extra bearer tokens
    with every scope. ``publishers_file``: a PEM bundle of CA certificates whose signers may
    publish here besides the organisation's own CA (``<home>/keys/ca.pem``). ``reference``:
    how ``POST /matches/byReference`` may fetch a URL (None: it is off).
    ``detect_workers``/``detect_queue``/``detect_timeout_s`` bound the expensive
    ``byContent`` detection; ``rate``/``burst`` the requests per client and second,
    ``content_rate``/``content_burst`` the uploads per client (stricter: each one runs the
    detector, and answers could be used to probe it).
    """

    settings: Settings
    token_hashes: tuple[str, ...] = ()
    tokens_file: Path | None = None
    publishers_file: Path | None = None
    store: str | None = None
    reference: ReferencePolicy | None = None
    max_upload_bytes: int = 64 << 20
    max_manifest_bytes: int = 16 << 20
    max_json_bytes: int = 64 << 10
    max_json_depth: int = 8
    excerpt_limits: Limits = field(default_factory=_excerpt_limits)
    detect_workers: int = 2
    detect_queue: int = 8
    detect_timeout_s: float = 60.0
    rate: float = 50.0
    burst: int = 200
    content_rate: float = 0.5
    content_burst: int = 10
    max_results: int = 100


@dataclass
class _State:
    config: ResolverConfig
    keys: list[Any]
    store: Any
    trust: Any
    publishers: Any
    tokens: TokenRegistry
    gate: Gate
    uploads: TokenBuckets


def _publisher_trust(config: ResolverConfig) -> Any:
    """The anchors a publisher's certificate must chain to: the organisation's own CA and the
    configured publishers, nothing else (not the verifier's wider trust list)."""
    from veriframe.credentials import TrustConfig
    from veriframe.home import HomePaths

    pems: list[bytes] = []
    own = HomePaths.resolve(config.settings.home).keys / "ca.pem"
    for path in (own, config.publishers_file):
        if path is not None and Path(path).is_file():
            pems.append(Path(path).read_bytes().strip() + b"\n")
    if config.publishers_file is not None and not Path(config.publishers_file).is_file():
        raise ResolverError("resolver.bad-config",
                            "the publishers file does not exist",
                            "give a PEM bundle of CA certificates")
    return TrustConfig.from_pem(b"".join(pems), source="publishers") if pems \
        else TrustConfig.none()


def api_routes() -> list[BaseRoute]:
    """The Soft Binding API's routes (served at the root and under ``/v1``)."""
    return [
        Route("/services/supportedAlgorithms", supported_algorithms, methods=["GET"]),
        Route("/services/capabilities", capabilities, methods=["GET"]),
        Route("/services/status", status, methods=["GET"]),
        Route("/matches/byBinding", by_binding, methods=["GET", "POST"]),
        Route("/matches/byContent", by_content, methods=["POST"]),
        Route("/matches/byReference", by_reference, methods=["POST"]),
        Route("/manifests", publish, methods=["POST"]),
        Route("/manifests/{manifest_id}", manifest, methods=["GET", "DELETE"]),
        Route("/manifests/{manifest_id}/receipts", receipts, methods=["GET", "POST"]),
        Route("/bindings", bindings, methods=["POST", "PUT"]),
    ]


def create_app(config: ResolverConfig, *, site: Site | None = None) -> Starlette:
    """The resolver app for ``config`` (serve it with uvicorn).

    ``site``: the host names it answers to and the web origins that may post to it (default:
    loopback names only; see :mod:`veriframe._service.site`), as for the verify service, whose
    security headers it sends too (``DefaultHeaders``).
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from veriframe.credentials import ManifestStore
        from veriframe.verification import Verifier

        # The resolver verifies what is published and reads marks with the signer's keyring:
        # the same Verifier as everywhere (no detector, no policy).
        verifier = Verifier(dataclasses.replace(config.settings, detector=None, policy=None))
        if verifier.key_error is not None:
            raise verifier.key_error.to_exception()
        keys = verifier.keys
        if not keys:
            log.warning("no watermark keys: byContent can only search fingerprints, and "
                        "nothing can be published")
        store = ManifestStore(config.store or config.settings.store_path, keep_open=True)
        store.ping()  # an unreachable database refuses to start, with its code
        app.state.resolver = _State(
            config=config,
            keys=keys,
            store=store,
            trust=verifier.trust,
            publishers=_publisher_trust(config),
            tokens=TokenRegistry(path=config.tokens_file, static=config.token_hashes),
            gate=Gate(workers=config.detect_workers, queue=config.detect_queue,
                      timeout_s=config.detect_timeout_s),
            uploads=TokenBuckets(rate=config.content_rate, burst=config.content_burst),
        )
        try:
            yield
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/.well-known/c2pa-soft-binding-resolution", well_known, methods=["GET"]),
        Mount(API_PREFIX, routes=[Route("/openapi.json", openapi, methods=["GET"]),
                                  *api_routes()]),
        *api_routes(),
    ]
    middleware = [Middleware(AccessLog, service="resolver"), Middleware(DefaultHeaders),
                  Middleware(SiteGuard, site=site or Site())]
    if config.rate > 0:
        middleware.append(Middleware(RateLimit, buckets=TokenBuckets(rate=config.rate,
                                                                     burst=config.burst)))
    json_paths = ("/matches/byBinding", "/matches/byReference", "/bindings")
    per_path = {"/manifests": config.max_manifest_bytes,
                f"{API_PREFIX}/manifests": config.max_manifest_bytes}
    for path in json_paths:
        per_path[path] = per_path[API_PREFIX + path] = config.max_json_bytes
    middleware.append(Middleware(BodyLimit, max_bytes=config.max_upload_bytes,
                                 per_path=per_path))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers=EXCEPTION_HANDLERS)


def _state(request: Request) -> _State:
    state: _State = request.app.state.resolver
    return state


def _store_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store call; a store failure never shows its path to the client. The store's
    refusals (a conflict, an unknown manifest, another signer's manifest) keep their
    meaning as ``resolver.*`` codes."""
    try:
        return fn(*args, **kwargs)
    except StoreError as exc:
        mapped = _STORE_REFUSALS.get(exc.code)
        if mapped is not None:
            status, code = mapped
            raise HTTPError(status, code, exc.message, exc.hint) from None
        log.exception("manifest store failure")
        raise ResolverError("resolver.store-unavailable", "the manifest store cannot be read",
                             "the resolver's operator has to look at its logs") from None


_STORE_REFUSALS = {
    "store.conflict": (409, "resolver.conflict"),
    "store.not-found": (404, "resolver.not-found"),
    "store.forbidden": (403, "resolver.not-owner"),
}


def _max_results(request: Request) -> int:
    raw = request.query_params.get("maxResults", "10")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ResolverError("resolver.bad-query", "maxResults must be an integer >= 1",
                        "e.g. maxResults=10", status=400)
    return min(value, _state(request).config.max_results)


def _matches(matches: list[Match]) -> JSONResponse:
    return JSONResponse({"matches": [m.to_dict() for m in matches]})


def _api_base(request: Request) -> str:
    """The API's base URL as this request reached it (root or ``/v1``)."""
    base = str(request.base_url).rstrip("/")
    return base + (API_PREFIX if request.url.path.startswith(API_PREFIX + "/") else "")


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def _audit(state: _State, *, actor: str, action: str, outcome: str,
                 manifest_label: str | None = None, payload_id: str | None = None,
                 detail: str | None = None) -> None:
    """One audit entry (in the store, so every replica's writes are in one log) and one log
    line; an audit that cannot be written fails the request (no unaudited write)."""
    log.info("audit actor=%s action=%s outcome=%s manifest=%s", actor, action, outcome,
             manifest_label)
    await run_in_threadpool(_store_call, state.store.audit, actor=actor, action=action,
                            outcome=outcome, manifest_label=manifest_label,
                            payload_id=payload_id, detail=detail)


# --- routes -----------------------------------------------------------------------------

async def health(request: Request) -> JSONResponse:
    """``GET /health``: the service is up and has its store and keys open."""
    state = _state(request)
    return JSONResponse({"status": "ok", "watermark_keys": len(state.keys),
                         "publishing": state.tokens.configured,
                         "store": state.store.backend})


async def openapi(request: Request) -> JSONResponse:
    """``GET /openapi.json``: this service's document (2.4 under ``/v1``, 1.0.0 at the root,
    each with this service's additions)."""
    v24 = request.url.path.startswith(API_PREFIX + "/")
    doc = copy.deepcopy(openapi_document_24() if v24 else openapi_document())
    # relative to where the document was fetched: never the request's Host header
    doc["servers"] = [{"url": API_PREFIX if request.url.path.startswith(API_PREFIX + "/")
                       else "/"}]
    return JSONResponse(doc)


def _capabilities(state: _State) -> list[str]:
    caps = ["queryByContent"]
    if state.config.reference is not None:
        caps.append("queryByReference")
    if state.keys:
        caps += ["storeManifests", "storeBindings"]
    return caps


async def capabilities(request: Request) -> JSONResponse:
    """``GET /services/capabilities`` (2.4)."""
    return JSONResponse({"c2paSpecificationVersion": SPEC_VERSION,
                         "supportedCapabilities": _capabilities(_state(request))})


async def status(request: Request) -> JSONResponse:
    """``GET /services/status`` (2.4): ``ok``; ``degraded`` when the store cannot be read
    (the service answers, but finds nothing) or detection is saturated."""
    import datetime as dt

    state = _state(request)
    value = "ok"
    try:
        await run_in_threadpool(state.store.ping)
    except StoreError:
        log.exception("manifest store failure")
        value = "degraded"
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
    return JSONResponse({"status": value, "timestamp": stamp})


async def well_known(request: Request) -> JSONResponse:
    """``GET /.well-known/c2pa-soft-binding-resolution`` (2.4, RFC 8615) at the host root."""
    api = str(request.base_url).rstrip("/") + API_PREFIX
    return JSONResponse({"apiEndpoint": api, "c2paSpecificationVersion": SPEC_VERSION,
                         "capabilitiesEndpoint": api + "/services/capabilities",
                         "statusEndpoint": api + "/services/status"})


async def supported_algorithms(request: Request) -> JSONResponse:
    """``GET /services/supportedAlgorithms``."""
    from veriframe.resolver.search import supported_algorithms as algs

    return JSONResponse(algs())


async def by_binding(request: Request) -> JSONResponse:
    """``GET|POST /matches/byBinding``: manifests for a payload id or a fingerprint."""
    from veriframe.resolver.search import find_by_binding

    state = _state(request)
    limit = _max_results(request)
    if request.method == "POST":
        body = await read_json(request, max_bytes=state.config.max_json_bytes,
                               max_depth=state.config.max_json_depth,
                               example='send {"alg": ..., "value": ...}')
        alg, value = body.get("alg"), body.get("value")
    else:
        alg, value = request.query_params.get("alg"), request.query_params.get("value")
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise ResolverError("resolver.query-too-long", "the binding value is too long "
                            "for a URL", "send it with POST /matches/byBinding", status=414)
    if not isinstance(alg, str) or not isinstance(value, str) or not alg or not value:
        raise ResolverError("resolver.bad-query", "alg and value are required strings",
                        "e.g. ?alg=org.veriframe.watermark.1&value=<base64>", status=400)
    if alg == WATERMARK_ALG and state.store.backend == "sqlite":
        # An exact lookup on an index over a kept-open WAL connection (readers never wait for
        # writers): answered in the event loop, without a thread hop (it is the hot path).
        matches = _store_call(find_by_binding, state.store, alg=alg, value=value,
                              max_results=limit)
    else:
        matches = await run_in_threadpool(_store_call, find_by_binding, state.store, alg=alg,
                                          value=value, max_results=limit)
    return _matches(matches)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _take_upload(request: Request, state: _State) -> None:
    wait = state.uploads.take(_client(request))
    if wait > 0:
        raise HTTPError(429, "http.rate-limited", "too many uploads from this client",
                        "wait and retry; the Retry-After header says how long",
                        headers={"Retry-After": str(max(1, int(wait + 0.999)))})


async def _search_file(state: _State, path: Path, limit: int) -> JSONResponse:
    from veriframe.resolver.search import find_by_content

    if path.stat().st_size == 0:
        raise ResolverError("resolver.bad-query", "the request has no body",
                        "send the video excerpt as the request body", status=400)
    matches = await state.gate.run(
        lambda: _store_call(find_by_content, path, keys=state.keys, store=state.store,
                            limits=state.config.excerpt_limits, max_results=limit))
    return _matches([m.to_match() for m in matches])


async def by_content(request: Request) -> JSONResponse:
    """``POST /matches/byContent``: the uploaded excerpt's watermark, else its fingerprint."""
    state = _state(request)
    limit = _max_results(request)
    ctype = _content_type(request)
    if not ctype.startswith("video/"):
        raise ResolverError("resolver.unsupported-type",
                        f"this resolver matches video only, not {ctype or 'an untyped body'}",
                        "send the excerpt with Content-Type: video/mp4 (or another video/*)",
                        status=415)
    _take_upload(request, state)
    with tempfile.TemporaryDirectory(prefix="veriframe-resolver-") as tmp:
        path = Path(tmp) / "excerpt.mp4"  # the only name an error message can show
        with path.open("wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
        return await _search_file(state, path, limit)


async def by_reference(request: Request) -> JSONResponse:
    """``POST /matches/byReference`` (2.4): fetch the asset at ``referenceUrl`` (only where
    the operator turned it on, to allowed hosts, public addresses, bounded) and match it."""
    from veriframe.resolver.reference import fetch_reference

    state = _state(request)
    policy = state.config.reference
    if policy is None:
        raise ResolverError("resolver.not-enabled", "this resolver does not fetch references",
                        "upload the excerpt with POST /matches/byContent", status=501)
    limit = _max_results(request)
    body = await read_json(request, max_bytes=state.config.max_json_bytes,
                           max_depth=state.config.max_json_depth,
                           example='send {"referenceUrl": ..., "assetLength": ...}')
    url, length = body.get("referenceUrl"), body.get("assetLength")
    if not isinstance(url, str) or isinstance(length, bool) or not isinstance(length, int) \
            or length < 1:
        raise ResolverError("resolver.bad-query", "referenceUrl (a string) and assetLength "
                        "(an integer >= 1) are required",
                        'send {"referenceUrl": "https://...", "assetLength": 123456}', status=400)
    _take_upload(request, state)
    with tempfile.TemporaryDirectory(prefix="veriframe-resolver-") as tmp:
        path = Path(tmp) / "reference.mp4"
        await run_in_threadpool(fetch_reference, url, length, path, policy=policy)
        return await _search_file(state, path, limit)


def _manifest_id(request: Request) -> str:
    manifest_id = request.path_params["manifest_id"]
    if not valid_manifest_id(manifest_id):
        raise ResolverError("resolver.bad-manifest-id", "that is not a C2PA manifest id",
                        "manifest ids look like urn:c2pa:<uuid>", status=400)
    return str(manifest_id)


def _stored(state: _State, manifest_id: str) -> Any:
    record = _store_call(state.store.get_by_label, manifest_id)  # indexed, as byBinding
    if record is None:
        raise ResolverError("resolver.not-found", "no manifest with that id here",
                        "check the id; the manifest may be on another resolver", status=404)
    return record


async def manifest(request: Request) -> Response:
    """``GET /manifests/{manifestId}``: the stored manifest store (``application/c2pa``);
    ``DELETE`` (2.4, ``store:manifests``): the publisher of a manifest withdraws it.

    The stored bytes hold the active manifest and its ingredients' manifests only, so
    ``returnActiveManifest`` returns the same bytes either way.
    """
    state = _state(request)
    if request.method == "DELETE":
        return await _delete(request, state)
    manifest_id = _manifest_id(request)
    if state.store.backend == "sqlite":
        record = _stored(state, manifest_id)
    else:
        record = await run_in_threadpool(_stored, state, manifest_id)
    return Response(record.manifest_store, media_type="application/c2pa")


async def _delete(request: Request, state: _State) -> Response:
    actor = state.tokens.check(request.headers.get("authorization"), "store:manifests")
    manifest_id = _manifest_id(request)
    record = await run_in_threadpool(_stored, state, manifest_id)
    if record.publisher != actor:
        await _audit(state, actor=actor, action="delete", outcome="refused:not-owner",
                     manifest_label=manifest_id, payload_id=record.payload_id)
        raise ResolverError("resolver.not-owner", "only the token that published a manifest "
                        "can delete it", "ask the resolver's operator", status=403)
    await run_in_threadpool(_store_call, state.store.delete, manifest_id)
    await _audit(state, actor=actor, action="delete", outcome="deleted",
                 manifest_label=manifest_id, payload_id=record.payload_id)
    return Response(status_code=204)


async def publish(request: Request) -> JSONResponse:
    """``POST /manifests``: a signer registers a signed manifest store (``store:manifests``).

    Only a manifest store (JUMBF, not an asset) that validates, whose signer chains to this
    resolver's publishers and whose soft binding names a key of this resolver's keyring; a
    record is never replaced (409). ``returnReceipt=true`` adds the repository receipt.
    """
    from veriframe.resolver.search import check_publication

    state = _state(request)
    if not state.tokens.configured:
        raise HTTPError(403, "http.forbidden", "publishing is disabled on this resolver",
                        "its operator enables it with `veriframe resolver token add`")
    actor = state.tokens.check(request.headers.get("authorization"), "store:manifests")
    if _content_type(request) != "application/c2pa":
        await _audit(state, actor=actor, action="publish", outcome="refused:unsupported-type")
        raise ResolverError("resolver.unsupported-type", "publish a manifest store as "
                        "application/c2pa", "send the bytes `veriframe sign` stored", status=415)
    data = await request.body()
    key_ids = {k.key_id for k in state.keys}
    try:
        record = await run_in_threadpool(check_publication, data, trust=state.publishers,
                                         key_ids=key_ids, publisher=actor)
    except ResolverError as exc:  # refused, with the HTTP status that says why
        await _audit(state, actor=actor, action="publish", outcome=f"refused:{exc.code}",
                     detail=exc.message[:200])
        raise
    try:
        stored = await run_in_threadpool(_store_call, state.store.put, record)
    except HTTPError as exc:
        await _audit(state, actor=actor, action="publish", outcome=f"refused:{exc.code}",
                     manifest_label=record.manifest_label, payload_id=record.payload_id)
        raise
    await _audit(state, actor=actor, action="publish", outcome="stored",
                 manifest_label=stored.manifest_label, payload_id=stored.payload_id)
    doc: dict[str, Any] = {"manifestId": stored.manifest_label}
    if request.query_params.get("returnReceipt", "").lower() == "true":
        doc["receipt"] = _receipt(request, stored)
    return JSONResponse(doc, status_code=201)


def _receipt(request: Request, record: Any) -> dict[str, Any]:
    """A repository receipt: where the manifest is held and the SHA-256 of the held bytes."""
    import base64
    import hashlib
    import urllib.parse

    base = _api_base(request)
    digest = hashlib.sha256(record.manifest_store).digest()
    return {
        "@context": {"c2pa": "https://c2pa.org/specifications/",
                     "receipt": "https://c2pa.org/specifications/receipt"},
        "@type": "org.c2pa.manifest-receipt",
        "repository": {"uri": base, "manifestId": record.manifest_label},
        "anchor": {"uri": f"{base}/manifests/"
                          f"{urllib.parse.quote(record.manifest_label, safe='')}",
                   "proof": {"alg": "sha256",
                             "value": base64.b64encode(digest).decode("ascii")},
                   "parameters": {"storedAt": record.created_at}},
        "verified": True,
    }


async def receipts(request: Request) -> JSONResponse:
    """``GET /manifests/{id}/receipts`` (2.4): the receipt of a held manifest; ``POST``:
    check a receipt a client kept against the held bytes (``verified``)."""
    state = _state(request)
    manifest_id = _manifest_id(request)
    record = await run_in_threadpool(_stored, state, manifest_id)
    receipt = _receipt(request, record)
    if request.method == "GET":
        return JSONResponse(receipt)
    given = await read_json(request, max_bytes=state.config.max_json_bytes,
                            max_depth=state.config.max_json_depth,
                            example="send a receipt this resolver gave")
    proof = given.get("anchor", {}).get("proof", {}) if isinstance(
        given.get("anchor"), dict) else {}
    ok = isinstance(proof, dict) and proof.get("alg") == "sha256" and \
        proof.get("value") == receipt["anchor"]["proof"]["value"]
    answer = {**receipt, "verified": bool(ok)}
    if not ok:
        answer["error"] = "the receipt does not match the manifest held here"
    return JSONResponse(answer)


async def bindings(request: Request) -> Response:
    """``POST /bindings`` (2.4, ``store:bindings``): associate a binding value with a held
    manifest; ``PUT``: point it to another manifest of the same signer. 204; 404 for an
    unknown manifest; 409 where the value is another signer's."""
    state = _state(request)
    actor = state.tokens.check(request.headers.get("authorization"), "store:bindings")
    body = await read_json(request, max_bytes=state.config.max_json_bytes,
                           max_depth=state.config.max_json_depth,
                           example='send {"bindingValue": ..., "manifestId": ...}')
    value, manifest_id = body.get("bindingValue"), body.get("manifestId")
    alg = body.get("alg", WATERMARK_ALG)
    if not isinstance(value, str) or not value or len(value) > MAX_VALUE_CHARS \
            or not isinstance(manifest_id, str) or not isinstance(alg, str) or not alg \
            or len(alg) > 200:
        raise ResolverError("resolver.bad-query", "bindingValue and manifestId are required "
                        "strings (alg optional)",
                        'send {"bindingValue": "<base64>", "manifestId": "urn:c2pa:..."}',
                        status=400)
    if not valid_manifest_id(manifest_id):
        raise ResolverError("resolver.not-found", "no manifest with that id here",
                        "manifest ids look like urn:c2pa:<uuid>", status=404)
    replace = request.method == "PUT"
    action = "rebind" if replace else "bind"
    try:
        await run_in_threadpool(_store_call, state.store.bind, alg, value, manifest_id,
                                owner=None, publisher=actor, replace=replace)
    except HTTPError as exc:
        await _audit(state, actor=actor, action=action, outcome=f"refused:{exc.code}",
                     manifest_label=manifest_id, detail=f"alg={alg[:80]}")
        raise
    await _audit(state, actor=actor, action=action, outcome="stored",
                 manifest_label=manifest_id, detail=f"alg={alg[:80]}")
    return Response(status_code=204)


# --- the OpenAPI document -----------------------------------------------------------------

@cache
def upstream_document() -> dict[str, Any]:
    """The C2PA Soft Binding Resolution API document, version 1.0.0, as published."""
    text = resources.files("veriframe.resolver").joinpath(SPEC_FILE).read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def openapi_document() -> dict[str, Any]:
    """This service's OpenAPI document: the C2PA one, corrected and extended.

    Corrected: ``c2pa.softBindingAlgList.watermarks.items`` carries a ``oneOf`` requiring a
    ``watermarks`` or ``fingerprints`` property inside each item, which no list item can
    satisfy (it belongs one level up); it is moved to the list object as ``anyOf``.
    Extended: ``GET /health``, ``POST /manifests`` (publishing), and the optional match field
    ``org.veriframe.matchKind``.
    """
    doc = copy.deepcopy(upstream_document())
    alg_list = doc["components"]["schemas"]["c2pa.softBindingAlgList"]
    alg_list["properties"]["watermarks"]["items"].pop("oneOf", None)
    alg_list["type"] = "object"
    alg_list["anyOf"] = [{"required": ["watermarks"]}, {"required": ["fingerprints"]}]
    match = doc["components"]["schemas"]["c2pa.softBindingQueryResult"]["properties"][
        "matches"]["items"]
    match["properties"]["org.veriframe.matchKind"] = {
        "type": "string", "enum": ["watermark", "fingerprint"],
        "description": "veriframe extension: how the manifest was found."}
    doc["info"]["x-veriframe"] = (
        "The C2PA Soft Binding Resolution API 1.0.0 (C2PA, CC BY 4.0), served by veriframe "
        "with the additions and the correction described in veriframe's docs/resolver.md.")
    error = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "hint"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "hint": {"type": "string"}}}}}
    doc["components"]["schemas"]["veriframe.error"] = error
    doc["paths"]["/health"] = {"get": {
        "tags": ["service"], "operationId": "health", "summary": "Liveness.",
        "responses": {"200": {"description": "Up", "content": {"application/json": {
            "schema": {"type": "object", "required": ["status"],
                       "properties": {"status": {"type": "string"}}}}}}}}}
    doc["paths"]["/manifests"] = {"post": {
        "tags": ["store"], "operationId": "publishManifest",
        "summary": "Registers a signed manifest store (veriframe extension).",
        "security": [{"bearer": []}],
        "requestBody": {"required": True, "content": {"application/c2pa": {
            "schema": {"type": "string", "format": "binary"}}}},
        "responses": {
            "201": {"description": "Registered", "content": {"application/json": {
                "schema": {"type": "object", "required": ["manifestId"],
                           "properties": {"manifestId": {"type": "string"}}}}}},
            "401": {"description": "No or wrong token"},
            "403": {"description": "Publishing disabled, a token without store:manifests, "
                    "a signer outside the resolver's publishers or a foreign watermark key"},
            "409": {"description": "The manifest id or its payload id is held by another "
                    "record (append-only)"},
            "415": {"description": "Not application/c2pa, or not a bare manifest store"},
            "422": {"description": "The manifest does not validate or has no veriframe "
                    "soft binding"}}}}
    doc["components"]["securitySchemes"]["bearer"] = {"type": "http", "scheme": "bearer"}
    return doc


@cache
def upstream_document_24() -> dict[str, Any]:
    """The Soft Binding Resolution API document, version 2.4.0, as published (see its
    ``info.x-source``)."""
    text = resources.files("veriframe.resolver").joinpath(SPEC_FILE_24).read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def openapi_document_24() -> dict[str, Any]:
    """What this service serves under ``/v1``: the 2.4.0 document with veriframe's errors,
    statuses and extensions.

    Changed: ``Error`` is veriframe's ``{"error": {"code", "message", "hint"}}``; publishing
    answers 201 (a resource was created) besides 200, 409 for a conflicting record, 415 for a
    body that is not a bare manifest store, 422 for one that does not validate; ``bindings``
    take an optional ``alg`` (default ``org.veriframe.watermark.1``) and answer 409 for a
    value that is another signer's; ``byReference`` answers 501 where the operator has not
    turned it on. Added: ``GET /health`` and the match field ``org.veriframe.matchKind``.
    """
    doc = copy.deepcopy(upstream_document_24())
    schemas = doc["components"]["schemas"]
    schemas["Error"] = openapi_document()["components"]["schemas"]["veriframe.error"]
    schemas["Match"]["properties"][KIND_FIELD] = {
        "type": "string", "enum": ["watermark", "fingerprint"],
        "description": "veriframe extension: how the manifest was found."}
    schemas["Match"]["required"] = ["manifestId"]
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    paths = doc["paths"]
    post = paths["/manifests"]["post"]
    post["responses"]["201"] = copy.deepcopy(post["responses"]["200"])
    post["responses"]["201"]["description"] = "Manifest stored (veriframe answers 201)"
    post["responses"]["409"] = {"description": "The manifest id or its payload id is "
                                "already held by another record (append-only)", **error}
    post["responses"]["415"] = {"description": "Not a bare manifest store", **error}
    post["responses"]["422"] = {"description": "The manifest does not validate", **error}
    body = doc["components"]["requestBodies"]["Binding"]["content"]["application/json"]["schema"]
    body["properties"]["alg"] = {"type": "string", "description": "veriframe extension: the "
                                 "binding's algorithm (default org.veriframe.watermark.1)"}
    for method in ("post", "put"):
        paths["/bindings"][method]["responses"]["409"] = {
            "description": "The value is another signer's", **error}
    paths["/matches/byReference"]["post"]["responses"]["501"] = {
        "description": "This resolver does not fetch references", **error}
    paths["/health"] = copy.deepcopy(openapi_document()["paths"]["/health"])
    doc["info"]["x-veriframe"] = (
        "Served by veriframe with the changes described in veriframe's docs/resolver.md.")
    return doc
