"""Clips signed before watermark v2 keep working: a v1-signed clip, made at test time by the
v1 code path, is detected and its credentials recovered after the manifest is stripped."""

from __future__ import annotations

from pathlib import Path

import pytest

from veriframe import media, watermark
from veriframe.credentials.keys import init_keys
from veriframe.signing import sign_video
from veriframe.verification import verify

PASSPHRASE = "correct horse battery staple"


@pytest.fixture()
def v1_signed(
    vf_home: Path, wm_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    """A clip signed the way veriframe signed before v2: its payloads were version 1."""
    init_keys(org="Before v2", passphrase=PASSPHRASE, home=vf_home)
    new = watermark.Payload.new

    def v1_payload(*, version: int = 1) -> watermark.Payload:
        return new(version=1)

    out = tmp_path / "v1.signed.mp4"
    with monkeypatch.context() as patch:
        patch.setattr(watermark.Payload, "new", staticmethod(v1_payload))
        result = sign_video(wm_clip, output=out, model="m", home=vf_home, passphrase=PASSPHRASE)
    assert result.payload_id is not None
    assert watermark.Payload.from_hex(result.payload_id).version == 1
    assert watermark.Payload.new().version == 2  # signing today makes v2 marks
    return out, result.payload_id


def test_v1_signed_clip_is_detected_and_recovered(
    v1_signed: tuple[Path, str], vf_home: Path, tmp_path: Path
) -> None:
    signed, payload_id = v1_signed
    stripped = tmp_path / "stripped.mp4"
    media.remux(signed, stripped)  # the manifest is gone; only the v1 mark is left
    report = verify(stripped, home=vf_home, detector=None)
    assert report.credentials.state.value == "absent"
    wm = report.watermark
    assert wm.state.value == "present" and wm.version == 1
    assert wm.payload_id == payload_id
    assert wm.recovered is not None and wm.recovered.state == "recovered", wm.recovered
    assert report.verdict.value == "recovered"
