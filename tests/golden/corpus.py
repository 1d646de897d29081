"""The golden corpus: public files whose ``veriframe verify --json`` output is pinned.

The documents under ``tests/golden/verify/`` were written by ``python -m tests.golden.corpus``
and are compared byte for byte by ``tests/golden/test_golden_verify.py``: a refactor must not
change a single key or value of the ``veriframe.verify/1.2`` JSON. When a change is meant to alter
the output (a new schema minor version, a retrained detector, a new watermark), rerun this
module and say in the commit which fields changed and why.

Inputs are read from ``../shared`` (never copied into the repository): every public C2PA
conformance file, and four clips (two real, two synthetic). Verification runs from the shared
folder with relative paths (so ``file.path`` is stable), in a home that holds only a fixed
benchmark watermark key (so the watermark search runs) and no signing keys, trust anchors or
manifest store.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
from contextlib import redirect_stdout
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = (REPO / ".." / "shared").resolve()
GOLDEN = Path(__file__).resolve().parent / "verify"
WATERMARK_SECRET = bytes.fromhex("5a" * 32)  # a fixed test key, not a real signer's key
CLIPS = (
    "clips/real/ControlVideo__data_moonwalk.mp4",
    "clips/real/FRESCO__data_dog.mp4",
    "clips/synthetic/CogVideo__resources_videos_1.mp4",
    "clips/synthetic/EasyAnimate__asset_1.mp4",
)


def corpus() -> list[str]:
    """Relative paths (from ``../shared``) of every file in the golden corpus."""
    with open(SHARED / "c2pa" / "INDEX.csv", newline="") as fh:
        files = [f"c2pa/{row['file']}" for row in csv.DictReader(fh)]
    return files + [c for c in CLIPS if (SHARED / c).is_file()]


def golden_name(rel: str) -> str:
    """The golden file name for one corpus path."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", rel) + ".json"


def make_home(root: Path) -> Path:
    """A veriframe home with only the fixed watermark key (0600, as the keyring requires)."""
    keys = root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    key = keys / "watermark.key"
    key.write_bytes(WATERMARK_SECRET)
    os.chmod(key, 0o600)
    return root


def verify_json(rel: str, main: object) -> tuple[int, str]:
    """Run ``veriframe verify REL --json`` in-process (cwd must be ``../shared``)."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["verify", rel, "--json"])  # type: ignore[operator]
    return int(code), buf.getvalue()


def regenerate() -> None:
    """Rewrite every golden document from the current code."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VERIFRAME_HOME"] = str(make_home(Path(tmp) / "home"))
        for var in ("VERIFRAME_TRUST", "VERIFRAME_STORE", "VERIFRAME_POLICY",
                    "VERIFRAME_WATERMARK_KEYS"):
            os.environ.pop(var, None)
        main = _cli_main()
        os.chdir(SHARED)
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for rel in corpus():
            code, out = verify_json(rel, main)
            (GOLDEN / golden_name(rel)).write_text(f"exit {code}\n{out}", encoding="utf-8")
            print(f"{code} {rel}", file=sys.stderr)


def _cli_main() -> object:
    try:
        from veriframe._cli import main  # type: ignore[import-not-found]
    except ImportError:  # before the CLI moved into veriframe._cli
        from veriframe._cli import main  # type: ignore[no-redef]
    return main


if __name__ == "__main__":
    regenerate()
