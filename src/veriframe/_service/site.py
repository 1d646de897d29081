"""Which host names a service answers to, and which web origins may post to it.

A service on 127.0.0.1 is reachable from any web page its user opens: a page on
``evil.example`` can re-point its own name at 127.0.0.1 (DNS rebinding) and then read the
answers as same-origin, or post a form to the service directly (a cross-site request). Two
checks close both, as ASGI middleware (:class:`SiteGuard`), before any route runs:

- **Host**: the ``Host`` header must name this service: one of the names in
  :class:`Site` (the address it binds, ``localhost``, ``127.0.0.1``, ``[::1]`` and the names
  added with ``--allowed-host``); an IP literal is accepted too when the service binds every
  address (a rebinding page always sends its own *name*). Anything else: 421
  ``http.bad-host``.
- **Origin**: a state-changing request (any method but GET, HEAD and OPTIONS) that a browser
  marks as coming from another origin (``Origin`` not this service's own origin, ``Origin:
  null``, or ``Sec-Fetch-Site: cross-site``/``same-site``) is refused: 403
  ``http.cross-origin``, unless that origin is configured (``allowed_origins``, or the origin
  of ``public_url``). Clients that
  are not browsers send no ``Origin`` and are not affected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from veriframe._service.errors import error_response

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::", "*")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def normalise_host(name: str) -> str:
    """A host name as compared: lower case, no brackets, no trailing dot."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name.rstrip(".")


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` header value -> (name, port); None when it is not a well-formed host."""
    value = value.strip()
    if not value or any(c in value for c in "/\\@?# \t"):
        return None
    port: int | None = None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1:]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    else:
        name, sep, raw = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
        if sep:
            if not raw.isdigit():
                return None
            port = int(raw)
    if port is not None and not 0 < port < 65536:
        return None
    name = normalise_host(name)
    return (name, port) if name else None


def normalise_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` with the default port dropped, lower case; None if malformed."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    shown = f"[{host}]" if ":" in host else host
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{shown}"
    return f"{parts.scheme}://{shown}:{port}"


@dataclass(frozen=True)
class Site:
    """What a service answers as.

    ``bind``: the address it listens on; ``allowed_hosts``: more host names it answers to (a
    reverse proxy's public name; ``"*"`` turns the Host check off, for a proxy that checks it
    itself); ``allowed_origins``: web origins (``https://cms.example``) whose pages may post
    to it besides its own; ``public_url``: its base URL as clients see it, for the OpenAPI
    document's ``servers`` (None: the relative ``/``).
    """

    bind: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    public_url: str | None = None

    def __post_init__(self) -> None:
        for origin in self.allowed_origins:
            if normalise_origin(origin) is None:
                raise ValueError(f"not a web origin: {origin!r} (e.g. https://cms.example)")

    @cached_property
    def host_names(self) -> frozenset[str]:
        """The host names accepted in ``Host`` (without ports)."""
        names = set(LOOPBACK_NAMES)
        for given in self.allowed_hosts:
            parsed = split_host(given)  # a name given with a port counts for every port
            names.add(parsed[0] if parsed else normalise_host(given))
        if normalise_host(self.bind) not in WILDCARD_BINDS:
            names.add(normalise_host(self.bind))
        if self.public_url:
            host = urlsplit(self.public_url).hostname
            if host:
                names.add(normalise_host(host))
        return frozenset(names)

    @property
    def any_host(self) -> bool:
        return "*" in self.allowed_hosts

    def host_allowed(self, name: str) -> bool:
        """Whether a ``Host`` name (normalised, no port) is this service's."""
        if self.any_host or name in self.host_names:
            return True
        # Binding every address, the service is also reached by each of the machine's IPs:
        # an IP literal cannot be a rebinding page's name, so it is safe to accept.
        return normalise_host(self.bind) in WILDCARD_BINDS and _ip(name)

    @cached_property
    def origins(self) -> frozenset[str]:
        """The configured origins that may post, and the origin of ``public_url`` (a proxy
        may pass its upstream's address as ``Host``, so the page's own origin is not always
        the one ``Host`` names)."""
        found = {normalise_origin(o) for o in self.allowed_origins}
        if self.public_url:
            found.add(normalise_origin(self.public_url))
        return frozenset(o for o in found if o)

    def origin_allowed(self, origin: str) -> bool:
        """Whether a configured origin (beyond the service's own) may post."""
        wanted = normalise_origin(origin)
        return wanted is not None and wanted in self.origins

    def servers(self) -> list[dict[str, str]]:
        """The OpenAPI ``servers`` entry: from configuration, never from a request."""
        return [{"url": (self.public_url or "/").rstrip("/") or "/"}]


def _header(scope: Scope, name: bytes) -> str | None:
    values = [v for k, v in scope.get("headers") or () if k.lower() == name]
    if len(values) != 1:
        return None if not values else "\x00"  # repeated: never well-formed
    return values[0].decode("latin-1")


def _same_origin(origin: str, host: tuple[str, int | None], scheme: str) -> bool:
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    o_port = port if port is not None else _DEFAULT_PORTS[parts.scheme]
    name, h_port = host
    if h_port is None:
        # A Host without a port means the default port of the scheme the client used; behind
        # a TLS proxy that is the origin's (https), whatever the scheme on this side.
        h_port = _DEFAULT_PORTS[parts.scheme]
    return normalise_host(parts.hostname) == name and o_port == h_port


class SiteGuard:
    """ASGI middleware: the Host allow-list and the Origin check of :class:`Site`."""

    def __init__(self, app: ASGIApp, *, site: Site) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw_host = _header(scope, b"host")
        host = split_host(raw_host) if raw_host is not None else None
        if host is None or not self.site.host_allowed(host[0]):
            response = error_response(
                421, "http.bad-host", "this service does not answer to that host name",
                "use the address the service was started on; its operator adds a proxy's "
                "name with --allowed-host", headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        if scope.get("method", "GET") not in _SAFE_METHODS and not self._origin_ok(scope, host):
            response = error_response(
                403, "http.cross-origin", "requests from other web sites are refused",
                "post from this service's own page or from a client that is not a browser; "
                "its operator allows a site with --allowed-origin")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _origin_ok(self, scope: Scope, host: tuple[str, int | None]) -> bool:
        origin = _header(scope, b"origin")
        fetch_site = (_header(scope, b"sec-fetch-site") or "").strip().lower()
        if origin is None:
            # No Origin: not a browser, or a browser's same-origin request from an old engine.
            return fetch_site not in ("cross-site", "same-site")
        if _same_origin(origin, host, str(scope.get("scheme", "http"))):
            return True
        return self.site.origin_allowed(origin)


def site_for(bind: str, hosts: Iterable[str] = (), origins: Iterable[str] = (),
             public_url: str | None = None) -> Site:
    """A :class:`Site` from command-line values (host names without ports)."""
    return Site(bind=bind, allowed_hosts=tuple(h for h in hosts if h.strip()),
                allowed_origins=tuple(o for o in origins if o.strip()), public_url=public_url)
