"""``veriframe sign``: watermark a video and sign it with C2PA Content Credentials."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from veriframe._cli._common import err_console, guarded, print_json, settings


def register(app: typer.Typer) -> None:
    """Add ``sign`` to ``app``."""
    app.command("sign")(sign)


def parse_params(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs; values that parse as JSON (numbers, booleans) are typed."""
    from veriframe.errors import SignError

    parameters: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SignError(
                "sign.bad-param", f"--param {item!r} is not KEY=VALUE", "e.g. --param seed=42"
            )
        try:
            parameters[key] = json.loads(value)
        except ValueError:
            parameters[key] = value
    return parameters


@guarded()
def sign(
    src: Path = typer.Argument(..., help="Video to sign (mp4, mov, webm, mkv, avi, gif)."),
    output: Path = typer.Option(..., "-o", "--output", help="Signed MP4 to write."),
    model: str | None = typer.Option(None, "--model", help="Model that made it (softwareAgent)."),
    model_version: str | None = typer.Option(None, "--model-version"),
    param: list[str] = typer.Option(
        [], "--param", help="Generation parameter KEY=VALUE (repeatable): effect, seed, steps..."
    ),
    prompt: str | None = typer.Option(
        None, "--prompt", help="The prompt (hashed unless --record-prompt)."
    ),
    record_prompt: bool = typer.Option(
        False, "--record-prompt", help="Record the prompt verbatim."
    ),
    input_image: Path | None = typer.Option(
        None, "--input-image", help="Input image (ingredient)."
    ),
    title: str | None = typer.Option(None, "--title"),
    allow_training: bool = typer.Option(
        False, "--allow-training", help="Allow AI training/mining (not allowed by default)."
    ),
    store: Path | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE"),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing output file (never the input)."
    ),
    publish: str | None = typer.Option(
        None, "--publish", help="Also register the manifest with this soft-binding resolver "
        "(its base URL; the token comes from VERIFRAME_RESOLVER_TOKEN)."),
    tsa: str | None = typer.Option(
        None, "--tsa", envvar="VERIFRAME_TSA_URL", metavar="URL",
        help="RFC 3161 time-stamp authority to time-stamp the signature (fails closed: "
        "nothing is written if it cannot).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Watermark a video and sign it with C2PA Content Credentials (never in place)."""
    from veriframe._text import clean_text
    from veriframe.signing import sign_video

    parameters = parse_params(param)
    publication = None
    if publish is not None:
        from veriframe._cli._common import RESOLVER_TOKEN_ENV
        from veriframe.signing import Publication

        publication = Publication(publish, os.environ.get(RESOLVER_TOKEN_ENV, ""))
    cfg = settings(store=store, passphrase=True)
    with err_console().status("watermarking and signing…"):
        result = sign_video(
            src,
            output=output,
            model=model,
            model_version=model_version,
            parameters=parameters,
            prompt=prompt,
            record_prompt=record_prompt,
            input_image=input_image,
            title=title,
            allow_training=allow_training,
            settings=cfg,
            overwrite=force,
            publish=publication,
            tsa_url=tsa,
        )
    if as_json:
        print_json(result.to_dict())
        return
    console = err_console()
    console.print(f"[green]signed[/] {clean_text(result.output)}")
    console.print(f"  manifest  {clean_text(result.manifest_label or '-')}")
    console.print(f"  watermark payload {result.payload_id}")
    console.print(f"  store     {clean_text(result.store or '-')}")
    for note in result.notes:
        console.print(f"  note: {clean_text(note)}")
