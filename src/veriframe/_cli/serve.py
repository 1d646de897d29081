"""``veriframe serve``: the verify service (a private web page and an HTTP API)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import typer

from veriframe._cli._common import (
    err_console,
    guarded,
    resolver_mode_option,
    serve_app,
    settings,
)

CONFIG_ENV = "VERIFRAME_SERVE_CONFIG"  # passes the config to uvicorn's worker processes
TOKEN_ENV = "VERIFRAME_SERVE_TOKEN"  # bearer token(s) for the API, separated by commas
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve)


def _config(*, store: Path | None, trust: Path | None, policy: str, resolvers: list[str],
            resolver_mode: str, concurrency: int, queue: int, timeout: float,
            max_upload_mb: int, samples: int, work_dir: Path | None,
            detector: str = "default", host: str = "127.0.0.1", port: int = 8080,
            allowed_hosts: list[str] | None = None, allowed_origins: list[str] | None = None,
            public_url: str | None = None, decode_budget_mb: int = 640,
            rate: float = 2.0, burst: int = 30, per_client: int = 4,
            min_upload_kbps: float = 16.0) -> dict[str, Any]:
    """The service's config from options and ``VERIFRAME_*``: plain JSON, token hashes only."""
    from veriframe._service.auth import hash_token
    from veriframe._service.site import WILDCARD_BINDS, normalise_origin
    from veriframe.errors import ServeError

    for origin in allowed_origins or ():
        if normalise_origin(origin) is None:
            raise ServeError("serve.bad-option", f"--allowed-origin {origin!r} is not a web "
                                 "origin", "give scheme://host[:port], e.g. https://cms.example")
    if public_url is None and host not in WILDCARD_BINDS:
        public_url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    cfg = settings(store=store, trust=trust, resolvers=resolvers,
                   resolver_mode=resolver_mode_option(resolver_mode, error=ServeError,
                                                       code="serve.bad-option"))
    tokens = [t.strip() for t in os.environ.get(TOKEN_ENV, "").split(",") if t.strip()]
    return {
        "home": str(cfg.home), "store": str(cfg.store_path),
        "trust": None if cfg.trust_file is None else str(cfg.trust_file),
        "keys": [str(p) for p in cfg.watermark_key_files],
        "limits": dataclasses.asdict(cfg.limits),
        "resolvers": list(cfg.resolvers), "resolver_mode": cfg.resolver_mode,
        "tokens": [hash_token(t) for t in tokens], "policy": policy, "detector": detector,
        "workers": concurrency, "queue": queue, "timeout_s": timeout,
        "max_upload_bytes": max_upload_mb * 1024 * 1024, "samples": samples,
        "work_dir": None if work_dir is None else str(work_dir),
        "site": {"bind": host, "hosts": list(allowed_hosts or ()),
                 "origins": list(allowed_origins or ()), "public_url": public_url},
        "decode_budget_bytes": decode_budget_mb * 1024 * 1024, "rate": rate, "burst": burst,
        "per_client": per_client, "min_upload_rate_bps": min_upload_kbps * 1024,
    }


def build_app(config: dict[str, Any]) -> Any:
    """The verify service for a serialised config (one per uvicorn worker)."""
    from veriframe._service.site import site_for
    from veriframe.media import Limits
    from veriframe.serve import ServeConfig, create_app
    from veriframe.settings import Settings

    site = config["site"]
    st = Settings(home=Path(config["home"]), store=Path(config["store"]),
                  trust_file=Path(config["trust"]) if config["trust"] else None,
                  limits=Limits(**config["limits"]),
                  watermark_key_files=tuple(Path(k) for k in config["keys"]),
                  resolvers=tuple(config["resolvers"]), resolver_mode=config["resolver_mode"])
    return create_app(ServeConfig(
        settings=st, policy=config["policy"], token_hashes=tuple(config["tokens"]),
        detector=config["detector"],
        workers=int(config["workers"]), queue=int(config["queue"]),
        timeout_s=float(config["timeout_s"]), max_upload_bytes=int(config["max_upload_bytes"]),
        sample_count=int(config["samples"]),
        work_dir=Path(config["work_dir"]) if config["work_dir"] else None,
        site=site_for(site["bind"], site["hosts"], site["origins"], site["public_url"]),
        decode_budget_bytes=int(config["decode_budget_bytes"]),
        rate=float(config["rate"]), burst=int(config["burst"]),
        per_client=int(config["per_client"]),
        min_upload_rate_bps=float(config["min_upload_rate_bps"])))


def app_from_env() -> Any:
    """uvicorn factory for ``--workers N``: the config the parent command put in the env."""
    return build_app(json.loads(os.environ[CONFIG_ENV]))


@guarded(json_flag=None)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Worker processes (each loads the detector once)."),
    policy: str = typer.Option("newsroom", "--policy", envvar="VERIFRAME_POLICY",
                               help="Default policy: a shipped name, a TOML file, or 'none'. "
                               "Requests may name any shipped policy."),
    resolver: list[str] = typer.Option(
        [], "--resolver", help="A soft-binding resolver to ask when a clip has no valid "
        "manifest (repeatable; also VERIFRAME_RESOLVERS)."),
    resolver_mode: str = typer.Option(
        "fingerprint", "--resolver-mode", help="What resolvers get: 'fingerprint' (the "
        "default here: no pixels of an upload leave this machine), 'excerpt' or 'both'."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=64,
                                    help="Checks running at once, per process."),
    queue: int = typer.Option(8, "--queue", min=0, max=1024,
                              help="Uploads that may wait for a check; beyond: 503."),
    timeout: float = typer.Option(300.0, "--timeout", min=1.0,
                                  help="Seconds a check may take once uploaded; beyond: 504."),
    max_upload_mb: int = typer.Option(500, "--max-upload-mb", min=1,
                                      help="Largest upload in MB (1 MB = 2^20 bytes)."),
    samples: int = typer.Option(32, "--samples", min=1, max=256,
                                help="Frames sampled for the checks."),
    detector: str = typer.Option("default", "--detector", envvar="VERIFRAME_DETECTOR",
                                 help="Detector name or model folder."),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", help="Where uploads are held while checked (default: the "
        "system's temporary folder; a tmpfs keeps them off disk)."),
    store: Path | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE"),
    trust: Path | None = typer.Option(None, "--trust", envvar="VERIFRAME_TRUST",
                                      help="PEM file of trust anchors."),
    forwarded_allow_ips: str | None = typer.Option(
        None, "--forwarded-allow-ips",
        help="Trust X-Forwarded-* from these proxy addresses (behind a TLS proxy)."),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="Another host name this service answers to, e.g. the "
        "proxy's public name (repeatable; '*' turns the Host check off). Always allowed: "
        "--host, localhost, 127.0.0.1, [::1]."),
    allowed_origin: list[str] = typer.Option(
        [], "--allowed-origin", help="A web origin whose pages may post to the API "
        "(repeatable), e.g. https://cms.example. The service's own page always may."),
    public_url: str | None = typer.Option(
        None, "--public-url", help="The service's base URL as clients see it (for "
        "/openapi.json; its host name is allowed too). Default: http://HOST:PORT."),
    decode_budget_mb: int = typer.Option(
        640, "--decode-budget-mb", min=16, help="Memory all checks of a process may hold in "
        "decoded pictures, shared among --concurrency (within VERIFRAME_MAX_DECODED_BYTES)."),
    rate: float = typer.Option(2.0, "--rate", min=0.0,
                               help="Uploads per second per client address (0: no limit)."),
    burst: int = typer.Option(30, "--burst", min=1, help="Uploads a client may burst."),
    per_client: int = typer.Option(
        4, "--per-client", min=1, max=1024, help="Uploads one client address may have in "
        "flight (raise it when many users share one address, e.g. an office NAT)."),
    min_upload_kbps: float = typer.Option(
        16.0, "--min-upload-kbps", min=0.0, help="After 10 s, the slowest average upload rate "
        "accepted, in KiB/s (0: none); slower uploads are cut with 408."),
) -> None:
    """Serve the verify page and API: uploads are checked in a temporary folder and deleted
    after the answer. Set VERIFRAME_SERVE_TOKEN to require a bearer token on uploads."""

    config = _config(store=store, trust=trust, policy=policy, resolvers=resolver,
                     resolver_mode=resolver_mode, concurrency=concurrency, queue=queue,
                     timeout=timeout, max_upload_mb=max_upload_mb, samples=samples,
                     work_dir=work_dir, detector=detector, host=host, port=port,
                     allowed_hosts=allowed_host, allowed_origins=allowed_origin,
                     public_url=public_url, decode_budget_mb=decode_budget_mb, rate=rate,
                     burst=burst, per_client=per_client, min_upload_kbps=min_upload_kbps)
    build_app(config)  # a bad policy or work folder fails here, with its message
    console = err_console()
    auth = f"uploads need a bearer token ({TOKEN_ENV})" if config["tokens"] else "no token"
    console.print(f"verify service on http://{host}:{port} ({auth}; policy {policy}; "
                  f"{concurrency} checks at once, {queue} waiting)", markup=False)
    if not config["tokens"] and host not in _LOOPBACK:
        console.print(f"warning: listening on {host} without {TOKEN_ENV}: anyone who can reach "
                      "this address can send files to check", markup=False)
    serve_app(build_app, config, factory="veriframe._cli.serve:app_from_env",
              env_name=CONFIG_ENV, host=host, port=port, workers=workers,
              forwarded_allow_ips=forwarded_allow_ips)
