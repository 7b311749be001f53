"""rlab declares Jupyter's port as the contract says: the host publishes that one."""

from __future__ import annotations

from typing import Any

from pyrlab.inside.contract import JUPYTER_PORT


def test_rlab_exposes_jupyter(docker_client: Any, image: str) -> None:
    exposed = docker_client.images.get(image).attrs["Config"].get("ExposedPorts") or {}
    assert set(exposed) == {f"{JUPYTER_PORT}/tcp"}
