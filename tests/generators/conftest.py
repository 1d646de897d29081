"""Fixtures for the generation tests: tiny models built once per session, keys, a LoRA."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HAVE_GEN = all(importlib.util.find_spec(m) for m in ("torch", "diffusers", "transformers"))
needs_generate = pytest.mark.skipif(not HAVE_GEN, reason="needs the [generate] extra")
PORTRAIT = Path(__file__).resolve().parents[2] / "examples" / "assets" / "portrait.jpg"


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session veriframe home holding the tiny builds (made on first use)."""
    return tmp_path_factory.mktemp("tinyhome")


@pytest.fixture(scope="session")
def tiny_wan_dir(tiny_home: Path) -> Path:
    """The tiny Wan I2V build, saved with save_pretrained."""
    if not HAVE_GEN:
        pytest.skip("needs the [generate] extra")
    from veriframe.generators.tiny import ensure_tiny

    return ensure_tiny("tiny-wan", home=tiny_home)


@pytest.fixture()
def keys_home(vf_home: Path) -> Path:
    """A veriframe home with signing keys."""
    pytest.importorskip("c2pa")
    from veriframe.credentials.keys import init_keys

    init_keys(org="veriframe tests", passphrase="correct horse battery staple", home=vf_home)
    return vf_home
