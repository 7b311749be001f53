"""pyrlab prepare: what the builds read under .build/, written only when it changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.makerun import exported_settings
from pyrlab.images import prepare
from pyrlab.inside.lists import LISTS
from pyrlab.settings import Settings

REPO = Path(__file__).parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for package_list in LISTS:
        (tmp_path / package_list.path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / package_list.path).write_text("")
    (tmp_path / "pylab").mkdir(exist_ok=True)
    (tmp_path / "pylab" / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


def settings(**changes: str) -> Settings:
    """The settings as make exports them, with these changed."""
    return Settings.from_environment({**exported_settings(), **changes})


def test_debian_lists_are_installed_as_bare_names(project: Path) -> None:
    (project / "base_debs.txt").write_text("# tools\ncurl  # for downloads\n\nless\n")
    prepare.prepare(project, settings(), [])
    assert (project / ".build/install/base_debs.txt").read_text() == "curl\nless\n"


def test_unchanged_files_keep_their_time_and_a_change_is_seen(project: Path) -> None:
    (project / "requirements.txt").write_text("numpy\n")
    prepare.prepare(project, settings(), ["pylab"])
    written = {path: path.stat().st_mtime_ns for path in (project / ".build").rglob("*") if path.is_file()}
    os.utime(project / "requirements.txt")  # touched, not changed
    prepare.prepare(project, settings(), ["pylab"])
    assert {path: path.stat().st_mtime_ns for path in written} == written
    (project / "requirements.txt").write_text("numpy\nsix\n")
    before = (project / ".build/inputs/pylab").read_text()
    prepare.prepare(project, settings(), ["pylab"])
    assert (project / ".build/inputs/pylab").read_text() != before
    assert (project / ".build/install/requirements.txt").read_text() == "numpy\nsix\n"


def test_a_comment_changes_no_debian_build(project: Path) -> None:
    (project / "r_debs.txt").write_text("r-cran-data.table\n")
    prepare.prepare(project, settings(), ["rlab-base"])
    before = (project / ".build/inputs/rlab-base").read_text()
    (project / "r_debs.txt").write_text("# the tables\nr-cran-data.table  # fast\n")
    prepare.prepare(project, settings(), ["rlab-base"])
    assert (project / ".build/inputs/rlab-base").read_text() == before


def test_a_missing_optional_list_installs_nothing(project: Path) -> None:
    (project / "requirements-gpu.txt").unlink()
    prepare.prepare(project, settings(), [])
    assert (project / ".build/install/requirements-gpu.txt").read_text() == ""


def test_the_caches_are_secrets_written_from_the_settings(project: Path) -> None:
    prepare.prepare(project, settings(APTPROXY="http://127.0.0.1:3142", PIPPROXY="http://127.0.0.1:3141/"), [])
    assert (project / ".build/aptproxy").read_text() == "http://127.0.0.1:3142"
    assert (project / ".build/pipindex").read_text() == "http://127.0.0.1:3141/root/pypi/+simple/"


def test_every_build_reads_its_folder_its_lists_and_the_helpers(project: Path) -> None:
    (project / "pyrlab-base" / "uv-install").write_text("#!/bin/bash\n")
    (project / "scripts").mkdir()
    (project / "scripts" / "elsewhere.py").write_text("")
    prepare.prepare(project, settings(), ["pylab"])
    inputs = {str(path) for path in prepare.build_inputs(project, "pylab")}
    assert {"pylab/Dockerfile", "pyrlab-base/uv-install", ".build/install/requirements.txt"} <= inputs
    assert ".build/snapshots/requirements.txt" in inputs
    assert not any(path.startswith(("scripts/", ".build/install/r_")) for path in inputs)


def test_rlab_reads_the_in_container_code_only() -> None:
    inputs = {str(path) for path in prepare.build_inputs(REPO, "rlab")}
    code = {path for path in inputs if path.startswith("scripts/")}
    assert code
    assert all(path.startswith("scripts/pyrlab/inside/") for path in code)


def test_the_in_container_code_needs_nothing_but_the_standard_library() -> None:
    """Each module the builds and containers run imports with no site-packages and no host module."""
    modules = sorted(path.stem for path in (REPO / "scripts/pyrlab/inside").glob("*.py") if path.stem != "__init__")
    program = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(REPO / 'scripts')!r})\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module('pyrlab.inside.' + name)\n"
        "host = sorted(m for m in sys.modules if m.startswith('pyrlab.') and not m.startswith('pyrlab.inside'))\n"
        "assert not host, host\n"
        "print(len(sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-I", "-S", "-c", program], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert modules == ["contract", "errors", "inventory", "lists", "lockfile", "rdeb", "resolve", "rsource"]
