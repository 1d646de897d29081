"""End to end through the CLI: keys init, sign, verify (signed, stripped, tampered, re-encoded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.clipgen import make_clip
from veriframe._cli import main


@pytest.fixture()
def keyed_home(vf_home: Path) -> Path:
    assert main(["keys", "init", "--org", "Test Newsroom"]) == 0
    return vf_home


@pytest.fixture()
def signed_clip(keyed_home: Path, wm_clip: Path, tmp_path: Path) -> Path:
    out = tmp_path / "clip.signed.mp4"
    code = main(
        [
            "sign",
            str(wm_clip),
            "-o",
            str(out),
            "--model",
            "Wan2.1-I2V-14B-480P",
            "--param",
            "seed=42",
            "--param",
            "effect=samurai",
            "--prompt",
            "a samurai",
        ]
    )
    assert code == 0
    return out


def verify_json(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["verify", str(path), "--json", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_signed_clip_verifies_as_trusted_with_own_ca(signed_clip: Path, capsys) -> None:
    code, doc = verify_json(signed_clip, capsys)
    assert code == 0
    assert doc["schema"] == "veriframe.verify/1.2"
    assert set(doc) >= {"file", "verdict", "credentials", "watermark", "detection", "decision"}
    assert doc["verdict"] == "signed"
    creds = doc["credentials"]
    assert creds["state"] == "trusted"
    assert creds["digital_source_type"].endswith("trainedAlgorithmicMedia")
    text = json.dumps(creds["manifest"])
    assert "Wan2.1-I2V-14B-480P" in text and "samurai" in text
    assert "a samurai" not in text  # prompt hashed unless --record-prompt
    assert doc["watermark"]["state"] == "present"


def test_untrusted_anchor_gives_valid_and_require_trusted_fails(
    signed_clip: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    # A home without this CA: the signer is unknown, so the state is valid, not trusted.
    other = tmp_path / "other-home"
    monkeypatch.setenv("VERIFRAME_HOME", str(other))
    code, doc = verify_json(signed_clip, capsys)
    assert doc["credentials"]["state"] == "valid"
    assert code == 0
    code, _ = verify_json(signed_clip, capsys, "--require-trusted")
    assert code == 2


def test_stripped_clip_recovered_through_watermark(
    signed_clip: Path, tmp_path: Path, capsys
) -> None:
    from veriframe import media

    stripped = tmp_path / "stripped.mp4"
    media.remux(signed_clip, stripped)
    code, doc = verify_json(stripped, capsys)
    assert doc["credentials"]["state"] == "absent"
    assert doc["verdict"] == "recovered"
    assert doc["watermark"]["recovered"]["state"] == "recovered"
    assert code == 0


def test_tampered_clip_is_invalid(signed_clip: Path, tmp_path: Path, capsys) -> None:
    data = bytearray(signed_clip.read_bytes())
    at = data.find(b"mdat") + 4 + 2000
    data[at] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    code, doc = verify_json(tampered, capsys)
    assert doc["verdict"] == "tampered"
    assert doc["credentials"]["state"] == "invalid"
    assert any("mismatch" in f["code"] for f in doc["credentials"]["failures"])
    assert doc["credentials"]["manifest"] is None  # contents not shown as fact
    assert code == 2


def test_unsigned_clip_exit_3(keyed_home: Path, small_clip: Path, capsys) -> None:
    code, doc = verify_json(small_clip, capsys)
    assert doc["verdict"] == "unsigned"
    assert doc["credentials"]["state"] == "absent"
    assert doc["watermark"]["state"] == "absent"
    assert code == 3


def test_python_api_matches_json(signed_clip: Path, keyed_home: Path, capsys) -> None:
    import veriframe

    _, doc = verify_json(signed_clip, capsys, "--policy", "none", "--no-detect")
    report = veriframe.verify(signed_clip, home=keyed_home, detector=None)
    api = json.loads(json.dumps(report.to_dict()))
    assert api == doc


def test_sign_refuses_to_overwrite_input(keyed_home: Path, tmp_path: Path, capsys) -> None:
    clip = make_clip(tmp_path / "in.mp4", seconds=1, width=320, height=240, fps=12)
    before = clip.read_bytes()
    code = main(["sign", str(clip), "-o", str(clip)])
    err = capsys.readouterr().err
    assert code != 0 and "error[sign.same-file]" in err
    assert clip.read_bytes() == before


def test_sign_webm_is_converted(keyed_home: Path, tmp_path: Path, capsys) -> None:
    clip = make_clip(
        tmp_path / "in.webm", seconds=2, width=640, height=360, fps=15, codec="libvpx-vp9"
    )
    out = tmp_path / "out.mp4"
    capsys.readouterr()
    assert main(["sign", str(clip), "-o", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["converted_from"] == "webm"
    _code, doc = verify_json(out, capsys)
    assert doc["verdict"] == "signed"


def test_sign_without_keys_writes_nothing(
    vf_home: Path, small_clip: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "never.mp4"
    code = main(["sign", str(small_clip), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "error[keys.missing]" in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_sign_refuses_an_existing_output_unless_forced(
    keyed_home: Path, wm_clip: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an earlier file")
    assert main(["sign", str(wm_clip), "-o", str(out)]) == 1
    assert "error[sign.output-exists]" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier file"
    assert main(["sign", str(wm_clip), "-o", str(out), "--force"]) == 0
    assert out.read_bytes() != b"an earlier file"
    before = wm_clip.read_bytes()
    assert main(["sign", str(wm_clip), "-o", str(wm_clip), "--force"]) == 1
    assert "error[sign.same-file]" in capsys.readouterr().err
    assert wm_clip.read_bytes() == before
