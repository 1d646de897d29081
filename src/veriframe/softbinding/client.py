"""A client of one C2PA Soft Binding Resolution API (httpx, synchronous, bounded).

Every call has a timeout, every answer a size bound; an unreachable, slow, refusing or garbled
resolver raises :class:`~veriframe.softbinding.protocol.ResolverError` with a stable code
(``resolver.unreachable``, ``resolver.timeout``, ``resolver.refused``,
``resolver.invalid-response``, ``resolver.too-large``) and never anything else. Nothing a
resolver answers is trusted: manifests are validated by the caller.
"""

from __future__ import annotations

import json
import urllib.parse
from types import TracebackType
from typing import Any

from veriframe.softbinding.protocol import (
    Match,
    ResolverError,
    parse_alg_list,
    parse_query_result,
    valid_manifest_id,
)

DEFAULT_TIMEOUT_S = 10.0
MAX_JSON_BYTES = 1 << 20
MAX_MANIFEST_BYTES = 16 << 20
MAX_GET_URL = 2000  # longer binding queries go by POST, as the API asks


def check_url(url: str) -> str:
    """A resolver base URL: http(s), with a host, no credentials or query; without the
    trailing slash. ``resolver.bad-url`` otherwise."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username \
            or parts.password or parts.query or parts.fragment:
        raise ResolverError("resolver.bad-url", f"{url!r} is not a resolver URL",
                            "give the API's base URL, e.g. https://resolver.example.org/v1")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class ResolverClient:
    """Queries the resolver at ``url`` (its base URL, e.g. ``https://host/v1``)."""

    def __init__(self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 token: str | None = None, transport: Any = None) -> None:
        import httpx

        self.url = check_url(url)
        headers = {"User-Agent": "veriframe", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers,
                                  follow_redirects=False, transport=transport)

    def __enter__(self) -> ResolverClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- the API ----------------------------------------------------------------------
    def supported_algorithms(self) -> dict[str, list[str]]:
        """``GET /services/supportedAlgorithms``."""
        doc = self._json("GET", "/services/supportedAlgorithms")
        return parse_alg_list(doc, source=self.url)

    def by_binding(self, alg: str, value: str, *, max_results: int = 10) -> list[Match]:
        """``GET /matches/byBinding`` (``POST`` when the value is too long for a URL)."""
        query = urllib.parse.urlencode({"alg": alg, "value": value, "maxResults": max_results})
        if len(self.url) + len(query) + 20 <= MAX_GET_URL:
            doc = self._json("GET", f"/matches/byBinding?{query}")
        else:
            doc = self._json("POST", f"/matches/byBinding?maxResults={max_results}",
                             json_body={"alg": alg, "value": value})
        return parse_query_result(doc, source=self.url)

    def by_content(self, data: bytes, *, content_type: str = "video/mp4",
                   max_results: int = 10) -> list[Match]:
        """``POST /matches/byContent`` with the asset (an excerpt) as the request body."""
        doc = self._json("POST", f"/matches/byContent?maxResults={max_results}",
                         content=data, content_type=content_type)
        return parse_query_result(doc, source=self.url)

    def manifest(self, manifest_id: str) -> bytes:
        """``GET /manifests/{manifestId}``: the manifest store bytes (``application/c2pa``)."""
        if not valid_manifest_id(manifest_id):
            raise ResolverError("resolver.invalid-response",
                                f"{manifest_id[:80]!r} is not a C2PA manifest id",
                                "the resolver is broken or not a C2PA soft-binding resolver")
        path = "/manifests/" + urllib.parse.quote(manifest_id, safe="")
        return self._bytes("GET", path, accept="application/c2pa", limit=MAX_MANIFEST_BYTES)

    def publish(self, manifest_store: bytes) -> dict[str, Any]:
        """``POST /manifests`` (veriframe's extension): register a signed manifest store."""
        body = self._bytes("POST", "/manifests", content=manifest_store,
                           content_type="application/c2pa", limit=MAX_JSON_BYTES)
        doc = _loads(body, self.url)
        if not isinstance(doc, dict) or not isinstance(doc.get("manifestId"), str):
            raise ResolverError("resolver.invalid-response",
                                f"the resolver at {self.url} did not confirm the manifest",
                                "check the resolver's version and logs")
        return doc

    # --- transport --------------------------------------------------------------------
    def _json(self, method: str, path: str, *, json_body: Any = None, content: bytes | None = None,
              content_type: str | None = None) -> Any:
        if json_body is not None:
            content = json.dumps(json_body).encode("utf-8")
            content_type = "application/json"
        body = self._bytes(method, path, content=content, content_type=content_type,
                           limit=MAX_JSON_BYTES)
        return _loads(body, self.url)

    def _bytes(self, method: str, path: str, *, content: bytes | None = None,
               content_type: str | None = None, accept: str | None = None,
               limit: int) -> bytes:
        import httpx

        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        try:
            with self._http.stream(method, self.url + path, content=content,
                                   headers=headers) as response:
                if response.status_code not in (200, 201):
                    raise _refused(self.url, response.status_code, response.headers,
                                   _error_code(response))
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    raise _too_large(self.url, limit)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(self.url, limit)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.TimeoutException:
            raise ResolverError("resolver.timeout", f"the resolver at {self.url} did not "
                                "answer in time", "try again later, or raise the timeout") \
                from None
        except (httpx.TransportError, httpx.InvalidURL, httpx.TooManyRedirects):
            raise ResolverError("resolver.unreachable", f"the resolver at {self.url} cannot "
                                "be reached", "check the URL and the network") from None
        except httpx.HTTPError:
            raise ResolverError("resolver.invalid-response", f"the resolver at {self.url} "
                                "broke the HTTP protocol", "the resolver is broken") from None


def _loads(body: bytes, source: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ResolverError("resolver.invalid-response",
                            f"the resolver at {source} did not answer with JSON",
                            "the resolver is broken or not a soft-binding resolver") from None


def _error_code(response: Any) -> str | None:
    """The stable code of a veriframe-style error answer (read at most 4 KB), if any."""
    try:
        head = b""
        for chunk in response.iter_bytes():
            head += chunk
            if len(head) > 4096:
                return None
        doc = json.loads(head)
        code = doc.get("error", {}).get("code") if isinstance(doc, dict) else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return code if isinstance(code, str) and len(code) < 80 and code.isprintable() else None


def _refused(source: str, status: int, headers: Any, code: str | None = None) -> ResolverError:
    why = f" ({code})" if code else ""
    if status == 409:
        return ResolverError("resolver.conflict", f"the resolver at {source} already holds "
                             f"another record for that manifest or payload id{why}",
                             "a published manifest is never replaced: sign again")
    if status in (403, 415, 422) and code and code.startswith("resolver."):
        return ResolverError("resolver.refused", f"the resolver at {source} refused the "
                             f"request ({status} {code})",
                             "check that this signer and watermark key may publish there")
    if status == 404:
        return ResolverError("resolver.not-found", f"the resolver at {source} has no such "
                             "manifest or route (404)", "check the URL")
    if status in (401, 403):
        return ResolverError("resolver.refused", f"the resolver at {source} refused the "
                             f"request ({status}): a token is needed or not valid",
                             "set VERIFRAME_RESOLVER_TOKEN to a token the resolver accepts")
    if status in (429, 503):
        wait = headers.get("retry-after", "")
        return ResolverError("resolver.busy", f"the resolver at {source} is busy ({status})",
                             f"retry in {wait} s" if wait.isdigit() else "retry later")
    return ResolverError("resolver.invalid-response",
                         f"the resolver at {source} answered HTTP {status}",
                         "the resolver failed or refused the request")


def _too_large(source: str, limit: int) -> ResolverError:
    return ResolverError("resolver.too-large", f"the resolver at {source} sent more than "
                         f"{limit} bytes", "the resolver is broken or hostile")
