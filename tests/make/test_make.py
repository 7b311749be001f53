"""The Makefile end to end: rebuilds, `make pylab`/`make rlab`, and clear errors on bad input."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import ssl
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.chain import chain_images
from harness.indexserver import IndexHandler, serving
from harness.makefile import free_port, make_environment
from harness.makerun import REPO, SCRATCH_PREFIX, append_lines, make, scratch_make

IMAGE_BUILD = re.compile(r"build --file (\S+)/Dockerfile")
# BuildKit's plain progress: "#6 [stage-0 2/3] RUN ...", maybe "#6 sha256:...", then "#6 CACHED".
SNAPSHOT_LAYER_CACHED = re.compile(
    r"^#(\d+) \[[^\]]*\] RUN .*snapshots/requirements\.txt.*\n(?:#\1 sha256:\S+\n)?#\1 CACHED$", re.MULTILINE
)
IMAGES = list(chain_images())
# The notebook user takes the caller's ids; run as root, those of the folder's owner.
NOTEBOOKS_OWNER = (4321, 4322)


@dataclass(frozen=True)
class StartedLab:
    name: str
    url: str
    token: str
    port: int
    notebooks: Path
    config: Path
    stderr: str


def notebooks_folder(tmp_path: Path) -> Path:
    """A folder of notebooks that is a user's: as CI runs, root's make starts a lab for it."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir(exist_ok=True)
    if os.getuid() == 0:
        os.chown(notebooks, *NOTEBOOKS_OWNER)
    return notebooks


def start_lab(
    lab: str, port_variables: list[str], tmp_path: Path, *extra: str, config: Path | None = None
) -> tuple[StartedLab, list[str]]:
    notebooks, config = notebooks_folder(tmp_path), config or tmp_path / "config"
    ports = {variable: free_port() for variable in port_variables}
    settings = [f"{variable}={port}" for variable, port in ports.items()] + [
        f"NOTEBOOKS={notebooks}",
        f"DOCKER={config}",
        "DOCKER_ARGS=--label pyrlab.test=make --env PYRLAB_TEST=1",
        *extra,
    ]
    started = make(lab, *settings)
    assert started.returncode == 0, started.stdout + started.stderr
    match = re.search(r"(https?://127\.0\.0\.1:(\d+)/lab(?:\?token=(\w+))?)", started.stdout)
    assert match, started.stdout
    port = int(match.group(2))
    lab_url, token = match.group(1), match.group(3) or ""
    return StartedLab(f"{lab}-{port}", lab_url, token, port, notebooks, config, started.stderr), settings


@pytest.fixture(scope="module")
def pylab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StartedLab, list[str]]]:
    lab, settings = start_lab("pylab", ["PYPORT", "DTPORT", "TFPORT"], tmp_path_factory.mktemp("pylab"))
    yield lab, settings
    stopped = make("pylab-stop", *settings)
    assert stopped.returncode == 0, stopped.stderr


def test_nothing_changed_nothing_built() -> None:
    result = make("build")
    assert result.returncode == 0, result.stderr
    assert IMAGE_BUILD.findall(result.stdout) == []
    assert "mmdebstrap" not in result.stdout


def test_pylab_url_opens_jupyter_with_its_token_only(pylab: tuple[StartedLab, list[str]]) -> None:
    lab, _ = pylab
    assert requests.get(lab.url, timeout=10).status_code == 200
    api = f"http://127.0.0.1:{lab.port}/api/status"
    assert requests.get(api, params={"token": lab.token}, timeout=5).status_code == 200
    assert requests.get(api, timeout=5).status_code == 403


def test_docker_args_reach_docker_run(pylab: tuple[StartedLab, list[str]], docker_client: Any) -> None:
    lab, _ = pylab
    container = docker_client.containers.get(lab.name)
    assert container.labels["pyrlab.test"] == "make"
    assert "PYRLAB_TEST=1" in container.attrs["Config"]["Env"]


def test_lab_runs_without_extra_privileges(pylab: tuple[StartedLab, list[str]], docker_client: Any) -> None:
    lab, _ = pylab
    host_config = docker_client.containers.get(lab.name).attrs["HostConfig"]
    assert not host_config["Privileged"]
    # No capability at all, and the notebook user from the first process: no root stage.
    assert host_config["CapDrop"] == ["ALL"]
    assert not host_config["CapAdd"]
    expected = (os.getuid(), os.getgid()) if os.getuid() != 0 else NOTEBOOKS_OWNER
    container = docker_client.containers.get(lab.name)
    assert container.attrs["Config"]["User"] == "{}:{}".format(*expected)
    processes = container.top(ps_args="-o pid,uid,args")["Processes"]
    assert any("jupyter-lab" in args for _, _, args in processes), processes
    assert {uid for _, uid, _ in processes} == {str(expected[0])}, processes


def test_pylab_ports_are_bound_to_loopback_only(pylab: tuple[StartedLab, list[str]], docker_client: Any) -> None:
    lab, _ = pylab
    bindings = docker_client.containers.get(lab.name).attrs["HostConfig"]["PortBindings"]
    assert set(bindings) == {"8888/tcp"}  # D-Tale and TensorBoard are behind Jupyter's token, at /proxy/
    assert {binding["HostIp"] for bound in bindings.values() for binding in bound} == {"127.0.0.1"}


def test_token_is_in_a_private_file_not_in_docker_inspect(
    pylab: tuple[StartedLab, list[str]], docker_client: Any
) -> None:
    lab, _ = pylab
    token_file = lab.config / "pylab.token"
    assert token_file.read_text().strip() == lab.token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert lab.token not in json.dumps(docker_client.containers.get(lab.name).attrs)


def test_notebooks_saved_in_jupyter_belong_to_the_host_user(pylab: tuple[StartedLab, list[str]]) -> None:
    lab, _ = pylab
    notebook = {"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}
    saved = requests.put(
        f"http://127.0.0.1:{lab.port}/api/contents/saved.ipynb",
        json=notebook,
        headers={"Authorization": f"token {lab.token}"},
        timeout=10,
    )
    assert saved.status_code == 201, saved.text
    created = (lab.notebooks / "saved.ipynb").stat()
    expected = (os.getuid(), os.getgid()) if os.getuid() != 0 else NOTEBOOKS_OWNER
    assert (created.st_uid, created.st_gid) == expected


def test_status_shows_the_running_lab_and_its_url(pylab: tuple[StartedLab, list[str]]) -> None:
    lab, settings = pylab
    status = make("status", *settings)
    assert status.returncode == 0, status.stderr
    assert f"{lab.name}\trunning" in status.stdout
    assert lab.url in status.stdout


def test_starting_a_running_lab_again_is_a_clear_error(pylab: tuple[StartedLab, list[str]]) -> None:
    lab, settings = pylab
    again = make("pylab", *settings)
    assert again.returncode != 0
    assert f"{lab.name} is already running" in again.stderr


def test_a_stopped_lab_of_the_same_name_is_replaced(tmp_path: Path, docker_client: Any) -> None:
    port = free_port()
    left = docker_client.containers.create("rlab:latest", name=f"rlab-{port}", labels={"pyrlab.test": "make"})
    settings = [f"RPORT={port}", f"NOTEBOOKS={notebooks_folder(tmp_path)}", f"DOCKER={tmp_path / 'config'}"]
    try:
        started = make("rlab", *settings)
        assert started.returncode == 0, started.stdout + started.stderr
        running = docker_client.containers.get(f"rlab-{port}")
        assert running.id != left.id
        assert running.status == "running"
    finally:
        assert make("rlab-stop", *settings).returncode == 0


def test_a_missing_image_says_to_build_and_pulls_nothing(tmp_path: Path, docker_client: Any) -> None:
    port = free_port()
    settings = [
        f"RPORT={port}",
        f"NOTEBOOKS={tmp_path}",
        f"DOCKER={tmp_path / 'config'}",
        "IMAGE_PREFIX=pyrlab-never-built-",
    ]
    result = make("rlab", *settings)
    assert result.returncode != 0
    assert "image pyrlab-never-built-rlab:latest does not exist: run `make build` first" in result.stderr
    assert "Traceback" not in result.stderr
    assert docker_client.containers.list(all=True, filters={"name": f"rlab-{port}"}) == []
    assert docker_client.images.list(name="pyrlab-never-built-rlab") == []


def test_port_in_use_is_named_before_anything_starts(tmp_path: Path, docker_client: Any) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = make("rlab", f"RPORT={port}", f"NOTEBOOKS={tmp_path}", f"DOCKER={tmp_path / 'config'}")
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use (RPORT={port})" in result.stderr
    assert docker_client.containers.list(all=True, filters={"name": f"rlab-{port}"}) == []


def test_missing_notebooks_folder_is_created_private(tmp_path: Path) -> None:
    """`make build && make pylab` on a new machine: ~/notebooks does not exist yet."""
    missing = tmp_path / "new" / "notebooks"
    settings = [f"RPORT={free_port()}", f"NOTEBOOKS={missing}", f"DOCKER={tmp_path / 'config'}"]
    result = make("rlab", *settings)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"created NOTEBOOKS={missing} (private to you)" in result.stderr
        assert stat.S_IMODE(missing.stat().st_mode) == 0o700
    finally:
        assert make("rlab-stop", *settings).returncode == 0


def test_notebooks_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    impossible = Path("/proc/pyrlab-notebooks")
    result = make("rlab", f"RPORT={free_port()}", f"NOTEBOOKS={impossible}", f"DOCKER={tmp_path / 'config'}")
    assert result.returncode != 0
    assert f"cannot create NOTEBOOKS={impossible}" in result.stderr
    assert "Traceback" not in result.stderr


def test_rlab_starts_with_r_and_python_kernels_and_stops(tmp_path: Path, docker_client: Any) -> None:
    lab, settings = start_lab("rlab", ["RPORT"], tmp_path)
    try:
        specs = requests.get(f"http://127.0.0.1:{lab.port}/api/kernelspecs", params={"token": lab.token}, timeout=10)
        assert {"ir", "python3"} <= set(specs.json()["kernelspecs"])
    finally:
        stopped = make("rlab-stop", *settings)
    assert stopped.returncode == 0, stopped.stderr
    assert docker_client.containers.list(all=True, filters={"name": lab.name}) == []


def test_list_typo_stops_the_build_with_file_line_and_fix(scratch: Path, docker_client: Any) -> None:
    pylab_before = docker_client.images.get("pylab:latest").id
    last = append_lines(scratch / "requirements.txt", "pandas>=>2")
    result = scratch_make(scratch, "build")
    assert result.returncode != 0
    assert f"requirements.txt:{last}: 'pandas>=>2' is not a valid requirement" in result.stderr
    assert "fix: " in result.stderr
    assert IMAGE_BUILD.findall(result.stdout) == []
    assert docker_client.images.get("pylab:latest").id == pylab_before


class DevpiLikeIndex(IndexHandler):
    """A PEP 691 index at devpi's path that has numpy and six (with no files)."""

    projects = ("numpy", "six")

    def do_GET(self) -> None:
        name = self.path.removeprefix("/root/pypi/+simple/").strip("/")
        if name and name not in self.projects:
            self.send_error(404)
        elif name:
            self.answer({"name": name, "files": []})
        else:
            self.answer({"projects": [{"name": project} for project in self.projects]})


def test_misspelled_python_package_is_named_after_the_failed_step(scratch: Path) -> None:
    """uv's resolver message is followed by the line that names no project, and the closest name."""
    base = scratch_make(scratch, "build-pyrlab-base")
    assert base.returncode == 0, base.stdout[-3000:] + base.stderr
    (scratch / "requirements.lock").unlink(missing_ok=True)
    (scratch / "requirements.txt").write_text("six\nnmupy\n")
    with serving(DevpiLikeIndex) as index:
        failed = scratch_make(scratch, "build-pylab", f"PIPPROXY={index}")
    assert failed.returncode != 0
    assert "requirements.txt:2: 'nmupy' is not on the package index" in failed.stderr
    assert "did you mean numpy?" in failed.stderr
    assert "'six'" not in failed.stderr.split("requirements.txt:2:")[-1]


def test_unknown_r_package_is_named_and_the_old_image_stays(scratch: Path, docker_client: Any) -> None:
    built = scratch_make(scratch, "build-rlab")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr
    rlab_before = docker_client.images.get("pyrlab-scratch/rlab:latest").id
    last = append_lines(scratch / "r_packages.txt", "ggplot", "nosuchpackage")
    failed = scratch_make(scratch, "build-rlab")
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert f"r_packages.txt:{last - 1}: 'ggplot' has no Debian package" in output
    assert "did you mean ggplot2" in output
    assert f"r_packages.txt:{last}: 'nosuchpackage' has no Debian package" in output
    assert docker_client.images.get("pyrlab-scratch/rlab:latest").id == rlab_before


def test_parallel_build_tags_and_removal(scratch: Path, docker_client: Any) -> None:
    """`make -j2 build` builds the chain in order; each image is tagged latest and TAG; an image
    removed by hand is rebuilt; clean-images removes the images by their names only."""
    built = scratch_make(scratch, "-j2", "build", "TAG=scratch-tag")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr
    assert sorted(IMAGE_BUILD.findall(built.stdout)) == sorted(IMAGES)
    for image in IMAGES:
        latest = docker_client.images.get(f"{SCRATCH_PREFIX}{image}:latest")
        assert f"{SCRATCH_PREFIX}{image}:scratch-tag" in latest.tags
    # An image removed by hand is noticed and rebuilt, alone.
    last = IMAGES[-1]
    for tag in (f"{SCRATCH_PREFIX}{last}:latest", f"{SCRATCH_PREFIX}{last}:scratch-tag"):
        docker_client.images.remove(tag)
    rebuilt = scratch_make(scratch, "build")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr
    assert IMAGE_BUILD.findall(rebuilt.stdout) == [last]
    project_images = {image: docker_client.images.get(f"{image}:latest").id for image in IMAGES}
    removed = scratch_make(scratch, "clean-images")
    assert removed.returncode == 0, removed.stderr
    assert docker_client.images.list(name=f"{SCRATCH_PREFIX}*") == []
    # The same image ids also carry the project's own names: those stay.
    assert {image: docker_client.images.get(f"{image}:latest").id for image in IMAGES} == project_images


def test_editing_requirements_rebuilds_only_pylab(scratch: Path) -> None:
    built = scratch_make(scratch, "build")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr
    append_lines(scratch / "requirements.txt", "six")
    rebuilt = scratch_make(scratch, "build")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr
    assert IMAGE_BUILD.findall(rebuilt.stdout) == ["pylab"]
    # The big layer of the list's snapshot stays cached; only the additions are installed.
    assert SNAPSHOT_LAYER_CACHED.search(rebuilt.stderr), rebuilt.stderr[-3000:]  # BuildKit's progress


def test_help_documents_every_target_and_variable() -> None:
    variables = re.findall(r"^([A-Z0-9_]+) \?=", (REPO / "settings.mk").read_text(), flags=re.MULTILINE)
    shown = make("help")
    assert shown.returncode == 0, shown.stderr
    for variable in variables:
        assert re.search(rf"^  {variable} +\S", shown.stdout, flags=re.MULTILINE), variable
    for target in (
        "build",
        "rootfs",
        "check",
        "lock",
        "upgrade",
        "outdated",
        "manifest",
        "pylab",
        "rlab",
        "stop",
        "status",
        "test",
        "clean",
        "registry",
        "push",
        "pull",
        "sbom",
        "z2jh-values",
    ):
        assert re.search(rf"^  {target} +\S", shown.stdout, flags=re.MULTILINE), target


def test_a_labs_goals_ask_the_engine_nothing_while_make_reads_the_makefile(tmp_path: Path) -> None:
    """`make pylab` builds nothing, so it skips the image inventory (two engine calls) that a build takes."""
    calls = tmp_path / "calls"
    logging_cli = tmp_path / "docker"
    real_cli = shutil.which(os.environ.get("CONTAINER_CLI", "docker"))
    logging_cli.write_text(f'#!/bin/bash\necho "$*" >> {calls}\nexec {real_cli} "$@"\n')
    logging_cli.chmod(0o755)
    for goals in (["pylab"], ["rlab-stop"], ["status"]):
        planned = make("--dry-run", *goals, f"CONTAINER_CLI={logging_cli}", "BASE=auto")
        assert planned.returncode == 0, planned.stderr
        assert not calls.exists(), calls.read_text()
    planned = make("--dry-run", "build", f"CONTAINER_CLI={logging_cli}", "BASE=auto")
    assert planned.returncode == 0, planned.stderr
    asked = calls.read_text()
    assert "image ls" in asked
    assert "image inspect" in asked


def test_base_auto_takes_the_python_image_when_here_else_the_registry_free_rootfs(docker_client: Any) -> None:
    """BASE=auto asks no registry: the python image when this machine has it, else the rootfs that
    mmdebstrap builds, and it says which and why."""
    assert shutil.which("mmdebstrap"), "the tests build the chain from `make rootfs`: install mmdebstrap"
    tag = "pyrlab-test-auto"
    absent = make("--silent", "check", "BASE=auto", f"PYTHONBASE={tag}")
    assert absent.returncode == 0, absent.stderr
    assert f"BASE=auto: the chain starts from rootfs (no python:{tag} image is here" in absent.stdout
    planned = make("--dry-run", "build-pyrlab-base", "BASE=auto", f"PYTHONBASE={tag}")
    assert f"PARENT_IMAGE=python:{tag}" not in planned.stdout
    docker_client.images.get("pyrlab-rootfs:trixie").tag("python", tag)
    try:
        present = make("--silent", "check", "BASE=auto", f"PYTHONBASE={tag}")
        assert present.returncode == 0, present.stderr
        assert "BASE=auto: the chain starts from python" in present.stdout
    finally:
        docker_client.images.remove(f"python:{tag}")


def test_a_base_lock_for_another_python_image_is_named(scratch: Path) -> None:
    (scratch / "base.lock").write_text("python:3.12-bookworm@sha256:" + "e" * 64 + "\n")
    refused = scratch_make(scratch, "preflight", "BASE=python", "PYTHONBASE=3.13-trixie")
    assert refused.returncode != 0
    assert "base.lock pins python:3.12-bookworm@sha256:" in refused.stderr
    assert "not PYTHONBASE=3.13-trixie: run `make lock`" in refused.stderr


def stop_lab(lab: StartedLab, settings: list[str]) -> None:
    stopped = make(f"{lab.name.split('-')[0]}-stop", *settings)
    assert stopped.returncode == 0, stopped.stderr


def test_published_tools_are_on_loopback_with_a_warning(tmp_path: Path, docker_client: Any) -> None:
    lab, settings = start_lab("pylab", ["PYPORT", "DTPORT", "TFPORT"], tmp_path, "PUBLISH_TOOLS=yes")
    try:
        bindings = docker_client.containers.get(lab.name).attrs["HostConfig"]["PortBindings"]
        assert set(bindings) == {"8888/tcp", "40000/tcp", "6006/tcp"}
        assert {binding["HostIp"] for bound in bindings.values() for binding in bound} == {"127.0.0.1"}
        assert "WARNING: DTPORT=" in lab.stderr
        assert "without authentication" in lab.stderr
    finally:
        stop_lab(lab, settings)


def test_auth_none_is_explicit_and_warned(tmp_path: Path) -> None:
    lab, settings = start_lab("rlab", ["RPORT"], tmp_path, "AUTH=none")
    try:
        assert "token=" not in lab.url
        assert "WARNING: AUTH=none" in lab.stderr
        assert requests.get(f"http://127.0.0.1:{lab.port}/api/status", timeout=5).status_code == 200
    finally:
        stop_lab(lab, settings)


def test_password_replaces_the_token(tmp_path: Path) -> None:
    config = tmp_path / "config"
    notebooks = notebooks_folder(tmp_path)  # the hash is the notebook user's, as the lab reads it
    stored = make("password", f"NOTEBOOKS={notebooks}", f"DOCKER={config}", stdin="correct horse\n")
    assert stored.returncode == 0, stored.stderr
    assert stat.S_IMODE((config / "jupyter_password").stat().st_mode) == 0o600
    assert "argon2" in (config / "jupyter_password").read_text()
    lab, settings = start_lab("rlab", ["RPORT"], tmp_path, config=config)
    try:
        assert "token=" not in lab.url
        base = f"http://127.0.0.1:{lab.port}"
        assert requests.get(f"{base}/api/status", timeout=5).status_code == 403
        session = requests.Session()
        session.get(f"{base}/login", timeout=10)
        wrong = session.post(f"{base}/login", data={"password": "wrong", "_xsrf": session.cookies["_xsrf"]}, timeout=10)
        assert session.get(f"{base}/api/status", timeout=5).status_code == 403, wrong.status_code
        session.post(f"{base}/login", data={"password": "correct horse", "_xsrf": session.cookies["_xsrf"]}, timeout=10)
        assert session.get(f"{base}/api/status", timeout=5).status_code == 200
    finally:
        stop_lab(lab, settings)


def test_mounted_certificate_makes_the_lab_https(tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "ssl").mkdir(parents=True)
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-keyout", str(config / "ssl" / "key.pem"), "-out", str(config / "ssl" / "cert.pem")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    if os.getuid() == 0:  # the notebook user's, as `make pylab` wants DOCKER to be when root runs it
        for path in (config, config / "ssl", *(config / "ssl").iterdir()):
            os.chown(path, *NOTEBOOKS_OWNER)
    lab, settings = start_lab("rlab", ["RPORT"], tmp_path, config=config)
    try:
        assert lab.url.startswith(f"https://127.0.0.1:{lab.port}/lab?token=")
        served = ssl.get_server_certificate(("127.0.0.1", lab.port))
        assert served.strip() == (config / "ssl" / "cert.pem").read_text().strip()
        answer = requests.get(
            f"https://127.0.0.1:{lab.port}/api/status", params={"token": lab.token}, verify=False, timeout=10
        )
        assert answer.status_code == 200
    finally:
        stop_lab(lab, settings)


def test_gen_cert_in_docker_args_gives_an_https_url(tmp_path: Path) -> None:
    lab, settings = start_lab("rlab", ["RPORT"], tmp_path, "DOCKER_ARGS=--env GEN_CERT=yes")
    try:
        assert lab.url.startswith(f"https://127.0.0.1:{lab.port}/lab?token=")
        answer = requests.get(
            f"https://127.0.0.1:{lab.port}/api/status", params={"token": lab.token}, verify=False, timeout=10
        )
        assert answer.status_code == 200
    finally:
        stop_lab(lab, settings)


@pytest.mark.parametrize("build", [*IMAGES, "proxies", "hub"])
def test_every_source_of_a_copy_is_a_build_input(build: str) -> None:
    """Editing any file a build copies or mounts rebuilds it (a multi-source COPY included; a COPY
    or mount from another stage of the build reads no file of the project)."""
    shown = make("--silent", "preflight")
    assert shown.returncode == 0, shown.stderr
    recorded = {line.split("  ", 1)[1] for line in (REPO / ".build/inputs" / build).read_text().splitlines()}
    dockerfile = (REPO / build / "Dockerfile").read_text()
    copied = [
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
        if not source.startswith("--")
    ]
    mounted = [
        source
        for source in re.findall(r"--mount=type=bind,(?!from=)source=([^,\s]+)", dockerfile)
        if not source.startswith(".build/r-repos")  # a folder, empty without R_REPOS
    ]
    assert mounted  # every build mounts its lists
    for source in copied + mounted:
        assert source in recorded or any(path.startswith(source + "/") for path in recorded), source


def test_a_make_started_by_a_make_derives_its_own_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """An outer make exports its defaults; a make it starts (the tests do) derives its own from
    what it is given: BUILD_NETWORK follows R_REPOS."""
    monkeypatch.setenv("BUILD_NETWORK", "default")
    monkeypatch.setenv("PYRLAB_MAKEFILE_SETTINGS", "BUILD_NETWORK CHAIN_BASE")
    shown = make("--silent", "--eval", "print-network: ; @echo $(BUILD_NETWORK)", "print-network", "R_REPOS=/srv/r")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "host"


def test_the_makefile_is_plain_rules() -> None:
    """No rule is generated with eval, and no state is read back from files while make parses."""
    makefile = (REPO / "Makefile").read_text()
    assert "$(eval" not in makefile
    assert ".from" not in makefile


@dataclass(frozen=True)
class BoundRlab:
    port: int
    config: Path
    token: str
    settings: list[str]
    output: str


@contextmanager
def rlab_bound_to(tmp_path: Path, address: str) -> Iterator[BoundRlab]:
    """`make rlab` with BIND_ADDRESS=address on a free port; stopped after the block."""
    notebooks, config, port = notebooks_folder(tmp_path), tmp_path / "config", free_port()
    settings = [f"RPORT={port}", f"NOTEBOOKS={notebooks}", f"DOCKER={config}", f"BIND_ADDRESS={address}"]
    started = make("rlab", *settings)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        token = (config / "rlab.token").read_text().strip()
        yield BoundRlab(port, config, token, settings, started.stdout + started.stderr)
    finally:
        assert make("rlab-stop", *settings).returncode == 0


def test_status_shows_a_lab_only_to_its_configuration_folder_at_its_address(
    pylab: tuple[StartedLab, list[str]], tmp_path: Path
) -> None:
    first, first_settings = pylab
    # Another loopback address: still only this machine, but not 127.0.0.1.
    with rlab_bound_to(tmp_path, "127.0.0.2") as rlab:
        own = make("status", *rlab.settings)
        assert own.returncode == 0, own.stderr
        assert f"http://127.0.0.2:{rlab.port}/lab?token={rlab.token}" in own.stdout
        assert first.token not in own.stdout
        from_first = make("status", *first_settings)
        assert from_first.returncode == 0, from_first.stderr
        assert first.url in from_first.stdout
        rlab_line = next(line for line in from_first.stdout.splitlines() if line.startswith(f"rlab-{rlab.port}\t"))
        assert "token=" not in rlab_line
        assert f"started with DOCKER={rlab.config.resolve()}" in rlab_line


def test_ipv6_loopback_bind_address_serves_the_lab_at_its_url(tmp_path: Path) -> None:
    """BIND_ADDRESS=::1: published on IPv6's loopback, the URL and `make status` in brackets."""
    with rlab_bound_to(tmp_path, "::1") as rlab:
        url = f"http://[::1]:{rlab.port}/lab?token={rlab.token}"
        assert url in rlab.output
        assert "other machines can reach" not in rlab.output
        status = f"http://[::1]:{rlab.port}/api/status"
        assert requests.get(status, headers={"Authorization": f"token {rlab.token}"}, timeout=10).status_code == 200
        assert requests.get(status, timeout=10).status_code == 403
        shown = make("status", *rlab.settings)
        assert url in shown.stdout


def test_the_commands_install_no_test_tools(tmp_path: Path) -> None:
    """`make pylab` and its siblings on a fresh checkout: the runtime tools, not ruff, mypy, pytest."""
    venv = tmp_path / "venv"
    shown = make(f"TOOLS_VENV={venv}", "status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert (venv / ".installed").is_file()
    installed = {path.name for path in (venv / "bin").iterdir()}
    assert not {"ruff", "mypy", "pytest", "playwright"} & installed, installed


@pytest.mark.skipif(os.environ.get("BASE") != "rootfs", reason="the base of the chain is not `make rootfs`'s here")
def test_manifests_record_the_rootfs_and_its_debian_archive(docker_client: Any) -> None:
    """BASE=rootfs is built here, not pulled by digest: each manifest records what it was built on,
    and the Debian archive's date of each suite the rootfs came from."""
    assert make("manifest").returncode == 0
    base = json.loads((REPO / "manifests" / "pyrlab-base.json").read_text())
    rootfs = docker_client.images.get(base["base"])
    assert base["base_image"]["id"] == rootfs.id
    assert set(base["debian_archive"]) >= {"stable", "stable-updates", "stable-security"}
    for date in base["debian_archive"].values():
        assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} UTC", date), date
    pylab = json.loads((REPO / "manifests" / "pylab.json").read_text())
    assert pylab["base_image"]["id"] == base["id"]
    assert pylab["debian_archive"] == base["debian_archive"]


def test_hub_admin_is_the_caller_even_without_user_in_the_environment() -> None:
    """A service, a container or cron may have no USER: the admin is still who runs make."""
    environment = {key: value for key, value in make_environment().items() if key not in ("USER", "LOGNAME")}
    shown = subprocess.run(
        ["make", "--no-print-directory", "--eval", "show-admin: ; @echo $$HUB_ADMIN", "show-admin"],
        cwd=REPO, env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == pwd.getpwuid(os.getuid()).pw_name


@pytest.mark.skipif(not Path("/usr/local/bin/docker").exists(), reason="no second Docker client on this machine")
def test_a_client_that_cannot_build_with_buildkit_is_named_with_the_fix() -> None:
    """This machine's /usr/local/bin/docker is a new client without buildx (it refuses BuildKit);
    Debian's /usr/bin/docker builds with it. `make check`, run before every build, says which to use."""
    refused = make("check", "CONTAINER_CLI=/usr/local/bin/docker")
    assert refused.returncode != 0
    assert "cannot build with BuildKit" in refused.stderr
    assert "CONTAINER_CLI=/usr/bin/docker" in refused.stderr
    assert make("check", "CONTAINER_CLI=/usr/bin/docker").returncode == 0
