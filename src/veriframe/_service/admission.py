"""Limits that keep a service up under load or abuse: body size, request rate, concurrency.

- :class:`BodyLimit` (ASGI middleware): refuses a declared ``Content-Length`` over the limit
  before reading anything, and stops a chunked body as soon as it passes the limit (413).
- :class:`RateLimit` (ASGI middleware): a token bucket per client address (429 with
  ``Retry-After``). Behind a proxy, run uvicorn with ``--forwarded-allow-ips`` so the client
  address is the real one.
- :class:`Gate`: at most ``workers`` jobs run at once and at most ``queue`` wait; more is
  refused with 503 and ``Retry-After`` instead of queueing without bound. A full gate is
  refused before a body is read (:meth:`Gate.full`). Jobs run in threads with a time budget; a
  job past its budget answers 504 while its thread finishes (a thread cannot be killed), still
  holding its slot, so the bound on work stays true.
- :class:`UploadPlaces`: uploads still arriving are counted apart from the gate (so slow
  senders cannot fill the queue of checks): at most ``receiving`` at once, and at most
  ``per_client`` requests in flight per client address (429 with ``Retry-After``).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veriframe._service.errors import HTTPError, error_response

T = TypeVar("T")


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (per path prefix overrides in ``per_path``)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int,
                 per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})

    def _limit(self, path: str) -> int:
        for prefix, limit in self.per_path.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        declared = dict(scope.get("headers") or {}).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await self._refuse(scope, receive, send, limit)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(
            413, "http.too-large", f"the request body is over the limit of {limit} bytes",
            "send a smaller file (for a video: a shorter excerpt)",
            headers={"Connection": "close"})
        await response(scope, receive, send)


class TokenBuckets:
    """Token buckets per key: ``rate`` tokens per second, bursts of ``burst``; LRU-bounded."""

    def __init__(self, *, rate: float, burst: int, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens for ``key``: 0.0 when allowed, else seconds until allowed."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (cost - tokens) / self.rate if self.rate > 0 else math.inf
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


class RateLimit:
    """429 with ``Retry-After`` when a client address exceeds its bucket on limited paths."""

    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets,
                 paths: Iterable[str] = ("/",), exempt: Iterable[str] = ("/health",),
                 methods: Iterable[str] | None = None) -> None:
        self.app = app
        self.buckets = buckets
        self.paths = tuple(paths)
        self.exempt = tuple(exempt)
        self.methods = None if methods is None else frozenset(m.upper() for m in methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or path in self.exempt
                or not path.startswith(self.paths)
                or (self.methods is not None and scope.get("method") not in self.methods)):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("?", 0)
        wait = self.buckets.take(str(client[0]))
        if wait > 0:
            response = error_response(
                429, "http.rate-limited", "too many requests from this client",
                "wait and retry; the Retry-After header says how long",
                headers={"Retry-After": str(max(1, math.ceil(wait)))})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Gate:
    """Bounded concurrency for expensive work: ``workers`` at once, ``queue`` waiting.

    :meth:`run` admits and runs in one step. A route that must read a large request body first
    takes its place with :meth:`admit` *before* reading it (a full gate then answers 503 without
    accepting the upload), reads the body, and runs the job with :meth:`Ticket.run`: the time
    budget starts there, so a slow upload does not eat the budget of the work.
    """

    def __init__(self, *, workers: int, queue: int, timeout_s: float,
                 retry_after_s: int = 5) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("workers must be >= 1 and queue >= 0")
        self.workers = workers
        self.queue = queue
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._admitted = 0
        self._sem: anyio.Semaphore | None = None  # made in the event loop on first use
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def admitted(self) -> int:
        """Jobs running or waiting now (and, with :meth:`admit`, uploads being received)."""
        return self._admitted

    @property
    def capacity(self) -> int:
        """How many jobs may be admitted at once: ``workers + queue``."""
        return self.workers + self.queue

    def full(self) -> None:
        """Raise ``http.busy`` (503) now if no place is free (checked before reading a body)."""
        if self._admitted >= self.capacity:
            raise self._busy()

    def _busy(self) -> HTTPError:
        return HTTPError(503, "http.busy", "the service is at capacity",
                         "retry later; the Retry-After header says when",
                         headers={"Retry-After": str(self.retry_after_s),
                                  "Connection": "close"})

    def admit(self) -> Ticket:
        """Take a place now, or raise ``http.busy`` (503 with ``Retry-After``) when full.

        Use the ticket as an async context manager: leaving it gives the place back, unless a
        job is still running in its thread (that job gives it back when it really ends).
        """
        if self._sem is None or self._limiter is None:
            self._sem = anyio.Semaphore(self.workers)
            self._limiter = anyio.CapacityLimiter(self.workers)
        if self._admitted >= self.capacity:
            raise self._busy()
        self._admitted += 1
        return Ticket(self, self._sem, self._limiter)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a worker thread under the limits (503 full, 504 past budget)."""
        async with self.admit() as ticket:
            return await ticket.run(fn, *args)

    def _leave(self) -> None:
        self._admitted -= 1

    def _timeout(self) -> HTTPError:
        return HTTPError(504, "http.timeout", f"the request took longer than {self.timeout_s:g} s",
                         "retry with a shorter excerpt, or later")


class Ticket:
    """A place in a :class:`Gate`, taken by :meth:`Gate.admit`; runs at most one job."""

    def __init__(self, gate: Gate, sem: anyio.Semaphore, limiter: anyio.CapacityLimiter) -> None:
        self._gate = gate
        self._sem = sem
        self._limiter = limiter
        self._holds_place = True
        self._holds_slot = False
        self._thread_owns = False  # a started job gives the place back when it ends

    async def __aenter__(self) -> Ticket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._thread_owns:
            self._release()

    def _release(self) -> None:  # always runs in the event loop; idempotent
        if self._holds_slot:
            self._holds_slot = False
            self._sem.release()
        if self._holds_place:
            self._holds_place = False
            self._gate._leave()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Wait for a worker slot and run ``fn(*args)`` in a thread, within the time budget."""
        if not self._holds_place or self._holds_slot or self._thread_owns:
            raise RuntimeError("a ticket runs one job, inside its context")
        gate = self._gate
        deadline = time.monotonic() + gate.timeout_s
        try:
            with anyio.fail_after(gate.timeout_s):
                await self._sem.acquire()
        except TimeoutError:
            raise gate._timeout() from None
        self._holds_slot = True

        def job() -> T:
            self._thread_owns = True
            try:
                return fn(*args)
            finally:
                # The place is freed when the work really ends, even after a 504: a thread
                # cannot be stopped, so it keeps counting against the bound until it returns.
                with contextlib.suppress(Exception):
                    anyio.from_thread.run_sync(self._release)

        try:
            with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                return await anyio.to_thread.run_sync(job, limiter=self._limiter,
                                                      abandon_on_cancel=True)
        except TimeoutError:
            raise gate._timeout() from None
        finally:
            if not self._thread_owns:
                self._release()  # cancelled before a thread took the job: it will never run


class UploadPlaces:
    """Uploads in flight: ``receiving`` bodies arriving at once, ``per_client`` requests per
    client address (from its arrival to its answer).

    Both are counted in the event loop (no lock needed). Refusals come before the body is read:
    503 ``http.busy`` when every receiving place is taken, 429 ``http.too-many-uploads`` when
    the client already has ``per_client`` requests in flight; both with ``Retry-After``.
    """

    def __init__(self, *, receiving: int, per_client: int, retry_after_s: int = 5) -> None:
        if receiving < 1 or per_client < 1:
            raise ValueError("receiving and per_client must be >= 1")
        self.limit = receiving
        self.per_client = per_client
        self.retry_after_s = retry_after_s
        self.receiving = 0
        self._clients: dict[str, int] = {}

    @contextlib.contextmanager
    def client(self, address: str) -> Iterator[None]:
        """Count one request of ``address`` for the duration of the block."""
        held = self._clients.get(address, 0)
        if held >= self.per_client:
            raise HTTPError(429, "http.too-many-uploads",
                            f"this client already has {held} uploads in flight",
                            "wait for an answer before sending more",
                            headers={"Retry-After": str(self.retry_after_s),
                                     "Connection": "close"})
        self._clients[address] = held + 1
        try:
            yield
        finally:
            left = self._clients.get(address, 1) - 1
            if left > 0:
                self._clients[address] = left
            else:
                self._clients.pop(address, None)

    @contextlib.contextmanager
    def arriving(self) -> Iterator[None]:
        """Take a receiving place for the duration of the block (503 when none is free)."""
        if self.receiving >= self.limit:
            raise HTTPError(503, "http.busy", "too many uploads are arriving at once",
                            "retry later; the Retry-After header says when",
                            headers={"Retry-After": str(self.retry_after_s),
                                     "Connection": "close"})
        self.receiving += 1
        try:
            yield
        finally:
            self.receiving -= 1
