"""Serve an ASGI app with uvicorn: one process, or several workers, with graceful shutdown."""

from __future__ import annotations

import logging
from typing import Any

GRACEFUL_SHUTDOWN_S = 20


def serve(app: Any, *, host: str, port: int, workers: int = 1, factory: bool = False,
          proxy_headers: bool = False, forwarded_allow_ips: str | None = None,
          log_level: str = "info") -> None:
    """Run ``app`` under uvicorn until SIGINT/SIGTERM.

    ``workers > 1`` needs ``app`` as an import string (``"module:factory"`` with
    ``factory=True``): uvicorn starts that many processes, each building its own app. On a
    signal uvicorn stops accepting connections and lets requests in flight finish for up to
    ``GRACEFUL_SHUTDOWN_S`` seconds.
    """
    import uvicorn

    logging.getLogger("veriframe.access").setLevel(logging.INFO)
    uvicorn.run(
        app,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        factory=factory,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        access_log=False,  # our AccessLog middleware writes structured lines instead
        log_level=log_level,
        server_header=False,
        log_config=_log_config(),
    )


def _log_config() -> dict[str, Any]:
    """uvicorn's own messages on stderr, and our JSON access lines on stdout, unformatted."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(message)s"},
            "default": {"()": "uvicorn.logging.DefaultFormatter",
                        "fmt": "%(levelprefix)s %(message)s", "use_colors": None},
        },
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler",
                        "stream": "ext://sys.stderr"},
            "access": {"formatter": "plain", "class": "logging.StreamHandler",
                       "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "veriframe.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
