"""No root in a lab, ever: a lab of `make pylab` runs as the notebook user from its first process,
with no capability to use. Each test is an attack by the notebook user (its code in a kernel, or a
file it writes) on what runs as root in the container or on the lab's authentication.

The attacker's records go to the container's /tmp, which root can always write (unlike the 0700
notebooks folder, which root without DAC_OVERRIDE cannot), and are read back with `docker cp`'s
API, which runs nothing in the container.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import socket
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from docker.errors import NotFound

from harness.attack import LABEL, HostUser, MadeLab, Project, make_pylab
from harness.imagelab import KERNEL_CLIENT, wait_for_jupyter

# What a person types after `docker exec <lab>`: each planted in /opt/venv/bin (first on the
# image's PATH, and the notebook user's to write) as a stand-in that records who ran it.
PLANTED = ["ls", "bash", "python", "pip", "jupyter"]
RECORDS = "/tmp/ran-as"  # one new file a run: no writer ever needs another's file

PLANT = f"""
import os, shutil
os.makedirs({RECORDS!r}, exist_ok=True)
os.chmod({RECORDS!r}, 0o777)
for name in {PLANTED!r}:
    path = os.path.join("/opt/venv/bin", name)
    if os.path.lexists(path):
        real = os.path.join("/opt/venv/bin", ".real-" + name)
        os.rename(path, real)
    else:
        real = shutil.which(name, path="/usr/bin:/bin")
    with open(path, "w") as stand_in:
        stand_in.write(
            "#!/bin/sh\\n"
            f'echo "$(/usr/bin/id -u) {{name}}" > "{RECORDS}/$(/usr/bin/id -u).{{name}}.$$"\\n'
            f'exec {{real}} "$@"\\n'
        )
    os.chmod(path, 0o755)
print("planted")
"""

# The "shocker" primitive: open_by_handle_at with a file handle, which needs CAP_DAC_READ_SEARCH;
# with it, a handle opens any file of the host's file system that holds the handle's mount. The
# handle is that of a bind mount of the host's (/etc/hostname) from name_to_handle_at, or, when
# that is refused (Docker's seccomp profile does), shocker's own: the root inode (2) of an ext4.
PROBE = """
import ctypes, errno, os, struct
libc = ctypes.CDLL(None, use_errno=True)
class FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int), ("f_handle", ctypes.c_ubyte * 128)]
def outcome(result):
    return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
handle, mount_id = FileHandle(handle_bytes=128), ctypes.c_int()
named = outcome(libc.name_to_handle_at(-100, b"/etc/hostname", ctypes.byref(handle), ctypes.byref(mount_id), 0))
if named != "ok":
    handle = FileHandle(handle_bytes=8, handle_type=1)  # FILEID_INO32_GEN: inode 2, generation 0
    ctypes.memmove(handle.f_handle, struct.pack("<II", 2, 0), 8)
mount_fd = os.open("/etc/hostname", os.O_RDONLY)
opened = outcome(libc.open_by_handle_at(mount_fd, ctypes.byref(handle), os.O_RDONLY))
with open(RECORD, "x") as record:
    record.write(f"{os.getuid()} {named} {opened}\\n")
print(named, opened)
"""


def started_lab(project: Project, user: HostUser, *settings: str) -> MadeLab:
    user.folder("notebooks")
    lab = make_pylab(project, user, *settings)
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    return lab


def cell(container: Any, token: str, code: str, user: str) -> str:
    """A cell in the lab's kernel (the attacker's notebook); the client runs in the container as `user`."""
    exit_code, output = container.exec_run(["python", "-c", KERNEL_CLIENT, "8888", token, "python3", code], user=user)
    text = output.decode(errors="replace")
    assert exit_code == 0, text
    result = json.loads(text.strip().splitlines()[-1])
    assert result["status"] == "ok", result
    return str(result["output"])


def container_files(container: Any, path: str) -> dict[str, str]:
    """The regular files under `path` in the container and their text, through the engine's archive
    API (nothing runs in the container); empty when `path` does not exist."""
    try:
        chunks, _ = container.get_archive(path)
    except NotFound:  # nothing recorded
        return {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
        return {
            member.name: archive.extractfile(member).read().decode(errors="replace")  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def root_processes(container: Any) -> list[list[str]]:
    """The container's processes running as uid 0, as the host sees them (`docker top`)."""
    top = container.top(ps_args="-o pid,uid,args")
    uid = top["Titles"].index("UID")
    return [process for process in top["Processes"] if process[uid] == "0"]


def mount_point(container: Any, source: Path) -> str:
    """Where a folder of the host is mounted in the container."""
    for mount in container.attrs["Mounts"]:
        if Path(mount["Source"]) == source:
            return str(mount["Destination"])
    raise AssertionError(f"{source} is not mounted in {container.name}: {container.attrs['Mounts']}")


def test_docker_exec_never_runs_the_users_programs_as_root(
    project: Project, cotenant: HostUser, docker_client: Any
) -> None:
    """The notebook user plants `ls`, `bash`, `python`, `pip`, `jupyter` in /opt/venv/bin from its
    kernel; an administrator's plain `docker exec <lab> ls` (no -u) then runs them."""
    lab = started_lab(project, cotenant)
    container = docker_client.containers.get(lab.name)
    assert cell(container, lab.token, PLANT, user=str(cotenant.uid)).strip() == "planted"
    for command in (["ls"], ["bash", "-c", "true"], ["python", "-c", "pass"], ["pip", "--version"], ["jupyter", "-h"]):
        container.exec_run(command)  # as the container's default user, as `docker exec` is typed
    records = container_files(container, RECORDS)
    ran = sorted(text.strip() for text in records.values())
    assert [line for line in ran if line.startswith("0 ")] == [], ran
    assert {line.split()[1] for line in ran} >= set(PLANTED), f"the planted programs did not run: {ran}"


@pytest.mark.parametrize("who", ["docker exec", "docker exec -u 0", "kernel"])
def test_open_by_handle_at_is_refused(project: Project, cotenant: HostUser, docker_client: Any, who: str) -> None:
    """Shocker: open_by_handle_at with a file's handle (name_to_handle_at's, or the guessed root inode
    of the host's file system), what reads any host file with CAP_DAC_READ_SEARCH; from a plain
    `docker exec`, from one as root (-u 0), and from the lab's kernel."""
    lab = started_lab(project, cotenant)
    container = docker_client.containers.get(lab.name)
    record = f"/tmp/handle-{secrets.token_hex(4)}"
    code = f"RECORD = {record!r}\n{PROBE}"
    if who == "kernel":
        cell(container, lab.token, code, user=str(cotenant.uid))
    else:
        container.exec_run(["python3", "-c", code], user="0" if who.endswith("-u 0") else "")
    recorded = container_files(container, record)
    assert recorded, f"the probe left no record in {record}"
    uid, named, opened = next(iter(recorded.values())).split()
    assert opened == "EPERM", f"open_by_handle_at as uid {uid}: {opened} (name_to_handle_at: {named})"


def test_no_process_of_the_lab_is_root_nor_has_a_capability(
    project: Project, cotenant: HostUser, docker_client: Any
) -> None:
    """What an escape from a process of the lab would start from: the container's first process
    (tini) as root with capabilities, or any other process as uid 0."""
    lab = started_lab(project, cotenant)
    container = docker_client.containers.get(lab.name)
    status = Path(f"/proc/{container.attrs['State']['Pid']}/status").read_text()
    capabilities = {line.split(":")[0]: line.split()[1] for line in status.splitlines() if line.startswith("Cap")}
    first = {name: int(capabilities[name], 16) for name in ("CapEff", "CapPrm")}
    assert (first, root_processes(container)) == ({"CapEff": 0, "CapPrm": 0}, []), capabilities


PREFIX = "/notebook/team-a/alice"


def upgrade(port: int, path: str, origin: str, cookie: str = "") -> int:
    """A websocket upgrade as a browser sends it from a page of `origin`, with the browser's cookies
    of the lab; the HTTP status answered (101: the socket is open)."""
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n"
        + (f"Cookie: {cookie}\r\n" if cookie else "")
        + "\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split()[1])


def logged_in_kernel(url: str, token: str) -> tuple[str, str]:
    """A kernel of the lab and the cookies of a browser that opened the lab's URL (with the token):
    the kernel's websocket path and the Cookie header."""
    browser = requests.Session()
    assert browser.get(f"{url}/lab", params={"token": token}, timeout=30).status_code == 200
    kernel = requests.post(f"{url}/api/kernels", headers={"Authorization": f"token {token}"}, json={}, timeout=60)
    assert kernel.status_code == 201, kernel.text
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    return f"/api/kernels/{kernel.json()['id']}/channels", cookie


# Keys of the env file that would give root or open the lab if the start obeyed them.
DANGEROUS_KEYS = [
    "NB_PREFIX=/",
    "NB_UID=0",
    "GRANT_SUDO=yes",
    "NOTEBOOK_ARGS=--IdentityProvider.token=",
    "PYRLAB_AUTH=none",
    "NB_ALLOW_ORIGIN=*",
    "RESTARTABLE=yes",
]


@pytest.mark.parametrize("lines", [[key] for key in DANGEROUS_KEYS] + [DANGEROUS_KEYS], ids=[*DANGEROUS_KEYS, "all"])
def test_env_file_written_from_the_lab_opens_nothing_after_a_restart(
    project: Project, cotenant: HostUser, docker_client: Any, lines: list[str]
) -> None:
    """The notebook user writes DOCKER/pylab.env from inside its lab, then the lab restarts
    (`docker restart`, a reboot): still behind the token, and nothing runs as root."""
    lab = started_lab(project, cotenant)
    container = docker_client.containers.get(lab.name)
    env_file = f"{mount_point(container, cotenant.home / 'docker')}/pylab.env"
    write = ["sh", "-c", 'printf "%s\\n" "$@" > "$0"', env_file, *lines]
    exit_code, output = container.exec_run(write, user=f"{cotenant.uid}:{cotenant.gid}")
    assert exit_code == 0 or b"Read-only file system" in output, output.decode(errors="replace")
    container.restart(timeout=10)
    wait_for_jupyter(container, lab.url, lab.token)
    anonymous = requests.get(f"{lab.url}/api/status", timeout=5)
    assert anonymous.status_code == 403, f"{lines}: the lab answered without the token: {anonymous.status_code}"
    assert requests.get(f"{lab.url}/api/status", params={"token": lab.token}, timeout=5).status_code == 200
    # A page of another site, in the browser that holds the lab's login cookie, opens a websocket to
    # a kernel (cross-site websocket hijacking): only Jupyter's Origin check stands in its way.
    channels, cookie = logged_in_kernel(lab.url, lab.token)
    assert upgrade(lab.port, channels, lab.url, cookie) == 101  # the lab's own page
    assert upgrade(lab.port, channels, "http://evil.example", cookie) == 403
    sudo = container.exec_run(["sudo", "-n", "id", "-u"], user=f"{cotenant.uid}:{cotenant.gid}")
    assert sudo.output.decode(errors="replace").strip() != "0"
    assert root_processes(container) == []


def test_kubeflow_lab_refuses_a_websocket_of_another_origin(
    project: Project, docker_client: Any, tmp_path: Path
) -> None:
    """A page of another site (evil.example) opens a websocket to a kernel of a lab started the way
    Kubeflow starts it (NB_PREFIX, no token: the gateway's cookie rides along with the browser)."""
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, 1000, 100)  # the volume, as fsGroup leaves it
    container = docker_client.containers.run(
        project.images["pylab"],
        detach=True,
        user="1000:100",
        group_add=["100"],
        environment={"NB_PREFIX": PREFIX},
        volumes={str(home): {"bind": "/home/jovyan", "mode": "rw"}},
        ports={"8888/tcp": ("127.0.0.1", None)},
        labels=LABEL,
    )
    container.reload()
    port = int(container.attrs["NetworkSettings"]["Ports"]["8888/tcp"][0]["HostPort"])
    base = f"http://127.0.0.1:{port}{PREFIX}"
    session = requests.Session()
    deadline = time.monotonic() + 90
    while True:
        try:
            if session.get(f"{base}/lab", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass  # not listening yet
        container.reload()
        assert container.status == "running", container.logs().decode(errors="replace")[-2000:]
        assert time.monotonic() < deadline, container.logs().decode(errors="replace")[-2000:]
        time.sleep(0.3)
    xsrf = session.cookies.get("_xsrf", "")
    kernel = session.post(f"{base}/api/kernels", headers={"X-XSRFToken": xsrf}, json={}, timeout=60)
    assert kernel.status_code == 201, kernel.text
    channels = f"{PREFIX}/api/kernels/{kernel.json()['id']}/channels"
    assert upgrade(port, channels, f"http://127.0.0.1:{port}") == 101  # the lab's own page: accepted
    assert upgrade(port, channels, "http://evil.example") == 403


def test_grant_sudo_is_said_to_give_root(project: Project, cotenant: HostUser) -> None:
    """`GRANT_SUDO=yes` among DOCKER_ARGS gives the notebook user root: `make pylab` says so."""
    lab = started_lab(project, cotenant, "DOCKER_ARGS=--label pyrlab.test=security -e GRANT_SUDO=yes")
    said = [line for line in lab.result.stderr.splitlines() if "GRANT_SUDO" in line]
    assert [line for line in said if "root" in line], lab.result.stderr


# A sitecustomize that empties Jupyter's token wherever Python starts Jupyter, and a jupyter-lab of
# the user's that starts the real one without a token: the env file would load them into the
# server through PYTHONPATH and PATH.
SITECUSTOMIZE = """\
import sys
if any("jupyter-lab" in argument for argument in sys.argv):
    from jupyter_server.auth import identity
    identity.IdentityProvider.token = property(lambda self: "", lambda self, value: None)
    open("/tmp/sitecustomize-ran", "w").write("auth off")
"""
OPEN_SERVER = """\
#!/bin/sh
echo "$(id -u) jupyter-lab" > /tmp/own-server-ran
exec /opt/venv/bin/jupyter-lab --IdentityProvider.token= --PasswordIdentityProvider.hashed_password= "$@"
"""


ENV_LINES = "PYTHONPATH={folder}/py\nPATH={folder}/bin:/opt/venv/bin:/usr/bin:/bin\nMARKER=from-the-env-file\n"


def test_env_file_loads_no_code_into_jupyter(project: Project, cotenant: HostUser, docker_client: Any) -> None:
    """The notebook user's env file points PYTHONPATH at a sitecustomize and PATH at a jupyter-lab of
    its own, both in DOCKER, then the lab restarts: Jupyter still asks for the token (neither ran in
    the server: their records in /tmp are absent), and the kernels still get the variables."""
    lab = started_lab(project, cotenant)
    container = docker_client.containers.get(lab.name)
    folder = mount_point(container, cotenant.home / "docker")
    plant = (
        f"import os\nos.makedirs('{folder}/py')\nos.makedirs('{folder}/bin')\n"
        f"open('{folder}/py/sitecustomize.py', 'w').write({SITECUSTOMIZE!r})\n"
        f"open('{folder}/bin/jupyter-lab', 'w').write({OPEN_SERVER!r})\nos.chmod('{folder}/bin/jupyter-lab', 0o755)\n"
        f"open('{folder}/pylab.env', 'w').write({ENV_LINES.format(folder=folder)!r})\nprint('planted')"
    )
    assert cell(container, lab.token, plant, user=str(cotenant.uid)).strip() == "planted"
    container.restart(timeout=10)
    wait_for_jupyter(container, lab.url, lab.token)
    anonymous = requests.get(f"{lab.url}/api/status", timeout=5)
    ran = container_files(container, "/tmp/sitecustomize-ran") | container_files(container, "/tmp/own-server-ran")
    assert anonymous.status_code == 403, f"the lab answered without the token ({anonymous.status_code}): {ran}"
    assert ran == {}, ran
    seen = cell(container, lab.token, "import os; print(os.environ.get('MARKER'))", user=str(cotenant.uid))
    assert seen.strip() == "from-the-env-file"


@pytest.mark.parametrize("name", ["pylab.env", "pylab.sh", "ssl/cert.pem"])
def test_a_fifo_in_the_configuration_folder_hangs_no_start(
    project: Project, cotenant: HostUser, docker_client: Any, name: str
) -> None:
    """The notebook user puts a FIFO in place of a file the start reads, then the lab restarts: it
    answers again behind its token (the rc script and the certificate are passed over), or stops at
    once naming the file (the env file, read by Jupyter), instead of hanging; the next `make pylab`
    names the file at once."""
    lab = started_lab(project, cotenant)
    container = docker_client.containers.get(lab.name)
    path = f"{mount_point(container, cotenant.home / 'docker')}/{name}"
    make_fifo = ["sh", "-c", 'mkdir -p "$(dirname "$0")" && rm -f "$0" && mkfifo "$0"', path]
    if name == "ssl/cert.pem":
        make_fifo[2] += ' && mkfifo "$(dirname "$0")/key.pem"'
    exit_code, output = container.exec_run(make_fifo, user=f"{cotenant.uid}:{cotenant.gid}")
    assert exit_code == 0, output.decode(errors="replace")
    container.restart(timeout=10)
    if name == "pylab.env":
        assert container.wait(timeout=20)["StatusCode"] != 0
        assert f"{name} is not a regular file" in container.logs().decode(errors="replace")
    else:
        wait_for_jupyter(container, lab.url, lab.token, timeout=20)
        assert requests.get(f"{lab.url}/api/status", timeout=5).status_code == 403
        assert requests.get(f"{lab.url}/api/status", params={"token": lab.token}, timeout=5).status_code == 200
    container.remove(force=True)
    began = time.monotonic()
    again = make_pylab(project, cotenant, *lab.settings[:1])
    assert again.result.returncode != 0, again.result.stdout
    assert time.monotonic() - began < 5
    assert name in again.result.stderr
    assert docker_client.containers.list(all=True, filters={"name": again.name}) == []
