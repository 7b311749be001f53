"""Fixtures for the browser tests: Debian's Chromium, and labs started with `make pylab` and
`make rlab` as a person starts them (as root, CI's case, for a folder of a user's)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from playwright.sync_api import Browser

from harness.browser import chromium
from harness.browserlab import NOTEBOOKS_OWNER, MadeLab, watch_network
from harness.makefile import free_port
from harness.makerun import make


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as started:
        yield started


@pytest.fixture(scope="session")
def docker_client() -> Any:
    return docker.from_env(version="auto")


@pytest.fixture(scope="module")
def start_lab(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Any]:
    """Starts labs with make (watching their network from the first moment) and stops them after."""
    started: list[tuple[MadeLab, threading.Event, threading.Thread]] = []

    def start(lab: str, *extra: str, stdin_password: str = "") -> MadeLab:
        folder = tmp_path_factory.mktemp(lab)
        notebooks, config = folder / "notebooks", folder / "config"
        notebooks.mkdir()
        if os.getuid() == 0:
            os.chown(notebooks, *NOTEBOOKS_OWNER)
        port = free_port()
        variable = "PYPORT" if lab == "pylab" else "RPORT"
        settings = [f"{variable}={port}", f"NOTEBOOKS={notebooks}", f"DOCKER={config}", *extra]
        if lab == "pylab":
            settings += [f"DTPORT={free_port()}", f"TFPORT={free_port()}"]
        if stdin_password:
            stored = make("password", *settings, stdin=stdin_password + "\n")
            assert stored.returncode == 0, stored.stderr
        made = MadeLab(f"{lab}-{port}", "", port, notebooks, settings)
        stop = threading.Event()
        watcher = threading.Thread(target=watch_network, args=(docker_client, made.name, made, stop), daemon=True)
        watcher.start()
        result = make(lab, *settings)
        assert result.returncode == 0, result.stdout + result.stderr
        match = re.search(rf"(https?://127\.0\.0\.1:{port}/lab\S*)", result.stdout)
        assert match, result.stdout
        made.url = match.group(1)
        started.append((made, stop, watcher))
        return made

    yield start
    for made, stop, watcher in started:
        stop.set()
        watcher.join(timeout=10)
        stopped = make(f"{made.name.split('-')[0]}-stop", *made.settings)
        assert stopped.returncode == 0, stopped.stderr
