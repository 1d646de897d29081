"""Headless Chromium for the service tests: Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium. Never a downloaded browser: without the system packages the browser tests
skip with the reason.

``python -m tests.services.browser docs/serve-page.png`` takes the README's screenshot of the
page: a temporary newsroom home signs a small clip, the service runs on 127.0.0.1, the page
uploads the clip, and the shot is saved as a small palette PNG.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The machine may have no network: without these Chromium keeps trying to reach Google.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps")


def find_chromium() -> tuple[str, str] | None:
    """The system Chromium and its chromedriver, if both are installed."""
    browser = next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if find_chromium() is None:
        return "headless Chromium not installed (apt-get install -y chromium chromium-driver)"
    return None


@contextmanager
def chromium(profile: Path, *, width: int = 1100, height: int = 1400) -> Iterator[Any]:
    """A headless Chromium (Selenium WebDriver) with a fresh profile in ``profile``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_chromium()
    if found is None:
        raise RuntimeError(skip_reason() or "no chromium")
    browser, driver_path = found
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go online
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def upload(driver: Any, url: str, clip: Path, *, timeout: float = 180.0) -> str:
    """Open the page at ``url``, choose ``clip`` in its file input, and wait for the answer.

    Returns ``"result"`` (a report is shown) or ``"error"`` (an error message is shown).
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    driver.find_element(By.ID, "file").send_keys(str(clip))

    def answered(d: Any) -> str | bool:
        for box in ("result", "error"):
            if d.find_element(By.ID, box).is_displayed():
                return box
        return False

    outcome: str = WebDriverWait(driver, timeout, poll_frequency=0.2).until(answered)
    return outcome


def screenshot(out: Path) -> None:
    """Take the README's screenshot of the page showing a signed clip's report."""
    from PIL import Image

    from tests.clipgen import make_clip
    from tests.services.server import serve
    from veriframe.credentials.keys import init_keys
    from veriframe.serve import ServeConfig, create_app
    from veriframe.settings import Settings
    from veriframe.signing import sign_video

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = root / "home"
        init_keys(org="Example Newsroom", passphrase="screenshot passphrase", home=home)
        src = make_clip(root / "src.mp4", seconds=2.0, width=480, height=270, fps=12, seed=5)
        clip = root / "interview-excerpt.mp4"
        sign_video(src, output=clip, model="Wan2.1-I2V-14B-480P", home=home,
                   passphrase="screenshot passphrase")
        with serve(create_app(ServeConfig(settings=Settings(home=home)))) as running, \
                chromium(root / "profile", width=1000, height=1150) as driver:
            if upload(driver, running.url + "/", clip) != "result":
                raise SystemExit("the page showed an error instead of a report")
            raw = root / "shot.png"
            driver.save_screenshot(str(raw))
        image = Image.open(raw).convert("RGB").quantize(colors=64, dither=Image.Dither.NONE)
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(out, optimize=True)
    print(f"{out}: {out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/serve-page.png"))
