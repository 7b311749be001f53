"""Start, stop and describe a lab container: what `make pylab` and `make rlab` run.

Standard library only, so it runs with the host's python3 before any tool is installed.
"""

from __future__ import annotations

import csv
import errno
import functools
import io
import ipaddress
import os
import re
import secrets
import shlex
import shutil
import socket
import ssl
import stat
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pyrlab.engine import EngineError, container_logs, container_state, image_facts
from pyrlab.engine import run as run_cli
from pyrlab.inside.errors import UserError
from pyrlab.settings import check_mountable

HOME = "/home/jovyan"
WORK_DIR = f"{HOME}/work"
CONFIG_DIR = f"{HOME}/.pyrlab"
JUPYTER_PORT = 8888
LABEL = "pyrlab.lab"
# The configuration folder a lab was started with: `make status` shows a lab's URL only to the
# folder that holds its token.
CONFIG_LABEL = "pyrlab.config"
# The images' group `users`: it owns the virtual environment and the home, so the notebook user,
# whatever its uid, installs packages and keeps its files there.
NOTEBOOK_GROUP_ID = 100
# A token or password file is at most this long (the images refuse a longer one too).
SECRET_MAX_BYTES = 4096


class LabError(UserError):
    """A lab cannot start or stop; the message says why and what to do."""


@dataclass(frozen=True)
class Publish:
    """A container port published on the host, and the Make variable that sets the host port."""

    variable: str
    host_port: int
    container_port: int

    @classmethod
    def parse(cls, text: str) -> Publish:
        """VARIABLE=HOST:CONTAINER, e.g. PYPORT=8888:8888."""
        try:
            variable, ports = text.split("=", 1)
            host, container = ports.split(":", 1)
            return cls(variable, int(host), int(container))
        except ValueError:
            raise LabError(f"bad port setting {text!r}: the ports must be numbers, e.g. PYPORT=8888") from None


@dataclass(frozen=True)
class LabSpec:
    """Everything `make pylab` or `make rlab` passes in."""

    lab: str
    image: str
    bind: str
    publish: list[Publish]
    notebooks: Path
    config: Path
    cli: str
    docker_args: list[str]
    auth: str = "token"

    @property
    def jupyter(self) -> Publish:
        return next(publish for publish in self.publish if publish.container_port == JUPYTER_PORT)

    @property
    def name(self) -> str:
        return container_name(self.lab, self.jupyter.host_port)

    @property
    def token_file(self) -> Path:
        return token_file(self.config, self.lab)

    @property
    def password_file(self) -> Path:
        return password_file(self.config)

    @property
    def scheme(self) -> str:
        return scheme_for(self.config)

    @property
    def url_host(self) -> str:
        """Where this host reaches the published port (an IPv6 address in brackets)."""
        return "127.0.0.1" if self.bind in ("0.0.0.0", "") else address_literal(self.bind)  # noqa: S104 - a comparison

    @property
    def grants_sudo(self) -> bool:
        """GRANT_SUDO=yes among DOCKER_ARGS: the user asked for root in the lab (docker-stacks' way)."""
        return any(re.fullmatch(r"GRANT_SUDO=(yes|1)", arg) for arg in self.docker_args)

    @property
    def owner(self) -> tuple[int, int]:
        """The notebook user's uid and gid: the owner of what the lab reads and writes on the host."""
        return notebook_ids(self.notebooks)


def address_literal(address: str) -> str:
    """An address as a URL and `docker run --publish` write it: IPv6 in brackets (::1 -> [::1])."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def is_loopback(bind: str) -> bool:
    """Only this machine reaches the address (localhost, 127.x, ::1)."""
    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False


# What the configuration folder (DOCKER) holds for the labs, written here once.
def token_file(config: Path, lab: str) -> Path:
    """The lab's token, made on first start."""
    return config / f"{lab}.token"


def password_file(config: Path) -> Path:
    """A hashed password written by `make password`: the labs ask for it instead of a token."""
    return config / "jupyter_password"


def scheme_for(config: Path) -> str:
    """https when a certificate and key are in the configuration folder (ssl/cert.pem, ssl/key.pem)."""
    return "https" if (config / "ssl" / "cert.pem").is_file() else "http"


def write_private(path: Path, text: str, owner: tuple[int, int]) -> None:
    """Write a file that only its owner (the notebook user) can read, from its first byte on.

    Written beside it and renamed over it: a full disk or a crash leaves the old file (or none),
    never an empty or partial one.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        if os.geteuid() == 0:  # root writes for the owner of NOTEBOOKS, who runs the lab
            os.fchown(descriptor, *owner)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise LabError(f"cannot write {path}: {error.strerror}; free space or fix DOCKER={path.parent}") from error


def read_private(path: Path, owner_uid: int) -> str:
    """Read a secret of the configuration folder that must be the notebook user's alone: a regular
    file with no other link, owned by that user, writable by nobody else, at most SECRET_MAX_BYTES.
    Anything else could be another user's plant (a known token, a link to a file of root's), or
    would hang or flood the start (a FIFO, megabytes). Opened without following a link or blocking."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise LabError(f"{path} is a symbolic link: replace it with the file itself") from None
        raise LabError(f"cannot read {path}: {error.strerror}") from error
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        problem = ""
        if not stat.S_ISREG(status.st_mode):
            problem = "is not a regular file"
        elif status.st_nlink != 1:
            problem = f"has {status.st_nlink - 1} other hard link(s), perhaps to a file that is not yours"
        elif status.st_size > SECRET_MAX_BYTES:
            problem = f"is {status.st_size} bytes, more than a token or password hash ({SECRET_MAX_BYTES})"
        if problem:
            raise LabError(f"{path} {problem}: remove it (`make pylab` writes a new token, `make password` a hash)")
        check_private(path, status, owner_uid)
        return handle.read(SECRET_MAX_BYTES).decode("utf-8", errors="replace")


def check_private(path: Path, status: os.stat_result, owner_uid: int) -> None:
    """The configuration folder and what is read from it belong to the notebook user (you, or the
    owner of NOTEBOOKS when make runs as root) and nobody else writes them."""
    if status.st_uid != owner_uid:
        whose = "you" if owner_uid == os.geteuid() else "the notebook user, the owner of NOTEBOOKS"
        raise LabError(
            f"{path} belongs to uid {status.st_uid}, not to {whose} (uid {owner_uid}): another user may have "
            f"put it there, or the lab could not read it. Check it, then `chown {owner_uid} "
            f"{shlex.quote(str(path))}`, or set DOCKER to a folder of uid {owner_uid}'s"
        )
    if status.st_mode & 0o022:
        raise LabError(
            f"{path} can be written by others (mode {stat.filemode(status.st_mode)}): "
            f"`chmod go-w {shlex.quote(str(path))}`"
        )


def container_name(lab: str, port: int) -> str:
    """The name says which lab and which port: pylab-8888."""
    return f"{lab}-{port}"


def check_port_free(bind: str, publish: Publish) -> None:
    """Fail with the variable to change when something on the host holds the port."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET  # BIND_ADDRESS=::1 is IPv6's loopback
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind.strip("[]") or "0.0.0.0", publish.host_port))  # noqa: S104 - the user's BIND_ADDRESS
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise LabError(
                    f"cannot use {bind}:{publish.host_port} ({error.strerror}); check BIND_ADDRESS"
                ) from error
            raise LabError(
                f"port {publish.host_port} on {bind} is already in use ({publish.variable}={publish.host_port}). "
                f"Stop what listens there (`make status` shows labs), or choose another port: "
                f"`make ... {publish.variable}={publish.host_port + 1}`"
            ) from None


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


def token_for(path: Path, owner: tuple[int, int]) -> str:
    """The lab's token (hex), created on first use in a file only the notebook user can read."""
    if os.path.lexists(path):
        token = read_private(path, owner[0]).strip()
        if token and not re.fullmatch(r"[0-9a-f]+", token):
            raise LabError(f"{path} is not a token pyrlab wrote (hex digits only): remove it, and a new one is made")
        if token:
            return token
    token = secrets.token_hex(24)
    write_private(path, token, owner)
    return token


def prepare_config_dir(config: Path, owner: tuple[int, int], lab: str = "") -> None:
    """The configuration directory (DOCKER) is created private to the notebook user; it and the files
    the lab reads from it must be that user's and writable by nobody else, or another user could
    plant a token or a script (and the lab, running as that user, could not read them)."""
    if not os.path.lexists(config):
        try:
            config.mkdir(mode=0o700, parents=True)
            if os.geteuid() == 0:
                os.chown(config, *owner)
        except OSError as error:
            raise LabError(
                f"cannot create DOCKER={config}: {error.strerror}; create it yourself or set DOCKER to a folder "
                "you can write"
            ) from error
    if config.is_symlink() or not config.is_dir():
        raise LabError(f"DOCKER={config} is not a directory: set DOCKER to a directory for pyrlab's configuration")
    check_private(config, config.stat(), owner[0])
    if not os.access(config, os.W_OK | os.X_OK):
        raise LabError(f"DOCKER={config} is not writable by you: `chmod u+rwx {shlex.quote(str(config))}`")
    names = [password_file(config).name, "userlab.sh", "ssl", "ssl/cert.pem", "ssl/key.pem"]
    names += [token_file(config, lab).name, f"{lab}.env", f"{lab}.sh"] if lab else []
    for name in names:
        if os.path.lexists(config / name):
            status = (config / name).lstat()
            if stat.S_ISLNK(status.st_mode):
                raise LabError(f"{config / name} is a symbolic link: replace it with the file itself")
            if name != "ssl" and not stat.S_ISREG(status.st_mode):  # a FIFO would hang the lab's start
                raise LabError(f"{config / name} is not a regular file: remove it, or replace it with a file")
            check_private(config / name, status, owner[0])


@functools.cache
def own_certificate_context() -> ssl.SSLContext:
    """TLS to a server pyrlab started itself (a lab, the hub), whose certificate may be self-signed.

    Nothing is verified, so no CA bundle is loaded (that alone took 0.016 s of every `make pylab`).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# What answer_status raises when nothing answers (yet): refused, reset, timed out, a TLS handshake
# with a server that speaks plain HTTP.
NO_ANSWER = (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError)


def answer_status(url: str, headers: dict[str, str], timeout: float) -> int:
    """The HTTP status a server of ours answers a GET with; one of NO_ANSWER when none."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) to a lab or the hub
    context = own_certificate_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


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


def caller_ids() -> tuple[int, int]:
    """Who runs make: the owner of what pyrlab writes for itself (the hub's folder, values files)."""
    return os.getuid(), os.getgid()


def notebook_ids(notebooks: Path) -> tuple[int, int]:
    """The ids the notebook user takes: yours, so that what you save is yours.

    Run as root (or with sudo), it takes the owner of NOTEBOOKS instead; only a folder that root
    owns makes the notebook user root.
    """
    if os.getuid() != 0:
        return caller_ids()
    owner = notebooks.stat()
    return owner.st_uid, owner.st_gid


def bind_mount(source: Path, target: str) -> str:
    """A --mount value: CSV, so that a path with a quote, a colon or a comma stays one path."""
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(["type=bind", f"source={source}", f"target={target}"])
    return line.getvalue()


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
        "--mount", bind_mount(spec.notebooks, WORK_DIR), "--mount", bind_mount(spec.config, CONFIG_DIR),
        "--workdir", WORK_DIR,
    ]  # fmt: skip
    if spec.grants_sudo:
        args += ["--user", "root", "--env", f"NB_UID={uid}", "--env", f"NB_GID={gid}"]
    else:
        # HOME for `docker exec` too: a uid without a passwd entry would get /.
        args += ["--user", f"{uid}:{gid}", "--group-add", str(NOTEBOOK_GROUP_ID), "--env", f"HOME={HOME}"]
        args += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
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


def hash_password(cli: str, image: str, password: str) -> str:
    """The argon2 hash of a password, made by jupyter_server inside the image (nothing to install here)."""
    script = "import sys; from jupyter_server.auth import passwd; print(passwd(sys.stdin.read()))"
    try:
        command = ("run", "--rm", "--interactive", "--entrypoint", "python", image, "-c", script)
        hashed = run_cli(cli, *command, stdin=password)
    except EngineError as error:
        raise LabError(f"could not hash the password in {image}: {error} (run `make build` first)") from None
    return hashed.strip()


def store_password(config: Path, notebooks: Path, hashed: str) -> Path:
    """Keep the hash where the labs look for it, readable by the notebook user only."""
    owner = notebook_ids(notebooks) if notebooks.exists() else caller_ids()
    prepare_config_dir(config, owner)
    path = password_file(config)
    write_private(path, hashed, owner)
    return path


def stop(cli: str, name: str) -> bool:
    """Stop and remove a lab container; False when there was none."""
    if container_state(cli, name) is None:
        return False
    run_cli(cli, "rm", "--force", name)
    return True


def url_to_open(config: Path, lab: str, port: str, host: str = "127.0.0.1") -> str:
    """A running lab's URL as its configuration folder tells it: https or not, password or token."""
    base = f"{scheme_for(config)}://{host}:{port}/lab"
    if password_file(config).is_file():
        return f"{base} (log in with the password of `make password`)"
    token = token_file(config, lab)
    return f"{base}?token={read_private(token, config.stat().st_uid).strip()}" if os.path.lexists(token) else base


# `docker ps` Ports: "127.0.0.1:8888->8888/tcp, …" (IPv6 in brackets or as ":::").
JUPYTER_BINDING = re.compile(rf"(\[[0-9a-f:]+\]|[0-9a-f.:]*?):(\d+)->{JUPYTER_PORT}/tcp")


def published_address(ports: str) -> tuple[str, str] | None:
    """Where this machine reaches a lab's Jupyter: its published host address and port."""
    match = JUPYTER_BINDING.search(ports)
    if match is None:
        return None
    host, port = match.groups()
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 - every address: this machine's loopback
        host = "127.0.0.1"
    return address_literal(host), port


def status(cli: str, config: Path) -> list[str]:
    """One line per lab container: name, state, ports, and for a running lab started with this
    configuration folder, its URL. The token of another folder is never shown, nor guessed."""
    # One column a field, the labels by name: a path in a label may hold commas.
    columns = (
        f'{{{{.Names}}}}\t{{{{.State}}}}\t{{{{.Ports}}}}\t{{{{.Label "{LABEL}"}}}}\t{{{{.Label "{CONFIG_LABEL}"}}}}'
    )
    output = run_cli(cli, "ps", "--all", "--filter", f"label={LABEL}", "--format", columns)
    lines = []
    for row in filter(None, output.splitlines()):
        name, state, ports, lab, started_with = row.split("\t", 4)
        line = f"{name}\t{state}\t{ports}"
        address = published_address(ports)
        if state == "running" and address:
            if started_with == str(config.resolve()):
                line += f"\t{url_to_open(config, lab, address[1], address[0])}"
            else:
                line += f"\t(started with DOCKER={started_with or 'unknown'}: its URL is there)"
        lines.append(line)
    return lines
