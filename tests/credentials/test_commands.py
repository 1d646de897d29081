"""``veriframe keys ...`` through the CLI's ``main([...])``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.credentials.conftest import PASSPHRASE
from veriframe._cli import main
from veriframe.home import HomePaths


def test_keys_init_show_rotate(vf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "init", "--org", "Example Newsroom"]) == 0
    capsys.readouterr()
    assert main(["keys", "show", "--json"]) == 0
    out = capsys.readouterr().out
    info = json.loads(out)
    assert info["organization"] == "Example Newsroom" and info["algorithm"] == "es256"
    assert PASSPHRASE not in out
    assert main(["keys", "init", "--org", "Example Newsroom", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "keys.exists"
    assert "already exist" in captured.err and "hint:" in captured.err
    assert "Traceback" not in captured.err
    assert main(["keys", "rotate", "--json"]) == 0
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["fingerprint_sha256"] != info["fingerprint_sha256"]
    assert rotated["watermark_key_ids"][1] == info["key_id"]
    assert main(["keys", "show"]) == 0
    assert "Example Newsroom" in capsys.readouterr().out


def test_keys_show_without_keys(vf_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "show", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "keys.missing"
    assert "keys init --org" in captured.err


@pytest.mark.filterwarnings("ignore::getpass.GetPassWarning")
def test_keys_locked_without_passphrase(
    vf_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VERIFRAME_KEY_PASSPHRASE")
    with open(os.devnull) as devnull:
        monkeypatch.setattr("sys.stdin", devnull)
        assert main(["keys", "init", "--org", "Org", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "keys.locked"
    assert not (HomePaths.resolve(vf_home).keys / "signing.key.pem").exists()


def test_keys_import_rejects_ca_cert(
    vf_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography.hazmat.primitives import serialization

    from veriframe.credentials.keys import pem
    from veriframe.credentials.keys.minting import make_ca

    ca_key, ca_cert = make_ca("Some CA")
    chain = tmp_path / "chain.pem"
    chain.write_bytes(pem(ca_cert))
    keyf = tmp_path / "key.pem"
    keyf.write_bytes(
        ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert main(["keys", "import", "--chain", str(chain), "--key", str(keyf), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "keys.cert-rejected"
    assert "CA certificate" in captured.err
