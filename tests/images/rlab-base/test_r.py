"""rlab-base: R from Debian with IRkernel, beside Python; no CUDA anywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from harness.imagelab import REPO, CellResult
from pyrlab.inside.lists import read_entries


def test_r_is_debian_r_4(host: Any) -> None:
    assert host.package("r-base-core").is_installed
    assert host.check_output("R --version").startswith("R version 4.")


def test_r_and_python_kernels_are_listed(host: Any) -> None:
    kernels = json.loads(host.check_output("jupyter kernelspec list --json"))["kernelspecs"]
    assert {"ir", "python3"} <= set(kernels)
    assert kernels["ir"]["resource_dir"].startswith("/opt/venv/")


def test_r_cell_runs_through_jupyter(run_cell: Callable[[str, str], CellResult]) -> None:
    result = run_cell("ir", "cat(6 * 7, R.version$major)")
    assert (result.status, result.output.split()) == ("ok", ["42", "4"])


def test_python_cell_still_runs(run_cell: Callable[[str, str], CellResult]) -> None:
    assert run_cell("python3", "print(6 * 7)").output.strip() == "42"


def test_no_cuda_libraries(host: Any) -> None:
    found = host.run(
        "find / -xdev \\( -name 'libcudart*' -o -name 'libcublas*' -o -name 'libcudnn*' -o -name 'libnvrtc*' \\) -print"
    )
    assert found.stdout == ""
    wheels = host.check_output("uv pip list --format json")
    assert not [row["name"] for row in json.loads(wheels) if row["name"].startswith("nvidia-")]


@pytest.mark.parametrize("package", [entry.text for entry in read_entries(REPO / "r_debs.txt")])
def test_r_debs_are_installed(host: Any, package: str) -> None:
    assert host.package(package).is_installed
