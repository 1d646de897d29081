"""JSON request bodies read with a size and a nesting limit: a bad body is a 400, never a 500.

``json.loads`` recurses once per nesting level, so a 100k-deep array raised ``RecursionError``
(a 500). The depth is counted first, outside strings, in one linear pass.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from veriframe._service.errors import HTTPError
from veriframe.errors import ResolverError

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in ``data`` (strings skipped)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_json(data: bytes, *, max_bytes: int, max_depth: int, example: str) -> dict[str, Any]:
    """``data`` as a JSON object; 413 over ``max_bytes``, 400 for anything else that is not a
    JSON object at most ``max_depth`` deep."""
    if len(data) > max_bytes:
        raise HTTPError(413, "http.too-large", f"the JSON body is over {max_bytes} bytes",
                        example)
    if json_depth(data) > max_depth:
        raise ResolverError("resolver.bad-query", f"the JSON body is nested deeper than "
                        f"{max_depth} levels", example, status=400)
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ResolverError("resolver.bad-query", "the body is not JSON", example,
                            status=400) from None
    if not isinstance(doc, dict):
        raise ResolverError("resolver.bad-query", "the body is not a JSON object", example,
                            status=400)
    return doc


async def read_json(request: Request, *, max_bytes: int, max_depth: int,
                    example: str) -> dict[str, Any]:
    """The request's body as a bounded JSON object (see :func:`parse_json`)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPError(413, "http.too-large", f"the JSON body is over {max_bytes} bytes",
                            example)
        chunks.append(chunk)
    return parse_json(b"".join(chunks), max_bytes=max_bytes, max_depth=max_depth,
                      example=example)
