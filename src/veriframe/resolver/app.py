"""The resolver's ASGI app: routes a few lines each over :mod:`veriframe.resolver.search`.

``create_app(config)`` builds one app (no globals: tests build one per case). The keyring,
the manifest store and the trust anchors are opened in the lifespan. Limits are middleware
(body size, a token bucket per client) and a bounded gate for watermark detection; every
error is JSON with veriframe's stable code; no response carries key material, a file path or
an exception's text.
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
from starlette.routing import Route

from veriframe._service.auth import TokenCheck
from veriframe._service.errors import EXCEPTION_HANDLERS, HTTPError
from veriframe._service.headers import DefaultHeaders
from veriframe._service.limits import BodyLimit, Gate, RateLimit, TokenBuckets
from veriframe._service.logs import AccessLog
from veriframe._service.site import Site, SiteGuard
from veriframe.errors import ErrorKind, StoreError, VeriframeError
from veriframe.media import Limits
from veriframe.settings import Settings
from veriframe.softbinding.protocol import WATERMARK_ALG, Match, valid_manifest_id

log = logging.getLogger("veriframe.resolver")

SPEC_FILE = "c2pa-soft-binding-api-1.0.0.json"
MAX_VALUE_CHARS = 4096  # a longer GET value is refused with 414: use POST


def _excerpt_limits() -> Limits:
    # What a byContent upload may be: an excerpt, not a feature film.
    return Limits(max_pixels=3840 * 2160, max_frames=7200, max_duration_s=300.0,
                  max_file_bytes=64 << 20, max_decoded_bytes=1 << 30)


@dataclass(frozen=True)
class ResolverConfig:
    """How one resolver runs: whose keys and store, and its limits.

    ``token_hashes``: SHA-256 hashes of the bearer tokens that may publish manifests (none:
    publishing is refused). ``detect_workers``/``detect_queue``/``detect_timeout_s`` bound the
    expensive ``byContent`` detection; ``rate``/``burst`` the requests per client and second,
    ``content_rate``/``content_burst`` the uploads per client (stricter: each one runs the
    detector, and answers could be used to probe it).
    """

    settings: Settings
    token_hashes: tuple[str, ...] = ()
    max_upload_bytes: int = 64 << 20
    max_manifest_bytes: int = 16 << 20
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
    tokens: TokenCheck
    gate: Gate
    uploads: TokenBuckets


def create_app(config: ResolverConfig, *, site: Site | None = None) -> Starlette:
    """The resolver app for ``config`` (serve it with uvicorn).

    ``site``: the host names it answers to and the web origins that may post to it (default:
    loopback names only; see :mod:`veriframe._service.site`), as for the verify service.
    """

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from veriframe.credentials.store import ManifestStore
        from veriframe.verification import Verifier

        # The resolver verifies what is published and reads marks with the signer's keyring:
        # the same Verifier as everywhere (no detector, no policy).
        verifier = Verifier(dataclasses.replace(config.settings, detector=None, policy=None))
        if verifier.key_error is not None:
            raise verifier.key_error.to_exception()
        keys = verifier.keys
        if not keys:
            log.warning("no watermark keys: byContent can only search fingerprints")
        app.state.resolver = _State(
            config=config,
            keys=keys,
            store=ManifestStore(config.settings.store_path, keep_open=True),
            trust=verifier.trust,
            tokens=TokenCheck(config.token_hashes),
            gate=Gate(workers=config.detect_workers, queue=config.detect_queue,
                      timeout_s=config.detect_timeout_s),
            uploads=TokenBuckets(rate=config.content_rate, burst=config.content_burst),
        )
        yield

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/services/supportedAlgorithms", supported_algorithms, methods=["GET"]),
        Route("/matches/byBinding", by_binding, methods=["GET", "POST"]),
        Route("/matches/byContent", by_content, methods=["POST"]),
        Route("/manifests", publish, methods=["POST"]),
        Route("/manifests/{manifest_id}", manifest, methods=["GET"]),
    ]
    middleware = [Middleware(AccessLog, service="resolver"), Middleware(DefaultHeaders),
                  Middleware(SiteGuard, site=site or Site())]
    if config.rate > 0:
        middleware.append(Middleware(RateLimit, buckets=TokenBuckets(rate=config.rate,
                                                                     burst=config.burst)))
    middleware.append(Middleware(BodyLimit, max_bytes=config.max_upload_bytes,
                                 per_path={"/manifests": config.max_manifest_bytes,
                                           "/matches/byBinding": 1 << 20}))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers=EXCEPTION_HANDLERS)


def _state(request: Request) -> _State:
    state: _State = request.app.state.resolver
    return state


def _store_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store lookup; a store failure never shows its path to the client."""
    try:
        return fn(*args, **kwargs)
    except StoreError:
        log.exception("manifest store failure")
        raise VeriframeError("resolver.store-unavailable", "the manifest store cannot be read",
                             "the resolver's operator has to look at its logs") from None


def _max_results(request: Request) -> int:
    raw = request.query_params.get("maxResults", "10")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise HTTPError(400, "resolver.bad-query", "maxResults must be an integer >= 1",
                        "e.g. maxResults=10")
    return min(value, _state(request).config.max_results)


def _matches(matches: list[Match]) -> JSONResponse:
    return JSONResponse({"matches": [m.to_dict() for m in matches]})


# --- routes -----------------------------------------------------------------------------

async def health(request: Request) -> JSONResponse:
    """``GET /health``: the service is up and has its store and keys open."""
    state = _state(request)
    return JSONResponse({"status": "ok", "watermark_keys": len(state.keys),
                         "publishing": state.tokens.configured})


async def openapi(request: Request) -> JSONResponse:
    """``GET /openapi.json``: the C2PA document with this service's additions."""
    doc = copy.deepcopy(openapi_document())
    doc["servers"] = [{"url": str(request.base_url).rstrip("/")}]
    return JSONResponse(doc)


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
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise HTTPError(400, "resolver.bad-query", "the body is not JSON",
                            'send {"alg": ..., "value": ...}') from None
        if not isinstance(body, dict):
            raise HTTPError(400, "resolver.bad-query", "the body is not a JSON object",
                            'send {"alg": ..., "value": ...}')
        alg, value = body.get("alg"), body.get("value")
    else:
        alg, value = request.query_params.get("alg"), request.query_params.get("value")
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise HTTPError(414, "resolver.query-too-long", "the binding value is too long "
                            "for a URL", "send it with POST /matches/byBinding")
    if not isinstance(alg, str) or not isinstance(value, str) or not alg or not value:
        raise HTTPError(400, "resolver.bad-query", "alg and value are required strings",
                        "e.g. ?alg=org.veriframe.watermark.1&value=<base64>")
    if alg == WATERMARK_ALG:
        # An exact lookup on an index over a kept-open WAL connection (readers never wait for
        # writers): answered in the event loop, without a thread hop (it is the hot path).
        matches = _store_call(find_by_binding, state.store, alg=alg, value=value,
                              max_results=limit)
    else:
        matches = await run_in_threadpool(_store_call, find_by_binding, state.store, alg=alg,
                                          value=value, max_results=limit)
    return _matches(matches)


async def by_content(request: Request) -> JSONResponse:
    """``POST /matches/byContent``: the uploaded excerpt's watermark, else its fingerprint."""
    from veriframe.resolver.search import find_by_content

    state = _state(request)
    limit = _max_results(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not ctype.startswith("video/"):
        raise HTTPError(415, "resolver.unsupported-type",
                        f"this resolver matches video only, not {ctype or 'an untyped body'}",
                        "send the excerpt with Content-Type: video/mp4 (or another video/*)")
    client = (request.client.host if request.client else "?")
    wait = state.uploads.take(client)
    if wait > 0:
        raise HTTPError(429, "http.rate-limited", "too many uploads from this client",
                        "wait and retry; the Retry-After header says how long",
                        headers={"Retry-After": str(max(1, int(wait + 0.999)))})
    with tempfile.TemporaryDirectory(prefix="veriframe-resolver-") as tmp:
        path = Path(tmp) / "excerpt.mp4"  # the only name an error message can show
        with path.open("wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
        if path.stat().st_size == 0:
            raise HTTPError(400, "resolver.bad-query", "the request has no body",
                            "send the video excerpt as the request body")
        matches = await state.gate.run(
            lambda: _store_call(find_by_content, path, keys=state.keys, store=state.store,
                                limits=state.config.excerpt_limits, max_results=limit))
    return _matches([m.to_match() for m in matches])


async def manifest(request: Request) -> Response:
    """``GET /manifests/{manifestId}``: the stored manifest store (``application/c2pa``).

    The stored bytes hold the active manifest and its ingredients' manifests only, so
    ``returnActiveManifest`` returns the same bytes either way.
    """
    state = _state(request)
    manifest_id = request.path_params["manifest_id"]
    if not valid_manifest_id(manifest_id):
        raise HTTPError(400, "resolver.bad-manifest-id", "that is not a C2PA manifest id",
                        "manifest ids look like urn:c2pa:<uuid>")
    record = _store_call(state.store.get_by_label, manifest_id)  # indexed, as byBinding
    if record is None:
        raise HTTPError(404, "resolver.not-found", "no manifest with that id here",
                        "check the id; the manifest may be on another resolver")
    return Response(record.manifest_store, media_type="application/c2pa")


async def publish(request: Request) -> JSONResponse:
    """``POST /manifests``: a signer registers a signed manifest store (bearer token)."""
    from veriframe.resolver.search import register_manifest

    state = _state(request)
    if not state.tokens.configured:
        raise HTTPError(403, "http.forbidden", "publishing is disabled on this resolver",
                        "its operator enables it with `veriframe resolver token`")
    state.tokens.check(request.headers.get("authorization"))
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/c2pa":
        raise HTTPError(415, "resolver.unsupported-type", "publish a manifest store as "
                        "application/c2pa", "send the bytes `veriframe sign` stored")
    data = await request.body()
    try:
        record = await run_in_threadpool(_store_call, register_manifest, state.store, data,
                                         trust=state.trust)
    except VeriframeError as exc:
        if exc.kind is ErrorKind.INPUT:
            raise HTTPError(422, exc.code, exc.message, exc.hint) from None
        raise
    return JSONResponse({"manifestId": record.manifest_label}, status_code=201)


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
            "403": {"description": "Publishing disabled"},
            "415": {"description": "Not application/c2pa"},
            "422": {"description": "The manifest does not validate or has no veriframe "
                    "soft binding"}}}}
    doc["components"]["securitySchemes"]["bearer"] = {"type": "http", "scheme": "bearer"}
    return doc
