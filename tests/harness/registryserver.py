"""A `make registry` of the tests' own: on a free port of 127.0.0.1, its data and the manifests of
its pushes in a scratch folder, its names on this machine forgotten afterwards."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import requests

from harness.makefile import free_port
from harness.makerun import make

ORG = "team"


@dataclass(frozen=True)
class Registry:
    port: int
    data: Path
    manifests: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return f"{self.address}/{ORG}"

    @property
    def settings(self) -> list[str]:
        return [f"REGISTRY_PORT={self.port}", f"REGISTRY_DATA={self.data}", f"MANIFESTS={self.manifests}"]

    def get(self, path: str, **options: Any) -> requests.Response:
        password = (self.data / "registry-password").read_text().strip()
        return requests.get(f"http://{self.address}/v2/{path}", auth=("pyrlab", password), timeout=30, **options)

    def manifest(self, name: str) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads((self.manifests / f"{name}.json").read_text())
        return manifest


def checked(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@contextmanager
def running_registry(folder: Path) -> Iterator[Registry]:
    """`make registry` in folder, with `make manifest`'s manifests there; stopped afterwards."""
    running = Registry(free_port(), folder / "data", folder / "manifests")
    started = checked(make("registry", *running.settings))
    assert f"REGISTRY = {running.address}/pyrlab" in started
    try:
        yield running
    finally:
        checked(make("registry-stop", *running.settings))
        forget_the_registrys_names(running)


def forget_the_registrys_names(registry: Registry) -> None:
    """Untag what the tests pushed and pulled under the registry's address: each run's registry has
    a port of its own, and names left behind would pile up on a machine that runs the tests often."""
    client = docker.from_env(version="auto")
    for image in client.images.list():
        for reference in image.tags + image.attrs.get("RepoDigests", []):
            if reference.startswith(f"{registry.address}/"):
                client.images.remove(reference)
