"""``veriframe scan``: discovery, one JSON line per file, --resume, summary, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from veriframe._cli import main
from veriframe.moderation import find_videos, read_done_paths


@pytest.fixture()
def tree(tmp_path: Path, small_clip: Path) -> Path:
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(small_clip, root / "a.mp4")
    shutil.copy(small_clip, root / "sub" / "b.MOV")
    shutil.copy(small_clip, root / "sub" / "deeper" / "no_extension")  # found by sniffing
    (root / "notes.txt").write_text("not a video")
    (root / "sub" / "readme").write_text("GIF? no: plain text")  # sniffed, rejected
    (root / "sub" / "fake.mp4").write_bytes(b"\x00\x01garbage" * 100)  # a video name: checked
    (root / ".hidden.mp4").write_bytes(b"x")
    return root


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_find_videos(tree: Path) -> None:
    skipped: list[str] = []
    found = list(find_videos(tree, skipped=skipped))
    names = [Path(p).name for p in found]
    assert names == ["a.mp4", "b.MOV", "fake.mp4", "no_extension"]  # files, then subfolders
    assert sorted(Path(p).name for p in skipped) == ["notes.txt", "readme"]
    assert [Path(p).name for p in find_videos(str(tree / "**" / "*.mp4"))] == ["a.mp4",
                                                                               "fake.mp4"]
    with pytest.raises(Exception, match="does not exist"):
        list(find_videos(tree / "nope"))


def test_scan_and_resume(vf_home: Path, tree: Path, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.jsonl"
    args = ["scan", str(tree), "--out", str(out), "--workers", "1", "--detector", "none",
            "--policy", "platform", "--timeout-per-file", "60"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "scan summary" in err and "no-provenance" in err and "errors: 1" in err
    first = rows(out)
    assert len(first) == 4
    by_name = {Path(r["path"]).name: r for r in first}
    assert set(by_name) == {"a.mp4", "b.MOV", "no_extension", "fake.mp4"}
    assert all(r["schema"] == "veriframe.scan/1" for r in first)
    assert by_name["a.mp4"]["state"] == "ok" and by_name["a.mp4"]["label"] == "no-provenance"
    assert by_name["fake.mp4"]["state"] == "error"
    assert by_name["fake.mp4"]["action"] == "review"

    # the output exists: refuse to clobber it without --resume / --overwrite
    assert main(args) == 1
    assert "error[scan.output-exists]" in capsys.readouterr().err
    assert len(rows(out)) == 4

    # simulate a crash: drop the last row and leave a torn half line behind
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:25])
    assert len(read_done_paths(out)) == 2 and out.read_text().endswith("\n")
    out.write_text("".join(lines[:2]) + lines[2][:25])
    assert main([*args, "--resume"]) == 0
    after = rows(out)
    assert sorted(r["path"] for r in after) == sorted(r["path"] for r in first)  # no dups
    assert "2 already done" in capsys.readouterr().err

    # nothing left to do
    assert main([*args, "--resume"]) == 0
    assert len(rows(out)) == 4


def test_scan_errors(vf_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.jsonl"
    assert main(["scan", str(tmp_path / "missing"), "--out", str(out)]) == 1
    assert "scan.not-found" in capsys.readouterr().err
    assert main(["scan", str(tmp_path), "--out", str(out), "--engine", "spark"]) == 1
    assert "scan.engine" in capsys.readouterr().err
    assert main(["scan", str(tmp_path), "--out", str(out), "--policy", "nope"]) == 1
    assert "policy.not-found" in capsys.readouterr().err
