"""Bad input: a clear error[code], the documented exit code, no traceback, no output file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.clipgen import make_clip
from tests.media._clips import make_zero_frame
from veriframe._cli import main


def _empty(tmp: Path) -> Path:
    p = tmp / "empty.mp4"
    p.write_bytes(b"")
    return p


def _random(tmp: Path) -> Path:
    p = tmp / "random.mp4"
    p.write_bytes(os.urandom(50_000))
    return p


def _truncated(tmp: Path) -> Path:
    full = make_clip(tmp / "full.mp4", seconds=2, width=320, height=240, fps=12)
    p = tmp / "truncated.mp4"
    data = full.read_bytes()
    p.write_bytes(data[: len(data) // 3])  # moov sits at the end: it is cut off
    return p


def _zero_frames(tmp: Path) -> Path:
    # A video track with no frames (the MP4 demuxer hides sample-less tracks, so Matroska).
    return make_zero_frame(tmp / "zero.mkv")


def _text(tmp: Path) -> Path:
    p = tmp / "notes.txt"
    p.write_text("not a video\n")
    return p


def _directory(tmp: Path) -> Path:
    p = tmp / "a-directory.mp4"
    p.mkdir()
    return p


def _missing(tmp: Path) -> Path:
    return tmp / "missing.mp4"


CASES = [
    (_empty, 4, "media.empty"),
    (_random, 4, "media.unreadable"),
    (_truncated, 4, "media.unreadable"),
    (_zero_frames, 4, "media.no-frames"),
    (_text, 4, "media.unsupported-type"),
    (_directory, 1, "media.is-directory"),
    (_missing, 1, "media.not-found"),
]


@pytest.mark.parametrize(("make", "exit_code", "code"), CASES, ids=[c[2] for c in CASES])
def test_verify_bad_input(
    make, exit_code: int, code: str, tmp_path: Path, vf_home: Path, capsys
) -> None:
    path = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    got = main(["verify", str(path)])
    captured = capsys.readouterr()
    assert got == exit_code, captured.err
    assert f"error[{code}]" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(("make", "exit_code", "code"), CASES, ids=[c[2] for c in CASES])
def test_sign_bad_input_writes_nothing(
    make, exit_code: int, code: str, tmp_path: Path, vf_home: Path, capsys
) -> None:
    assert main(["keys", "init", "--org", "Bad Input Tests"]) == 0
    path = make(tmp_path)
    out = tmp_path / "out" / "signed.mp4"
    got = main(["sign", str(path), "-o", str(out)])
    captured = capsys.readouterr()
    assert got == exit_code, captured.err
    assert f"error[{code}]" in captured.err
    assert "Traceback" not in captured.err
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_verify_json_error_is_json(tmp_path: Path, vf_home: Path, capsys) -> None:
    import json

    path = _random(tmp_path)
    got = main(["verify", str(path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert got == 4
    assert doc["verdict"] == "error"
    assert doc["error"]["code"] == "media.unreadable"
