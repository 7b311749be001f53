"""The image chain as the Makefile defines it (`make chain`): the one place it is written."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.makefile import make_environment


@dataclass(frozen=True)
class Link:
    """An image, the image it is built on (BASE for the first), and its reference."""

    image: str
    parent: str
    reference: str


def read_chain(project: Path, *make_args: str) -> list[Link]:
    """The chain in build order, from the Makefile in `project`."""
    result = subprocess.run(
        ["make", "--no-print-directory", "--silent", "chain", *make_args],
        cwd=project,
        env=make_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    return [Link(*line.split()) for line in result.stdout.splitlines() if line.strip()]
