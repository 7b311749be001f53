"""The team server as its users see it: the login form, the spawn page with exactly the built
images, the chosen lab opening, another user kept out of it, and logging out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from harness.browser import LabPage, launcher, new_tab
from harness.browserlab import SCREENSHOTS
from harness.chain import chain_images
from harness.makefile import free_port
from harness.makerun import make


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], list[str]]]:
    folder = tmp_path_factory.mktemp("hub")
    port = free_port()
    settings = [f"HUB_PORT={port}", f"HUB_DATA={folder / 'data'}", f"HUB_HOMES={folder / 'homes'}"]
    images = chain_images()
    settings += ["HUB_ADMIN=admin", f"DOCKER={folder / 'config'}"]
    settings += [f"HUB_IMAGES=pylab={images['pylab']},rlab={images['rlab']}"]
    started = make("hub", *settings)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    passwords = {}
    for name in ("alice", "bob"):
        added = make("hub-user", f"NAME={name}", *settings)
        assert added.returncode == 0, added.stderr
        match = re.search(r"^    (\S+)$", added.stdout, re.MULTILINE)
        assert match, added.stdout
        passwords[name] = match.group(1)
    yield f"http://127.0.0.1:{port}", passwords, settings
    assert make("hub-stop", *settings).returncode == 0


def log_in(browser: Browser, url: str, name: str, password: str) -> LabPage:
    tab = new_tab(browser, f"{url}/hub/login")
    tab.page.goto(f"{url}/hub/login")
    tab.page.locator("input[name=username]").fill(name)
    tab.page.locator("input[name=password]").fill(password)
    tab.page.locator("input[name=password]").press("Enter")
    return tab


def test_login_spawn_page_lab_and_logout(browser: Browser, hub: tuple[str, dict[str, str], list[str]]) -> None:
    url, passwords, _ = hub
    tab = log_in(browser, url, "alice", passwords["alice"])
    choices = tab.page.locator("input[name=image]")
    choices.first.wait_for(state="attached")
    # Exactly the built images, each with what it holds.
    assert [choice.get_attribute("value") for choice in choices.all()] == ["pylab", "rlab"]
    assert "JupyterLab with R (kernel ir) and Python" in tab.page.locator("form").inner_text()
    tab.screenshot(SCREENSHOTS / "hub-spawn.png")
    tab.page.locator("input[name=image][value=pylab]").check()
    tab.page.locator("form [type=submit]").first.click()
    launcher(tab, "Notebook").first.wait_for(timeout=150_000)  # the lab opens when it is ready
    assert tab.page.url.startswith(f"{url}/user/alice/lab")
    assert launcher(tab, "Notebook").all_inner_texts() == ["Python 3 (ipykernel)"]
    assert tab.foreign_requests() == []

    intruder = log_in(browser, url, "bob", passwords["bob"])
    intruder.page.locator("input[name=image]").first.wait_for(state="attached")  # bob's own spawn page
    answer = intruder.page.goto(f"{url}/user/alice/lab")
    assert "/user/alice/" not in intruder.page.url or (answer is not None and answer.status == 403)
    assert launcher(intruder).count() == 0
    intruder.page.context.close()

    tab.page.goto(f"{url}/hub/logout")
    tab.page.locator("input[name=password]").wait_for()  # back at the login form
    tab.page.goto(f"{url}/user/alice/lab")  # logged out: the lab sends the browser to log in
    tab.page.locator("input[name=password]").wait_for()
    assert "/hub/login" in tab.page.url
    assert launcher(tab).count() == 0
    tab.page.context.close()
