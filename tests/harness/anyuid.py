"""The cluster contract: a lab starts, runs a kernel and saves a notebook under any uid, on a
read-only root, with its work folder mounted at the work folder or at the home, and with a home
volume it cannot write (as Kubernetes, OpenShift and Kubeflow start images)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from harness.imagelab import KERNEL_CLIENT, started

HOME = "/home/jovyan"
ARBITRARY_UID = 1000650000  # as OpenShift gives a pod


@dataclass(frozen=True)
class Start:
    """How the container is started: its user, a read-only root, where the work folder is
    mounted, and whether an empty home the user cannot write is mounted over the image's."""

    user: str
    read_only: bool = False
    work_at: str = f"{HOME}/work"
    unwritable_home: bool = False

    @property
    def uid(self) -> int:
        return int(self.user.split(":")[0])

    @property
    def gid(self) -> int:
        return int(self.user.split(":")[1])


STARTS = {
    "read-only root, no home volume": Start("1000:100", read_only=True),
    "any uid, group root, work folder in the home": Start(f"{ARBITRARY_UID}:0"),
    "any uid, group users, work folder in the home": Start(f"{ARBITRARY_UID}:100"),
    "any uid, group root, work folder as the home": Start(f"{ARBITRARY_UID}:0", work_at=HOME),
    "any uid, group users, work folder as the home": Start("4321:100", work_at=HOME),
    "empty home volume the user cannot write": Start("4321:4321", unwritable_home=True),
}
# What start.sh says when the home is not writable and Jupyter's files go elsewhere.
MOVED_HOME = "is not writable by uid"
NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def start_runs_a_kernel_and_saves(docker_client: Any, image: str, start: Start, kernel: str, tmp_path: Path) -> None:
    """Start the image as `start` says, run a cell in `kernel` that writes a file, save a notebook
    through Jupyter's contents API; both land in the work folder, owned by the uid."""
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, start.uid, start.gid)
    volumes = {str(work): {"bind": start.work_at, "mode": "rw"}}
    if start.unwritable_home:
        home = tmp_path / "home"  # root's, 0755: the user may enter it, not write it
        home.mkdir(mode=0o755)
        volumes[str(home)] = {"bind": HOME, "mode": "rw"}
    saved_in = "" if start.work_at == HOME else "work/"
    try:
        with started(
            docker_client, image, user=start.user, read_only=start.read_only, volumes=volumes, working_dir=HOME
        ) as lab:
            written = f"{start.work_at}/from-kernel.txt"
            code = f"open('{written}', 'w').write('ok')" if kernel == "python3" else f"writeLines('ok', '{written}')"
            exit_code, output = lab.container.exec_run(["python", "-c", KERNEL_CLIENT, "8888", lab.token, kernel, code])
            text = output.decode(errors="replace")
            assert exit_code == 0, text + lab.container.logs().decode(errors="replace")[-3000:]
            assert json.loads(text.strip().splitlines()[-1])["status"] == "ok", text
            answer = requests.put(
                f"{lab.url}/api/contents/{saved_in}saved.ipynb",
                json={"type": "notebook", "content": NOTEBOOK},
                headers={"Authorization": f"token {lab.token}"},
                timeout=10,
            )
            assert answer.status_code == 201, answer.text + lab.container.logs().decode(errors="replace")[-3000:]
            logs = lab.container.logs().decode(errors="replace")
        for name in ("from-kernel.txt", "saved.ipynb"):
            assert (work / name).stat().st_uid == start.uid, sorted(path.name for path in work.iterdir())
        home_writable = not (start.read_only or start.unwritable_home) and (start.work_at == HOME or start.gid == 100)
        assert (logs.count(MOVED_HOME) == 1) is not home_writable, logs[-3000:]
    finally:
        shutil.rmtree(work, ignore_errors=True)  # files of other uids: pytest's cleanup would keep them
