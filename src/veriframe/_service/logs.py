"""Structured access logs: one JSON line per request, nothing a client sent but the route.

Logged: time, method, the route's path template (``/manifests/{manifestId}``, never the id),
status, request and response bytes, duration, a short hash of the client address (unless the
service turns it off), and what a route notes with :func:`note` from a fixed list
(``verdict``). Never logged: query strings, bodies, headers, tokens, file names or paths.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "veriframe.access"
NOTE_FIELDS = frozenset({"verdict"})  # what a route may add to its access line
_NOTES = "veriframe.access_notes"  # the scope key AccessLog hands to the route


def note(scope: Scope, **fields: str) -> None:
    """Add ``fields`` (names from :data:`NOTE_FIELDS` only) to this request's access line."""
    unknown = set(fields) - NOTE_FIELDS
    if unknown:
        raise ValueError(f"not loggable: {sorted(unknown)}")
    notes = scope.get(_NOTES)
    if isinstance(notes, dict):
        notes.update(fields)


def _route_template(scope: Scope) -> str:
    matched = scope.get("route")  # set by Starlette's router when a route matched
    if matched is not None:
        return str(getattr(matched, "path", "?"))
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "?"))
    return "<unrouted>"


class AccessLog:
    """ASGI middleware writing one JSON access line per HTTP request to ``logger``.

    ``hash_client=False`` leaves the client's address out entirely (not even hashed).
    """

    def __init__(self, app: ASGIApp, *, service: str, logger: logging.Logger | None = None,
                 hash_client: bool = True) -> None:
        self.app = app
        self.service = service
        self.logger = logger or logging.getLogger(ACCESS_LOGGER)
        self.hash_client = hash_client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        sent = 0
        received = 0
        notes: dict[str, str] = {}
        scope[_NOTES] = notes

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, recording_send)
        finally:
            client = (scope.get("client") or ("?", 0))[0]
            record: dict[str, Any] = {
                "ts": round(time.time(), 3),
                "service": self.service,
                "method": scope.get("method"),
                "route": _route_template(scope),
                "status": status,
                "in": received,
                "bytes": sent,
                "ms": round((time.perf_counter() - start) * 1000, 1),
                **{k: v for k, v in notes.items() if k in NOTE_FIELDS},
            }
            if self.hash_client:
                record["client"] = hashlib.sha256(str(client).encode()).hexdigest()[:12]
            self.logger.info(json.dumps(record, separators=(",", ":")))
