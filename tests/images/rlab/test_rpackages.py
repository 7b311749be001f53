"""rlab: every package of r_packages.txt is Debian's binary package and loads in R."""

from __future__ import annotations

from typing import Any

import pytest

from harness.imagelab import REPO
from pyrlab.inside.lists import read_entries
from pyrlab.inside.rdeb import debian_package

R_PACKAGES = [entry.text for entry in read_entries(REPO / "r_packages.txt")]

# One R process loads them all and reports each: NAME<TAB>ok, or NAME<TAB>the error.
LOAD_ALL = """
for (name in commandArgs(trailingOnly = TRUE)) {
  result <- tryCatch({ suppressPackageStartupMessages(library(name, character.only = TRUE)); "ok" },
                     error = function(e) conditionMessage(e))
  cat(name, "\\t", result, "\\n", sep = "")
}
"""


@pytest.fixture(scope="module")
def loaded(host: Any) -> dict[str, str]:
    output = host.check_output("Rscript -e %s" + " %s" * len(R_PACKAGES), LOAD_ALL, *R_PACKAGES)
    return dict(line.split("\t", 1) for line in output.splitlines())


@pytest.fixture(scope="module")
def installed_debs(host: Any) -> set[str]:
    return set(host.check_output("dpkg-query --show --showformat '${Package}\\n' 'r-*'").split())


@pytest.mark.parametrize("name", R_PACKAGES)
def test_r_package_loads(loaded: dict[str, str], name: str) -> None:
    assert loaded[name] == "ok"


@pytest.mark.parametrize("name", R_PACKAGES)
def test_r_package_is_a_debian_binary(installed_debs: set[str], name: str) -> None:
    assert debian_package(name, installed_debs) is not None


def test_nothing_was_compiled_into_the_site_library(host: Any) -> None:
    """Packages installed from source would land in /usr/local/lib/R/site-library."""
    assert host.run("ls -A /usr/local/lib/R/site-library").stdout.strip() == ""
