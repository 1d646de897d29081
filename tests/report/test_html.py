"""The self-contained HTML report: escaping, inlined images, and a real headless browser."""

from __future__ import annotations

import base64
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from tests.policy.factory import hostile_report, report
from veriframe.policy import load_policy
from veriframe.report.html import CSP, png_bytes, render_html, score_plot_svg, thumbnail


@dataclass
class Sample:
    rgb: np.ndarray
    timestamps: list[float]
    indices: list[int]


def make_sample(n: int = 5, h: int = 90, w: int = 160) -> Sample:
    rng = np.random.default_rng(3)
    return Sample(rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8),
                  [i * 0.5 for i in range(n)], [i * 6 for i in range(n)])


def decode_png(data: bytes) -> np.ndarray:
    """Minimal PNG reader for what png_bytes writes (RGB8, filter 0)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert (depth, ctype) == (8, 2)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    rows = [raw[y * (3 * width + 1):(y + 1) * (3 * width + 1)] for y in range(height)]
    assert all(r[0] == 0 for r in rows)
    return np.frombuffer(b"".join(r[1:] for r in rows), dtype=np.uint8).reshape(height,
                                                                               width, 3)


def test_png_roundtrip_and_thumbnail() -> None:
    frame = make_sample().rgb[0]
    assert np.array_equal(decode_png(png_bytes(frame)), frame)
    big = np.zeros((480, 960, 3), np.uint8)
    big[:, 480:] = 200
    small = thumbnail(big, width=240)
    assert small.shape == (120, 240, 3)
    assert small[0, 0, 0] == 0 and small[0, -1, 0] == 200
    with pytest.raises(ValueError):
        png_bytes(np.zeros((4, 4), np.uint8))


def test_svg_plot() -> None:
    svg = score_plot_svg(report("high").detection.frame_scores)
    assert svg.startswith("<svg") and svg.count("<circle") == 8 and "<polyline" in svg
    assert "no per-frame scores" in score_plot_svg(())


def hostile_html() -> str:
    rep = hostile_report()
    rep = replace(rep, decision=load_policy("newsroom").decide(rep))
    return render_html(rep, sample=make_sample())


def test_html_is_escaped_and_self_contained() -> None:
    page = hostile_html()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page and "\u202e" not in page and "\x07" not in page
    assert f'content="{CSP}"' in page and "default-src 'none'" in page
    # nothing is fetched: every src is a data: URI, no links, no remote styles or fonts
    assert re.findall(r'src="([a-z]+):', page) == ["data"] * 5
    assert "href=" not in page and "@import" not in page and "url(" not in page
    for uri in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        img = decode_png(base64.b64decode(uri))
        assert img.shape == (90, 160, 3)


def test_html_sections() -> None:
    rep = report("recovered")
    rep = replace(rep, decision=load_policy("platform").decide(rep))
    page = render_html(rep, sample=make_sample())
    for words in ("Credentials recovered through the watermark", "00112233aabbccdd",
                  "Recovered credentials", "Wan2.1-I2V-14B-480P", "What each finding proves",
                  "does not show", "Per-frame score", "ai-generated"):
        assert words in page, words
    page = render_html(report("tampered"), sample=None)
    assert "assertion.bmffHash.mismatch" in page and "changed after signing" in page
    assert "No frames were sampled" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.browser
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    page.write_text(hostile_html(), encoding="utf-8")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", f"--user-data-dir={tmp_path / 'prof'}"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=180, check=True).stdout
    assert "Signed, but the signer is not verified" in dom
    assert "What each finding proves" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # text, not an element
    assert "<script" not in dom.lower()
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1000,1400",
                    page.as_uri()], capture_output=True, timeout=180, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
