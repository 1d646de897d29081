"""``veriframe resolver serve|token|audit``: run the soft-binding resolver on this home's keys."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from veriframe._cli._common import err_console, group, guarded, home, serve_app, settings

resolver_app = group(help="The C2PA soft-binding resolver: let others find your manifests "
                     "again after a platform stripped them.")
token_app = typer.Typer(help="Tokens of this resolver: add, list, revoke (effective at the "
                        "next request, without a restart).", rich_markup_mode=None,
                        add_completion=False, invoke_without_command=True,
                        context_settings={"help_option_names": ["-h", "--help"]})
resolver_app.add_typer(token_app, name="token")
CONFIG_ENV = "VERIFRAME_RESOLVER_CONFIG"  # passes the config to uvicorn's worker processes
STORE_HELP = "The manifest store: a file (SQLite) or a postgresql://user@host/db URL."


def register(app: typer.Typer) -> None:
    """Add the ``resolver`` group to ``app``."""
    app.add_typer(resolver_app, name="resolver")


def _store_location(store: str | None) -> tuple[str | None, Path | None]:
    """(a database URL, a file path): a URL never goes through ``Path`` (which would fold its
    ``//``); an unsupported URL is refused here with ``store.unsupported-url``."""
    from veriframe.credentials import store_location

    if not store:
        return None, None
    kind, where = store_location(store)
    return (where, None) if kind == "postgresql" else (None, Path(where).expanduser())


def _config(*, store: str | None, workers: int, rate: float, burst: int,
            publishers: Path | None, reference_hosts: list[str], host: str = "127.0.0.1",
            allowed_hosts: list[str] | None = None) -> dict[str, Any]:
    from veriframe.resolver.tokens import tokens_path

    url, path = _store_location(store)
    cfg = settings(store=path)
    return {"home": str(cfg.home), "store": url or str(cfg.store_path),
            "keys": [str(p) for p in cfg.watermark_key_files],
            "tokens_file": str(tokens_path(cfg.home)), "detect_workers": workers,
            "rate": rate, "burst": burst,
            "publishers": str(publishers) if publishers is not None else None,
            "reference_hosts": list(reference_hosts),
            "site": {"bind": host, "hosts": list(allowed_hosts or ())}}


def build_app(config: dict[str, Any]) -> Any:
    """The resolver app for a serialised config (one per uvicorn worker)."""
    from veriframe._service.site import site_for
    from veriframe.resolver import ResolverConfig, create_app
    from veriframe.resolver.reference import ReferencePolicy
    from veriframe.settings import Settings

    url = config["store"] if "://" in config["store"] else None
    st = Settings(home=Path(config["home"]), store=None if url else Path(config["store"]),
                  watermark_key_files=tuple(Path(k) for k in config["keys"]))
    hosts = tuple(config.get("reference_hosts") or ())
    site = config.get("site") or {"bind": "127.0.0.1", "hosts": []}
    return create_app(ResolverConfig(
        settings=st, store=url, tokens_file=Path(config["tokens_file"]),
        token_hashes=tuple(config.get("tokens") or ()),
        publishers_file=Path(config["publishers"]) if config.get("publishers") else None,
        reference=ReferencePolicy(allow_hosts=hosts) if hosts else None,
        detect_workers=int(config["detect_workers"]),
        rate=float(config["rate"]), burst=int(config["burst"])),
        site=site_for(site["bind"], site["hosts"]))


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
    store: str | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE",
                                     help=STORE_HELP),
    rate: float = typer.Option(50.0, "--rate", min=0.0,
                               help="Requests per second per client address (0: no limit)."),
    burst: int = typer.Option(200, "--burst", min=1, help="Requests a client may burst."),
    publishers: Path | None = typer.Option(
        None, "--publishers", help="PEM bundle of CA certificates whose signers may publish "
        "here, besides this home's own CA."),
    reference_hosts: list[str] = typer.Option(
        [], "--reference-host", help="Turn on POST /matches/byReference for this host "
        "(HTTPS, public addresses only); repeat for more hosts."),
    forwarded_allow_ips: str | None = typer.Option(
        None, "--forwarded-allow-ips",
        help="Trust X-Forwarded-For from these proxy addresses (behind a TLS proxy)."),
    allowed_host: list[str] = typer.Option(
        [], "--allowed-host", help="Another host name the resolver answers to, e.g. its "
        "public name behind a proxy (repeatable; '*' turns the Host check off). Always "
        "allowed: --host, localhost, 127.0.0.1, [::1]."),
) -> None:
    """Serve the C2PA Soft Binding Resolution API for this home's keys and manifests."""
    from veriframe.credentials import ManifestStore, redact_url

    config = _config(store=store, workers=detect_workers, rate=rate, burst=burst,
                     publishers=publishers, reference_hosts=reference_hosts, host=host,
                     allowed_hosts=allowed_host)
    # Refuse an unreachable database here, with its code, before any worker starts.
    probe = ManifestStore(config["store"])
    probe.ping()
    close = getattr(probe, "close", None)
    if close is not None:
        close()
    console = err_console()
    console.print(f"resolver on http://{host}:{port}; store {redact_url(config['store'])}",
                  markup=False)
    serve_app(build_app, config, factory="veriframe._cli.resolver:app_from_env",
              env_name=CONFIG_ENV, host=host, port=port, workers=workers,
              forwarded_allow_ips=forwarded_allow_ips)


def _where() -> Path:
    from veriframe.settings import Settings

    return home() or Settings().home


def _audit_cli(store: str | None, action: str, name: str) -> None:
    """Note a token change in the store's audit log (best effort: a revocation never waits
    for the database)."""
    from veriframe.credentials import ManifestStore
    from veriframe.errors import VeriframeError

    url, path = _store_location(store)
    try:
        target = ManifestStore(url or settings(store=path).store_path)
        target.audit(actor="operator", action=action, outcome="done", detail=f"token={name}")
    except VeriframeError as exc:
        err_console().print(f"note: the audit log was not written ({exc.code})", markup=False)


@token_app.callback()
@guarded(json_flag=None)
def token(
    ctx: typer.Context,
    name: str | None = typer.Option(None, "--name", help="(older form of `token add NAME`)"),
) -> None:
    """Tokens of this resolver (`veriframe resolver token --name X` still adds one)."""
    if ctx.invoked_subcommand is None:
        if name is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(0)
        _add(name, scopes=None, store=None)


def _add(name: str, *, scopes: list[str] | None, store: str | None) -> None:
    from veriframe.resolver.tokens import DEFAULT_SCOPES, add_token

    value = add_token(_where(), name=name, scopes=scopes or DEFAULT_SCOPES)
    _audit_cli(store, "token.add", name)
    err_console().print(f"token for {name} (shown once; give it to the signer as "
                        "VERIFRAME_RESOLVER_TOKEN):", markup=False)
    typer.echo(value)


@token_app.command("add")
@guarded(json_flag=None)
def token_add(
    name: str = typer.Argument(..., help="Who the token is for (e.g. signer-01)."),
    scope: list[str] = typer.Option(
        [], "--scope", help="fetch:manifests, store:manifests or store:bindings (repeat); "
        "default store:manifests and store:bindings."),
    store: str | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE",
                                     help=STORE_HELP),
) -> None:
    """Make a token (printed once; only its hash is kept in the home)."""
    _add(name, scopes=scope or None, store=store)


@token_app.command("revoke")
@guarded(json_flag=None)
def token_revoke(
    name: str = typer.Argument(..., help="The token's name."),
    store: str | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE",
                                     help=STORE_HELP),
) -> None:
    """Revoke a token: a running resolver refuses it from its next request on."""
    from veriframe.resolver.tokens import revoke_token

    revoke_token(_where(), name=name)
    _audit_cli(store, "token.revoke", name)
    err_console().print(f"token {name} revoked", markup=False)


@token_app.command("list")
@guarded(json_flag="as_json")
def token_list(as_json: bool = typer.Option(False, "--json", help="One JSON document.")) -> None:
    """The tokens: name, scopes, when made (never the token, nor its hash)."""
    from veriframe.resolver.tokens import list_tokens

    tokens = [{"name": t.name, "scopes": list(t.scopes), "created": t.created}
              for t in list_tokens(_where())]
    if as_json:
        typer.echo(json.dumps({"tokens": tokens}))
        return
    for t in tokens:
        typer.echo(f"{t['name']}\t{','.join(t['scopes'])}\t{t['created']}")


@resolver_app.command("audit")
@guarded(json_flag="as_json")
def audit(
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    store: str | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE",
                                     help=STORE_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON document."),
) -> None:
    """The resolver's audit log: every write (who, what, when), newest first."""
    from veriframe.credentials import ManifestStore

    url, path = _store_location(store)
    entries = ManifestStore(url or settings(store=path).store_path).audit_log(limit=limit)
    if as_json:
        typer.echo(json.dumps({"entries": [e.to_dict() for e in entries]}))
        return
    for e in entries:
        typer.echo(f"{e.at}\t{e.actor}\t{e.action}\t{e.outcome}\t{e.manifest_label or '-'}")
