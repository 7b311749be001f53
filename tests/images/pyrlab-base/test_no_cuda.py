"""CUDA only where CUDA_INSTALL=yes put it: pylab's CUDA build. pyrlab-base, rlab-base, rlab and
pylab's default build have none of NVIDIA's wheels or libraries."""

from __future__ import annotations

from typing import Any

NVIDIA_WHEELS = """
import importlib.metadata as metadata
names = {(d.metadata["Name"] or "").lower() for d in metadata.distributions()}
print(" ".join(sorted(n for n in names if n.startswith(("nvidia-", "cuda-")))))
"""


def test_an_image_without_cuda_has_no_nvidia_wheel_or_library(
    host: Any, image_environment: dict[str, str], without_cuda: None
) -> None:
    assert host.check_output("python -c %s", NVIDIA_WHEELS).split() == []
    assert "libcudart" not in host.check_output("/sbin/ldconfig -p")
    assert "NVIDIA_VISIBLE_DEVICES" not in image_environment


def test_the_cuda_build_is_pylabs(host: Any, image_environment: dict[str, str], cuda_version: str) -> None:
    assert image_environment["PYRLAB_IMAGE"] == "pylab"
    assert host.check_output("python -c %s", NVIDIA_WHEELS).split()
