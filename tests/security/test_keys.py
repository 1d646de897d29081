"""Key safety: encrypted at rest, 0600, refused when readable by others, passphrase never shown,
no locals in tracebacks, and rotation that keeps old manifests verifying."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from tests.clipgen import make_clip
from veriframe._cli import app, main
from veriframe.errors import KeysError
from veriframe.home import HomePaths

PASSPHRASE = "Unlikely-Passphrase-7c1e9a"


@pytest.fixture()
def keyed_home(vf_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``vf_home`` with keys made by the CLI under a passphrase we can grep for."""
    monkeypatch.setenv("VERIFRAME_KEY_PASSPHRASE", PASSPHRASE)
    assert main(["keys", "init", "--org", "Key Tests"]) == 0
    return vf_home


def _secret_files(home: Path) -> list[Path]:
    keys = HomePaths.resolve(home).keys
    found = [p for p in keys.rglob("*") if p.is_file() and (p.name.endswith(".key.pem")
                                                           or p.name == "watermark.key")]
    assert any(p.name == "signing.key.pem" for p in found)
    assert any(p.name == "watermark.key" for p in found)
    return found


def test_private_keys_are_encrypted_and_0600(keyed_home: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    keys = HomePaths.resolve(keyed_home).keys
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for path in _secret_files(keyed_home):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        if path.suffix == ".pem":
            data = path.read_bytes()
            assert b"BEGIN ENCRYPTED PRIVATE KEY" in data, path
            with pytest.raises(TypeError):  # needs a password: not usable as found on disk
                serialization.load_pem_private_key(data, password=None)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
@pytest.mark.parametrize("name", ["signing.key.pem", "watermark.key"])
def test_key_readable_by_others_is_refused(
    keyed_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, mode: int
) -> None:
    from veriframe.credentials.keys import load_identity

    path = HomePaths.resolve(keyed_home).keys / name
    os.chmod(path, mode)
    with pytest.raises(KeysError) as info:
        load_identity(home=keyed_home, passphrase=PASSPHRASE)
    assert info.value.code == "keys.insecure-permissions"
    # and through the CLI: the documented error, exit 1, nothing written
    src = make_clip(tmp_path / "in.mp4", seconds=1, width=320, height=240, fps=10, audio=False)
    out = tmp_path / "out.mp4"
    capsys.readouterr()
    assert main(["sign", str(src), "-o", str(out)]) == 1
    assert "keys.insecure-permissions" in capsys.readouterr().err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "vfhome"]


def test_typer_never_prints_locals() -> None:
    # Typer's rich tracebacks show local variables (a passphrase, a decrypted key): off.
    assert app.pretty_exceptions_enable is False
    assert app.pretty_exceptions_show_locals is False


def test_passphrase_never_appears_in_output_logs_or_tracebacks(
    keyed_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = make_clip(tmp_path / "in.mp4", seconds=1, width=320, height=240, fps=10, audio=False)
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def run(args: list[str]) -> int:
        code = main(args)
        captured = capsys.readouterr()
        seen.extend([captured.out, captured.err])
        return code

    # 1. an unexpected failure deep in signing, with --debug (full traceback on stderr)
    import veriframe.credentials.sign as sign_mod

    def explode(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("simulated failure inside the signer")

    monkeypatch.setattr(sign_mod, "sign_mp4", explode)
    assert run(["--debug", "sign", str(src), "-o", str(tmp_path / "a.mp4")]) != 0
    assert any("Traceback" in s for s in seen)  # the debug traceback was really printed
    monkeypatch.undo()
    monkeypatch.setenv("VERIFRAME_HOME", str(keyed_home))

    # 2. a wrong passphrase, 3. a damaged key file, 4. help texts that might show env values
    monkeypatch.setenv("VERIFRAME_KEY_PASSPHRASE", PASSPHRASE + "-wrong")
    assert run(["--debug", "sign", str(src), "-o", str(tmp_path / "b.mp4")]) == 1
    monkeypatch.setenv("VERIFRAME_KEY_PASSPHRASE", PASSPHRASE)
    key = HomePaths.resolve(keyed_home).keys / "signing.key.pem"
    key.write_bytes(key.read_bytes()[:200])
    assert run(["--debug", "sign", str(src), "-o", str(tmp_path / "c.mp4")]) == 1
    for args in (["--help"], ["sign", "--help"], ["keys", "init", "--help"], ["keys", "--help"]):
        run(args)
    assert run(["--debug", "keys", "show"]) in (0, 1)

    text = "\n".join(seen) + "\n".join(r.getMessage() for r in caplog.records)
    assert text.strip()
    assert PASSPHRASE not in text
    assert not list(tmp_path.glob("*.mp4")) or sorted(p.name for p in tmp_path.glob("*.mp4")) == [
        "in.mp4"
    ]


def test_rotate_keeps_old_manifests_verifying(
    keyed_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from veriframe import media
    from veriframe.signing import sign_video
    from veriframe.verification import verify

    src = make_clip(tmp_path / "in.mp4", seconds=1, width=320, height=240, fps=12, seed=3)
    old = tmp_path / "old.mp4"
    sign_video(src, output=old, model="m", home=keyed_home, passphrase=PASSPHRASE)
    before = verify(old, home=keyed_home, detector=None)
    assert before.verdict.value == "signed"

    capsys.readouterr()
    assert main(["keys", "rotate"]) == 0
    new = tmp_path / "new.mp4"
    sign_video(src, output=new, model="m", home=keyed_home, passphrase=PASSPHRASE)

    after_old = verify(old, home=keyed_home, detector=None)
    after_new = verify(new, home=keyed_home, detector=None)
    assert after_old.verdict.value == "signed"
    assert after_old.credentials.state == before.credentials.state
    assert after_new.verdict.value == "signed"
    assert after_old.credentials.signer is not None and after_new.credentials.signer is not None
    assert after_old.credentials.signer.serial_number != after_new.credentials.signer.serial_number
    # The old clip, stripped of its manifest, is still recovered through its (archived) mark.
    stripped = tmp_path / "old-stripped.mp4"
    media.remux(old, stripped)
    recovered = verify(stripped, home=keyed_home, detector=None)
    assert recovered.verdict.value == "recovered", recovered.watermark
