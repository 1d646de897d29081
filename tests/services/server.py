"""Run an ASGI app under a real uvicorn on 127.0.0.1 with an ephemeral port, in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class Running:
    """A started server: its base URL, and a way to stop it (as a crash would, or gracefully)."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, url: str) -> None:
        self.server = server
        self.thread = thread
        self.url = url

    def stop(self) -> None:
        """Ask uvicorn to shut down and wait for it."""
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextmanager
def serve(app: Any) -> Iterator[Running]:
    """Serve ``app`` on a fresh loopback port for the duration of the block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    running = Running(server, thread, f"http://127.0.0.1:{port}")
    try:
        yield running
    finally:
        running.stop()
        sock.close()
