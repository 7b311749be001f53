"""Driving the real Makefile: `make` in this checkout or in a scratch copy of it."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).parents[2]
SCRATCH_PREFIX = "pyrlab-scratch/"


def make(*args: str, cwd: Path = REPO, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run make; settings given to the outer make (BASE=rootfs, CA_CERTS=...) reach it through MAKEFLAGS."""
    environment = dict(os.environ)
    # The outer make's job server is not inherited by this process; keep only its variables.
    environment["MAKEFLAGS"] = " ".join(word for word in environment.get("MAKEFLAGS", "").split() if "=" in word)
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as finder:
        finder.bind(("127.0.0.1", 0))
        return int(finder.getsockname()[1])


def scratch_make(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return make(f"IMAGE_PREFIX={SCRATCH_PREFIX}", f"TOOLS_VENV={REPO / '.venv'}", *args, cwd=copy)


def append_lines(path: Path, *lines: str) -> int:
    """Add lines at the end of a list; return the number of the last one."""
    path.write_text(path.read_text() + "".join(f"{line}\n" for line in lines))
    return len(path.read_text().splitlines())
