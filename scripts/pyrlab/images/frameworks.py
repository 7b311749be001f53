"""The build of each deep-learning framework that pylab installs: with CUDA_INSTALL=yes the CUDA
builds (`jax[cudaNN]`, `tensorflow[and-cuda]`, PyPI's `torch`), otherwise the CPU builds (torch
from TORCH_CPU_INDEX, so that none of NVIDIA's wheels come in: the list is then written as a
project whose torch projects come from that index alone, lists.torch_pinned_project).

`make` applies it on the host when it writes what pylab installs (`pyrlab prepare`), so the
image's layers depend only on the packages asked for. A lock (its lines
carry hashes) is left unchanged: `make lock` resolved it.
"""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pyrlab.inside.lists import torch_pinned_project, without_comment


def cuda_extras(name: str, cuda_version: str) -> set[str]:
    """The extras that select a framework's CUDA build, or none for anything else."""
    return {"jax": {f"cuda{cuda_version}"}, "tensorflow": {"and-cuda"}}.get(name, set())


def rewrite(text: str, cuda: bool, cuda_version: str, torch_cpu_index: str) -> str:
    """The requirements, each framework switched to the build the setting asks for."""
    if "--hash=" in text:
        return text
    lines, requirements = [], []
    for raw in text.splitlines():
        line = without_comment(raw)
        try:
            requirement = Requirement(line) if line and not line.startswith("-") else None
        except InvalidRequirement:
            requirement = None
        if requirement is None:
            lines.append(raw)
            continue
        if cuda:
            requirement.extras |= cuda_extras(canonicalize_name(requirement.name), cuda_version)
        lines.append(str(requirement))
        requirements.append(str(requirement))
    if not cuda and torch_cpu_index:
        project = torch_pinned_project(requirements, torch_cpu_index)
        if project is not None:
            return project
    return "\n".join(lines) + "\n"
