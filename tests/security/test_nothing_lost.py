"""Nothing lost: a crash during a save, a start that is repeated, and bad paths or folders, each
met with the old file intact or a clear error (never a traceback, never a half-written file)."""

from __future__ import annotations

import errno
import json
import os
import random
import secrets
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.attack import HostUser, Project, make_pylab
from harness.imagelab import started
from harness.makefile import free_port

# Many cells: Jupyter spends most of a save serializing them, the moment a crash hurts most.
CELLS = 6000


def notebook(version: int) -> dict[str, Any]:
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "execution_count": None, "id": f"c{index}", "metadata": {}, "outputs": [],
         "source": f"# version {version}, cell {index}\n" + "x = 1\n" * 40}
        for index in range(CELLS)
    ]  # fmt: skip
    return {"cells": cells, "metadata": {"version": version}, "nbformat": 4, "nbformat_minor": 5}


def keep_saving(url: str, token: str, stop: threading.Event, errors: list[BaseException]) -> None:
    version = 0
    while not stop.is_set():
        version += 1
        try:
            answer = requests.put(
                f"{url}/api/contents/work/big.ipynb",
                json={"type": "notebook", "content": notebook(version)},
                headers={"Authorization": f"token {token}"},
                timeout=60,
            )
            answer.raise_for_status()
        except requests.ConnectionError:
            return  # the container was killed mid-request: what the test does on purpose
        except BaseException as error:  # anything else fails the test in the main thread
            errors.append(error)
            return


def test_killed_during_saves_the_notebook_is_always_whole(project: Project, docker_client: Any, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, 1000, 100)
    saved = work / "big.ipynb"
    random_moments = random.Random(secrets.randbits(32))  # noqa: S311 - moments, not secrets
    for _ in range(8):
        volumes = {str(work): {"bind": "/home/jovyan/work", "mode": "rw"}}
        with started(docker_client, project.images["pyrlab-base"], volumes=volumes) as lab:
            stop, errors = threading.Event(), list[BaseException]()
            saver = threading.Thread(target=keep_saving, args=(lab.url, lab.token, stop, errors))
            saver.start()
            stop.wait(random_moments.uniform(1.0, 4.0))
            lab.container.kill()  # SIGKILL to every process of the container, mid-save or not
            stop.set()
            saver.join(timeout=90)
            assert not errors, errors
        if saved.exists():
            content = json.loads(saved.read_text())  # whole: an old version or the new one
            assert len(content["cells"]) == CELLS
    assert saved.exists()


def test_unwritable_parent_of_the_configuration_folder_is_a_clear_error(project: Project, cotenant: HostUser) -> None:
    cotenant.folder("notebooks")
    lab = make_pylab(project, cotenant, "DOCKER=/root/pyrlab-no-access/docker")
    assert lab.result.returncode != 0
    assert "cannot create DOCKER=/root/pyrlab-no-access/docker" in lab.result.stderr
    assert "Traceback" not in lab.result.stderr


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A small file system with no space left on it."""
    if os.getuid() != 0:
        pytest.skip("mounting a file system needs root (CI runs as root)")
    folder = tmp_path / "full"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], check=True)
    try:
        config = folder / "docker"
        config.mkdir(mode=0o700)
        filler = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
        finally:
            os.close(filler)
        yield config
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_while_writing_the_token_leaves_no_empty_token(project: Project, full_disk: Path) -> None:
    notebooks = full_disk.parent.parent / "notebooks"
    notebooks.mkdir()
    os.chown(notebooks, 4321, 4322)
    os.chown(full_disk, 4321, 4322)  # DOCKER is the notebook user's, as make wants it when root runs it
    result = project.make("pylab", f"PYPORT={free_port()}", f"NOTEBOOKS={notebooks}", f"DOCKER={full_disk}")
    assert result.returncode != 0
    assert f"cannot write {full_disk / 'pylab.token'}: No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(full_disk.iterdir()) == []


def test_notebooks_the_notebook_user_cannot_write_is_named_before_starting(
    project: Project, cotenant: HostUser, docker_client: Any
) -> None:
    notebooks = cotenant.folder("notebooks", 0o555)
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode != 0
    assert f"NOTEBOOKS={notebooks} is not writable by the notebook user (uid {cotenant.uid})" in lab.result.stderr
    assert docker_client.containers.list(all=True, filters={"name": lab.name}) == []


@pytest.mark.parametrize("name", ["it's: a, test", "x'`touch {marker}`'"])
def test_any_path_is_one_path_and_runs_nothing(project: Project, cotenant: HostUser, name: str) -> None:
    marker = cotenant.home / "injected"  # where the co-tenant's shell could write it
    notebooks = cotenant.home / name.format(marker=marker)
    notebooks.mkdir(parents=True)
    os.chown(notebooks, cotenant.uid, cotenant.gid)
    lab = make_pylab(project, cotenant, f"NOTEBOOKS={notebooks}")
    assert not marker.exists()
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    saved = requests.put(
        f"{lab.url}/api/contents/hello.txt",
        json={"type": "file", "format": "text", "content": "hello"},
        params={"token": lab.token},
        timeout=10,
    )
    assert saved.status_code == 201, saved.text
    assert (notebooks / "hello.txt").read_text() == "hello"


def test_path_with_a_newline_is_a_clear_error(project: Project, cotenant: HostUser) -> None:
    notebooks = cotenant.folder("line\nbreak")
    lab = make_pylab(project, cotenant, f"NOTEBOOKS={notebooks}")
    assert lab.result.returncode != 0
    assert "NOTEBOOKS has a line break in its path" in lab.result.stderr
    assert "Traceback" not in lab.result.stderr
