"""Fixtures for the Makefile tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.makefile import copy_project
from harness.makerun import REPO, SCRATCH_PREFIX


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return docker.from_env(version="auto")


@pytest.fixture
def scratch(tmp_path: Path, docker_client: Any) -> Iterator[Path]:
    """A copy of the project whose images are named pyrlab-scratch/...; removed afterwards."""
    copy = tmp_path / "pyrlab"
    copy_project(REPO, copy)
    yield copy
    for image in docker_client.images.list(name=f"{SCRATCH_PREFIX}*"):
        for tag in image.tags:
            if tag.startswith(SCRATCH_PREFIX):  # the same image also carries the project's own names
                docker_client.images.remove(tag)
