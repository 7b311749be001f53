"""Driving the real Makefile: `make` in this checkout or in a scratch copy of it."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from harness.makefile import make_environment

REPO = Path(__file__).parents[2]
SCRATCH_PREFIX = "pyrlab-scratch/"


def make(
    *args: str, cwd: Path = REPO, stdin: str | None = None, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run make; settings given to the outer make (BASE=rootfs, CA_CERTS=...) reach it through
    MAKEFLAGS; environment adds variables that are no settings (DOCKER_HOST)."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env={**make_environment(), **(environment or {})},
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def scratch_make(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return make(f"IMAGE_PREFIX={SCRATCH_PREFIX}", f"TOOLS_VENV={REPO / '.venv'}", *args, cwd=copy)


def append_lines(path: Path, *lines: str) -> int:
    """Add lines at the end of a list; return the number of the last one."""
    path.write_text(path.read_text() + "".join(f"{line}\n" for line in lines))
    return len(path.read_text().splitlines())


@functools.cache
def exported_settings() -> dict[str, str]:
    """What make exports to pyrlab's commands, each setting at its declared default (nothing from
    this process's environment): the environment the unit tests read the settings from."""
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "USER": "pyrlab-test"}
    shown = subprocess.run(
        ["make", "--no-print-directory", "--silent", "--eval", "pyrlab-exported: ; @env -0", "pyrlab-exported"],
        cwd=REPO, env=clean, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(item.split("=", 1) for item in shown.stdout.split("\0") if "=" in item)
