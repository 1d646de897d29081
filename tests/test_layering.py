"""The architecture holds: imports run one way, and only the CLI touches typer and the env.

Layers, lowest first (docs/internals.md): ground (errors, results, home, text and file
helpers) -> parts (media, watermark, credentials, detect, policy, report) -> paths (signing,
verification, recovery, moderation, generators, the demo, settings) -> interfaces (the CLI, the
services: resolver, serve, and their toolkit _service). A module may import its own layer and
the ones below, never above; lazy imports inside functions count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "veriframe"

LAYERS: dict[str, int] = {
    **dict.fromkeys(("errors", "results", "home", "_text", "_atomic", "_version",
                     "_resources", "_hashing", "_lazy"), 0),
    **dict.fromkeys(("media", "watermark", "credentials", "detect", "policy", "report",
                     "integrity", "softbinding"), 1),
    **dict.fromkeys(("settings", "signing", "verification", "moderation", "generators",
                     "demo", "recovery"), 2),
    **dict.fromkeys(("_cli", "_service", "resolver", "serve"), 3),
}
NAMES = {0: "ground", 1: "part", 2: "path", 3: "interface"}
CLI_ONLY = ("typer", "rich.console", "veriframe._cli")
# The HTTP services and their shared toolkit: interfaces, like the CLI, but they must not
# import the CLI or read the environment either.


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out.append((".".join(["veriframe", *parts]), path))
    return out


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "veriframe" or len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


def test_every_package_has_a_layer() -> None:
    top = {m.split(".")[1] for m, _ in _modules() if m.count(".") >= 1}
    assert top <= set(LAYERS), f"give these a layer in LAYERS: {sorted(top - set(LAYERS))}"


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_imports_run_one_way(module: str, path: Path) -> None:
    own = _layer(module)
    if own is None:
        return
    wrong = sorted({name for name in _imports(path)
                    if (layer := _layer(name)) is not None and layer > own})
    assert not wrong, f"{module} ({NAMES[own]}) imports a higher layer: {wrong}"


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_only_the_cli_imports_typer_rich_console_or_the_cli(module: str, path: Path) -> None:
    if module.startswith("veriframe._cli"):
        return
    bad = sorted({n for n in _imports(path)
                  if any(n == c or n.startswith(c + ".") for c in CLI_ONLY)})
    assert not bad, f"{module} imports {bad}: only veriframe._cli may"


# Modules below the CLI that may touch the environment, and why.
ENV_ALLOWED = {
    "veriframe.generators.loading": "HF_HOME / HF_HUB_CACHE locate downloaded model weights",
    "veriframe.generators.external": "an external tool's process inherits the environment",
    "veriframe.moderation.pool": "spawned scan workers inherit one BLAS/OpenMP thread each",
}


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_only_the_cli_reads_the_environment(module: str, path: Path) -> None:
    if module.startswith("veriframe._cli") or module in ENV_ALLOWED:
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
            pytest.fail(f"{module} reads the environment (line {node.lineno}); resolve it "
                        "in veriframe._cli and pass it down in Settings")


def test_verify_and_sign_paths_stay_light() -> None:
    code = (
        "import sys, veriframe.verification, veriframe.signing\n"
        "names = ('typer', 'sklearn', 'skops', 'torch', 'veriframe._cli')\n"
        "print(','.join(sorted(m for m in names if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_verify_without_keys_or_detector_loads_no_scipy(small_clip: Path, tmp_path: Path) -> None:
    # the mark search's SciPy is imported beside the decode only when a key will use it
    code = (
        "import sys\n"
        "from veriframe.verification import verify\n"
        f"report = verify({str(small_clip)!r}, home={str(tmp_path)!r}, detector=None)\n"
        "print(report.watermark.state.value,\n"
        "      sorted({m.split('.')[0] for m in sys.modules if m.startswith('scipy')}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["not_checked", "[]"]


def test_detect_runtime_loads_none_of_the_lab() -> None:
    code = (
        "import sys, veriframe.detect\n"
        "from veriframe.detect import Detector\n"
        "print(','.join(sorted(m for m in sys.modules\n"
        "                      if m.startswith('veriframe.detect.lab') or m == 'sklearn')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
