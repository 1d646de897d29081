"""The verify service's ASGI app: the page and the API, routes a few lines each.

``create_app(config)`` builds one app (no globals: tests build one per case). The trust
anchors, the detector and the policies are loaded in the lifespan. Before a route runs, the
``Host`` must be one of the service's names and a POST from a browser must come from its own
page (:mod:`veriframe._service.site`), and a client is held to its rate. An upload is refused
before its body is read when the checks' queue (a bounded
:class:`~veriframe._service.admission.Gate`) is full, when too many uploads are arriving, or when
its client already has its share in flight; it must keep a minimum rate after a short grace
period. It is streamed into a private temporary folder, takes its place in the queue once it
has arrived, is checked in a worker thread within a time budget (504) and a decode budget
(the service's share of memory for decoded pictures, divided among its workers), and is
deleted with its folder before the answer leaves.
Errors are JSON with veriframe's stable codes; no answer carries a traceback, a server path or
key material, and the access log holds the route, status, sizes, timing and the verdict only.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from veriframe._service.admission import (
    BodyLimit,
    Gate,
    RateLimit,
    Ticket,
    TokenBuckets,
    UploadPlaces,
)
from veriframe._service.auth import TokenCheck
from veriframe._service.errors import EXCEPTION_HANDLERS, HTTPError
from veriframe._service.headers import DefaultHeaders
from veriframe._service.logs import AccessLog, note
from veriframe._service.multipart import Received, receive_file
from veriframe._service.site import Site, SiteGuard
from veriframe.errors import ErrorKind, PolicyError, ServeError, VeriframeError
from veriframe.media import Limits
from veriframe.results import Verdict
from veriframe.serve.uploads import detect_upload, upload_name, verify_upload
from veriframe.settings import Settings

log = logging.getLogger("veriframe.serve")

MB = 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the small fields
NO_POLICY = "none"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class ServeConfig:
    """How one verify service runs.

    ``settings``: the veriframe home whose trust anchors, watermark keys and manifest store the
    checks use, the decode limits and the soft-binding resolvers. ``policy``: the default
    policy (a shipped name, a TOML file, or ``"none"``); requests may name any shipped policy
    instead. ``token_hashes``: SHA-256 hashes of the bearer tokens the upload routes accept
    (none: no authentication). ``workers`` checks run at once per process and ``queue`` more
    may wait (uploads being received count as waiting); each check has ``timeout_s`` once its
    upload has arrived, and the upload ``upload_timeout_s``. ``work_dir``: where the private
    temporary folders are made (default: the system's; a tmpfs keeps uploads off disk).

    Exposure: ``site`` names the hosts the service answers to and the web origins that may
    post to it (:class:`~veriframe._service.site.Site`). ``decode_budget_bytes`` is the memory
    all checks of one process may hold in decoded pictures together (each of ``workers`` gets
    its share, within ``settings.limits``), ``decode_pixels`` the pixels one check may decode.
    Uploads: at most ``receiving`` arriving at once and ``per_client`` requests in flight per
    client address; after ``upload_grace_s`` an upload must average ``min_upload_rate_bps``.
    ``rate``/``burst``: uploads per second and burst per client address (0: no rate limit).
    """

    settings: Settings
    policy: str = "newsroom"
    token_hashes: tuple[str, ...] = ()
    detector: str = "default"
    max_upload_bytes: int = 500 * MB
    workers: int = 2
    queue: int = 8
    timeout_s: float = 300.0
    upload_timeout_s: float = 600.0
    sample_count: int = 32
    work_dir: Path | None = None
    site: Site = field(default_factory=Site)
    decode_budget_bytes: int = 640 * MB
    decode_pixels: int = 8_000_000_000
    receiving: int = 16
    per_client: int = 4
    min_upload_rate_bps: float = 16 * 1024
    upload_grace_s: float = 10.0
    rate: float = 2.0
    burst: int = 30


@dataclass
class _State:
    config: ServeConfig
    settings: Settings
    verifier: Any  # the Verifier the checks share (a variant per policy and detect flag)
    detector: Any  # a loaded Detector, or its name when it failed to load (reported per check)
    policies: dict[str, Any]
    default_policy: str
    tokens: TokenCheck
    gate: Gate
    uploads: UploadPlaces
    page: bytes


def create_app(config: ServeConfig) -> Starlette:
    """The verify service for ``config`` (serve it with uvicorn).

    Raises ``policy.*`` errors for a default policy that cannot be loaded and
    ``serve.bad-config`` for a ``work_dir`` that is not a folder.
    """
    if config.work_dir is not None and not config.work_dir.is_dir():
        raise ServeError("serve.bad-config", "the work folder does not exist",
                             "create it, or leave --work-dir out")
    loaded, default = _load_policies(config.policy)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from veriframe.serve.page import render_page
        from veriframe.verification import Verifier

        settings = _settings(config)
        verifier = Verifier(settings)
        app.state.serve = _State(
            config=config,
            settings=settings,
            verifier=verifier,
            detector=_load_detector(verifier),
            policies=loaded,
            default_policy=default,
            tokens=TokenCheck(config.token_hashes),
            gate=Gate(workers=config.workers, queue=config.queue, timeout_s=config.timeout_s),
            uploads=UploadPlaces(receiving=config.receiving, per_client=config.per_client),
            page=render_page(policies={n: p.spec.description for n, p in loaded.items()},
                             default_policy=default, auth=bool(config.token_hashes),
                             max_upload_bytes=config.max_upload_bytes,
                             resolvers=settings.resolvers,
                             resolver_mode=settings.resolver_mode),
        )
        yield

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/static/{name}", static, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/v1/policies", policies, methods=["GET"]),
        Route("/v1/verify", verify, methods=["POST"]),
        Route("/v1/report", report, methods=["POST"]),
        Route("/v1/detect", detect, methods=["POST"]),
    ]
    middleware = [
        Middleware(AccessLog, service="serve", hash_client=False),
        Middleware(DefaultHeaders),
        Middleware(SiteGuard, site=config.site),
    ]
    if config.rate > 0:
        middleware.append(Middleware(
            RateLimit, buckets=TokenBuckets(rate=config.rate, burst=config.burst),
            paths=("/v1/",), methods=("POST",)))
    middleware.append(Middleware(BodyLimit, max_bytes=FORM_OVERHEAD,
                                 per_path={"/v1/": config.max_upload_bytes + FORM_OVERHEAD}))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers=EXCEPTION_HANDLERS)


# --- what the lifespan loads -----------------------------------------------------------------

def check_limits(config: ServeConfig) -> Limits:
    """The decode limits of one check: ``settings.limits`` capped by the upload size, the
    workers' share of the decode budget and the pixel budget of a check."""
    share = Limits(max_file_bytes=config.max_upload_bytes,
                   max_decoded_bytes=max(config.decode_budget_bytes // config.workers, 1),
                   max_decoded_pixels=config.decode_pixels)
    return config.settings.limits.capped(share)



def _settings(config: ServeConfig) -> Settings:
    """The settings the checks use: the limits of :func:`check_limits`, the service's
    detector and sample; no policy (each request names its own)."""
    return config.settings.replace(limits=check_limits(config), detector=config.detector,
                                   sample_count=config.sample_count, policy=None)


def _load_policies(default: str) -> tuple[dict[str, Any], str]:
    """Every shipped policy, plus the configured default (by its own name); the default's name."""
    from veriframe.policy import load_policy, shipped_policies

    loaded = {name: load_policy(name) for name in shipped_policies()}
    if default.lower() == NO_POLICY:
        return loaded, NO_POLICY
    chosen = load_policy(default)
    loaded[chosen.name] = chosen
    return loaded, chosen.name


def _load_detector(verifier: Any) -> Any:
    """The verifier's detector, loaded now; its name when it cannot load (reported per check)."""
    loaded = verifier.detector()
    if isinstance(loaded, VeriframeError):
        name = verifier.settings.detector
        log.warning("detector %s not loaded (%s): checks report it", name, loaded.code)
        return name
    return loaded


# --- helpers the routes share -------------------------------------------------------------

def _state(request: Request) -> _State:
    state: _State = request.app.state.serve
    return state


def _flag(fields: Mapping[str, str], name: str, default: bool) -> bool:
    raw = fields.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise HTTPError(400, "http.bad-form", f"{name} must be true or false",
                    f"send {name}=true or {name}=false")


def _policy(state: _State, fields: Mapping[str, str]) -> Any:
    name = fields.get("policy", "").strip() or state.default_policy
    if name.lower() == NO_POLICY:
        return None
    policy = state.policies.get(name)
    if policy is None:
        raise PolicyError("policy.not-found", f"this service has no policy {name[:60]!r}",
                          "GET /v1/policies lists the policies; or send policy=none",
                          kind=ErrorKind.INPUT)
    return policy


def _only(fields: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise HTTPError(400, "http.bad-form", f"unknown form field {unknown[0][:40]!r}",
                        "fields: file, " + ", ".join(allowed))


@asynccontextmanager
async def _upload(request: Request) -> AsyncIterator[tuple[Ticket, Received]]:
    """Authenticate, take a place in the gate, and receive the file into a private folder
    that is deleted (with the file) when the block ends."""
    state = _state(request)
    config = state.config
    if state.tokens.configured:
        state.tokens.check(request.headers.get("authorization"))
    client = request.client.host if request.client else "?"
    with state.uploads.client(client):
        state.gate.full()  # a full queue of checks: refused before the body is read
        with tempfile.TemporaryDirectory(prefix="veriframe-serve-", dir=config.work_dir,
                                         ignore_cleanup_errors=True) as folder:
            with state.uploads.arriving():
                received = await receive_file(
                    request, folder=Path(folder), name_for=upload_name,
                    timeout_s=config.upload_timeout_s, min_rate_bps=config.min_upload_rate_bps,
                    grace_s=config.upload_grace_s)
            # Only an upload that has arrived waits in the queue: slow senders cannot fill it.
            async with state.gate.admit() as ticket:
                yield ticket, received


def _check(state: _State, upload: Received) -> Any:
    """The arguments of :func:`veriframe.serve.uploads.verify_upload` for this request."""
    _only(upload.fields, ("policy", "detect"))
    verifier = state.verifier.variant(policy=_policy(state, upload.fields),
                                      detect=_flag(upload.fields, "detect", True))
    return partial(verify_upload, upload.path, verifier=verifier)


def _bundle(call: Any) -> tuple[Any, str, str]:
    """Verify, then render both reports (in the worker thread: rendering is CPU work too)."""
    from veriframe.report import render_html, render_json

    result = call()
    if result.report.verdict is Verdict.ERROR:
        return result.report, "", ""
    return (result.report, render_json(result.report),
            render_html(result.report, sample=result.sample))


# --- routes ---------------------------------------------------------------------------------

async def page(request: Request) -> Response:
    """``GET /``: the page (file picker, drop zone, progress, the report)."""
    from veriframe.serve.page import PAGE_HEADERS

    return Response(_state(request).page, media_type="text/html; charset=utf-8",
                    headers=PAGE_HEADERS)


async def static(request: Request) -> Response:
    """``GET /static/{name}``: the page's script and stylesheets (no other file exists)."""
    from veriframe.serve.page import static_file

    body, media_type = static_file(request.path_params["name"])
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


async def health(request: Request) -> JSONResponse:
    """``GET /health``: up, whether uploads need a token, and how full the queue is."""
    from veriframe._version import __version__

    state = _state(request)
    return JSONResponse({"status": "ok", "version": __version__,
                         "auth": state.tokens.configured, "busy": state.gate.admitted,
                         "capacity": state.gate.capacity, "arriving": state.uploads.receiving})


async def openapi(request: Request) -> JSONResponse:
    """``GET /openapi.json``: this service's OpenAPI 3.1 document."""
    from veriframe.serve.openapi import openapi_document

    state = _state(request)
    return JSONResponse(openapi_document(auth=state.tokens.configured,
                                         servers=state.config.site.servers()))


async def policies(request: Request) -> JSONResponse:
    """``GET /v1/policies``: the policies a request may name, and the default."""
    state = _state(request)
    return JSONResponse({"default": state.default_policy, "policies": [
        {"name": name, "description": p.spec.description}
        for name, p in sorted(state.policies.items())]})


async def verify(request: Request) -> Response:
    """``POST /v1/verify``: the ``veriframe.verify/1.2`` document for the uploaded file."""
    from veriframe.report import render_json

    state = _state(request)
    async with _upload(request) as (ticket, upload):
        result = await ticket.run(_check(state, upload))
    note(request.scope, verdict=result.report.verdict.value)
    result.report.raise_for_error()
    return Response(render_json(result.report), media_type="application/json")


async def report(request: Request) -> JSONResponse:
    """``POST /v1/report``: the verify JSON and the HTML report, as text (for the page)."""
    state = _state(request)
    async with _upload(request) as (ticket, upload):
        found, as_json, as_html = await ticket.run(_bundle, _check(state, upload))
    note(request.scope, verdict=found.verdict.value)
    found.raise_for_error()
    return JSONResponse({"verdict": found.verdict.value, "json": as_json, "html": as_html})


async def detect(request: Request) -> JSONResponse:
    """``POST /v1/detect``: only the detector's estimate, as ``veriframe detect --json``."""
    state = _state(request)
    async with _upload(request) as (ticket, upload):
        _only(upload.fields, ("policy", "metadata"))
        check = await ticket.run(partial(
            detect_upload, upload.path, detector=state.detector, limits=state.settings.limits,
            policy=_policy(state, upload.fields),
            use_metadata=_flag(upload.fields, "metadata", True)))
        name = upload.path.name
    return JSONResponse({"file": name, "detection": check.to_dict()})
