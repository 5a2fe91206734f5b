"""Headless Chromium through selenium, for the report's browser test and bench/bench_report.py.

Uses Debian's `chromium` and `chromium-driver` (`.ci/run` installs them): /usr/bin/chromedriver
is given explicitly, so selenium never tries to download a driver. Flags: Chromium runs as root
in CI (--no-sandbox), without a GPU, and must not reach the network on its own (no background
networking, component updates, sync or first-run fetches), with a fresh profile each time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DRIVER = Path("/usr/bin/chromedriver")
BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
REQUIRE_ENV = "CRITERIA_REQUIRE_BROWSER"


def browser_path() -> str | None:
    return next((b for b in BROWSERS if Path(b).exists()), None)


def missing_reason() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if browser_path() is None or not DRIVER.exists():
        return "Chromium is not installed: apt-get install -y chromium chromium-driver"
    return None


def browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


@contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="criteria-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser_path() or BROWSERS[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_report(driver: Any, path: Path, timeout: float = 120) -> float:
    """Load a report and wait until its script has drawn the patient table; the page's own
    measure of the time from navigation to that moment, in seconds."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script("return document.documentElement.dataset.ready || ''")
    )
    state = driver.execute_script("return document.documentElement.dataset.ready")
    if state != "1":
        text = driver.execute_script("return document.getElementById('script-error').textContent")
        raise AssertionError(f"the report's script failed: {text}")
    return float(driver.execute_script("return window.reportReadyMs")) / 1000


def console_errors(driver: Any) -> list[str]:
    """Console messages at SEVERE level (errors, CSP violations, failed loads)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
