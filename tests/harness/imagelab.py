"""What the image tests share: the running lab, a cell's result, and running a one-off container."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

KERNEL_CLIENT = (Path(__file__).parent / "kernel_client.py").read_text(encoding="utf-8")
REPO = Path(__file__).parents[2]


@dataclass(frozen=True)
class Lab:
    """A running container of the image under test, with Jupyter answering on the host."""

    container: Any
    token: str
    ports: dict[int, int]  # container port -> host port on 127.0.0.1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports[8888]}"


@dataclass(frozen=True)
class CellResult:
    status: str
    output: str


def host_ports(container: Any) -> dict[int, int]:
    container.reload()
    bindings = container.attrs["NetworkSettings"]["Ports"]
    return {int(port.split("/")[0]): int(bound[0]["HostPort"]) for port, bound in bindings.items() if bound}


def wait_for_jupyter(container: Any, url: str, token: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/api/status", headers={"Authorization": f"token {token}"}, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass  # not listening yet
        container.reload()
        if container.status != "running":
            break
        time.sleep(0.3)
    raise AssertionError(f"Jupyter did not answer at {url}:\n{container.logs().decode(errors='replace')}")


@contextmanager
def running(docker_client: Any, image: str, command: list[str] | None = None, **options: Any) -> Iterator[Any]:
    """A new container of the image, detached and labelled as the tests', removed after."""
    container = docker_client.containers.run(image, command, detach=True, labels={"pyrlab.test": "images"}, **options)
    try:
        yield container
    finally:
        container.remove(force=True)


def run_once(docker_client: Any, image: str, command: list[str], **options: Any) -> str:
    """Run a command in a new container through the image's entry point; return its standard output
    (start.sh logs to standard error, which docker interleaves in no fixed order)."""
    with running(docker_client, image, command, **options) as container:
        result = container.wait(timeout=300)
        assert result["StatusCode"] == 0, container.logs().decode(errors="replace")
        return str(container.logs(stdout=True, stderr=False).decode(errors="replace"))


@contextmanager
def started(docker_client: Any, image: str, port: int = 8888, path: str = "", **options: Any) -> Iterator[Lab]:
    """A container of the image with Jupyter answering on `port` (published on 127.0.0.1), removed after."""
    token = secrets.token_hex(16)
    environment = {"JUPYTER_TOKEN": token, **options.pop("environment", {})}
    ports = {f"{port}/tcp": ("127.0.0.1", None)}
    with running(docker_client, image, environment=environment, ports=ports, **options) as container:
        lab = Lab(container, token, host_ports(container))
        wait_for_jupyter(container, f"http://127.0.0.1:{lab.ports[port]}{path}", token)
        yield lab


def cell_through_hub(hub_container: Any, user: str, token: str, kernel: str, code: str) -> str:
    """A cell in a user's lab through a hub's proxy (REST and websocket), run inside the hub's
    container, where the proxy listens on 127.0.0.1:8000; returns the cell's output."""
    exit_code, output = hub_container.exec_run(
        ["python", "-c", KERNEL_CLIENT, f"127.0.0.1:8000/user/{user}", token, kernel, code]
    )
    text = output.decode(errors="replace")
    assert exit_code == 0, text
    result = json.loads(text.strip().splitlines()[-1])
    assert result["status"] == "ok", result
    return str(result["output"])


def exec_output(container: Any, command: list[str], user: str = "") -> str:
    exit_code, output = container.exec_run(command, user=user)
    text = str(output.decode(errors="replace"))
    assert exit_code == 0, text
    return text.strip()


def health(container: Any) -> str:
    container.reload()
    return str(container.attrs["State"]["Health"]["Status"])


def wait_for_health(container: Any, wanted: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while health(container) != wanted and time.monotonic() < deadline:
        time.sleep(0.5)
    return health(container)


def fast_healthcheck(docker_client: Any, image: str) -> dict[str, Any]:
    """The image's own check, run every second from the start (the image waits 10 s first)."""
    test = docker_client.images.get(image).attrs["Config"]["Healthcheck"]["Test"]
    return {"test": test, "interval": 1_000_000_000, "timeout": 3_000_000_000, "retries": 1, "start_period": 0}
