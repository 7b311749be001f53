"""Fixtures for the isolation tests: real images, real containers, and host users created for the
test (a co-tenant who runs `make pylab` on the same machine), removed afterwards.

Every test here performs an attack. `--repo` and `--make-arg` point the tests at another checkout
and its images, so that the same attacks can be run against an older pyrlab to see them succeed:
`pytest tests/security --repo /tmp/old --make-arg IMAGE_PREFIX=old/`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.attack import REPO, HostUser, Project, open_folder, shared_tools_environment
from harness.chain import chain_images, checkout_images


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--repo", default=str(REPO), help="the checkout whose Makefile and images are attacked")
    parser.addoption("--make-arg", action="append", default=[], help="a make argument, e.g. IMAGE_PREFIX=old/")


@pytest.fixture(scope="session")
def project(pytestconfig: pytest.Config) -> Iterator[Project]:
    root = Path(pytestconfig.getoption("--repo"))
    make_args = list(pytestconfig.getoption("--make-arg"))
    images = checkout_images(root, *make_args) if root != REPO or make_args else chain_images()
    folder = open_folder()
    yield Project(root, make_args, images, shared_tools_environment(root, folder / "tools"))
    shutil.rmtree(folder)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    folder = open_folder()
    yield folder
    shutil.rmtree(folder)


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return docker.from_env(version="auto")


@pytest.fixture(autouse=True)
def remove_test_containers(docker_client: Any) -> Iterator[None]:
    yield
    for container in docker_client.containers.list(all=True, filters={"label": "pyrlab.test=security"}):
        container.remove(force=True)


@pytest.fixture
def host_users() -> Iterator[Callable[[], HostUser]]:
    """Creates host users in the docker group (as a co-tenant of a shared server is), removed after."""
    if os.getuid() != 0:
        pytest.skip("creating host users needs root (CI runs as root)")
    created: list[str] = []

    def create() -> HostUser:
        name = f"pyrlab-{secrets.token_hex(3)}"
        subprocess.run(["useradd", "--create-home", "--user-group", "--groups", "docker", name], check=True)
        created.append(name)
        ids = subprocess.run(["id", "-u", name], capture_output=True, text=True, check=True).stdout
        groups = subprocess.run(["id", "-g", name], capture_output=True, text=True, check=True).stdout
        return HostUser(name, int(ids), int(groups), Path(f"/home/{name}"))

    yield create
    for name in created:
        subprocess.run(["userdel", "--remove", name], capture_output=True, check=True)


@pytest.fixture
def cotenant(host_users: Callable[[], HostUser]) -> HostUser:
    return host_users()
