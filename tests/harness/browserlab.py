"""What the browser tests share: where screenshots go, a lab started by make, and a watch on
its network namespace."""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from playwright.sync_api import Browser

from harness.browser import LabPage, open_lab
from harness.makerun import REPO

SCREENSHOTS = REPO / "test-output" / "screenshots"
NOTEBOOKS_OWNER = (4321, 4322)
# /proc/net/tcp states: 0A is LISTEN; every other row is a connection.
LISTEN = "0A"


@dataclass
class MadeLab:
    """A lab started by make, its printed URL, and what its network namespace was seen doing."""

    name: str
    url: str
    port: int
    notebooks: Path
    settings: list[str]
    outbound: set[str] = field(default_factory=set)

    @property
    def origin(self) -> str:
        return re.sub(r"^(https?://[^/]+).*", r"\1", self.url)


def connections(container: Any) -> list[tuple[str, str, str]]:
    """(local, remote, state) of every socket in the container's network namespace, hex as the
    kernel writes them."""
    exit_code, output = container.exec_run(
        ["cat", "/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"]
    )
    if exit_code != 0:
        return []
    rows = []
    for line in output.decode().splitlines():
        fields = line.split()
        if len(fields) > 3 and ":" in fields[1]:
            rows.append((fields[1], fields[2], fields[3]))
    return rows


def is_outbound(local: str, remote: str, state: str, jupyter_port: int) -> bool:
    """A socket this container opened towards another machine (not loopback, not a reply on Jupyter's port)."""
    remote_address, remote_port = remote.split(":")
    if state == LISTEN or int(remote_port, 16) == 0:
        return False
    if int(local.split(":")[1], 16) == jupyter_port:
        return False  # the browser's own connection, through the published port
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc writes them
    return remote_address not in loopback and not remote_address.endswith("7F")  # 127.x.x.x, little-endian


def watch_network(client: Any, name: str, lab: MadeLab, stop: threading.Event) -> None:
    """From the moment the container exists until the tests end, note every outbound socket."""
    while not stop.is_set():
        try:
            container = client.containers.get(name)
        except docker.errors.NotFound:
            time.sleep(0.05)
            continue
        try:
            rows = connections(container)
        except docker.errors.APIError as error:
            if error.status_code != 409:  # 409: created and not started yet, or stopped: look again
                raise
            rows = []
        for local, remote, state in rows:
            if is_outbound(local, remote, state, 8888):
                lab.outbound.add(f"{local} -> {remote} ({state})")
        time.sleep(0.1)


def owner_ids() -> tuple[int, int]:
    return NOTEBOOKS_OWNER if os.getuid() == 0 else (os.getuid(), os.getgid())


def host_file_text(path: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)
    return path.read_text()


# The host's IPv6 addresses, a line each: address, interface index, prefix length, scope, flags,
# name; the flag of an address still in duplicate address detection (IFA_F_TENTATIVE).
IF_INET6 = Path("/proc/net/if_inet6")
TENTATIVE = 0x40


def wait_for_settled_addresses(timeout: float = 5.0) -> None:
    """Wait until no IPv6 address of the host is still tentative.

    A container's new veth gets its link-local address a second or two after the container starts,
    and Chromium fails every request in flight when an address appears (net::ERR_NETWORK_CHANGED):
    a lab page loaded in that moment misses scripts. A person opens the URL later than a test does.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [line.split() for line in IF_INET6.read_text().splitlines()] if IF_INET6.exists() else []
        if not any(len(fields) >= 6 and int(fields[4], 16) & TENTATIVE for fields in rows):
            return
        time.sleep(0.1)


def open_made_lab(browser: Browser, lab: MadeLab) -> LabPage:
    """open_lab once the host's addresses have settled, with the lab's last log lines in its warning
    when the page needs a reload."""
    wait_for_settled_addresses()

    def lab_log() -> str:
        logs: bytes = docker.from_env(version="auto").containers.get(lab.name).logs(tail=60)
        return logs.decode(errors="replace")

    # The lab keeps its layout in DOCKER (a notebook left open opens again): each new page of a
    # test starts from the launcher, as `?reset` asks of JupyterLab.
    return open_lab(browser, lab.url.replace("/lab?", "/lab?reset&", 1), diagnose=lab_log)
