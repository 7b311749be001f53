"""`make proxies`: the build caches, apt-cacher-ng and devpi-server, as two containers of the
pyrlab-proxies image published on 127.0.0.1 with their data in a host folder; and the check
that a configured cache answers before a build starts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import requests

from pyrlab.engine import EngineError, container_logs, container_state
from pyrlab.engine import run as run_cli
from pyrlab.inside.contract import APT_CACHE_PORT, DEVPI_PORT
from pyrlab.labs.ports import Publish, check_port_free
from pyrlab.labs.private import notebook_ids


@dataclass(frozen=True)
class Cache:
    """One build cache: what `serve` calls it, the Make variables of its URL and port."""

    kind: str
    variable: str
    port_variable: str
    container_port: int

    def container(self, port: int) -> str:
        return f"pyrlab-{self.kind}-cache-{port}"


CACHES = (
    Cache("apt", "APTPROXY", "APTCACHE_PORT", APT_CACHE_PORT),
    Cache("pypi", "PIPPROXY", "DEVPI_PORT", DEVPI_PORT),
)


def answers(url: str, timeout: float = 5.0) -> str | None:
    """None when an HTTP server answers at url (any status), else why not."""
    try:
        requests.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as error:
        return type(error).__name__ + (f": {error.__context__}" if error.__context__ else "")
    return None


def unanswered(settings: dict[str, str]) -> list[str]:
    """A message for every configured cache (VARIABLE -> URL) that does not answer."""
    problems = []
    for variable, url in settings.items():
        if url and (why := answers(url)) is not None:
            problems.append(
                f"{variable}={url} does not answer ({why}).\n"
                f"    fix: start the caches with `make proxies`, correct {variable}, or leave {variable} empty"
            )
    return problems


def start(cli: str, image: str, data: Path, ports: dict[str, int], offline: bool, timeout: float = 60.0) -> list[str]:
    """(Re)start both caches on 127.0.0.1; return the settings that make builds use them."""
    data = data.expanduser().absolute()
    data.mkdir(parents=True, exist_ok=True)
    uid, gid = notebook_ids(data)
    settings = []
    for cache in CACHES:
        port = ports[cache.kind]
        name = cache.container(port)
        if container_state(cli, name) is not None:
            run_cli(cli, "rm", "--force", name)
        check_port_free("127.0.0.1", Publish(cache.port_variable, port, cache.container_port))
        run_cli(
            cli,
            *("run", "--detach", "--name", name, "--user", f"{uid}:{gid}", "--label", f"pyrlab.cache={cache.kind}"),
            *("--env", f"PYRLAB_OFFLINE={'yes' if offline else 'no'}", "--env", f"PYRLAB_PORT={cache.container_port}"),
            *("--volume", f"{data}:/data"),
            *("--publish", f"127.0.0.1:{port}:{cache.container_port}", image, cache.kind),
        )
        settings.append((cache, name, f"http://127.0.0.1:{port}"))
    deadline = time.monotonic() + timeout
    for cache, name, url in settings:
        while (why := answers(url, timeout=2)) is not None:
            if container_state(cli, name) != "running" or time.monotonic() > deadline:
                logs = container_logs(cli, name, 20)
                raise EngineError(f"the {cache.kind} cache ({name}) did not start ({why}); its log ends:\n{logs}")
            time.sleep(0.5)
    return [f"{cache.variable} = {url}" for cache, _, url in settings]


def stop(cli: str, ports: dict[str, int]) -> list[str]:
    """Remove both caches' containers (their data stays); return the names removed."""
    removed = []
    for cache in CACHES:
        name = cache.container(ports[cache.kind])
        if container_state(cli, name) is not None:
            run_cli(cli, "rm", "--force", name)
            removed.append(name)
    return removed
