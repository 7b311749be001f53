"""pylab as a person uses it: the printed URL in Chromium, a notebook with a plot and a table,
TensorBoard and D-Tale through Jupyter, a terminal; and nothing asked of the internet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from harness.browser import LabPage, launcher, new_notebook, run_cell
from harness.browserlab import SCREENSHOTS, MadeLab, host_file_text, open_made_lab, owner_ids

PYTHON = "Python 3 (ipykernel)"


@pytest.fixture(scope="module")
def pylab(start_lab: Any) -> MadeLab:
    made: MadeLab = start_lab("pylab")
    return made


@pytest.fixture(scope="module")
def notebook(browser: Browser, pylab: MadeLab) -> Iterator[LabPage]:
    """One tab with a new Python notebook, shared by the scenarios that run cells."""
    tab = open_made_lab(browser, pylab)
    new_notebook(tab, PYTHON)
    yield tab
    assert tab.foreign_requests() == []
    tab.page.context.close()


def test_printed_url_opens_the_lab_with_the_python_kernel_only(browser: Browser, pylab: MadeLab) -> None:
    tab = open_made_lab(browser, pylab)
    assert launcher(tab, "Notebook").all_inner_texts() == [PYTHON]
    assert tab.page.get_by_text("official Jupyter news").count() == 0  # offline: nothing to ask about
    tab.screenshot(SCREENSHOTS / "pylab-launcher.png")
    assert tab.foreign_requests() == []
    tab.page.context.close()


def test_matplotlib_plot_appears_under_the_cell(notebook: LabPage) -> None:
    output = run_cell(
        notebook, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2, 4])\nplt.title('pyrlab')\nplt.show()"
    )
    image = output.locator("img")
    image.wait_for()
    assert image.evaluate("img => img.complete && img.naturalWidth > 100")
    notebook.screenshot(SCREENSHOTS / "pylab-plot.png")


def test_data_frame_renders_as_a_table(notebook: LabPage) -> None:
    output = run_cell(notebook, "import pandas as pd\npd.DataFrame({'answer': [4242, 4343]})")
    table = output.locator("table.dataframe")
    table.wait_for()
    assert "4242" in table.inner_text()
    assert "answer" in table.locator("thead").inner_text()


def test_tensorboard_opens_through_jupyter(browser: Browser, pylab: MadeLab, notebook: LabPage) -> None:
    run_cell(
        notebook,
        "import subprocess\nboard = subprocess.Popen(['tensorboard', '--logdir', '/tmp/tb', '--port', '6006'])\n"
        "print('started')",
    ).get_by_text("started").wait_for()
    tab = open_made_lab(browser, pylab)  # the token's URL once: then the session's cookie does
    for _ in range(60):  # TensorBoard takes a few seconds to listen
        answer = tab.page.goto(f"{pylab.origin}/proxy/6006/")
        if answer is not None and answer.status == 200:
            break
        tab.page.wait_for_timeout(500)
    tab.page.wait_for_function("document.title.includes('TensorBoard')")
    tab.screenshot(SCREENSHOTS / "pylab-tensorboard.png")
    assert tab.foreign_requests() == []
    tab.page.context.close()


def test_dtale_opens_from_its_url(browser: Browser, pylab: MadeLab, notebook: LabPage) -> None:
    output = run_cell(
        notebook,
        "import dtale, dtale.app\ndtale.app.JUPYTER_SERVER_PROXY = True\n"
        "shown = dtale.show(pd.DataFrame({'answer': [4242]}), app_root='/proxy')\nprint(shown._main_url)",
    )
    output.get_by_text("/proxy/40000/").wait_for()
    main_url = output.inner_text().strip()
    tab = open_made_lab(browser, pylab)
    for _ in range(60):  # dtale.show returns before its server thread listens
        answer = tab.page.goto(f"{pylab.origin}{main_url}")
        if answer is not None and answer.status == 200:
            break
        tab.page.wait_for_timeout(500)
    tab.page.get_by_text("4242").first.wait_for()
    tab.screenshot(SCREENSHOTS / "pylab-dtale.png")
    assert tab.foreign_requests() == []
    tab.page.context.close()


def test_terminal_runs_as_the_notebook_user(browser: Browser, pylab: MadeLab) -> None:
    tab = open_made_lab(browser, pylab)
    launcher(tab, "Other").filter(has_text="Terminal").click()
    terminal = tab.page.locator(".jp-Terminal .xterm-helper-textarea")
    terminal.wait_for(state="attached")
    tab.page.locator(".jp-Terminal").click()
    tab.page.wait_for_timeout(1000)  # the shell's prompt
    tab.page.keyboard.type("id > ~/work/terminal-id.txt\n")
    uid, _ = owner_ids()
    assert host_file_text(pylab.notebooks / "terminal-id.txt").startswith(f"uid={uid}(")
    tab.screenshot(SCREENSHOTS / "pylab-terminal.png")
    assert tab.foreign_requests() == []
    tab.page.context.close()


def test_lab_opened_no_connection_beyond_the_machine(pylab: MadeLab, notebook: LabPage) -> None:
    """Last in this file: from the container's first moment through every scenario above, its
    network namespace held no socket towards another machine (no news, no update check)."""
    assert pylab.outbound == set()
