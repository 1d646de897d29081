"""The verify page in a real browser: headless Chromium (Debian's), driven by Selenium.

The page uploads a signed clip through its file input and the test reads the verdict and the
signer from the rendered report; junk gets its error message on the page. Both run under the
page's strict CSP, which the browser enforces: a blocked script or style would show as a
missing answer or as a console violation, and both are checked.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services.browser import chromium, skip_reason, upload
from tests.services.conftest import SmallSigned
from tests.services.server import Running

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver




def _console_problems(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"]]


def test_page_uploads_a_signed_clip_and_shows_the_verdict_and_the_signer(
    browser: Any, service: Running, small_signed: SmallSigned, work: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    clip = tmp_path / "Source clip.mp4"
    shutil.copyfile(small_signed.signed, clip)
    assert upload(browser, service.url + "/", clip) == "result"

    banner = browser.find_element(By.CSS_SELECTOR, "#report .banner")
    assert "verdict: signed" in banner.text
    assert banner.find_element(By.TAG_NAME, "h1").text.startswith("Signed")
    signer = browser.find_element(
        By.XPATH, "//div[@id='report']//dt[normalize-space()='Signer']/following-sibling::dd[1]")
    assert small_signed.org in signer.text
    file_row = browser.find_element(
        By.XPATH, "//div[@id='report']//dt[normalize-space()='File']/following-sibling::dd[1]")
    assert file_row.text == "Source clip.mp4"  # the name it was sent under, no server path
    # report.css (a file of this service, allowed by the CSP) styles the report in the page.
    background = browser.execute_script(
        "return getComputedStyle(arguments[0]).backgroundColor", banner)
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert browser.find_elements(By.CSS_SELECTOR, "#report .thumbs img")
    assert not browser.find_element(By.ID, "busy").is_displayed()
    assert not browser.find_element(By.ID, "form").is_displayed()
    assert "signed" in browser.title

    links = {name: browser.find_element(By.ID, f"download-{name}") for name in ("json", "html")}
    assert links["json"].get_attribute("download") == "Source clip.veriframe.json"
    assert links["html"].get_attribute("download") == "Source clip.veriframe.html"
    hrefs = {name: link.get_attribute("href") for name, link in links.items()}
    assert all(href.startswith(f"blob:{service.url}/") for href in hrefs.values())
    assert _console_problems(browser) == []
    assert list(work.iterdir()) == []  # the upload is gone once the page shows the answer

    browser.get(hrefs["json"])  # what "Download JSON" saves: the verify document
    doc = json.loads(browser.find_element(By.TAG_NAME, "body").text)
    assert doc["verdict"] == "signed" and doc["file"]["path"] == "Source clip.mp4"
    assert small_signed.org in doc["credentials"]["signer"]["issuer"]


def test_page_shows_the_error_for_junk(browser: Any, service: Running, work: Path,
                                       tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    junk = tmp_path / "notes.mp4"
    junk.write_text("this is a shopping list, not a video\n")
    assert upload(browser, service.url + "/", junk) == "error"
    assert "not a video" in browser.find_element(By.ID, "error-message").text
    assert browser.find_element(By.ID, "error-code").text == "media.unsupported-type"
    assert browser.find_element(By.ID, "error-hint").text
    assert not browser.find_element(By.ID, "result").is_displayed()
    assert browser.find_element(By.ID, "form").is_displayed()  # ready for another file
    assert [m for m in _console_problems(browser) if "415" not in m] == []
    assert list(work.iterdir()) == []
