"""Kubeflow Notebooks' contract: the notebook controller starts the image's default command as uid
1000 (fsGroup 100, never root), mounts an empty volume over /home/jovyan, sets NB_PREFIX, and
expects Jupyter on port 8888 under that prefix, its gateway doing the authentication."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import requests

from harness.imagelab import KERNEL_CLIENT, exec_output, fast_healthcheck, wait_for_health

PREFIX = "/notebook/team-a/alice"


# OpenShift's restricted policy: a uid of the project's range, with no passwd entry, in group 0.
OPENSHIFT_USER = "1000680000:0"


def as_the_controller_starts_it(docker_client: Any, image: str, home: Path, user: str = "1000:100") -> Any:
    return docker_client.containers.run(
        image,
        detach=True,
        user=user,
        group_add=["100"] if user.endswith(":100") else [],
        environment={"NB_PREFIX": PREFIX},
        volumes={str(home): {"bind": "/home/jovyan", "mode": "rw"}},
        read_only=True,
        tmpfs={"/tmp": ""},
        ports={"8888/tcp": ("127.0.0.1", None)},
        healthcheck=fast_healthcheck(docker_client, image),
        labels={"pyrlab.test": "images"},
    )


def wait_for_prefix(container: Any) -> str:
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"]
    status = f"http://127.0.0.1:{port}{PREFIX}/api/status"
    deadline = time.monotonic() + 300
    while True:
        try:
            if requests.get(status, timeout=2).status_code == 200:  # no token: the gateway's job
                return status
        except requests.ConnectionError:
            pass  # not listening yet
        container.reload()
        assert container.status == "running", container.logs().decode()[-2000:]
        assert time.monotonic() < deadline, container.logs().decode()[-2000:]
        time.sleep(0.3)


def cell(container: Any, kernel: str, code: str) -> str:
    output = exec_output(container, ["python", "-c", KERNEL_CLIENT, f"127.0.0.1:8888{PREFIX}", "", kernel, code])
    result = json.loads(output.splitlines()[-1])
    assert result["status"] == "ok", result
    return str(result["output"])


def test_runs_as_kubeflow_starts_it_and_keeps_files_in_the_volume(
    docker_client: Any, image: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if os.getuid() == 0:
        os.chown(home, 1000, 100)  # the volume, as fsGroup leaves it
    container = as_the_controller_starts_it(docker_client, image, home)
    try:
        status = wait_for_prefix(container)
        assert "NB_PREFIX=" + PREFIX in container.logs().decode()
        keep = "import os; open('/home/jovyan/kept.txt', 'w').write('kept'); print(os.getuid())"
        assert cell(container, "python3", keep).strip() == "1000"
        kernels = requests.get(status.replace("/api/status", "/api/kernelspecs"), timeout=10).json()["kernelspecs"]
        if "ir" in kernels:
            assert cell(container, "ir", "cat(6 * 7)") == "42"
        assert wait_for_health(container, "healthy") == "healthy"
    finally:
        container.remove(force=True)
    assert (home / "kept.txt").read_text() == "kept"
    again = as_the_controller_starts_it(docker_client, image, home)
    try:
        wait_for_prefix(again)
        assert cell(again, "python3", "print(open('/home/jovyan/kept.txt').read())").strip() == "kept"
    finally:
        again.remove(force=True)


def test_runs_with_an_arbitrary_uid_in_group_zero_as_openshift_starts_it(
    docker_client: Any, image: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if os.getuid() == 0:
        os.chown(home, 0, 0)
    home.chmod(0o2770)  # the volume: root's, writable by group 0
    container = as_the_controller_starts_it(docker_client, image, home, user=OPENSHIFT_USER)
    try:
        wait_for_prefix(container)
        code = "import os; open('/home/jovyan/kept.txt', 'w').write('kept'); print(os.getuid(), os.getgid())"
        assert cell(container, "python3", code).split() == ["1000680000", "0"]
        assert wait_for_health(container, "healthy") == "healthy"
    finally:
        container.remove(force=True)
    assert (home / "kept.txt").read_text() == "kept"
