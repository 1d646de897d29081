"""The sign path encodes once: generated frames are marked in the pass that writes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.credentials.conftest import PASSPHRASE
from veriframe import media
from veriframe.credentials.keys import init_keys
from veriframe.credentials.manifest import ManifestSpec
from veriframe.demo import scene
from veriframe.results import Verdict
from veriframe.signing import sign_frames
from veriframe.verification import verify


def test_sign_frames_encodes_once_with_the_mark_in_the_same_pass(
    vf_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_keys(home=vf_home, org="Once", passphrase=PASSPHRASE)
    calls: list[str] = []
    real_write = media.write_video

    def counting_write(*args: object, **kwargs: object) -> object:
        calls.append("write" if kwargs.get("transform") is not None else "write-unmarked")
        return real_write(*args, **kwargs)  # type: ignore[arg-type]

    def no_rewrite(*args: object, **kwargs: object) -> object:
        raise AssertionError("sign_frames decoded and re-encoded an intermediate file")

    monkeypatch.setattr(media, "write_video", counting_write)
    monkeypatch.setattr(media, "rewrite_video", no_rewrite)
    frames = np.stack([scene(i, 480, 272) for i in range(24)])
    out = tmp_path / "gen.mp4"
    result = sign_frames(frames, fps=12, output=out, home=vf_home, passphrase=PASSPHRASE,
                         spec=ManifestSpec(title="gen.mp4", model="m"))
    assert calls == ["write"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.mp4", "vfhome"]
    report = verify(out, home=vf_home, detector=None)
    assert report.verdict is Verdict.SIGNED
    assert report.watermark.payload_id == result.payload_id
