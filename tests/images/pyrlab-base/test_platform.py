"""The image is of the platform it was built for (PLATFORM, else the host's): its metadata says
so, and its programs run as that machine (under QEMU when it is not the host's)."""

from __future__ import annotations

from typing import Any

import pytest

from pyrlab.platforms import KNOWN, Platform


def test_the_image_runs_as_the_platform_it_was_built_for(
    docker_client: Any, image: str, host: Any, pytestconfig: pytest.Config
) -> None:
    attributes = docker_client.images.get(image).attrs
    built_for = Platform.parse(str(pytestconfig.getoption("--platform")))
    assert f"{attributes['Os']}/{attributes['Architecture']}" == built_for.name
    assert host.check_output("uname -m") == built_for.machine
    assert host.check_output("dpkg --print-architecture") == built_for.arch
    python = "import platform; print(platform.machine())"
    assert host.check_output(f"/opt/venv/bin/python -c '{python}'") == KNOWN[built_for.name][1]
