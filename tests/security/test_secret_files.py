"""The token file (DOCKER/pylab.token) is read safely: attacks that put something else in its place
(a FIFO that would block the start forever, a NUL byte, a huge file, a hard link to a file that is
not the user's), before `make pylab` or before a `docker restart` of a running lab. Each is a clear
error naming the file within seconds, with no lab left running."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.attack import HostUser, Project, make_pylab
from harness.makefile import free_port, make_environment

SECONDS = 5.0  # a clear error comes at once; a start that blocks or reads 4 MiB as a token does not


@dataclass(frozen=True)
class Timed:
    """`make pylab` run with a deadline: its result, or None when it was still running (then killed)."""

    result: subprocess.CompletedProcess[str] | None
    name: str

    def output(self) -> str:
        return "" if self.result is None else self.result.stdout + self.result.stderr


def make_pylab_within(project: Project, user: HostUser, seconds: float) -> Timed:
    """`make pylab` as `user` (as make_pylab runs it), killed with all it started after `seconds`."""
    port = free_port()
    settings = [
        f"PYPORT={port}",
        f"NOTEBOOKS={user.home / 'notebooks'}",
        f"DOCKER={user.home / 'docker'}",
        "DOCKER_ARGS=--label pyrlab.test=security",
    ]
    environment = make_environment()
    environment["HOME"] = str(user.home)
    command = [
        "setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups",
        "make", "--no-print-directory", "-C", str(project.root), *project.make_args, "pylab", *settings,
        f"TOOLS_VENV={project.shared_tools}",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=environment, cwd=project.root, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return Timed(None, f"pylab-{port}")
    return Timed(subprocess.CompletedProcess(command, process.returncode, stdout, stderr), f"pylab-{port}")


def fifo(path: Path, user: HostUser) -> None:
    os.mkfifo(path, 0o600)
    os.chown(path, user.uid, user.gid)


def nul_byte(path: Path, user: HostUser) -> None:
    user.file(path, "known\0" + secrets.token_hex(24) + "\n")


def huge(path: Path, user: HostUser) -> None:
    user.file(path, "a" * (4 << 20))


def root_only_secret(folder: Path) -> Path:
    """A file of root's, mode 0600, on the file system of `folder` (so that a hard link can reach it)."""
    secret = folder / f"root-secret-{secrets.token_hex(3)}"
    secret.write_text(secrets.token_hex(24) + "\n")
    secret.chmod(0o600)
    return secret


def hard_link_to_root_only_file(path: Path, _user: HostUser | None = None) -> None:
    """Made by root (fs.protected_hardlinks keeps a user from linking a file it cannot read), as an
    attacker who can plant root-owned files would, inside the user's DOCKER folder."""
    secret = root_only_secret(path.parent.parent)
    assert os.stat(secret).st_dev == os.stat(path.parent).st_dev
    os.link(secret, path)


PLANTS: dict[str, Callable[[Path, HostUser], None]] = {
    "fifo": fifo,
    "nul byte": nul_byte,
    "4 MiB": huge,
    "hard link to a root-only file": hard_link_to_root_only_file,
}


@pytest.mark.parametrize("plant", list(PLANTS), ids=list(PLANTS))
def test_token_file_that_is_not_a_token_is_a_clear_error(
    project: Project, cotenant: HostUser, docker_client: Any, plant: str
) -> None:
    """Something else in place of DOCKER/pylab.token, then `make pylab` as its user."""
    cotenant.folder("notebooks")
    config = cotenant.folder("docker")
    token = config / "pylab.token"
    PLANTS[plant](token, cotenant)
    started = time.monotonic()
    lab = make_pylab_within(project, cotenant, SECONDS)
    assert lab.result is not None, f"make pylab still ran after {SECONDS} s with a {plant} as its token"
    assert time.monotonic() - started < SECONDS
    assert lab.result.returncode != 0, lab.output()
    assert "pylab.token" in lab.result.stderr, lab.result.stderr
    assert docker_client.containers.list(all=True, filters={"name": lab.name}) == []


def swap_in_a_fifo(container: Any, token: str, user: HostUser) -> None:
    """From inside the lab, as its notebook user: the token file becomes a FIFO nobody writes."""
    swap = ["sh", "-c", 'rm -f "$0" && mkfifo -m 0600 "$0"', token]
    exit_code, output = container.exec_run(swap, user=f"{user.uid}:{user.gid}")
    assert exit_code == 0, output.decode(errors="replace")


def swap_in_a_hard_link(container: Any, token: str, user: HostUser) -> None:
    """From the host, as root: the token file becomes a hard link to a root-only file."""
    path = user.home / "docker" / Path(token).name
    path.unlink()
    hard_link_to_root_only_file(path)


SWAPS: dict[str, Callable[[Any, str, HostUser], None]] = {
    "fifo from inside the lab": swap_in_a_fifo,
    "hard link to a root-only file": swap_in_a_hard_link,
}


@pytest.mark.parametrize("swap", list(SWAPS), ids=list(SWAPS))
def test_token_file_swapped_before_a_restart_stops_the_lab(
    project: Project, cotenant: HostUser, docker_client: Any, swap: str
) -> None:
    """The token file is replaced while the lab runs, then `docker restart`: the lab stops with the
    file named, instead of hanging in "starting" on a FIFO or taking another's file as its token."""
    cotenant.folder("notebooks")
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    container = docker_client.containers.get(lab.name)
    config = next(mount for mount in container.attrs["Mounts"] if Path(mount["Source"]) == cotenant.home / "docker")
    SWAPS[swap](container, f"{config['Destination']}/pylab.token", cotenant)
    linked = cotenant.home / "docker" / "pylab.token"
    secret = linked.read_text().strip() if linked.is_file() else ""
    container.restart(timeout=10)
    deadline = time.monotonic() + SECONDS
    while True:
        container.reload()
        if container.status != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    logs = container.logs().decode(errors="replace")
    if container.status == "running" and secret:
        try:
            answer = requests.get(f"{lab.url}/api/status", params={"token": secret}, timeout=5).status_code
        except requests.ConnectionError:
            answer = 0
        assert answer != 200, "the lab took root's file as its token"
    assert container.status != "running", f"still {container.attrs['State']}\n{logs[-2000:]}"
    assert container.attrs["State"]["ExitCode"] != 0
    assert "pylab.token" in logs, logs[-2000:]
