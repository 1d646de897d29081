"""CLI commands of the core paths: ``sign``, ``verify`` and ``demo``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from veriframe._cli_common import err_console, guarded, out_console, print_json
from veriframe.report.text import clean_text

VERIFY_HELP = """Check a video's provenance: C2PA credentials, the veriframe watermark (recovering a
stripped manifest through it), the synthetic-content detector, and a policy decision.

Exit codes: 0 credentials valid (with --require-trusted: trusted), or recovered through the
watermark; 2 tampered or invalid (with --require-trusted: also valid but untrusted);
3 no provenance found (no manifest and none recovered through a watermark);
4 unsupported or unreadable input; 1 operational error.
"""


def register(app: typer.Typer) -> None:
    """Add ``sign``, ``verify`` and ``demo`` to ``app``."""
    app.command("sign")(sign)
    app.command("verify", help=VERIFY_HELP)(verify)
    app.command("demo")(demo)


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
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Watermark a video and sign it with C2PA Content Credentials (never in place)."""
    from veriframe.errors import VeriframeError
    from veriframe.signing import sign_video

    parameters: dict[str, object] = {}
    for item in param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise VeriframeError(
                "sign.bad-param", f"--param {item!r} is not KEY=VALUE", "e.g. --param seed=42"
            )
        parameters[key] = _coerce(value)
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
            store=store,
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


def _coerce(value: str) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return value


@guarded()
def verify(
    path: Path = typer.Argument(..., help="The file to check."),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON document on stdout (veriframe.verify/1)."
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML report."
    ),
    trust: Path | None = typer.Option(
        None, "--trust", envvar="VERIFRAME_TRUST", help="PEM file of trust anchors."
    ),
    require_trusted: bool = typer.Option(
        False, "--require-trusted", help="Exit 2 unless the signer chains to a trust anchor."
    ),
    policy: str | None = typer.Option(
        "newsroom",
        "--policy",
        envvar="VERIFRAME_POLICY",
        help="Policy name or TOML file ('none' to skip).",
    ),
    detect: bool = typer.Option(
        True, "--detect/--no-detect", help="Run the synthetic-content detector."
    ),
    store: Path | None = typer.Option(None, "--store", envvar="VERIFRAME_STORE"),
    samples: int = typer.Option(
        32, "--samples", min=1, max=256, help="Frames sampled for the checks."
    ),
) -> None:
    """Check a video's provenance (see the exit codes above)."""
    from veriframe._atomic import write_bytes_atomic
    from veriframe.report.terminal import render
    from veriframe.verification import exit_code, verify_full

    with err_console().status("verifying…"):
        result = verify_full(
            path,
            trust=trust,
            policy=None if (policy or "").lower() == "none" else policy,
            detector="default" if detect else None,
            store=store,
            sample_count=samples,
        )
    report = result.report
    if html is not None:
        from veriframe.report.html import render_html

        write_bytes_atomic(html, render_html(report, sample=result.sample).encode("utf-8"))
    if as_json:
        print_json(report.to_dict())
    else:
        render(report, console=out_console())
    code = exit_code(report, require_trusted=require_trusted)
    if report.error and not as_json:
        from veriframe._cli_common import report_error
        from veriframe.errors import VeriframeError

        err = report.error
        report_error(
            VeriframeError(err.get("code", "error"), err.get("message", ""), err.get("hint", ""))
        )
    raise typer.Exit(code)


@guarded()
def demo(
    keep: Path | None = typer.Option(None, "--keep", help="Keep the demo files in this folder."),
    tiny_model: bool = typer.Option(
        True,
        "--tiny-model/--no-tiny-model",
        help="Start from a tiny-model generation when torch is installed.",
    ),
) -> None:
    """Run the whole job end to end in a temporary home and print the reports."""
    from veriframe.demo import run_demo

    raise typer.Exit(run_demo(keep=keep, tiny_model=tiny_model))
