"""Builds through real build caches on 127.0.0.1: apt-cacher-ng and devpi-server started by
`make proxies`, proven by the caches' own records and by a second build that only an offline
cache can have served. Run by `make test-proxies`: it clears Docker's build cache mounts."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from harness.makefile import copy_project, free_port
from harness.makerun import REPO, SCRATCH_PREFIX, make, scratch_make

IMAGE_BUILD = "build --file"


@dataclass(frozen=True)
class Caches:
    data: Path
    apt_port: int
    pypi_port: int

    @property
    def settings(self) -> list[str]:
        return [f"PROXY_CACHE={self.data}", f"APTCACHE_PORT={self.apt_port}", f"DEVPI_PORT={self.pypi_port}"]

    @property
    def build_settings(self) -> list[str]:
        return [f"APTPROXY=http://127.0.0.1:{self.apt_port}", f"PIPPROXY=http://127.0.0.1:{self.pypi_port}"]

    def apt_log(self) -> str:
        return "".join(
            path.read_text() for path in sorted((self.data / "apt-cacher-ng" / "log").glob("apt-cacher*.log"))
        )

    def devpi_files(self) -> list[str]:
        return sorted(path.name for path in (self.data / "devpi").rglob("+files/**/*") if path.is_file())


@pytest.fixture(scope="module")
def docker_client() -> Any:
    return docker.from_env(version="auto")


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caches]:
    with running_caches(tmp_path_factory.mktemp("caches")) as found:
        yield found


@contextmanager
def running_caches(data: Path) -> Iterator[Caches]:
    """`make proxies` keeping its data in DATA, and `make proxies-stop` after, even when the start
    failed halfway (one cache up, the other not)."""
    found = Caches(data, free_port(), free_port())
    try:
        started = make("proxies", *found.settings)
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        assert f"APTPROXY = http://127.0.0.1:{found.apt_port}" in started.stdout
        yield found
    finally:
        stopped = make("proxies-stop", *found.settings)
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Path]:
    """A copy of the project with small lists, whose images are named pyrlab-scratch/...."""
    copy = copy_project(REPO, tmp_path_factory.mktemp("project") / "pyrlab")
    (copy / "base_debs.txt").write_text("less\n")
    (copy / "requirements.txt").write_text("six\n")
    yield copy
    for image in docker_client.images.list(name=f"{SCRATCH_PREFIX}*"):
        for tag in image.tags:
            if tag.startswith(SCRATCH_PREFIX):
                docker_client.images.remove(tag)


def clear_build_cache_mounts(docker_client: Any) -> None:
    """Forget the apt and uv caches of earlier builds, so that every package is downloaded again."""
    docker_client.api.prune_builds(filters={"type": "exec.cachemount"})


def test_a_configured_cache_that_does_not_answer_stops_the_build_first() -> None:
    port = free_port()
    failed = make("build", f"APTPROXY=http://127.0.0.1:{port}")
    assert failed.returncode != 0
    assert f"APTPROXY=http://127.0.0.1:{port} does not answer" in failed.stderr
    assert "make proxies" in failed.stderr
    assert IMAGE_BUILD not in failed.stdout


def test_builds_go_through_the_caches_and_are_served_from_them_again(
    caches: Caches, scratch: Path, docker_client: Any
) -> None:
    clear_build_cache_mounts(docker_client)
    first = scratch_make(scratch, "build-pylab", *caches.build_settings, "BUILD_ARGS=--no-cache")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    # The caches' own records: apt-cacher-ng's transfer log and devpi's stored files.
    assert "|I|" in caches.apt_log()
    assert "/less_" in caches.apt_log()
    stored = caches.devpi_files()
    assert any(name.startswith("six-") for name in stored), stored[:20]
    assert any(name.startswith("jupyterlab-") for name in stored), stored[:20]

    # Offline caches can only serve what they hold: a second build with the build cache gone,
    # every step run again, succeeds from them alone.
    offline = make("proxies", *caches.settings, "PROXIES_OFFLINE=yes")
    assert offline.returncode == 0, offline.stderr
    log_before = caches.apt_log()
    clear_build_cache_mounts(docker_client)
    for stamp in (scratch / ".build").glob("*.id"):
        if stamp.name != "rootfs.id":
            stamp.unlink()  # so that make builds both images again
    second = scratch_make(scratch, "build-pylab", *caches.build_settings, "BUILD_ARGS=--no-cache")
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert second.stdout.count(IMAGE_BUILD) == 2
    # apt-cacher-ng logs `|O|` for what it serves and `|I|` for what it fetches upstream.
    second_log = caches.apt_log()[len(log_before) :].splitlines()
    assert [line for line in second_log if "|O|" in line and "/less_" in line], second_log
    assert [line for line in second_log if "|I|" in line] == []
    assert caches.devpi_files() == stored

    # Nothing of the caches is left in the images.
    for image in ("pyrlab-base", "pylab"):
        reference = f"{SCRATCH_PREFIX}{image}:latest"
        ports = (str(caches.apt_port), str(caches.pypi_port))
        inspected = docker_client.images.get(reference).attrs
        assert not [entry for entry in inspected["Config"]["Env"] if any(port in entry for port in ports)]
        history = " ".join(str(layer.get("CreatedBy", "")) for layer in docker_client.api.history(reference))
        assert not any(port in history for port in ports)
        addresses = " ".join(f"-e 127.0.0.1:{port}" for port in ports)
        found = docker_client.containers.run(
            reference,
            [
                "bash",
                "-c",
                "apt-config dump | grep -i proxy; env | grep -i -e proxy -e index;"
                f"grep -rls {addresses} /etc ~; exit 0",
            ],
            entrypoint=[],
            remove=True,
        ).decode()
        assert found.strip() == "", found


def test_rootfs_is_built_through_the_apt_cache_and_keeps_no_proxy(
    caches: Caches, scratch: Path, docker_client: Any
) -> None:
    online = make("proxies", *caches.settings)
    assert online.returncode == 0, online.stderr
    image = f"{SCRATCH_PREFIX}rootfs:proxy-test"
    log_before = caches.apt_log()
    built = scratch_make(scratch, "rootfs", f"ROOTFS_IMAGE={image}", "BASE=rootfs", *caches.build_settings)
    try:
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        assert "/python3" in caches.apt_log()[len(log_before) :]
        found = docker_client.containers.run(
            image, ["sh", "-c", "apt-config dump | grep -i proxy || true"], remove=True
        ).decode()
        assert found.strip() == "", found
    finally:
        if docker_client.images.list(name=image):
            docker_client.images.remove(image)


def test_lock_resolves_through_the_caches(caches: Caches, scratch: Path, docker_client: Any) -> None:
    online = make("proxies", *caches.settings)
    assert online.returncode == 0, online.stderr
    devpi = docker_client.containers.get(f"pyrlab-pypi-cache-{caches.pypi_port}")
    apt_log_before = caches.apt_log()
    locked = scratch_make(scratch, "lock", *caches.build_settings)
    assert locked.returncode == 0, locked.stdout[-3000:] + locked.stderr[-3000:]
    assert "six==" in (scratch / "requirements.lock").read_text()
    assert "less=" in (scratch / "base_debs.lock").read_text()
    # devpi's request log and apt-cacher-ng's transfer log: the lock asked both.
    assert "GET /root/pypi/+simple/six/" in devpi.logs().decode()
    assert "dists/trixie/InRelease" in caches.apt_log()[len(apt_log_before) :]


def test_https_sources_keep_working_with_the_apt_cache_set(caches: Caches, scratch: Path, docker_client: Any) -> None:
    """apt takes the cache for http sources only (as apt-install sets it): https sources are
    fetched by apt itself, past the cache, and keep working."""
    online = make("proxies", *caches.settings)
    assert online.returncode == 0, online.stderr
    built = scratch_make(scratch, "build-pyrlab-base")  # trusts CA_CERTS, for https through this machine's proxy
    assert built.returncode == 0, built.stderr[-3000:]
    log_before = caches.apt_log()
    script = (
        "find /etc/apt -name '*.list' -o -name '*.sources' | xargs sed -i 's|http://|https://|';"
        " grep -rh 'https://' /etc/apt/sources.list* | head -1;"
        f" apt-get -o Acquire::http::Proxy=http://127.0.0.1:{caches.apt_port} update -qq && echo updated"
    )
    output = docker_client.containers.run(
        f"{SCRATCH_PREFIX}pyrlab-base:latest",
        ["bash", "-c", script],
        entrypoint=[],
        user="root",
        network_mode="host",
        remove=True,
    ).decode()
    assert "https://deb.debian.org" in output
    assert output.strip().endswith("updated"), output
    assert "/dists/" not in caches.apt_log()[len(log_before) :]


def test_devpi_root_has_a_private_random_password(caches: Caches) -> None:
    """Another local user reaches 127.0.0.1 too: without the password, devpi's root account (which
    may change the mirror every build reads) cannot be logged into, nor the mirror changed."""
    password_file = caches.data / "devpi-root-password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    url = f"http://127.0.0.1:{caches.pypi_port}"
    for guess in ("", "root"):
        assert requests.post(f"{url}/+login", json={"user": "root", "password": guess}, timeout=10).status_code == 401
    changed = requests.patch(f"{url}/root/pypi", json=["mirror_url=http://127.0.0.1:9/"], timeout=10)
    assert changed.status_code in (401, 403)
    password = password_file.read_text().strip()
    assert requests.post(f"{url}/+login", json={"user": "root", "password": password}, timeout=10).status_code == 200


def test_a_root_password_that_starts_with_a_dash_is_still_taken(tmp_path: Path) -> None:
    """The random password is URL-safe base64, so one in 64 starts with '-': devpi-init must not
    read it as an option (it did, and that cache folder could never start)."""
    password = "-" + "x" * 31
    (tmp_path / "devpi-root-password").write_text(password + "\n")
    with running_caches(tmp_path) as caches:
        url = f"http://127.0.0.1:{caches.pypi_port}"
        login = requests.post(f"{url}/+login", json={"user": "root", "password": password}, timeout=10)
        assert login.status_code == 200
