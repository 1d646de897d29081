"""Uploaded files: safe names, and results that carry none of the service's paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from veriframe.errors import ErrorInfo
from veriframe.results import (
    CredentialCheck,
    FileInfo,
    RecoveredCredentials,
    RecoveryState,
    Verdict,
    VerifyReport,
    WatermarkCheck,
    WatermarkState,
)
from veriframe.serve.uploads import MAX_NAME_BYTES, STORE_LABEL, upload_name, without_paths
from veriframe.settings import Settings


@pytest.mark.parametrize(("given", "expected"), [
    ("clip.mp4", "clip.mp4"),
    ("Interview (raw take) 2.mov", "Interview (raw take) 2.mov"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\desk\\clip.webm", "clip.webm"),
    (".hidden.mp4", "hidden.mp4"),
    ("..", "upload"),
    ("", "upload"),
    (None, "upload"),
    ("a\x00b\nc\x1b[31m.mp4", "abc[31m.mp4"),  # control characters go, ESC included
    ("vidéo été.mp4", "vidéo été.mp4"),
    ("<img src=x onerror=alert(1)>.mp4", "img src=x onerror=alert(1).mp4"),
    ("<a>x</a>.mp4", "a.mp4"),  # a slash ends a path component
    ("\u202egnp.mp4", "gnp.mp4"),  # a right-to-left override cannot disguise the extension
])
def test_upload_name_is_a_plain_safe_name(given: str | None, expected: str) -> None:
    assert upload_name(given) == expected


def test_long_names_keep_their_extension_within_the_byte_limit() -> None:
    name = upload_name("é" * 400 + ".mp4")
    assert name.endswith(".mp4") and len(name.encode("utf-8")) <= MAX_NAME_BYTES
    plain = upload_name("x" * 1000)
    assert len(plain.encode("utf-8")) <= MAX_NAME_BYTES and set(plain) == {"x"}


def test_without_paths_rewrites_every_string_of_a_report(tmp_path: Path) -> None:
    folder = tmp_path / "veriframe-serve-abc"
    upload = folder / "clip.mp4"
    settings = Settings(home=tmp_path / "home")
    store = str(settings.store_path)
    report = VerifyReport(
        file=FileInfo(path=str(upload), media={"path": str(upload), "tags": {"k": "v"}}),
        verdict=Verdict.UNSIGNED,
        credentials=CredentialCheck(error=ErrorInfo("x.y", f"cannot read {upload}")),
        watermark=WatermarkCheck(state=WatermarkState.PRESENT, recovered=RecoveredCredentials(
            state=RecoveryState.NOT_FOUND, store=store, detail=f"nothing in {store}")),
    )
    from veriframe.serve.uploads import _private_paths

    clean = without_paths(report, _private_paths(upload, settings))
    assert clean.file.path == "clip.mp4" and clean.file.media == {
        "path": "clip.mp4", "tags": {"k": "v"}}
    assert clean.credentials.error is not None
    assert clean.credentials.error.message == "cannot read clip.mp4"
    assert clean.watermark.recovered is not None
    assert clean.watermark.recovered.store == STORE_LABEL
    assert clean.watermark.recovered.detail == f"nothing in {STORE_LABEL}"
    assert clean.verdict is Verdict.UNSIGNED and clean.watermark.state is WatermarkState.PRESENT
    assert str(tmp_path) not in str(clean.to_dict())
