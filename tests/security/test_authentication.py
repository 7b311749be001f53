"""Every tool behind authentication: attacks on the token, on Jupyter's Host check, on D-Tale, and
on the configuration folder (DOCKER) that a co-tenant could plant files in."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.attack import LABEL, HostUser, Project, make_pylab
from harness.imagelab import KERNEL_CLIENT, exec_output, started


def cell_output(container: Any, token: str, code: str) -> str:
    exit_code, output = container.exec_run(["python", "-c", KERNEL_CLIENT, "8888", token, "python3", code])
    text = output.decode(errors="replace")
    assert exit_code == 0, text
    result = json.loads(text.strip().splitlines()[-1])
    assert result["status"] == "ok", result
    return str(result["output"])


def test_env_file_cannot_switch_authentication_off(project: Project, cotenant: HostUser) -> None:
    cotenant.folder("notebooks")
    config = cotenant.folder("docker")
    cotenant.file(config / "pylab.env", "PYRLAB_AUTH=none\nJUPYTER_TOKEN=\n")
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    assert requests.get(f"{lab.url}/api/status", timeout=5).status_code == 403
    assert requests.get(f"{lab.url}/api/status", params={"token": lab.token}, timeout=5).status_code == 200


def test_lab_opened_by_a_script_is_stopped_before_its_url_is_printed(
    project: Project, cotenant: HostUser, docker_client: Any
) -> None:
    cotenant.folder("notebooks")
    config = cotenant.folder("docker")
    cotenant.file(
        config / "pylab.sh", 'set -- "$@" --IdentityProvider.token= --PasswordIdentityProvider.hashed_password=\n'
    )
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode != 0, lab.result.stdout
    assert "without a token or password" in lab.result.stderr
    assert "token=" not in lab.result.stdout
    assert docker_client.containers.list(filters={"name": lab.name}) == []


def test_configuration_folder_of_another_user_is_refused(
    project: Project, cotenant: HostUser, shared_tmp: Path
) -> None:
    cotenant.folder("notebooks")
    planted = shared_tmp / "shared-config"  # root's, open to all: anyone could have put a known token there
    planted.mkdir()
    planted.chmod(0o777)
    (planted / "pylab.token").write_text("known-to-the-attacker\n")
    (planted / "pylab.token").chmod(0o644)
    lab = make_pylab(project, cotenant, f"DOCKER={planted}")
    assert lab.result.returncode != 0, lab.result.stdout
    assert f"{planted} belongs to uid 0, not to you" in lab.result.stderr
    assert "known-to-the-attacker" not in lab.result.stdout


def test_group_writable_configuration_folder_is_refused(project: Project, cotenant: HostUser) -> None:
    cotenant.folder("notebooks")
    config = cotenant.folder("docker", 0o770)
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode != 0, lab.result.stdout
    assert f"{config} can be written by others" in lab.result.stderr
    assert "chmod go-w" in lab.result.stderr


def test_rc_script_planted_by_another_user_is_refused(project: Project, host_users: Any, docker_client: Any) -> None:
    victim, attacker = host_users(), host_users()
    victim.folder("notebooks")
    config = victim.folder("docker")
    attacker.file(config / "pylab.sh", "echo planted\n", mode=0o644)
    lab = make_pylab(project, victim)
    assert lab.result.returncode != 0, lab.result.stdout
    assert f"{config / 'pylab.sh'} belongs to uid {attacker.uid}" in lab.result.stderr
    assert docker_client.containers.list(all=True, filters={"name": lab.name}) == []


def test_foreign_host_header_creates_no_kernel(project: Project, docker_client: Any) -> None:
    """DNS rebinding: a page of another site, its name resolved to 127.0.0.1, is same-origin with the
    lab: it reads a page (and its XSRF cookie), then asks for a kernel."""
    with started(docker_client, project.images["pyrlab-base"], environment={"PYRLAB_AUTH": "none"}) as lab:
        page = requests.Session()
        rebound_host = {"Host": f"rebind.example:{lab.ports[8888]}"}
        page.get(f"{lab.url}/lab", headers=rebound_host, timeout=10)
        xsrf = page.cookies.get("_xsrf", "")
        kernel = page.post(f"{lab.url}/api/kernels", headers={**rebound_host, "X-XSRFToken": xsrf}, json={}, timeout=30)
        assert kernel.status_code == 403, kernel.text
        assert requests.get(f"{lab.url}/api/kernels", timeout=5).json() == []


def test_token_is_not_in_the_kernels_environment(project: Project, cotenant: HostUser, docker_client: Any) -> None:
    cotenant.folder("notebooks")
    lab = make_pylab(project, cotenant)
    assert lab.result.returncode == 0, lab.result.stdout + lab.result.stderr
    code = "import os; print(sorted(k for k, v in os.environ.items() if 'TOKEN' in k or TOKEN in v))"
    output = cell_output(docker_client.containers.get(lab.name), lab.token, f"TOKEN = {lab.token!r}; {code}")
    assert output.strip() == "[]"


def test_token_given_in_the_environment_is_not_in_the_kernels_environment(project: Project, docker_client: Any) -> None:
    with started(docker_client, project.images["pyrlab-base"]) as lab:
        code = (
            f"import os; print(sorted(k for k, v in os.environ.items() if 'JUPYTER_TOKEN' in k or {lab.token!r} in v))"
        )
        assert cell_output(lab.container, lab.token, code).strip() == "[]"


@pytest.fixture
def network(docker_client: Any) -> Any:
    created = docker_client.networks.create(f"pyrlab-security-{secrets.token_hex(3)}", labels=LABEL)
    yield created
    created.remove()


DTALE = """
import dtale, dtale.app, pandas, time
dtale.app.JUPYTER_SERVER_PROXY = True
import socket
shown = dtale.show(pandas.DataFrame({"answer": [4242]}), app_root="/proxy")
# dtale.show can return before its server thread listens (Jupyter's proxy then answers 500).
for _ in range(600):
    try:
        socket.create_connection(("127.0.0.1", 40000), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
open("/tmp/dtale-url", "w").write(shown._main_url)
time.sleep(600)
"""


def test_dtale_is_reached_through_jupyter_only(project: Project, docker_client: Any, network: Any) -> None:
    """docs/labs.md's recipe, as a kernel runs it: D-Tale answers through Jupyter's proxy with the
    token, and not on the container's address to other containers of its network."""
    with started(docker_client, project.images["pylab"], network=network.name) as lab:
        lab.container.exec_run(["python", "-c", DTALE], user="jovyan", detach=True)
        deadline = time.monotonic() + 60
        while lab.container.exec_run(["test", "-s", "/tmp/dtale-url"]).exit_code != 0:
            assert time.monotonic() < deadline, "D-Tale did not start"
            time.sleep(0.5)
        main_url = exec_output(lab.container, ["cat", "/tmp/dtale-url"])
        assert main_url.startswith("/proxy/40000/"), main_url
        headers = {"Authorization": f"token {lab.token}"}
        page = requests.get(f"{lab.url}{main_url}", headers=headers, timeout=30)
        assert page.status_code == 200, page.text[-1500:]
        data = requests.get(f"{lab.url}/proxy/40000/dtale/data/1?ids=%5B%220-1%22%5D", headers=headers, timeout=30)
        assert data.status_code == 200, data.text[:500]
        assert "4242" in data.text, data.text[:500]
        anonymous = requests.get(f"{lab.url}{main_url}", timeout=30, allow_redirects=False)
        assert anonymous.status_code in (302, 403)  # no token, no D-Tale
        lab.container.reload()
        address = lab.container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        probe = (
            f"import socket\ntry:\n    socket.create_connection(({address!r}, 40000), timeout=5)\n"
            "    print('reached')\nexcept OSError as error:\n    print('refused', error)\n"
        )
        neighbour = docker_client.containers.run(
            project.images["pyrlab-base"],
            ["python", "-c", probe],
            network=network.name,
            detach=True,
            labels=LABEL,
        )
        assert neighbour.wait(timeout=60)["StatusCode"] == 0
        answer = neighbour.logs(stdout=True, stderr=False).decode()
        assert answer.startswith("refused"), answer
