"""``POST /matches/byReference``: fetching an asset a client names, without becoming a proxy.

A resolver that fetches URLs for anyone can be turned against the network it sits in (SSRF).
So it fetches only when its operator turned it on (:class:`ReferencePolicy`), only from hosts
on the allow-list, only over the allowed schemes (HTTPS), only to public addresses (every
address the name resolves to is checked, and the connection goes to the checked address, so a
second DNS answer cannot point it elsewhere), never following a redirect, at most
``assetLength`` and ``max_bytes`` bytes, within ``timeout_s``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from veriframe._service.errors import HTTPError
from veriframe.errors import ResolverError


@dataclass(frozen=True)
class ReferencePolicy:
    """What ``byReference`` may fetch. ``allow_hosts``: exact host names (or ``*.example.org``
    for its subdomains). ``allow_private_addresses`` is for tests on 127.0.0.1 only."""

    allow_hosts: tuple[str, ...]
    schemes: tuple[str, ...] = ("https",)
    max_bytes: int = 64 << 20
    timeout_s: float = 20.0
    allow_private_addresses: bool = False


def _refused(message: str, hint: str = "ask the resolver's operator which hosts it fetches "
             "from") -> ResolverError:
    return ResolverError("resolver.reference-refused", message, hint, status=403)


def _host_allowed(host: str, allow: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allow:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*.") and host.endswith(entry[1:]) and host != entry[2:]:
            return True
        if host == entry:
            return True
    return False


def check_reference(url: str, policy: ReferencePolicy) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for ``url``; 400/403 otherwise."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in policy.schemes or not parts.hostname or parts.username \
            or parts.password or len(url) > 2048:
        raise ResolverError("resolver.bad-query",
                        f"referenceUrl must be a {'/'.join(policy.schemes)} URL without "
                        "credentials", "e.g. https://media.example.org/clip.mp4", status=400)
    host = parts.hostname
    if not _host_allowed(host, policy.allow_hosts):
        raise _refused("that host is not on this resolver's allow-list")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ResolverError("resolver.bad-query", "the referenceUrl's port is not valid",
                        "e.g. https://media.example.org/clip.mp4", status=400) from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ResolverError("resolver.reference-unreachable", "the reference host does not "
                        "resolve", "check the URL", status=502) from None
    # Every address is checked; IPv4 first (a service often listens on one family only).
    addresses = sorted({str(info[4][0]) for info in infos}, key=lambda a: (":" in a, a))
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global and not policy.allow_private_addresses:
            raise _refused("the reference host resolves to a private address")
    return parts.scheme, host, port, addresses[0]


def fetch_reference(url: str, asset_length: int, path: Path, *, policy: ReferencePolicy) -> None:
    """Download ``url`` into ``path`` under ``policy`` (see the module docstring)."""
    import httpx

    scheme, host, port, address = check_reference(url, policy)
    limit = min(asset_length, policy.max_bytes)
    if asset_length > policy.max_bytes:
        raise HTTPError(413, "http.too-large", f"assetLength is over {policy.max_bytes} bytes",
                        "send an excerpt with POST /matches/byContent")
    parts = urllib.parse.urlsplit(url.strip())
    literal = f"[{address}]" if ":" in address else address
    target = urllib.parse.urlunsplit((scheme, f"{literal}:{port}", parts.path or "/",
                                      parts.query, ""))
    deadline = time.monotonic() + policy.timeout_s
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    try:
        with httpx.Client(timeout=httpx.Timeout(policy.timeout_s), follow_redirects=False,
                          trust_env=False) as client, \
                client.stream("GET", target, headers={"Host": host, "User-Agent": "veriframe"},
                              extensions=extensions) as response:
            if response.status_code != 200:
                raise ResolverError("resolver.reference-unreachable",
                                f"the reference answered HTTP {response.status_code}",
                                "check the URL (redirects are not followed)", status=502)
            size = 0
            with path.open("wb") as fh:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise HTTPError(413, "http.too-large", "the reference is larger "
                                        "than its assetLength or this resolver's limit",
                                        "give the asset's exact length")
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("reference fetch deadline")
                    fh.write(chunk)
    except httpx.TimeoutException:
        raise HTTPError(504, "http.timeout", "the reference did not arrive in time",
                        "try a smaller asset or upload it") from None
    except httpx.HTTPError:
        raise ResolverError("resolver.reference-unreachable", "the reference cannot be "
                        "fetched", "check the URL", status=502) from None
