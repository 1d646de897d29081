"""Fixtures for the security tests: a private home with keys, and clips signed once per session.

Everything here passes ``home=`` explicitly, so the session home never leaks into other tests
through the environment; CLI tests point ``VERIFRAME_HOME`` at it with ``monkeypatch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clipgen import make_clip

PASSPHRASE = "s3cret-Passphrase-for-tests-0451"

# Hostile strings that end up in a signed manifest (title, model, parameters).
HOSTILE = {
    "clear": "\x1b[2Jcleared",
    "osc8": "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "cr": "signed by Reuters\rFAKE",
    "bidi": "evil\u202egpj.mp4",
    "script": "<script>alert(1)</script>",
    "quotes": "\"'`><img src=x onerror=alert(2)>",
    "markup": "[bold red]TRUSTED[/] [link=https://evil.example]x[/link] [/]",
    "long": "A" * 5000,
    "nul": "before\x00after",
}


@dataclass(frozen=True)
class SignedSet:
    """A home with keys and the clips signed with them."""

    home: Path
    source: Path
    signed: Path
    payload_id: str


@pytest.fixture(scope="session")
def security_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A veriframe home with freshly initialised keys (shared by this folder's tests)."""
    from veriframe.credentials.keys import init_keys

    home = tmp_path_factory.mktemp("sec") / "home"
    init_keys(org="Security Tests", passphrase=PASSPHRASE, home=home)
    return home


@pytest.fixture(scope="session")
def signed_set(security_home: Path, tmp_path_factory: pytest.TempPathFactory) -> SignedSet:
    """A 1 s 320x240 clip and its signed, watermarked copy."""
    from veriframe.signing import sign_video

    folder = tmp_path_factory.mktemp("signed")
    src = make_clip(folder / "src.mp4", seconds=1.0, width=320, height=240, fps=12, seed=11)
    out = folder / "signed.mp4"
    result = sign_video(src, output=out, model="test-model", title="plain title",
                        home=security_home, passphrase=PASSPHRASE)
    assert result.payload_id
    return SignedSet(security_home, src, out, result.payload_id)
