"""The failing day's on-call page in a real browser: headless Chromium renders it cleanly.

Selenium drives Debian's chromium through Debian's chromedriver (same source
package, so their versions match; nothing is downloaded). The install script
puts both in place; a machine without them fails here with that script's name
instead of silently skipping, because `make test` runs the script first.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hrlrec import report
from tests.test_report import DS, auc_failure_day, banner, workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "scripts/install-chromium.sh"
WIDTH = 1280  # a laptop screen


@pytest.fixture
def browser() -> Iterator[Any]:
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if absent:
        pytest.fail(f"{' and '.join(absent)} not installed: run `bash {INSTALL}` (make test runs it first)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--window-size={WIDTH},900"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_failing_page_renders_without_console_errors_and_screenshots(tmp_path: Path, browser: Any) -> None:
    root = auc_failure_day(tmp_path / "ws")
    page = report.run(workspace(root), DS)
    browser.get(page.as_uri())

    assert browser.title == f"FAIL · hrlrec {DS}"
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == [], severe
    images = browser.execute_script(
        "return [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt.length])"
    )
    assert len(images) == 4 and all(ok and w == 900 and h > 200 and alt > 20 for ok, w, h, alt in images)
    # Readable on a laptop: nothing scrolls sideways, and the verdict is in the first screenful.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTH
    header = browser.find_element("tag name", "header")
    assert header.location["y"] < 150 and header.text.startswith("FAILED")
    assert "AUC gate" in banner(browser.page_source)

    # A full-page screenshot: the viewport is set to the page's height, so nothing is cut off.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert struct.unpack(">II", data[16:24]) == (WIDTH, height)
