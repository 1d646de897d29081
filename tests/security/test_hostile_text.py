"""Attacker-controlled text (manifest title, model, parameters, file names) is shown safely.

A clip is signed once with hostile strings in every free-text field (ANSI screen clears,
OSC 8 hyperlinks, carriage returns, bidi overrides, HTML, quotes, rich markup, 5000 characters,
a NUL byte) and under a hostile file name; the terminal report must carry no control
characters, the HTML report no live markup, and the JSON must round-trip the exact strings.
"""

from __future__ import annotations

import json
import shutil
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.security.conftest import HOSTILE, PASSPHRASE, SignedSet
from veriframe._cli import main

HOSTILE_NAME = "\x1b[2J\u202eevil <img src=x onerror=alert(3)> \"q\" [bold]b.mp4"
TITLE = HOSTILE["clear"] + HOSTILE["osc8"] + HOSTILE["cr"] + HOSTILE["bidi"] + HOSTILE["script"]
MODEL = HOSTILE["quotes"] + HOSTILE["markup"]


@pytest.fixture(scope="module")
def hostile_clip(signed_set: SignedSet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session source clip signed with hostile title/model/parameters, hostile file name."""
    from veriframe.signing import sign_video

    folder = tmp_path_factory.mktemp("hostile")
    out = folder / HOSTILE_NAME
    sign_video(
        signed_set.source,
        output=out,
        title=TITLE,
        model=MODEL,
        parameters={"prompt_note": HOSTILE["long"], "nul": HOSTILE["nul"],
                    HOSTILE["script"]: HOSTILE["cr"]},
        home=signed_set.home,
        passphrase=PASSPHRASE,
    )
    return out


def _cli(args: list[str], home: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.setenv("VERIFRAME_HOME", str(home))
    monkeypatch.setenv("VERIFRAME_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("VERIFRAME_TRUST", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def _controls(text: str) -> set[str]:
    """Control and format characters other than newline (bidi overrides are format, Cf)."""
    return {ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")}


def test_terminal_report_has_no_control_characters(
    hostile_clip: Path, signed_set: SignedSet, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _cli(["verify", str(hostile_clip), "--no-detect"], signed_set.home,
                          monkeypatch, capsys)
    assert code == 0, err
    shown = out + err
    assert _controls(shown) == set(), sorted(map(hex, map(ord, _controls(shown))))
    assert "cleared" in shown  # the text is shown, only the escape is gone
    assert "https://evil.example/" not in shown or "\x1b]8" not in shown


def test_terminal_report_shows_markup_literally(
    hostile_clip: Path, signed_set: SignedSet, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Rich markup in a manifest must not be interpreted (no fake "TRUSTED" styling, no links).
    code, out, err = _cli(["verify", str(hostile_clip), "--no-detect", "--policy", "none"],
                          signed_set.home, monkeypatch, capsys)
    assert code == 0, err
    compact = "".join(ch for ch in out + err if not ch.isspace() and ch not in "│┃║|")
    assert "[boldred]TRUSTED[/][link=https://evil.example]x[/link][/]" in compact


def test_json_round_trips_the_exact_strings(
    hostile_clip: Path, signed_set: SignedSet, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _cli(["verify", str(hostile_clip), "--json", "--no-detect"],
                          signed_set.home, monkeypatch, capsys)
    assert code == 0, err
    doc = json.loads(out)  # stdout is exactly one JSON document
    assert doc["file"]["path"].endswith(HOSTILE_NAME)
    creds = doc["credentials"]
    assert creds["title"] == TITLE
    text = json.dumps(creds["manifest"], ensure_ascii=False)
    for value in (MODEL, HOSTILE["long"], HOSTILE["cr"], HOSTILE["script"]):
        assert json.dumps(value, ensure_ascii=False)[1:-1] in text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def test_html_report_escapes_hostile_strings(
    hostile_clip: Path, signed_set: SignedSet, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    page = tmp_path / "report.html"
    code, _out, err = _cli(["verify", str(hostile_clip), "--no-detect", "--html", str(page)],
                           signed_set.home, monkeypatch, capsys)
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    parser = _Tags()
    parser.feed(html)
    assert not any("alert(" in s for s in parser.script_text)
    for tag, attrs in parser.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert tag != "img" or attrs.get("src") != "x"
    assert "\x1b" not in html and "\u202e" not in html


def test_error_messages_do_not_interpret_markup_in_file_names(
    signed_set: SignedSet, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    # The file name is attacker-chosen; printed through rich with markup on, "[link=...]"
    # becomes a live OSC 8 hyperlink on a terminal and the error code "[media.empty]" vanishes.
    name = "[link=javascript:alert(1)]click[bold red] VERIFIED.mp4"
    bad = tmp_path / name
    bad.write_bytes(b"")
    code, _out, err = _cli(["verify", str(bad), "--no-detect", "--policy", "none"],
                           signed_set.home, monkeypatch, capsys)
    assert code == 4
    assert "error[media.empty]" in err
    assert "[link=javascript:alert(1)]click" in err


def test_hostile_file_name_in_terminal_report(
    signed_set: SignedSet, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    copy = tmp_path / ("\r\x1b[31mOK\x1b[0m\u202e" + "[reverse]name.mp4")
    shutil.copy(signed_set.signed, copy)
    code, out, err = _cli(["verify", str(copy), "--no-detect"], signed_set.home,
                          monkeypatch, capsys)
    assert code == 0, err
    assert _controls(out + err) == set()
