"""``veriframe keys init|show|import|rotate``: the signing identity on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from veriframe._cli._common import (
    err_console,
    group,
    guarded,
    home,
    out_console,
    passphrase_from_env_or_prompt,
    print_json,
)

if TYPE_CHECKING:
    from veriframe.credentials import KeyInfo

keys_app = group("keys", help="Signing keys: a local CA and C2PA signing certificate, or one "
                 "from your CA.")


def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group to ``app``."""
    app.add_typer(keys_app, name="keys")


def _passphrase(*, confirm: bool, prompt: str = "Passphrase for the signing key") -> str:
    value = passphrase_from_env_or_prompt(confirm=confirm, prompt=prompt, required=True)
    assert value is not None
    return value


def _render(info: KeyInfo, *, as_json: bool, headline: str | None = None) -> None:
    from veriframe._text import clean_text

    if as_json:
        print_json(info.to_dict())
        return
    if headline:
        err_console().print(headline, markup=False)
    out = out_console()
    rows = [
        ("subject", info.subject),
        ("issuer", info.issuer),
        ("serial", info.serial_number),
        ("valid", f"{info.not_before} .. {info.not_after}"),
        ("algorithm", info.algorithm),
        ("fingerprint", f"sha256:{info.fingerprint_sha256}"),
        ("CA", f"sha256:{info.ca_fingerprint_sha256}" if info.ca_fingerprint_sha256 else "-"),
        ("source", info.source),
        ("watermark key", info.key_id),
        ("keyring", ", ".join(info.watermark_key_ids)),
        ("archived certs", str(info.archived_certificates)),
        ("folder", info.paths.get("keys", "")),
    ]
    for name, value in rows:
        out.print(f"{name:>15}  {clean_text(value)}", markup=False, highlight=False)


@keys_app.command("init")
@guarded()
def init(
    org: str = typer.Option(..., "--org", help="Organisation named in the certificates."),
    common_name: str | None = typer.Option(
        None, "--cn", help="Common name of the signing certificate (default: ORG C2PA signer)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace existing keys (the old ones are archived)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the key info as JSON."),
) -> None:
    """Create a local root CA, a C2PA signing certificate and a watermark key."""
    from veriframe.credentials import init_keys

    passphrase = _passphrase(confirm=True)
    info = init_keys(org=org, passphrase=passphrase, force=force, common_name=common_name,
                     home=home())
    _render(info, as_json=as_json, headline=f"keys created in {info.paths.get('keys')}")


@keys_app.command("show")
@guarded()
def show(
    as_json: bool = typer.Option(False, "--json", help="Print the key info as JSON."),
) -> None:
    """Show the signing certificate, its CA and the watermark key ids (no secrets)."""
    from veriframe.credentials import show_keys

    _render(show_keys(home=home()), as_json=as_json)


@keys_app.command("import")
@guarded()
def import_(
    chain: Path = typer.Option(..., "--chain", help="PEM chain from your CA, leaf first."),
    key: Path = typer.Option(..., "--key", help="The leaf's PEM private key."),
    key_encrypted: bool = typer.Option(
        False, "--key-encrypted", help="The key file is encrypted: prompt for its passphrase."
    ),
    force: bool = typer.Option(False, "--force", help="Replace existing keys (archived)."),
    as_json: bool = typer.Option(False, "--json", help="Print the key info as JSON."),
) -> None:
    """Use a signing certificate and key issued by a real CA (re-encrypted at rest)."""
    from veriframe.credentials import import_keys

    key_passphrase = None
    if key_encrypted:
        key_passphrase = _passphrase(confirm=False, prompt="Passphrase of the key file")
    passphrase = _passphrase(confirm=True)
    info = import_keys(
        chain=chain, key=key, passphrase=passphrase, key_passphrase=key_passphrase, force=force,
        home=home(),
    )
    _render(info, as_json=as_json, headline="signing certificate imported")


@keys_app.command("rotate")
@guarded()
def rotate(
    as_json: bool = typer.Option(False, "--json", help="Print the key info as JSON."),
) -> None:
    """New signing certificate (same CA) and watermark key; old ones stay valid and known."""
    from veriframe.credentials import rotate_keys

    info = rotate_keys(passphrase=_passphrase(confirm=False), home=home())
    _render(info, as_json=as_json, headline="signing key rotated; the old one is archived")
