"""Shared by the load benchmarks: wait for a server started on 127.0.0.1 to answer /health,
and let a benchmark stopped by SIGTERM (``timeout``, a CI job) stop the servers it started."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit`` in the main thread, so the ``finally`` blocks that stop
    the benchmark's servers run (by default SIGTERM ends Python at once and leaves them
    running, answering nobody)."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def wait_until_healthy(proc: subprocess.Popen[bytes], port: int, *, seconds: float,
                       what: str) -> subprocess.Popen[bytes]:
    """Return ``proc`` once ``GET /health`` answers 200; kill it and exit after ``seconds``."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{what} did not start: "
                     + (proc.stderr.read().decode()[-2000:] if proc.stderr else ""))
