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


def test_only_pylabs_cuda_build_has_cuda(host: Any, docker_client: Any, image: str) -> None:
    env = image_env(docker_client, image)
    wheels = host.check_output("python -c %s", NVIDIA_WHEELS).split()
    linked = host.check_output("/sbin/ldconfig -p")
    if "PYRLAB_CUDA_VERSION" in env:
        assert env["PYRLAB_IMAGE"] == "pylab"
        assert wheels
    else:
        assert wheels == []
        assert "libcudart" not in linked
        assert "NVIDIA_VISIBLE_DEVICES" not in env
