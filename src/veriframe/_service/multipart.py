"""One uploaded file from a ``multipart/form-data`` body, streamed into a folder the caller owns.

The body is parsed as it arrives (python-multipart) and the file part is written straight into
``folder`` (a private temporary folder of the caller): nothing is spooled anywhere else, so
deleting that folder deletes every byte of the upload. Text fields are few and small. Every
refusal is an :class:`~veriframe._service.errors.HTTPError` with a stable code; the size of the
whole body is bounded by the :class:`~veriframe._service.admission.BodyLimit` middleware.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from veriframe._service.errors import HTTPError

MAX_FIELDS = 8
MAX_FIELD_BYTES = 4096
_HINT = "send the file as the multipart/form-data field 'file', e.g. curl -F file=@clip.mp4"


@dataclass
class Received:
    """What a request carried: the file written to ``path``, and its small text fields."""

    path: Path  # inside the caller's folder, named by the caller's ``name_for``
    filename: str  # the name the client sent (untrusted: shown, never used as a path)
    size: int
    fields: dict[str, str] = field(default_factory=dict)


def _bad(message: str) -> HTTPError:
    return HTTPError(400, "http.bad-form", message, _HINT)


class _Parts:
    """python-multipart callbacks: text fields into memory, the one file part into a file."""

    def __init__(self, *, folder: Path, file_field: str, name_for: Callable[[str], str]) -> None:
        self.folder = folder
        self.file_field = file_field
        self.name_for = name_for
        self.fields: dict[str, str] = {}
        self.received: Received | None = None
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._name = ""
        self._data = bytearray()
        self._out: IO[bytes] | None = None
        self.ended = False

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._name = ""
        self._data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise _bad("a form part has no name")
        self._name = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.fields) >= MAX_FIELDS:
                raise _bad(f"more than {MAX_FIELDS} form fields")
            return
        if self._name != self.file_field:
            raise _bad(f"unexpected file field {self._name[:40]!r}")
        if self.received is not None:
            raise _bad("send one file per request")
        filename = options[b"filename"].decode("utf-8", "replace")
        path = self.folder / self.name_for(filename)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._out = os.fdopen(fd, "wb")
        self.received = Received(path=path, filename=filename, size=0)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None and self.received is not None:
            self._out.write(data[start:end])
            self.received.size += end - start
            return
        if len(self._data) + end - start > MAX_FIELD_BYTES:
            raise _bad(f"the form field {self._name[:40]!r} is over {MAX_FIELD_BYTES} bytes")
        self._data += data[start:end]

    def on_part_end(self) -> None:
        if self._out is not None:
            self.close()
        else:
            self.fields[self._name] = self._data.decode("utf-8", "replace")

    def on_end(self) -> None:
        self.ended = True


async def receive_file(request: Request, *, folder: Path, name_for: Callable[[str], str],
                       file_field: str = "file", timeout_s: float = 600.0,
                       min_rate_bps: float = 0.0, grace_s: float = 10.0) -> Received:
    """Stream the request's multipart body into ``folder``; return the file and the fields.

    ``name_for(client_filename)`` gives the file's name inside ``folder`` (it must return a
    plain file name). Raises 415 ``http.not-multipart``, 400 ``http.bad-form`` (malformed,
    too many or too large fields, a second file), 400 ``http.no-file``, 408
    ``http.upload-timeout`` when the body takes longer than ``timeout_s`` to arrive, and 408
    ``http.upload-too-slow`` as soon as, after ``grace_s``, the body has arrived at less than
    ``min_rate_bps`` bytes per second on average (0: no minimum): a client that trickles a
    byte now and then cannot hold its place.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype.lower() != b"multipart/form-data":
        raise HTTPError(415, "http.not-multipart", "the request is not multipart/form-data",
                        _HINT)
    boundary = params.get(b"boundary")
    if not boundary:
        raise _bad("the multipart body has no boundary")
    parts = _Parts(folder=folder, file_field=file_field, name_for=name_for)
    callbacks = {name: getattr(parts, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value",
        "on_header_end", "on_headers_finished", "on_end")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    start = time.monotonic()
    end = start + timeout_s
    received = 0
    chunks = request.stream().__aiter__()
    try:
        while True:
            # Wait for the next chunk until the overall deadline, or until the average rate
            # would fall under the minimum, whichever comes first.
            until = end
            if min_rate_bps > 0:
                until = min(until, start + grace_s + received / min_rate_bps)
            try:
                with anyio.fail_after(max(until - time.monotonic(), 0.0)):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                if time.monotonic() >= end:
                    raise
                raise HTTPError(
                    408, "http.upload-too-slow",
                    f"the upload arrived at under {min_rate_bps / 1024:g} KiB/s",
                    "retry on a faster connection, or send a shorter excerpt",
                    headers={"Connection": "close"}) from None
            received += len(chunk)
            parser.write(chunk)
        parser.finalize()
    except TimeoutError:
        raise HTTPError(408, "http.upload-timeout",
                        f"the upload took longer than {timeout_s:g} s",
                        "retry on a faster connection, or send a shorter excerpt",
                        headers={"Connection": "close"}) from None
    except ClientDisconnect:
        raise HTTPError(400, "http.client-disconnected", "the client went away mid-upload",
                        "") from None
    except FormParserError:
        raise _bad("the multipart body is malformed") from None
    finally:
        parts.close()
    if not parts.ended:
        raise _bad("the multipart body ends before its closing boundary")
    if parts.received is None:
        raise HTTPError(400, "http.no-file", "the request carries no file", _HINT)
    parts.received.fields = parts.fields
    return parts.received
