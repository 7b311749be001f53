"""pylab's CUDA build (CUDA_INSTALL=yes): NVIDIA's libraries from wheels, found by the dynamic
linker without LD_LIBRARY_PATH, ptxas for JIT compilers, and a CUDA framework (requirements-gpu.txt)
that reports its CUDA version and still computes on the CPU. The default build has none of it.
With a GPU on the host, a matrix multiply runs on it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.imagelab import REPO, CellResult
from pyrlab.inside.lists import read_entries

GPU_REQUIREMENTS = [entry.text for entry in read_entries(REPO / "requirements-gpu.txt")]
# The sonames each CUDA major version's wheels provide.
LIBRARIES = {
    "12": ["libcudart.so.12", "libcublas.so.12", "libnvrtc.so.12", "libcudnn.so.9"],
    "13": ["libcudart.so.13", "libcublas.so.13", "libnvrtc.so.13", "libcudnn.so.9"],
}
LOAD = "import ctypes, sys\nfor name in sys.argv[1:]: ctypes.CDLL(name)\nprint('loaded', len(sys.argv) - 1)"
TORCH_ON_CPU = """
import torch
a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
print(torch.version.cuda, (a @ a).tolist())
"""
TORCH_ON_GPU = """
import torch
a = torch.arange(1.0, 5.0, device="cuda").reshape(2, 2)
print(torch.cuda.get_device_name(0), (a @ a).cpu().tolist())
"""


def host_has_gpu() -> bool:
    return Path("/dev/nvidiactl").exists() and shutil.which("nvidia-smi") is not None


def test_cuda_libraries_load_without_ld_library_path(host: Any, cuda_version: str) -> None:
    libraries = LIBRARIES[cuda_version]
    assert host.check_output("python -c %s " + " ".join(["%s"] * len(libraries)), LOAD, *libraries) == (
        f"loaded {len(libraries)}"
    )
    assert not host.environment().get("LD_LIBRARY_PATH")


def test_the_default_build_links_no_cuda_library(host: Any, without_cuda: None) -> None:
    assert "libcublas" not in host.check_output("/sbin/ldconfig -p")


NVIDIA_WHEELS = """
import importlib.metadata as metadata
for d in metadata.distributions():
    name = (d.metadata["Name"] or "").lower()
    if name.startswith(("nvidia-", "cuda-toolkit")):
        print(name, d.version)
"""


def nvidia_wheels(host: Any) -> dict[str, str]:
    return dict(line.split() for line in host.check_output("python -c %s", NVIDIA_WHEELS).splitlines())


def test_one_cuda_of_the_chosen_version(host: Any, cuda_version: str) -> None:
    """The frameworks and the toolkit share NVIDIA's libraries of CUDA_VERSION: no second CUDA."""
    wheels = nvidia_wheels(host)
    assert wheels["cuda-toolkit"].startswith(f"{cuda_version}.")
    others = [name for name in wheels if re.search(r"-cu\d+$", name) and not name.endswith(f"-cu{cuda_version}")]
    assert others == []


def test_the_default_build_has_no_nvidia_wheel(host: Any, without_cuda: None) -> None:
    assert nvidia_wheels(host) == {}


def test_ptxas_and_nvcc_are_on_the_path(host: Any, cuda_version: str) -> None:
    assert f"release {cuda_version}." in host.check_output("ptxas --version")
    assert f"release {cuda_version}." in host.check_output("nvcc --version")


def test_the_default_build_has_no_ptxas(host: Any, without_cuda: None) -> None:
    assert not host.exists("ptxas")


def test_nvidia_runtime_variables(host: Any, cuda_version: str) -> None:
    environment = host.environment()
    assert environment["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert "compute" in environment["NVIDIA_DRIVER_CAPABILITIES"].split(",")


def test_the_default_build_asks_the_nvidia_runtime_for_nothing(host: Any, without_cuda: None) -> None:
    assert "NVIDIA_VISIBLE_DEVICES" not in host.environment()


def test_gpu_framework_reports_its_cuda_and_computes_on_the_cpu(
    run_cell: Callable[[str, str], CellResult], cuda_version: str
) -> None:
    assert "torch" in GPU_REQUIREMENTS
    result = run_cell("python3", TORCH_ON_CPU)
    assert result.status == "ok", result.output
    reported, product = result.output.split(" ", 1)
    assert reported.startswith(f"{cuda_version}.")
    assert product.strip() == "[[7.0, 10.0], [15.0, 22.0]]"


def test_the_default_build_installs_no_gpu_requirements(
    run_cell: Callable[[str, str], CellResult], without_cuda: None
) -> None:
    result = run_cell("python3", "import importlib.util; print(importlib.util.find_spec('torch'))")
    assert result.status == "ok"
    assert result.output.strip() == "None"  # requirements-gpu.txt is for the CUDA build only


@pytest.mark.skipif(not host_has_gpu(), reason="no NVIDIA GPU on this host")
def test_matrix_multiply_on_the_gpu(docker_client: Any, image: str, cuda_version: str) -> None:
    assert cuda_version, "run with CUDA_INSTALL=yes on a GPU host"
    output = docker_client.containers.run(
        image,
        ["python", "-c", TORCH_ON_GPU],
        entrypoint=[],
        remove=True,
        device_requests=[docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])],
    ).decode()
    assert output.strip().endswith("[[7.0, 10.0], [15.0, 22.0]]"), output
