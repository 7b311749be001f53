"""rlab as a person uses it: R and Python in the launcher, a ggplot2 plot under an R cell."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser

from harness.browser import launcher, new_notebook, run_cell
from harness.browserlab import SCREENSHOTS, MadeLab, open_made_lab


def test_r_notebook_draws_a_ggplot(browser: Browser, start_lab: Any) -> None:
    rlab: MadeLab = start_lab("rlab")
    tab = open_made_lab(browser, rlab)
    assert sorted(launcher(tab, "Notebook").all_inner_texts()) == ["Python 3 (ipykernel)", "R"]
    new_notebook(tab, "R")
    output = run_cell(
        tab,
        "library(ggplot2)\nggplot(data.frame(x = 1:10, y = (1:10)^2), aes(x, y)) + geom_line() + ggtitle('rlab')",
    )
    image = output.locator("img")
    image.wait_for()
    assert image.evaluate("img => img.complete && img.naturalWidth > 100")
    tab.screenshot(SCREENSHOTS / "rlab-ggplot.png")
    assert tab.foreign_requests() == []
    assert rlab.outbound == set()
    tab.page.context.close()
