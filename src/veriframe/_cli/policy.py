"""``veriframe policy check|show|list``: validate and inspect moderation policies."""

from __future__ import annotations

import typer

from veriframe._cli._common import err_console, group, guarded, out_console, print_json

policy_app = group(help="Check and inspect moderation policies (TOML).")


def register(app: typer.Typer) -> None:
    """Add the ``policy`` command group to ``app``."""
    app.add_typer(policy_app, name="policy")


@policy_app.command("check")
@guarded()
def check(
    policy: str = typer.Argument(..., help="Policy file (.toml) or shipped policy name."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Validate a policy file. Exit 0 when valid; 1 with error[code] when not."""
    from veriframe._text import clean_text
    from veriframe.policy import load_policy

    spec = load_policy(policy).spec
    if as_json:
        print_json({"policy": spec.name, "source": spec.source, "valid": True})
        return
    console = err_console()
    console.print(f"ok: policy {clean_text(spec.name)!r} from "
                  f"{clean_text(spec.source or policy)} is valid", markup=False)
    if spec.description:
        console.print(f"  {clean_text(spec.description)}", markup=False)


@policy_app.command("show")
@guarded(json_flag=None)
def show(
    policy: str = typer.Argument(..., help="Policy file (.toml) or shipped policy name."),
) -> None:
    """Print a policy file (validated first), e.g. to start your own from it."""
    from veriframe.policy import load_policy, policy_path

    load_policy(policy)
    text = policy_path(policy).read_text(encoding="utf-8")
    out_console().print(text, markup=False, highlight=False, end="")


@policy_app.command("list")
@guarded(json_flag=None)
def list_() -> None:
    """List the shipped policies."""
    from veriframe._text import clean_text
    from veriframe.policy import load_policy, shipped_policies

    console = out_console()
    for name in shipped_policies():
        desc = load_policy(name).spec.description
        console.print(f"{name:10} {clean_text(desc)}", markup=False)
