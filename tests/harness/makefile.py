"""Driving the project's own Makefile from Python: its environment, a scratch copy of the
project, and a free port to give it. The Makefile tests and `make bench` both use these."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

# What a scratch copy leaves out: the machine's own state, never part of the project.
LEFT_OUT = (".git", ".venv", ".build", "*_cache", "__pycache__", "local.mk", "bench-results")


def make_environment() -> dict[str, str]:
    """This process's environment for a `make` it runs. Settings given to an outer make
    (BASE=rootfs, CA_CERTS=...) reach it through MAKEFLAGS; the outer make's job server does not
    reach this process, so only its variables are kept."""
    environment = dict(os.environ)
    environment["MAKEFLAGS"] = " ".join(word for word in environment.get("MAKEFLAGS", "").split() if "=" in word)
    # What an outer make exported from its own defaults is not the caller's: the inner make derives
    # its own (BUILD_NETWORK follows the R_REPOS given to it, not the outer make's empty one).
    for name in environment.pop("PYRLAB_MAKEFILE_SETTINGS", "").split():
        environment.pop(name, None)
    return environment


def copy_project(project: Path, destination: Path) -> Path:
    """A copy of the project to build in, without this machine's stamps, environments and caches."""
    shutil.copytree(project, destination, ignore=shutil.ignore_patterns(*LEFT_OUT))
    return destination


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as finder:
        finder.bind(("127.0.0.1", 0))
        return int(finder.getsockname()[1])
