"""The process pool behind ``Moderator.review_many``: bounded, self-healing, with deadlines.

Each worker builds its own reviewer (a :class:`~veriframe.moderation.Moderator`, from the
picklable config it gives, whose ``cls`` names its class) once, in the initializer. A
bounded window of files is in flight (millions of paths never become millions of futures);
results come back in completion order. A file that kills its worker is rerun on its own and,
if it kills that worker too, becomes an ``error`` result; a file that overruns its hard
deadline has its worker stopped; the other files are retried.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from veriframe._text import clean_text

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Reviewer(Protocol[R_co]):
    """What the pool needs of a moderator (kept as a protocol so the pool stays below it)."""

    timeout_s: float | None

    def _config(self) -> dict[str, Any]: ...

    def warm(self) -> None: ...

    def review(self, path: str) -> R_co: ...

    def error_result(self, path: str, *, code: str, message: str, hint: str = "") -> R_co: ...


# Hard backstop in the parent: a file may take this multiple of its budget (+ grace) from
# submission before its worker is killed (it may have waited behind one other file).
_HARD_FACTOR = 3.0
_HARD_GRACE_S = 30.0

_WORKER: Reviewer[Any] | None = None
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _init_worker(config: dict[str, Any]) -> None:
    """Process-pool initializer: build this worker's reviewer and load its models once."""
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    config = dict(config)
    cls = config.pop("cls")
    _WORKER = cls(config.pop("policy"), **config)
    _WORKER.warm()


def _review_in_worker(path: str) -> Any:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.review(path)


def _mp_context() -> Any:
    # Not fork: the parent may run threads (progress bars) whose locks a fork would copy.
    # Not forkserver: its server keeps the state of the moment it started. Spawn costs an
    # interpreter start per worker, once per pool.
    return multiprocessing.get_context("spawn")


@dataclass
class _Task:
    path: str
    deadline: float | None
    isolated: bool


class PoolRun(Generic[R]):
    """One ``review_many`` run: a bounded window over a process pool that heals itself."""

    def __init__(self, moderator: Reviewer[R], *, workers: int, window: int) -> None:
        self.moderator = moderator
        self.workers = workers
        self.window = max(1, window)
        budget = moderator.timeout_s
        self.hard_s = None if budget is None else budget * _HARD_FACTOR + _HARD_GRACE_S
        self.pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        # One BLAS/OpenMP thread per worker: the pool already runs a worker per core, and a
        # worker's numpy reads these at import, so they must be in the environment its
        # spawned interpreter inherits (a value the user set is kept).
        for name in _ONE_THREAD:
            os.environ.setdefault(name, "1")
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=_mp_context(),
                                   initializer=_init_worker,
                                   initargs=(self.moderator._config(),))

    def _kill(self) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            return
        procs = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.kill()
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.join(timeout=5)

    def run(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[R]:
        source = iter(paths)
        exhausted = False
        suspects: deque[str] = deque()  # in flight when a worker died: rerun one at a time
        inflight: dict[Future[R], _Task] = {}
        mod = self.moderator
        try:
            while True:
                crashed: list[_Task] = []
                if suspects:
                    if not inflight:
                        path = suspects.popleft()
                        if not self._submit(inflight, path, isolated=True):
                            crashed.append(_Task(path, None, isolated=False))
                else:
                    while not exhausted and len(inflight) < self.window:
                        nxt = next(source, None)
                        if nxt is None:
                            exhausted = True
                            break
                        path = os.fspath(nxt)
                        if not self._submit(inflight, path, isolated=False):
                            crashed.append(_Task(path, None, isolated=False))
                            break
                if not inflight and not crashed:
                    if suspects:
                        continue
                    return
                if not crashed:
                    done, _ = wait(list(inflight), timeout=1.0, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = inflight.pop(fut)
                        try:
                            yield fut.result()
                        except BrokenProcessPool:
                            crashed.append(task)
                        except Exception as exc:
                            yield mod.error_result(task.path, code="scan.worker-failed",
                                                   message=f"{type(exc).__name__}: "
                                                           f"{clean_text(exc, max_len=300)}")
                if crashed:
                    # Every file in flight shares the blame until rerun on its own.
                    crashed.extend(inflight.values())
                    inflight.clear()
                    self._kill()
                    for task in crashed:
                        if task.isolated:
                            yield mod.error_result(
                                task.path, code="scan.worker-crashed",
                                message="the worker process died while checking this file",
                                hint="the file may exploit a decoder bug; inspect it offline")
                        else:
                            suspects.append(task.path)
                    continue
                now = time.monotonic()
                overdue = [f for f, t in inflight.items() if t.deadline and now > t.deadline]
                if overdue:
                    for fut in overdue:
                        task = inflight.pop(fut)
                        yield mod.error_result(
                            task.path, code="scan.timeout",
                            message="the file did not finish within its wall-clock budget "
                                    "and its worker was stopped",
                            hint="raise --timeout-per-file, or check the file")
                    suspects.extend(t.path for t in inflight.values())
                    inflight.clear()
                    self._kill()
        finally:
            self._kill()

    def _submit(self, inflight: dict[Future[R], _Task], path: str, *,
                isolated: bool) -> bool:
        """Submit ``path``; False when the pool turned out to be broken."""
        if self.pool is None:
            self.pool = self._start()
        deadline = None if self.hard_s is None else time.monotonic() + self.hard_s
        try:
            fut = self.pool.submit(_review_in_worker, path)
        except BrokenProcessPool:  # a worker died between two submissions
            return False
        inflight[fut] = _Task(path, deadline, isolated)
        return True


