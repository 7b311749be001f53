"""Saves keep what the user protected and leave nothing behind: a save over a notebook the user made
read-only, and the temporary files of saves that a crash cut off."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.attack import HostUser, MadeLab, Project, make_pylab
from harness.imagelab import wait_for_jupyter

NOTEBOOK = {"cells": [], "metadata": {"kept": True}, "nbformat": 4, "nbformat_minor": 5}


def started_lab(project: Project, user: HostUser) -> MadeLab:
    lab = make_pylab(project, user)
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    return lab


def test_save_over_a_read_only_notebook_is_refused(project: Project, cotenant: HostUser) -> None:
    """The user made a notebook read-only (chmod 444); a save through the contents API (the lab's
    autosave, or any page holding the token) must not replace it."""
    notebooks = cotenant.folder("notebooks")
    kept = cotenant.file(notebooks / "kept.ipynb", json.dumps(NOTEBOOK), mode=0o444)
    lab = started_lab(project, cotenant)
    changed = {**NOTEBOOK, "metadata": {"kept": False}}
    answer = requests.put(
        f"{lab.url}/api/contents/kept.ipynb",
        json={"type": "notebook", "content": changed},
        headers={"Authorization": f"token {lab.token}"},
        timeout=30,
    )
    assert json.loads(kept.read_text()) == NOTEBOOK, "the read-only notebook was replaced"
    assert answer.status_code == 403, answer.text
    assert kept.stat().st_mode & 0o777 == 0o444


def plant_crashed_saves(user: HostUser, notebooks: Path) -> list[Path]:
    """What saves killed mid-write leave beside the notebook: `.~NAME.RANDOM.tmp`, a day old."""
    user.file(notebooks / "big.ipynb", json.dumps(NOTEBOOK))
    left = [user.file(notebooks / f".~big.ipynb.{secrets.token_hex(4)}.tmp", '{"cells": [') for _ in range(3)]
    day_ago = time.time() - 86400
    for path in left:
        os.utime(path, (day_ago, day_ago))
    return left


def wait_until_gone(paths: list[Path], seconds: float = 10) -> list[Path]:
    deadline = time.monotonic() + seconds
    while [path for path in paths if path.exists()] and time.monotonic() < deadline:
        time.sleep(0.3)
    return [path for path in paths if path.exists()]


@pytest.mark.parametrize("start", ["make pylab", "docker restart"])
def test_temporary_files_of_crashed_saves_are_removed_at_the_next_start(
    project: Project, cotenant: HostUser, docker_client: Any, start: str
) -> None:
    """Saves killed mid-write left temporary files in the notebooks folder; the next start of the
    lab (`make pylab`, or `docker restart` of a running one) removes them."""
    notebooks = cotenant.folder("notebooks")
    if start == "make pylab":
        left = plant_crashed_saves(cotenant, notebooks)
        started_lab(project, cotenant)
    else:
        lab = started_lab(project, cotenant)
        left = plant_crashed_saves(cotenant, notebooks)
        container = docker_client.containers.get(lab.name)
        container.restart(timeout=10)
        wait_for_jupyter(container, lab.url, lab.token)
    assert wait_until_gone(left) == []
    assert json.loads((notebooks / "big.ipynb").read_text()) == NOTEBOOK
