"""``veriframe verify``: check a video's provenance; a report, JSON or HTML, and an exit code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from veriframe._cli._common import (
    err_console,
    guarded,
    out_console,
    report_error,
    resolver_mode_option,
    settings,
    write_stdout,
)

VERIFY_HELP = """Check a video's provenance: C2PA credentials, the veriframe watermark (recovering a
stripped manifest through it), the synthetic-content detector, and a policy decision.

Exit codes: 0 credentials valid (with --require-trusted: trusted), or recovered through the
watermark; 2 tampered or invalid (with --require-trusted: also valid but untrusted);
3 no provenance found (no manifest and none recovered through a watermark);
4 unsupported or unreadable input; 1 operational error.
"""


def register(app: typer.Typer) -> None:
    """Add ``verify`` to ``app``."""
    app.command("verify", help=VERIFY_HELP)(verify)


@guarded()
def verify(
    path: Path = typer.Argument(..., help="The file to check."),
    as_json: bool = typer.Option(
        False, "--json", help="One JSON document on stdout (veriframe.verify/1.2)."
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
    resolver: list[str] = typer.Option(
        [], "--resolver", help="A soft-binding resolver to ask when the clip has no valid "
        "manifest (repeatable; also VERIFRAME_RESOLVERS and the policy's resolvers)."),
    resolver_mode: str = typer.Option(
        "both", "--resolver-mode", help="What resolvers get: 'fingerprint' (no pixels leave "
        "this machine), 'excerpt' (the sampled frames) or 'both' (the excerpt only if the "
        "fingerprint recovers nothing)."),
) -> None:
    """Check a video's provenance (see the exit codes above)."""
    from veriframe._atomic import write_bytes_atomic
    from veriframe.errors import VerifyError
    from veriframe.verification import Verifier

    cfg = settings(store=store, trust=trust, resolvers=resolver,
                   resolver_mode=resolver_mode_option(resolver_mode, error=VerifyError,
                                                       code="verify.bad-option"))
    cfg = dataclasses.replace(cfg, policy=None if (policy or "").lower() == "none" else policy,
                              detector="default" if detect else None, sample_count=samples)
    with err_console().status("verifying…"):
        result = Verifier(cfg).verify(path)
    report = result.report
    if html is not None:
        from veriframe.report import render_html

        write_bytes_atomic(html, render_html(report, sample=result.sample).encode("utf-8"))
    if as_json:
        from veriframe.report import render_json

        write_stdout(render_json(report))
    else:
        from veriframe.report import render_terminal

        render_terminal(report, console=out_console())
        if report.error is not None:
            report_error(report.error.to_exception())
    raise typer.Exit(int(report.exit_code(require_trusted=require_trusted)))
