"""`make pylab` and `make rlab`: the checks before a lab starts, its `docker run`, and the wait until
Jupyter answers, with authentication on."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import sys
import time
from pathlib import Path

from pyrlab.engine import EngineError, bind_mount, container_logs, container_state, image_facts
from pyrlab.engine import run as run_cli
from pyrlab.inside.contract import HOME, JUPYTER_PORT, LAB_CAP_DROP, LAB_SECURITY_OPT, NOTEBOOK_GROUP_ID, WORK
from pyrlab.labs.errors import LabError
from pyrlab.labs.ports import NO_ANSWER, address_literal, answer_status, check_port_free, is_loopback
from pyrlab.labs.private import notebook_ids, prepare_config_dir, read_private, token_for
from pyrlab.labs.spec import CONFIG_DIR, CONFIG_LABEL, LABEL, LabSpec
from pyrlab.labs.stop import stop
from pyrlab.settings import check_mountable


def warnings_for(spec: LabSpec) -> list[str]:
    """What in the settings lets others in, said before the lab starts."""
    warnings = []
    if spec.auth == "none":
        warnings.append(
            f"AUTH=none: {spec.lab} asks for no token or password; anyone who reaches "
            f"{spec.bind}:{spec.jupyter.host_port} can run code as you"
        )
    if not is_loopback(spec.bind):
        warnings.append(
            f"BIND_ADDRESS={spec.bind}: other machines can reach {spec.lab}; "
            "its token or password still guards it (ssh -L keeps it on this machine)"
        )
    for publish in spec.publish:
        if publish.container_port != JUPYTER_PORT:
            warnings.append(
                f"{publish.variable}={publish.host_port} is published without authentication on {spec.bind}; "
                f"through Jupyter it is behind the token at /proxy/{publish.container_port}/"
            )
    return warnings


def wait_until_ready(spec: LabSpec, token: str, timeout: float) -> str:
    """Poll the Jupyter API through the published port until it answers (with the token, if any).

    Returns the scheme it answered on: https with a certificate in the configuration folder or
    GEN_CERT=yes among DOCKER_ARGS, else http; both are tried, the likely one first.
    """
    headers = {"Authorization": f"token {token}"} if token else {}
    path = "/api/status" if token else "/api"
    schemes = [spec.scheme, "http" if spec.scheme == "https" else "https"]
    started = time.monotonic()
    next_state_check = started + 1.0
    while time.monotonic() < started + timeout:
        for scheme in schemes:
            url = f"{scheme}://{spec.url_host}:{spec.jupyter.host_port}{path}"
            try:
                if answer_status(url, headers, timeout=2) == 200:
                    return scheme
            except NO_ANSWER:
                pass  # not listening yet, or the other scheme: poll again below
        if time.monotonic() > next_state_check:  # `docker inspect` once a second, not at every poll
            state = container_state(spec.cli, spec.name)
            if state != "running":
                logs = container_logs(spec.cli, spec.name, 40)
                raise LabError(f"{spec.name} stopped while starting (state: {state}). Its last lines:\n{logs}")
            next_state_check = time.monotonic() + 1.0
        time.sleep(0.01)  # a refused connection costs little; the lab is used the moment it answers
    logs = container_logs(spec.cli, spec.name, 40)
    raise LabError(
        f"Jupyter in {spec.name} did not answer on port {spec.jupyter.host_port} within {timeout:.0f} s, "
        f"so it was removed. Its last lines:\n{logs}"
    )


def check_notebooks_writable(notebooks: Path) -> None:
    """The notebook user (your ids, or the folder's owner's when run as root) must write NOTEBOOKS."""
    uid, gid = notebook_ids(notebooks)
    status = notebooks.stat()
    if uid == status.st_uid:
        writable = bool(status.st_mode & stat.S_IWUSR)
    elif gid == status.st_gid:
        writable = bool(status.st_mode & stat.S_IWGRP)
    else:
        writable = bool(status.st_mode & stat.S_IWOTH)
    if not (writable and status.st_mode & stat.S_IXUSR) and uid != 0:
        raise LabError(
            f"NOTEBOOKS={notebooks} is not writable by the notebook user (uid {uid}): nothing could be saved. "
            f"`chmod u+rwx {shlex.quote(str(notebooks))}` or point NOTEBOOKS at a folder of yours"
        )


def docker_run_args(spec: LabSpec) -> list[str]:
    """The `docker run` arguments: loopback ports, the notebook user's ids, the two mounts.

    The lab runs as the notebook user from its first process, with no capability and no way to
    gain one, so that nothing in it (nor a `docker exec` without -u) is root. GRANT_SUDO=yes asks
    for root: then it starts as root, docker-stacks' way, and start.sh gives the user sudo.
    """
    uid, gid = spec.owner
    args = [
        "run", "--detach", "--pull", "never", "--name", spec.name, "--label", f"{LABEL}={spec.lab}",
        "--label", f"{CONFIG_LABEL}={spec.config.resolve()}",
        "--mount", bind_mount(spec.notebooks, WORK), "--mount", bind_mount(spec.config, CONFIG_DIR),
        "--workdir", WORK,
    ]  # fmt: skip
    if spec.grants_sudo:
        args += ["--user", "root", "--env", f"NB_UID={uid}", "--env", f"NB_GID={gid}"]
    else:
        # HOME for `docker exec` too: a uid without a passwd entry would get /.
        args += ["--user", f"{uid}:{gid}", "--group-add", str(NOTEBOOK_GROUP_ID), "--env", f"HOME={HOME}"]
        args += [word for cap in LAB_CAP_DROP for word in ("--cap-drop", cap)]
        args += [word for option in LAB_SECURITY_OPT for word in ("--security-opt", option)]
    if not is_loopback(spec.bind):
        args += ["--env", "PYRLAB_ALLOW_REMOTE_ACCESS=yes"]  # other machines' names in the Host header
    if spec.auth == "none":
        args += ["--env", "PYRLAB_AUTH=none"]
    elif not spec.password_file.is_file():
        args += ["--env", f"JUPYTER_TOKEN_FILE={CONFIG_DIR}/{spec.token_file.name}"]
    for publish in spec.publish:
        args += ["--publish", f"{address_literal(spec.bind)}:{publish.host_port}:{publish.container_port}"]
    return [*args, *spec.docker_args, spec.image]


def start(spec: LabSpec, timeout: float = 120.0) -> str:
    """Start the lab and return the URL to open."""
    # A bad setting is named before anything on the host (ports, images) is looked at.
    if spec.auth not in ("token", "none"):
        raise LabError(f"AUTH={spec.auth}: use AUTH=token (the default) or AUTH=none; `make password` sets a password")
    check_mountable(spec.notebooks, "NOTEBOOKS")
    check_mountable(spec.config, "DOCKER")
    if shutil.which(spec.cli) is None:
        raise LabError(f"CONTAINER_CLI={spec.cli} is not on PATH: install Docker, or set CONTAINER_CLI")
    if not os.path.lexists(spec.notebooks):  # a first start: the folder is made, private to you
        try:
            spec.notebooks.mkdir(mode=0o700, parents=True)
        except OSError as error:
            raise LabError(
                f"cannot create NOTEBOOKS={spec.notebooks}: {error.strerror}; create it yourself "
                "or point NOTEBOOKS at the folder of your notebooks"
            ) from error
        print(f"created NOTEBOOKS={spec.notebooks} (private to you): your notebooks are kept there", file=sys.stderr)
    if not spec.notebooks.is_dir():
        raise LabError(f"NOTEBOOKS={spec.notebooks} is not a folder: point NOTEBOOKS at the folder of your notebooks")
    check_notebooks_writable(spec.notebooks)
    prepare_config_dir(spec.config, spec.owner, spec.lab)
    for publish in spec.publish:
        try:
            check_port_free(spec.bind, publish)
        except LabError:
            refuse_running_lab(spec)  # the likeliest holder of the port: name it
            raise
    password = spec.auth == "token" and spec.password_file.is_file()
    if password:
        read_private(spec.password_file, spec.owner[0])  # checked here, where a problem is said at once
    token = token_for(spec.token_file, spec.owner) if spec.auth == "token" and not password else ""
    for warning in warnings_for(spec):
        print(f"WARNING: {warning}", file=sys.stderr)
    if spec.grants_sudo:
        print(f"note: GRANT_SUDO=yes: {spec.name} can become root in its container (sudo)", file=sys.stderr)
    elif spec.owner[0] == 0:
        print(
            f"note: NOTEBOOKS={spec.notebooks} belongs to root, so Jupyter runs as root (without capabilities) "
            f"in the container; `chown` the folder to a user to run as that user",
            file=sys.stderr,
        )
    run_container(spec)
    try:
        scheme = wait_until_ready(spec, token, timeout)
    except LabError:
        stop(spec.cli, spec.name)  # a lab that did not start is no use; its last lines are in the error
        raise
    if spec.auth != "none":
        refuse_open_lab(spec, scheme)
    url = f"{scheme}://{spec.url_host}:{spec.jupyter.host_port}/lab"
    return f"{url}?token={token}" if token else url


def already_running(spec: LabSpec) -> LabError:
    return LabError(f"{spec.name} is already running: `make status` shows its URL, `make {spec.lab}-stop` stops it")


def refuse_running_lab(spec: LabSpec) -> None:
    """Fail when this lab is running already, with where to find it."""
    if container_state(spec.cli, spec.name) == "running":
        raise already_running(spec)


def run_container(spec: LabSpec) -> None:
    """`docker run`, and nothing else when it succeeds (every engine call costs `make pylab` about 0.02 s).

    When it fails, the reason is looked for: no image (never pulled from a registry: the images are
    built here), the lab running already, or a stopped lab of the same name, which is replaced.
    """
    try:
        run_cli(spec.cli, *docker_run_args(spec))
        return
    except EngineError as error:
        failure = error
    if image_facts(spec.cli, spec.image) is None:
        raise LabError(f"image {spec.image} does not exist: run `make build` first") from failure
    state = container_state(spec.cli, spec.name)
    if state == "running":
        raise already_running(spec) from failure
    if state is None:
        raise failure
    run_cli(spec.cli, "rm", spec.name)  # a stopped lab of the same name: replace it
    run_cli(spec.cli, *docker_run_args(spec))


def refuse_open_lab(spec: LabSpec, scheme: str) -> None:
    """Jupyter must refuse a request without credentials; if something in DOCKER (an rc script, a
    config) switched that off, the lab is stopped before its URL is printed."""
    url = f"{scheme}://{spec.url_host}:{spec.jupyter.host_port}/api/status"
    try:
        answered = answer_status(url, {}, timeout=5)
    except NO_ANSWER as error:
        raise LabError(f"{url} did not answer after the lab started ({error}): see `make {spec.lab}-logs`") from error
    if answered != 403:
        stop(spec.cli, spec.name)
        raise LabError(
            f"{spec.name} answered {url} without a token or password (HTTP {answered}), so it was stopped. "
            f"Something in DOCKER={spec.config} ({spec.lab}.sh, a Jupyter config) switched authentication off: "
            "remove it. To run without authentication on purpose, use AUTH=none"
        )
