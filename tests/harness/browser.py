"""A lab in a real browser, as a person uses it: Debian's Chromium driven by Playwright.

The browser tests and `make bench` share these steps. No browser is downloaded: Playwright starts
/usr/bin/chromium (`apt-get install chromium`). Every request a page makes is recorded, so that a
test can tell that nothing left for the internet.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = Path("/usr/bin/chromium")
# Root runs the tests (no sandbox then); nothing of Chromium's own phones home.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-quic",
]  # fmt: skip
VIEWPORT = {"width": 1400, "height": 900}
# JupyterLab takes longer on a cold start of a kernel (R) than on a page.
PAGE_TIMEOUT_MS = 60_000


class BrowserError(Exception):
    """The browser cannot be started; the message says what to install."""


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise BrowserError(f"{CHROMIUM} is missing: `apt-get install chromium` (Debian's Chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class LabPage:
    """A browser tab on a lab, and every URL the tab asked for."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # requests that failed or answered >= 400

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the lab's own address (data: and blob: URLs stay in the page)."""
        return [url for url in self.requests if not url.startswith((self.origin + "/", "data:", "blob:"))]

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return path


def new_tab(browser: Browser, url: str) -> LabPage:
    """A tab in a fresh browser context (no cookies), recording its requests, not yet opened."""
    context = browser.new_context(viewport=VIEWPORT, ignore_https_errors=url.startswith("https:"))  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    parts = urlsplit(url)
    tab = LabPage(page, f"{parts.scheme}://{parts.netloc}")
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("requestfailed", lambda request: tab.failures.append(f"{request.url}: {request.failure}"))
    page.on(
        "response",
        lambda answer: tab.failures.append(f"{answer.url}: {answer.status}") if answer.status >= 400 else None,
    )
    return tab


def open_lab(browser: Browser, url: str, diagnose: Callable[[], str] | None = None) -> LabPage:
    """Open the URL `make pylab` printed and wait for JupyterLab's launcher. A page that never shows
    it is loaded once more (a person would reload), with a warning that says what had failed: the
    failed requests, the page's console errors, and what `diagnose` adds (the lab's log)."""
    tab = new_tab(browser, url)
    console: list[str] = []
    tab.page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    tab.page.goto(url)
    try:
        launcher(tab).first.wait_for()
    except PlaywrightTimeout:
        failed = tab.screenshot(Path("test-output/screenshots/launcher-not-shown.png"))
        server = diagnose() if diagnose else ""
        warnings.warn(
            f"{url}: no launcher after {PAGE_TIMEOUT_MS / 1000:.0f} s (screenshot {failed}; failed requests: "
            f"{tab.failures or 'none'}; console errors: {console or 'none'}); loading it again"
            + (f"\nthe lab's log:\n{server}" if server else ""),
            stacklevel=2,
        )
        tab.page.reload()
        launcher(tab).first.wait_for()
    return tab


def launcher(tab: LabPage, section: str = "") -> Locator:
    """The launcher's cards, of one section (Notebook, Console, Other) or all."""
    cards = tab.page.locator(".jp-LauncherCard")
    if not section:
        return cards
    titled = tab.page.locator(".jp-Launcher-sectionTitle", has_text=section)
    return tab.page.locator(".jp-Launcher-section", has=titled).locator(".jp-LauncherCard")


def new_notebook(tab: LabPage, kernel: str) -> None:
    """Open a new notebook from the launcher card of that kernel (its display name) and wait for
    the kernel to be idle."""
    launcher(tab, "Notebook").filter(has_text=re.compile(rf"^\s*{re.escape(kernel)}\s*$")).first.click()
    tab.page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.wait_for()
    tab.page.get_by_text(f"{kernel} | Idle").wait_for()


def run_cell(tab: LabPage, code: str) -> Locator:
    """Type code into the notebook's last cell, run it (Shift+Enter), and return its output area."""
    cells = tab.page.locator(".jp-NotebookPanel .jp-Cell")
    index = cells.count() - 1
    cells.nth(index).locator(".cm-content").click()
    tab.page.keyboard.insert_text(code)  # as pasted: no brackets closed for us
    tab.page.keyboard.press("Shift+Enter")
    return cells.nth(index).locator(".jp-OutputArea-output")
