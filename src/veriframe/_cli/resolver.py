"""``veriframe resolver serve|token``: run the soft-binding resolver on this home's keys."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from veriframe._cli._common import err_console, group, guarded, home, serve_app, settings

resolver_app = group(help="The C2PA soft-binding resolver: let others find your manifests "
                     "again after a platform stripped them.")
CONFIG_ENV = "VERIFRAME_RESOLVER_CONFIG"  # passes the config to uvicorn's worker processes


def register(app: typer.Typer) -> None:
    """Add the ``resolver`` group to ``app``."""
    app.add_typer(resolver_app, name="resolver")


def _config(*, store: Path | None, workers: int, rate: float, burst: int,
            host: str = "127.0.0.1", allowed_hosts: list[str] | None = None) -> dict[str, Any]:
    from veriframe.resolver.tokens import load_token_hashes

    cfg = settings(store=store)
    return {"home": str(cfg.home), "store": str(cfg.store_path),
            "keys": [str(p) for p in cfg.watermark_key_files],
            "tokens": list(load_token_hashes(cfg.home)), "detect_workers": workers,
            "rate": rate, "burst": burst,
            "site": {"bind": host, "hosts": list(allowed_hosts or ())}}


def build_app(config: dict[str, Any]) -> Any:
    """The resolver app for a serialised config (one per uvicorn worker)."""
    from veriframe._service.site import site_for
    from veriframe.resolver import ResolverConfig, create_app
    from veriframe.settings import Settings

    st = Settings(home=Path(config["home"]), store=Path(config["store"]),
                  watermark_key_files=tuple(Path(k) for k in config["keys"]))
    return create_app(ResolverConfig(settings=st, token_hashes=tuple(config["tokens"]),
                                     detect_workers=int(config["detect_workers"]),
                                     rate=float(config["rate"]), burst=int(config["burst"])),
                      site=site_for(config["site"]["bind"], config["site"]["hosts"]))


def app_from_env() -> Any:
    """uvicorn factory for ``--workers N``: the config the parent command put in the env."""
    return build_app(json.loads(os.environ[CONFIG_ENV]))


@resolver_app.command("serve")
@guarded(json_flag=None)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8090, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Worker processes (each with its own store connection)."),
    detect_workers: int = typer.Option(2, "--detect-workers", min=1, max=64,
                                       help="byContent detections at once, per process."),
    store: Path | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE"),
    rate: float = typer.Option(50.0, "--rate", min=0.0,
                               help="Requests per second per client address (0: no limit)."),
    burst: int = typer.Option(200, "--burst", min=1, help="Requests a client may burst."),
    forwarded_allow_ips: str | None = typer.Option(
        None, "--forwarded-allow-ips",
        help="Trust X-Forwarded-For from these proxy addresses (behind a TLS proxy)."),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="Another host name the resolver answers to, e.g. its "
        "public name behind a proxy (repeatable; '*' turns the Host check off). Always "
        "allowed: --host, localhost, 127.0.0.1, [::1]."),
) -> None:
    """Serve the C2PA Soft Binding Resolution API for this home's keys and manifests."""

    config = _config(store=store, workers=detect_workers, rate=rate, burst=burst, host=host,
                     allowed_hosts=allowed_host)
    console = err_console()
    console.print(f"resolver on http://{host}:{port} ({len(config['tokens'])} publishing "
                  f"token(s)); store {config['store']}", markup=False)
    serve_app(build_app, config, factory="veriframe._cli.resolver:app_from_env",
              env_name=CONFIG_ENV, host=host, port=port, workers=workers,
              forwarded_allow_ips=forwarded_allow_ips)


@resolver_app.command("token")
@guarded(json_flag=None)
def token(
    name: str = typer.Option(..., "--name", help="Who the token is for (e.g. signer-01)."),
) -> None:
    """Make a publishing token (printed once; only its hash is kept in the home)."""
    from veriframe.resolver.tokens import add_token
    from veriframe.settings import Settings

    where = home() or Settings().home
    value = add_token(where, name=name)
    err_console().print(f"token for {name} (shown once; give it to the signer as "
                        "VERIFRAME_RESOLVER_TOKEN):", markup=False)
    typer.echo(value)
