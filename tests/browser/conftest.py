"""The browser tests: one live Parley server and one headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium through the system chromedriver; nothing is downloaded).

Without a chromedriver the tests fail in CI (``CI`` set) and are skipped elsewhere, with the reason. Screenshots
go to ``test-artifacts/browser/`` (git-ignored); a failing test leaves one of the page it failed on."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
WINDOW = (1100, 800)
os.environ.setdefault("SE_OFFLINE", "true")  # selenium never fetches a driver or a browser


def chromedriver() -> str | None:
    found = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if found:
        return found
    return "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None


def viewport(browser: Any, width: int, height: int) -> None:
    """Sizes the window so that the page itself (and so each screenshot) is ``width`` x ``height``."""
    browser.set_window_size(width, height)
    extra_width, extra_height = browser.execute_script(
        "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]"
    )
    if extra_width or extra_height:
        browser.set_window_size(width + extra_width, height + extra_height)


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    path = chromedriver()
    if path is None:
        message = "no chromedriver: install Debian's chromium and chromium-driver (make browser-deps)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; the browser tests must run in CI", pytrace=False)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", "--no-first-run", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                     "--lang=en-GB", "--force-prefers-reduced-motion"):  # fmt: skip
        options.add_argument(argument)
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    browser = webdriver.Chrome(service=Service(executable_path=path), options=options)
    viewport(browser, *WINDOW)
    browser.set_script_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("FAILED-*"):  # from an earlier run
        stale.unlink()
    yield browser
    browser.quit()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        browser = item.funcargs.get("driver") if hasattr(item, "funcargs") else None
        if browser is not None:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(ARTIFACTS / f"FAILED-{name}.png"))
            (ARTIFACTS / f"FAILED-{name}.html").write_text(browser.page_source)
    return report
