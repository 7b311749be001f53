"""Fixtures for the image tests: a real container of the image under test, its Jupyter server,
and a testinfra host inside it.

`make test-IMAGE` runs the test folders of IMAGE and of every image it is built on (the chain in
the Makefile), so a child image passes its parents' tests too.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest
import testinfra

from harness.imagelab import KERNEL_CLIENT, CellResult, Lab, host_ports, wait_for_jupyter
from pyrlab.platforms import Platform

# The arm64 subset that `make test-arm64` (so `make test` and CI) runs under QEMU, where each test
# costs several times what it does natively (tests/README.md): the image is aarch64, Jupyter
# answers with its token, a cell runs in each kernel, and every package of the lists imports or
# loads. `make test-IMAGE PLATFORM=linux/arm64` runs every test. Test files and test names (a
# parametrized test with all its cases).
ARM64_SUBSET = {
    "pyrlab-base/test_platform.py": {"test_the_image_runs_as_the_platform_it_was_built_for"},
    "pyrlab-base/test_runtime.py": {
        "test_jupyter_runs_as_the_notebook_user",
        "test_jupyter_refuses_requests_without_the_token",
        "test_python_cell_runs_through_jupyter",
        "test_base_debs_are_installed",
    },
    "pylab/test_packages.py": {"test_requirement_is_installed_and_imports"},
    "pylab/test_cells.py": {"test_numpy_pandas_and_matplotlib_draw_a_plot"},
    "rlab-base/test_r.py": {"test_r_cell_runs_through_jupyter", "test_r_debs_are_installed"},
    "rlab/test_rpackages.py": {"test_r_package_loads"},
    "rlab/test_plot.py": {"test_ggplot2_draws_a_plot_in_the_ir_kernel"},
}


# What does not hold under QEMU (an image of another platform than the host's), and why: these
# tests are skipped there. The image itself is not at fault; on its own platform they run.
HEALTH = "the image's health check allows 3 s, which its Python under QEMU can exceed"
UNDER_EMULATION = {
    "pyrlab-base/test_start.py": {
        "test_grant_sudo_only_when_asked": "setuid programs (sudo) gain no privilege under binfmt without the C flag",
        "test_healthcheck_healthy_with_port_base_url_and_proxies": HEALTH,
        "test_gen_cert_serves_https_and_stays_healthy": HEALTH,
    },
    "pyrlab-base/test_kubeflow.py": {
        "test_runs_as_kubeflow_starts_it_and_keeps_files_in_the_volume": HEALTH,
        "test_runs_with_an_arbitrary_uid_in_group_zero_as_openshift_starts_it": HEALTH,
    },
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "arm64: in the arm64 subset of `make test-arm64` (ARM64_SUBSET)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    emulated = Platform.parse(str(config.getoption("--platform"))).foreign
    for item in items:
        folder_and_file = "/".join(item.path.parts[-2:])
        name = item.originalname  # type: ignore[attr-defined]
        if name in ARM64_SUBSET.get(folder_and_file, set()):
            item.add_marker(pytest.mark.arm64)
        reason = UNDER_EMULATION.get(folder_and_file, {}).get(name)
        if emulated and reason:
            item.add_marker(pytest.mark.skip(reason=f"under QEMU: {reason}"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--image", required=True, help="reference of the image under test, e.g. pylab:latest")
    parser.addoption("--ca-certs", default="", help="the CA_CERTS bundle the image was built with, if any")
    parser.addoption("--platform", default="", help="the PLATFORM the image was built for (empty: the host's)")


@pytest.fixture(scope="session")
def image(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("--image"))


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return docker.from_env(version="auto")


@pytest.fixture(scope="session")
def lab(docker_client: Any, image: str) -> Iterator[Lab]:
    """The image's default command (Jupyter), every exposed port published on 127.0.0.1."""
    token = secrets.token_hex(24)
    exposed = docker_client.images.get(image).attrs["Config"].get("ExposedPorts") or {}
    container = docker_client.containers.run(
        image,
        detach=True,
        environment={"JUPYTER_TOKEN": token},
        ports={port: ("127.0.0.1", None) for port in {"8888/tcp", *exposed}},
        labels={"pyrlab.test": "images"},
    )
    try:
        running = Lab(container, token, host_ports(container))
        wait_for_jupyter(container, running.url, token)
        yield running
    finally:
        container.remove(force=True)


@pytest.fixture(scope="session")
def host(lab: Lab) -> Any:
    """testinfra inside the running lab, as the image's user."""
    return testinfra.get_host(f"docker://{lab.container.id}")


@pytest.fixture(scope="session")
def run_cell(lab: Lab) -> Callable[[str, str], CellResult]:
    """Execute code in a fresh kernel of the given name through the lab's Jupyter API."""

    def run(kernel: str, code: str) -> CellResult:
        exit_code, output = lab.container.exec_run(
            ["python", "-c", KERNEL_CLIENT, "8888", lab.token, kernel, code], user="jovyan"
        )
        text = output.decode(errors="replace")
        assert exit_code == 0, text
        result = json.loads(text.strip().splitlines()[-1])
        return CellResult(result["status"], result["output"])

    return run


@pytest.fixture(scope="session")
def image_environment(docker_client: Any, image: str) -> dict[str, str]:
    """The variables the image sets (its ENV lines and its parents')."""
    entries = docker_client.images.get(image).attrs["Config"]["Env"]
    return dict(str(entry).split("=", 1) for entry in entries)


@pytest.fixture(scope="session")
def image_cuda_version(image_environment: dict[str, str]) -> str:
    """The CUDA major version of pylab's CUDA build (PYRLAB_CUDA_VERSION); empty for every other image."""
    return image_environment.get("PYRLAB_CUDA_VERSION", "")


@pytest.fixture
def cuda_version(image_cuda_version: str) -> str:
    """For a test of the CUDA build: its CUDA version; skipped on any other image."""
    if not image_cuda_version:
        pytest.skip("a test of pylab's CUDA build (CUDA_INSTALL=yes); this image has no CUDA")
    return image_cuda_version


@pytest.fixture
def without_cuda(image_cuda_version: str) -> None:
    """For a test of an image without CUDA; skipped on pylab's CUDA build."""
    if image_cuda_version:
        pytest.skip(f"a test of the images without CUDA; this is pylab's CUDA {image_cuda_version} build")
