"""Mapping R package names to Debian binary packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrlab.inside import rdeb
from pyrlab.inside.lists import Entry

AVAILABLE = {"r-cran-data.table", "r-cran-ggplot2", "r-bioc-deseq2", "r-other-mott-happy.hbrem", "r-cran-ggplot2movies"}


def entry(text: str, line: int = 1) -> Entry:
    return Entry(Path("r_packages.txt"), line, text)


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("data.table", "r-cran-data.table"),
        ("ggplot2", "r-cran-ggplot2"),
        ("DESeq2", "r-bioc-deseq2"),
        ("mott-happy.hbrem", "r-other-mott-happy.hbrem"),
    ],
)
def test_names_are_lowercased_behind_their_repository_prefix(name: str, package: str) -> None:
    assert rdeb.debian_package(name, AVAILABLE) == package


def test_cran_wins_over_bioconductor() -> None:
    assert rdeb.debian_package("x", {"r-bioc-x", "r-cran-x"}) == "r-cran-x"


def test_map_keeps_list_order() -> None:
    assert rdeb.map_entries([entry("ggplot2"), entry("data.table", 2)], AVAILABLE) == [
        "r-cran-ggplot2",
        "r-cran-data.table",
    ]


def test_every_unknown_name_is_reported_at_once_with_suggestions() -> None:
    with pytest.raises(rdeb.UnknownRPackages) as raised:
        rdeb.map_entries([entry("ggplot"), entry("ggplot2", 2), entry("nosuchthing", 3)], AVAILABLE)
    unknown = raised.value.unknown
    assert [(item.entry.line, item.entry.text) for item in unknown] == [(1, "ggplot"), (3, "nosuchthing")]
    assert "ggplot2" in unknown[0].suggestions
    assert unknown[1].suggestions == []
    message = str(raised.value)
    assert "r_packages.txt:1: 'ggplot' has no Debian package" in message
    assert "did you mean ggplot2" in message
    assert "fix:" in message
