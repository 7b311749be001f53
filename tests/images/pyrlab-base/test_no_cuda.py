"""CUDA only where CUDA_INSTALL=yes put it: pylab's CUDA build. pyrlab-base, rlab-base, rlab and
pylab's default build have none of NVIDIA's wheels or libraries."""

from __future__ import annotations

from typing import Any

NVIDIA_WHEELS = """
import importlib.metadata as metadata
names = {(d.metadata["Name"] or "").lower() for d in metadata.distributions()}
print(" ".join(sorted(n for n in names if n.startswith(("nvidia-", "cuda-")))))
"""


def image_env(docker_client: Any, image: str) -> dict[str, str]:
    entries = docker_client.images.get(image).attrs["Config"]["Env"]
    return dict(entry.split("=", 1) for entry in entries)


def test_an_image_without_cuda_has_no_nvidia_wheel_or_library(
    host: Any, docker_client: Any, image: str, without_cuda: None
) -> None:
    env = image_env(docker_client, image)
    assert host.check_output("python -c %s", NVIDIA_WHEELS).split() == []
    assert "libcudart" not in host.check_output("/sbin/ldconfig -p")
    assert "NVIDIA_VISIBLE_DEVICES" not in env


def test_the_cuda_build_is_pylabs(host: Any, docker_client: Any, image: str, cuda_version: str) -> None:
    assert image_env(docker_client, image)["PYRLAB_IMAGE"] == "pylab"
    assert host.check_output("python -c %s", NVIDIA_WHEELS).split()
