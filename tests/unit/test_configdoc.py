"""docs/configuration.md is what `make docs` writes from settings.mk: a setting is added by its
`##` line and its `?=` line, then `make docs`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyrlab import configdoc

REPO = Path(__file__).parents[2]


def test_the_committed_page_is_what_the_settings_give() -> None:
    written = (REPO / configdoc.OUTPUT).read_text(encoding="utf-8")
    assert written == configdoc.markdown((REPO / configdoc.SETTINGS).read_text(encoding="utf-8")), (
        "docs/configuration.md differs from settings.mk: run `make docs`"
    )


def test_every_setting_has_its_row_and_no_other() -> None:
    variables = re.findall(r"^([A-Z0-9_]+) \?=", (REPO / "settings.mk").read_text(), flags=re.MULTILINE)
    page = (REPO / configdoc.OUTPUT).read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|", page, flags=re.MULTILINE)
    assert sorted(rows) == sorted(variables)


def test_a_setting_without_its_doc_line_is_named() -> None:
    with pytest.raises(configdoc.ConfigDocError, match=r"settings.mk:3: LATE has no `## what it does` line"):
        configdoc.markdown("## Early\nEARLY ?= 1\nLATE ?= 2\n")


def test_a_run_of_shared_prefixes_is_a_section_after_the_general_table() -> None:
    page = configdoc.markdown(
        "## Port of it: on 127.0.0.1\nPORT ?= 1\n"
        "## Hub (`make hub`): its port\nHUB_PORT ?= 2\n"
        "## Hub: folder of a | b\nHUB_DATA ?=\n"
        "## Last one\nLAST ?= $(if $(X),a,b)\n"
    )
    tables = page.split("## Hub (`make hub`)\n")
    assert "| `PORT` | `1` | Port of it: on 127.0.0.1 |" in tables[0]
    assert "| `LAST` | `$(if $(X),a,b)` | Last one |" in tables[0]
    assert "| `HUB_PORT` | `2` | Its port |" in tables[1]
    assert "| `HUB_DATA` | empty | Folder of a \\| b |" in tables[1]


def test_make_docs_writes_only_a_changed_page(tmp_path: Path) -> None:
    (tmp_path / "settings.mk").write_text("## One\nONE ?= 1\n")
    (tmp_path / "docs").mkdir()
    assert configdoc.write(tmp_path) == "wrote docs/configuration.md"
    assert configdoc.write(tmp_path) == "docs/configuration.md is up to date"


def test_help_shows_each_section_target_and_setting_with_its_default() -> None:
    makefile = "##@ Build\n## Where it goes\nOUT ?= out\nbuild: deps ## build it\nhidden: ; @true\n"
    assert configdoc.help_text(makefile, "a:BASE").splitlines() == [
        "Usage: make TARGET [VARIABLE=value ...]   Images: a:BASE",
        "",
        "Build",
        f"  {'OUT':<15} Where it goes",
        f"  {'':15} (default: out)",
        f"  {'build':<15} build it",
    ]
