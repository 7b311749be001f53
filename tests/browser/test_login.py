"""Logging in as a person does: the password form of `make password`, and HTTPS with GEN_CERT."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser

from harness.browser import launcher, new_tab
from harness.browserlab import SCREENSHOTS, MadeLab, open_made_lab

PASSWORD = "correct horse battery"


def test_password_form_accepts_the_password_and_refuses_another(browser: Browser, start_lab: Any) -> None:
    pylab: MadeLab = start_lab("pylab", stdin_password=PASSWORD)
    assert "token=" not in pylab.url
    tab = new_tab(browser, pylab.url)
    tab.page.goto(pylab.url)
    password = tab.page.locator("input[type=password]")
    password.fill("not the password")
    password.press("Enter")
    tab.page.get_by_text("Invalid credentials").wait_for()
    assert launcher(tab).count() == 0
    tab.page.locator("input[type=password]").fill(PASSWORD)
    tab.page.locator("input[type=password]").press("Enter")
    launcher(tab).first.wait_for()
    tab.screenshot(SCREENSHOTS / "login-after-password.png")
    assert tab.foreign_requests() == []
    tab.page.context.close()


def test_gen_cert_https_url_opens(browser: Browser, start_lab: Any) -> None:
    pylab: MadeLab = start_lab("pylab", "DOCKER_ARGS=-e GEN_CERT=yes")
    assert pylab.url.startswith("https://")
    tab = open_made_lab(browser, pylab)  # the self-signed certificate is accepted in this test only
    assert launcher(tab, "Notebook").count() == 1
    assert tab.foreign_requests() == []
    tab.page.context.close()
