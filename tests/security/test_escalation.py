"""No path from a notebook to root: each test is an attack by the notebook user (or a co-tenant of
the host) on what runs as root, at the start of a lab or later."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import requests

from harness.attack import HostUser, Project, make_pylab
from harness.imagelab import exec_output, run_once

# Commands the root stage of an image may run; in the attacker's folder each is a stand-in that
# records who ran it, then runs the real one.
STAND_INS = [
    "setpriv",
    "env",
    "chown",
    "chmod",
    "mkdir",
    "rm",
    "cp",
    "cat",
    "stat",
    "readlink",
    "sed",
    "find",
    "awk",
    "gpasswd",
    "groupadd",
    "getent",
    "id",
    "dirname",
    "basename",
    "ln",
    "mktemp",
    "sudo",
    "bash",
    "sh",
    "python3",
    "jupyter-lab",
]


def plant_stand_ins(user: HostUser, folder: Path) -> None:
    for name in STAND_INS:
        user.file(
            folder / name,
            f'#!/bin/sh\necho "$(/usr/bin/id -u) {name}" >> /home/jovyan/work/ran-as\n'
            f'PATH=/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin exec {name} "$@"\n',
            mode=0o755,
        )


def assert_nothing_ran_as_root(notebooks: Path) -> None:
    """No stand-in recorded uid 0, and root left no file in the notebooks (a setuid shell, say)."""
    ran = (notebooks / "ran-as").read_text().split("\n") if (notebooks / "ran-as").exists() else []
    assert [line for line in ran if line.startswith("0 ")] == [], ran
    assert [str(path) for path in notebooks.rglob("*") if path.lstat().st_uid == 0] == []


def test_env_file_path_never_runs_the_users_code_as_root(project: Project, cotenant: HostUser) -> None:
    notebooks, config = cotenant.folder("notebooks"), cotenant.folder("docker")
    evil = cotenant.folder("notebooks/evil", 0o755)
    plant_stand_ins(cotenant, evil)
    cotenant.file(config / "pylab.env", "PATH=/home/jovyan/work/evil:/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    assert_nothing_ran_as_root(notebooks)


def test_health_check_never_runs_the_users_python_as_root(
    project: Project, cotenant: HostUser, docker_client: Any
) -> None:
    notebooks = cotenant.folder("notebooks")
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    container = docker_client.containers.get(lab.name)
    # The notebook user owns the virtual environment: it replaces the interpreter there.
    swap = (
        "rm /opt/venv/bin/python && "
        'printf \'#!/bin/sh\\necho "$(id -u) python" >> /home/jovyan/work/ran-as\\nexec /usr/bin/python3 "$@"\\n\''
        " > /opt/venv/bin/python && chmod +x /opt/venv/bin/python"
    )
    exec_output(container, ["bash", "-c", swap], user=str(cotenant.uid))
    swapped = time.time()
    deadline = time.monotonic() + 30
    while True:  # two health checks after the swap, both passed
        container.reload()
        health = container.attrs["State"]["Health"]
        after = [
            entry
            for entry in health["Log"]
            if entry["Start"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(swapped + 1))
        ]
        if len(after) >= 2:
            break
        assert time.monotonic() < deadline, health
        time.sleep(1)
    assert all(entry["ExitCode"] == 0 for entry in after), after
    assert_nothing_ran_as_root(notebooks)


def test_token_file_that_links_elsewhere_is_refused(project: Project, docker_client: Any, tmp_path: Path) -> None:
    """A docker-stacks start as root: the token file is read by the notebook user, never followed."""
    config = tmp_path / "config"
    config.mkdir(mode=0o700)
    (config / "pylab.token").symlink_to("/etc/shadow")
    os.chown(config, 4321, 100)
    container = docker_client.containers.run(
        project.images["pyrlab-base"],
        detach=True,
        user="root",
        environment={"NB_UID": "4321", "JUPYTER_TOKEN_FILE": "/home/jovyan/.pyrlab/pylab.token"},
        volumes={str(config): {"bind": "/home/jovyan/.pyrlab", "mode": "rw"}},
        labels={"pyrlab.test": "security"},
    )
    try:
        status = container.wait(timeout=30)
    except requests.exceptions.ConnectionError as error:  # still running: it took /etc/shadow as the token
        raise AssertionError(container.logs().decode()[-2000:]) from error
    logs = container.logs().decode()
    assert status["StatusCode"] != 0
    assert "pylab.token is a symbolic link" in logs, logs[-2000:]


def test_chown_extra_never_follows_a_link(project: Project, docker_client: Any, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "data").symlink_to("/etc/shadow")
    output = run_once(
        docker_client,
        project.images["pyrlab-base"],
        ["stat", "-c", "%u", "/etc/shadow"],
        user="root",
        environment={"NB_UID": "4321", "CHOWN_EXTRA": "/home/jovyan/work/data"},
        volumes={str(work): {"bind": "/home/jovyan/work", "mode": "rw"}},
    )
    assert output.split()[-1] == "0"


def test_chown_home_never_follows_a_link(project: Project, docker_client: Any) -> None:
    output = run_once(
        docker_client,
        project.images["pyrlab-base"],
        ["stat", "-c", "%u", "/etc/shadow"],
        user="root",
        environment={"NB_UID": "4321", "CHOWN_HOME": "yes", "CHOWN_HOME_OPTS": "-R -L"},
        entrypoint=["bash", "-c", 'ln -s /etc/shadow /home/jovyan/shadow && exec tini -g -- start.sh "$@"', "-"],
    )
    assert output.split()[-1] == "0"


def test_lab_drops_capabilities_and_cannot_gain_privileges(
    project: Project, cotenant: HostUser, docker_client: Any
) -> None:
    cotenant.folder("notebooks")
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    container = docker_client.containers.get(lab.name)
    host_config = container.attrs["HostConfig"]
    assert host_config["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in (host_config["SecurityOpt"] or [])
    # As the notebook user: no privileges to gain from a setuid-root program.
    status = exec_output(container, ["grep", "NoNewPrivs", "/proc/self/status"], user=str(cotenant.uid))
    assert status.split()[-1] == "1"
    sudo = container.exec_run(["sudo", "-n", "id", "-u"], user=str(cotenant.uid))
    assert sudo.exit_code != 0
    assert sudo.output.decode().strip() != "0"
    # With so few capabilities, `docker stop` still reaches Jupyter (tini needs KILL for that).
    container.stop(timeout=10)
    container.reload()
    assert container.attrs["State"]["ExitCode"] != 137, container.logs().decode()[-2000:]
    assert "Shutting down" in container.logs().decode()


def test_restart_of_a_renamed_user_comes_back(project: Project, docker_client: Any) -> None:
    container = docker_client.containers.run(
        project.images["pyrlab-base"],
        ["sleep", "300"],
        detach=True,
        user="root",
        environment={"NB_USER": "bob", "NB_UID": "4321", "GRANT_SUDO": "yes"},
        labels={"pyrlab.test": "security"},
    )
    deadline = time.monotonic() + 30
    while container.exec_run(["id", "-un", "4321"]).output.decode().strip() != "bob":  # the first start is done
        assert time.monotonic() < deadline, container.logs().decode()[-2000:]
        time.sleep(0.3)
    container.restart(timeout=5)
    time.sleep(3)  # the start script has run again by now, or the container has stopped
    container.reload()
    assert container.status == "running", container.logs().decode()[-2000:]
    assert exec_output(container, ["id", "-un", "4321"]) == "bob"
    assert exec_output(container, ["getent", "group", "users"]).endswith("bob")
