"""The runtime every pyrlab image shares; child images run these tests too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.imagelab import REPO, CellResult, Lab, exec_output, run_once, started
from pyrlab.inside.contract import JUPYTER_PORT
from pyrlab.inside.lists import read_entries

# A wheel written by hand inside the container, so installing it needs no package index.
MAKE_WHEEL = """
import base64, hashlib, zipfile
files = {
    "pyrlab_probe/__init__.py": "ANSWER = 42\\n",
    "pyrlab_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\\nName: pyrlab-probe\\nVersion: 1.0\\n",
    "pyrlab_probe-1.0.dist-info/WHEEL": (
        "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    ),
}
record = []
with zipfile.ZipFile("/tmp/pyrlab_probe-1.0-py3-none-any.whl", "w") as wheel:
    for name, text in files.items():
        wheel.writestr(name, text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text)}")
    record.append("pyrlab_probe-1.0.dist-info/RECORD,,")
    wheel.writestr("pyrlab_probe-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
"""


def test_notebook_user_has_the_docker_stacks_ids(host: Any) -> None:
    user = host.user("jovyan")
    assert (user.uid, user.gid, user.home, user.shell) == (1000, 100, "/home/jovyan", "/bin/bash")
    assert host.user().name == "jovyan"  # the image's default user


def test_tini_is_pid_1(host: Any) -> None:
    words = host.file("/proc/1/cmdline").content_string.split("\0")
    if "qemu" in words[0]:  # under emulation, QEMU's interpreter and the program's path come first
        words = words[2:]
    assert words[0].endswith("tini")


def test_jupyter_runs_as_the_notebook_user(host: Any) -> None:
    servers = [process for process in host.process.filter(user="jovyan") if "jupyter-lab" in process.args]
    assert servers, host.run("ps aux").stdout


def test_virtual_environment_belongs_to_the_user(host: Any) -> None:
    venv = host.file("/opt/venv")
    assert (venv.user, venv.group) == ("jovyan", "users")
    assert host.run("command -v python").stdout.strip() == "/opt/venv/bin/python"


def test_user_installs_into_the_venv_without_sudo(host: Any) -> None:
    host.check_output("python -c %s", MAKE_WHEEL)
    installed = host.run("uv pip install --offline /tmp/pyrlab_probe-1.0-py3-none-any.whl")
    assert installed.rc == 0, installed.stderr
    assert host.check_output("python -c 'import pyrlab_probe; print(pyrlab_probe.ANSWER)'") == "42"
    assert host.file("/opt/venv/lib").user == "jovyan"


def test_no_passwordless_sudo(host: Any) -> None:
    assert not host.exists("sudo") or host.run("sudo -n true").rc != 0


def test_python_kernel_is_listed(host: Any) -> None:
    kernels = json.loads(host.check_output("jupyter kernelspec list --json"))["kernelspecs"]
    assert "python3" in kernels


def test_jupyter_refuses_requests_without_the_token(lab: Lab) -> None:
    assert requests.get(f"{lab.url}/api/status", timeout=5).status_code == 403
    assert requests.get(f"{lab.url}/api/status", params={"token": "wrong"}, timeout=5).status_code == 403
    answer = requests.get(f"{lab.url}/api/status", headers={"Authorization": f"token {lab.token}"}, timeout=5)
    assert answer.status_code == 200
    assert "started" in answer.json()


def test_python_cell_runs_through_jupyter(run_cell: Callable[[str, str], CellResult]) -> None:
    result = run_cell("python3", "import sys\nprint(6 * 7, sys.prefix)")
    assert (result.status, result.output.split()) == ("ok", ["42", "/opt/venv"])


def test_python_files_are_compiled_at_build_time(host: Any) -> None:
    tag = host.check_output("python -c 'import sys; print(sys.implementation.cache_tag)'")
    site = host.check_output("python -c 'import sysconfig; print(sysconfig.get_path(\"purelib\"))'")
    assert host.file(f"{site}/jupyter_server/__pycache__/serverapp.{tag}.pyc").exists


def test_build_helpers_and_proxies_are_not_left_in_the_image(host: Any, image_environment: dict[str, str]) -> None:
    assert not host.file("/usr/local/sbin/apt-install").exists
    assert not host.file("/usr/local/bin/uv-install").exists
    assert not host.file("/usr/local/bin/venv-install").exists
    assert host.run("grep -rli proxy /etc/apt/apt.conf.d/ /etc/apt/apt.conf").stdout == ""
    variables = [f"{name}={value}" for name, value in image_environment.items()]
    assert not [variable for variable in variables if "proxy" in variable.lower() or "INDEX" in variable]


def test_tls_clients_use_the_system_trust_store(host: Any) -> None:
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE"):
        assert host.environment()[variable] == "/etc/ssl/certs/ca-certificates.crt"
    assert host.file("/etc/ssl/certs/ca-certificates.crt").size > 0


def test_the_trust_store_holds_each_certificate_once(host: Any) -> None:
    """CA_CERTS adds only what the system's store lacks: every TLS client reads every certificate."""
    bundle = host.file("/etc/ssl/certs/ca-certificates.crt").content_string.replace("\r", "")
    certificates = [block.strip() for block in bundle.split("-----END CERTIFICATE-----") if "BEGIN" in block]
    assert len(certificates) > 100
    assert len(set(certificates)) == len(certificates)


def test_ca_certs_given_at_build_time_are_trusted(host: Any, pytestconfig: pytest.Config) -> None:
    """With CA_CERTS, its certificates are in the system bundle; without, nothing extra is added."""
    ca_certs = str(pytestconfig.getoption("--ca-certs"))
    added = host.file("/usr/local/share/ca-certificates/pyrlab-ca-certs.crt")
    if ca_certs:
        first_certificate = Path(ca_certs).read_text().split("-----END CERTIFICATE-----")[0].strip()
        assert first_certificate in host.file("/etc/ssl/certs/ca-certificates.crt").content_string
        assert added.exists
    else:
        assert not added.exists


def test_root_start_takes_the_host_ids_and_drops_root(docker_client: Any, image: str, tmp_path: Path) -> None:
    """`make pylab` starts as root with NB_UID/NB_GID: files land owned by the host user."""
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)
    output = run_once(
        docker_client,
        image,
        ["bash", "-c", "touch ~/work/made-here && id -u && id -g && test -w /opt/venv/lib && echo venv-writable"],
        user="root",
        environment={"NB_UID": "4321", "NB_GID": "4322"},
        volumes={str(work): {"bind": "/home/jovyan/work", "mode": "rw"}},
    )
    assert output.split()[-3:] == ["4321", "4322", "venv-writable"]
    made = (work / "made-here").stat()
    assert (made.st_uid, made.st_gid) == (4321, 4322)


def test_root_start_without_ids_runs_as_jovyan(docker_client: Any, image: str) -> None:
    output = run_once(docker_client, image, ["id", "-un"], user="root")
    assert output.split()[-1] == "jovyan"


def test_nb_uid_0_is_the_only_way_to_stay_root(docker_client: Any, image: str) -> None:
    output = run_once(docker_client, image, ["id", "-u"], user="root", environment={"NB_UID": "0", "NB_GID": "0"})
    assert output.split()[-1] == "0"


def test_uid_change_does_not_reown_mounted_files(docker_client: Any, image: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    work.chmod(0o777)
    mount = {str(work): {"bind": "/home/jovyan/work", "mode": "rw"}}
    run_once(docker_client, image, ["touch", "/home/jovyan/work/kept"], volumes=mount)  # as jovyan, 1000:100
    kept = work / "kept"
    assert (kept.stat().st_uid, kept.stat().st_gid) == (1000, 100)
    run_once(
        docker_client,
        image,
        ["true"],
        user="root",
        environment={"NB_UID": "4321", "NB_GID": "4322"},
        volumes=mount,
    )
    assert (kept.stat().st_uid, kept.stat().st_gid) == (1000, 100)


def test_server_start_skips_the_slow_iri_grammar(host: Any) -> None:
    """jsonschema uses rfc3987 when present; rfc3987-syntax would build Lark parsers at every start."""
    loaded = host.check_output(
        "python -c %s", "import sys, jupyter_server.serverapp; print('rfc3987_syntax' in sys.modules)"
    )
    assert loaded == "False"


@pytest.mark.parametrize("package", [entry.text for entry in read_entries(REPO / "base_debs.txt")])
def test_base_debs_are_installed(host: Any, package: str) -> None:
    assert host.package(package).is_installed


def test_apt_sources_include_updates_and_security(host: Any) -> None:
    sources = host.run("cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null").stdout
    assert "trixie-updates" in sources
    assert "trixie-security" in sources


def test_a_uid_without_a_passwd_entry_is_named_the_notebook_user(docker_client: Any, image: str) -> None:
    """`make pylab` runs the lab as the host user's uid: Jupyter's processes and an interactive
    shell (`make pylab-shell`, `docker exec -it <lab> bash`) know it as jovyan, with its own ids."""
    with started(docker_client, image, user="4321:4322", group_add=["100"]) as lab:
        jupyter_environment = (
            "import os\n"
            "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
            "    if b'jupyter-lab' in open(f'/proc/{pid}/cmdline', 'rb').read():\n"
            "        print(open(f'/proc/{pid}/environ', 'rb').read().replace(b'\\0', b'\\n').decode())"
        )
        assert "libnss_wrapper.so" in exec_output(lab.container, ["python", "-c", jupyter_environment])
        shell = exec_output(lab.container, ["bash", "-ic", "id"])
        assert "uid=4321(jovyan) gid=4322(jovyan)" in shell
        assert "100(users)" in shell


def test_jupyter_listens_on_the_contracts_port(docker_client: Any, image: str) -> None:
    """The image's JUPYTER_PORT is the one the host side publishes and probes."""
    assert f"JUPYTER_PORT={JUPYTER_PORT}" in docker_client.images.get(image).attrs["Config"]["Env"]
