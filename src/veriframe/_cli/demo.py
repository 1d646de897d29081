"""``veriframe demo``: the whole job end to end in a temporary home, with every report."""

from __future__ import annotations

from pathlib import Path

import typer

from veriframe._cli._common import err_console, guarded, out_console


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo)


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
    from veriframe.report import render_terminal

    console, out = err_console(), out_console()
    titles: list[str] = []

    def on_step(title: str, detail: str) -> None:
        if not titles or titles[-1] != title:
            titles.append(title)
            console.rule(f"[bold]{title}")
        console.print(detail, markup=False)

    outcome = run_demo(keep=keep, tiny_model=tiny_model, on_step=on_step)
    for case in outcome.cases:
        console.rule(f"[bold]verify {case.name}")
        render_terminal(case.report, console=out)
    console.rule("[bold]summary")
    for case in outcome.cases:
        mark = "[green]ok[/]" if case.ok else "[red]UNEXPECTED[/]"
        console.print(f"{case.name:22} expected {case.expected:10} got "
                      f"{case.report.verdict.value:10} exit {int(case.report.exit_code())}  "
                      f"{mark}")
    if keep is not None:
        console.print(f"demo files kept in {keep}", markup=False)
    raise typer.Exit(0 if outcome.ok else 1)
