"""Terminal and JSON rendering: plain words, no attacker escape sequences, valid JSON."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from rich.console import Console

from tests.policy.factory import HOSTILE, hostile_report, report
from veriframe.policy import load_policy
from veriframe.report.json_report import dumps_row, render_json
from veriframe.report.terminal import render_terminal


def text_of(rep, *, width: int = 400) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, no_color=True,
                      highlight=False)
    render_terminal(rep, console=console)
    return buf.getvalue()


def decided(kind: str, policy: str = "platform"):
    rep = report(kind)
    return replace(rep, decision=load_policy(policy).decide(rep))


def test_trusted_report_shows_the_credentials() -> None:
    out = text_of(decided("trusted"))
    for words in ("SIGNED BY A TRUSTED SIGNER", "Example Newsroom", "Example Root CA",
                  "2025-01-02T03:04:05Z", "veriframe/0.1.0", "trainedAlgorithmicMedia",
                  "c2pa.created", "Wan2.1-I2V-14B-480P", "seed=42", "input.png", "inputTo",
                  "p_synthetic", "platform", "ai-generated", "not proof"):
        assert words in out, words


def test_valid_is_not_trusted() -> None:
    out = text_of(decided("valid"))
    assert "SIGNED, BUT THE SIGNER IS NOT VERIFIED" in out
    assert "NOT verified" in out
    assert "TRUSTED SIGNER" not in out


def test_absent_does_not_read_as_fake() -> None:
    out = text_of(decided("absent"))
    assert "NO CONTENT CREDENTIALS FOUND" in out
    assert "does not mean the video is fake" in out
    low = out.lower().replace("does not mean the video is fake", "").replace(
        "it is not evidence of fakery", "")
    assert "fake" not in low and "forged" not in low and "tamper" not in low


def test_tampered_hides_claims_and_explains_codes() -> None:
    rep = decided("tampered")
    # even if a buggy reader filled in claims, an invalid manifest's contents are not shown
    rep = replace(rep, credentials=replace(rep.credentials, title="Totally Real Footage",
                                           claim_generator="TrustedCam 1.0"))
    out = text_of(rep)
    assert "TAMPERED" in out
    assert "assertion.bmffHash.mismatch" in out
    assert "changed after signing" in out
    assert "Totally Real Footage" not in out and "TrustedCam" not in out


def test_recovered_and_mismatch() -> None:
    out = text_of(decided("recovered"))
    assert "RECOVERED THROUGH THE WATERMARK" in out
    assert "00112233aabbccdd" in out and "1.00e-12" in out
    assert "Wan2.1-I2V-14B-480P" in out
    out = text_of(decided("mismatch"))
    assert "WATERMARK'S CREDENTIALS DO NOT MATCH" in out
    assert "Wan2.1" not in out  # a copied mark's manifest is not shown as fact


def test_error_report() -> None:
    out = text_of(decided("error"))
    assert "COULD NOT BE CHECKED" in out and "media.unreadable" in out
    assert "review" in out


def test_hostile_strings_are_neutralised() -> None:
    rep = hostile_report()
    rep = replace(rep, decision=load_policy("platform").decide(rep))
    out = text_of(rep)
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert "\u202e" not in out
    assert "alert(1)" in out  # shown as inert text
    # the forged line break cannot start a new line reading "fake: trusted"
    assert not any(line.strip().startswith("fake: trusted") for line in out.splitlines())


def test_hostile_strings_cannot_inject_rich_markup() -> None:
    rep = hostile_report()
    cred = replace(rep.credentials, title="[bold red]VERIFIED[/]",
                   signer=replace(rep.credentials.signer, common_name="[link=x]Reuters[/link]"))
    buf = io.StringIO()
    render_terminal(replace(rep, credentials=cred),
           console=Console(file=buf, width=120, force_terminal=True, color_system="truecolor"))
    out = buf.getvalue()
    assert "[bold red]VERIFIED[/]" in out
    assert "[link=x]Reuters[/link]" in out
    assert "\x1b]8;" not in out  # no hyperlink escape created from the title


@pytest.mark.parametrize("kind", ["trusted", "tampered", "recovered", "error", "high"])
def test_json_document(kind: str) -> None:
    rep = decided(kind)
    doc = json.loads(render_json(rep))
    assert doc["schema"] == "veriframe.verify/1.2"
    assert set(doc) >= {"file", "verdict", "credentials", "watermark", "detection", "decision"}
    assert doc == rep.to_dict()
    assert doc["decision"]["policy"] == "platform"


def test_json_of_hostile_and_nan_values() -> None:
    rep = hostile_report()
    rep = replace(rep, detection=replace(rep.detection, p_synthetic=float("nan")))
    doc = json.loads(render_json(rep))
    assert doc["credentials"]["title"] == HOSTILE  # data preserved, escaped by JSON
    assert doc["detection"]["p_synthetic"] is None
    line = dumps_row({"path": HOSTILE + "\u2028", "p": float("inf")})
    assert "\n" not in line and "\u2028" not in line
    assert json.loads(line) == {"path": HOSTILE + "\u2028", "p": None}
