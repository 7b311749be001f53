"""The images of the chain in build order, with the references make gives them. make exports them
to the tests it runs (PYRLAB_IMAGES, PYRLAB_HUB_IMAGE): the chain is written once, in the Makefile."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.makefile import make_environment


def _exported(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise RuntimeError(f"{name} is not set: run the tests through make (`make test-…`), which exports it") from None


def chain_images() -> dict[str, str]:
    """Each image of the chain, in build order, and its reference."""
    return dict(pair.split("=", 1) for pair in _exported("PYRLAB_IMAGES").split())


def hub_image() -> str:
    """The team server's image reference."""
    return _exported("PYRLAB_HUB_IMAGE")


def checkout_images(project: Path, *make_args: str) -> dict[str, str]:
    """The chain of another checkout (an older one, under attack), or of this one with other
    settings: that checkout's make says it (`make chain`)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "--silent", "chain", *make_args],
        cwd=project,
        env=make_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split()[0]: line.split()[2] for line in result.stdout.splitlines() if line.strip()}
