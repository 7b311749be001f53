"""pylab declares Jupyter's port and its tools' as the contract says: the host publishes those."""

from __future__ import annotations

from typing import Any

from pyrlab.inside.contract import DTALE_PORT, JUPYTER_PORT, TENSORBOARD_PORT


def test_pylab_exposes_jupyter_d_tale_and_tensorboard(docker_client: Any, image: str) -> None:
    exposed = docker_client.images.get(image).attrs["Config"].get("ExposedPorts") or {}
    assert set(exposed) == {f"{port}/tcp" for port in (JUPYTER_PORT, DTALE_PORT, TENSORBOARD_PORT)}
