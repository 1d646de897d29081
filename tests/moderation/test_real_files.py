"""Moderator on real files through veriframe.verification.verify."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from veriframe.moderation import Moderator


@pytest.fixture()
def files(tmp_path: Path, small_clip: Path) -> dict[str, Path]:
    good = tmp_path / "good.mp4"
    shutil.copy(small_clip, good)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video at all" * 64)
    return {"good": good, "junk": junk, "missing": tmp_path / "missing.mp4"}


def test_review_real_files(vf_home: Path, files: dict[str, Path]) -> None:
    mod = Moderator("platform", home=vf_home, detector=None)
    ok = mod.review(files["good"])
    assert ok.state == "ok" and ok.verdict == "unsigned"
    assert ok.report is not None and ok.report.credentials.state.value == "absent"
    assert (ok.label, ok.action) == ("no-provenance", "allow")
    assert ok.to_dict()["sha256"] and ok.to_dict()["size_bytes"] == files["good"].stat().st_size
    junk = mod.review(files["junk"])
    assert junk.state == "error" and junk.action == "review"  # fail closed, not allow
    missing = mod.review(files["missing"])
    assert missing.state == "error" and missing.error is not None
    assert missing.error.code == "media.not-found" and missing.action == "review"
    strict = Moderator("strict", home=vf_home, detector=None).review(files["junk"])
    assert strict.action == "block"


def test_review_many_real_files_in_worker_processes(vf_home: Path,
                                                    files: dict[str, Path]) -> None:
    mod = Moderator("newsroom", home=vf_home, detector=None, timeout_s=60)
    paths = [files["good"], files["junk"], files["missing"], files["good"]]
    results = list(mod.review_many(paths, workers=2))
    assert sorted(r.path for r in results) == sorted(str(p) for p in paths)
    states = sorted(r.state for r in results)
    assert states == ["error", "error", "ok", "ok"]
    assert all(r.action != "allow" for r in results if r.state == "error")
    assert all(r.label == "no-provenance" and r.action == "label"
               for r in results if r.state == "ok")
