"""Zero to JupyterHub's contract: a real JupyterHub (pyrlab-hub's, on 127.0.0.1) spawns pylab and
rlab exactly as KubeSpawner does under the chart's defaults (kubespawner_config.py): uid 1000,
group 100, an empty home volume over /home/jovyan, `jupyterhub-singleuser` as the command, no
privilege escalation, JUPYTERHUB_* in the environment. Cells run through the hub's proxy; the
home keeps its files across servers."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from harness.chain import chain_images, hub_image
from harness.hubclient import HubUser
from harness.imagelab import cell_through_hub
from harness.makefile import free_port

IMAGES = chain_images()
HUB_IMAGE = hub_image()
CONFIG = Path(__file__).with_name("kubespawner_config.py")
USER = "kube"


@dataclass(frozen=True)
class Hub:
    container: Any
    url: str
    homes: Path
    password: str


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    client = docker.from_env(version="auto")
    homes = tmp_path_factory.mktemp("kubespawner-homes")
    # The user's volume as Kubernetes hands it over with fsGroup 100: empty, group 100, setgid.
    home = homes / USER
    home.mkdir()
    os.chown(home, 0, 100)
    home.chmod(0o2775)
    name = f"pyrlab-kubespawner-{secrets.token_hex(4)}"
    network = client.networks.create(name, labels={"pyrlab.test": "kubespawner"})
    password = secrets.token_urlsafe(16)
    port = free_port()
    container = client.containers.run(
        HUB_IMAGE,
        ["jupyterhub", "-f", "/srv/test/kubespawner_config.py"],
        detach=True,
        name=name,
        network=name,
        ports={"8000/tcp": ("127.0.0.1", port)},
        environment={
            "HUB_CONTAINER": name,
            "HUB_NETWORK": name,
            "TEST_PASSWORD": password,
            "TEST_IMAGES": f"pylab={IMAGES['pylab']},rlab={IMAGES['rlab']}",
            "TEST_HOMES": str(homes),
        },
        volumes={
            "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(CONFIG): {"bind": "/srv/test/kubespawner_config.py", "mode": "ro"},
        },
        labels={"pyrlab.test": "kubespawner"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/hub/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet
            container.reload()
            assert container.status == "running", container.logs().decode()[-3000:]
            assert time.monotonic() < deadline, container.logs().decode()[-3000:]
            time.sleep(0.3)
        yield Hub(container, url, homes, password)
    finally:
        for spawned in client.containers.list(all=True, filters={"label": "pyrlab.test=kubespawner"}):
            spawned.remove(force=True)
        network.remove()


@pytest.fixture(scope="module")
def user(hub: Hub) -> HubUser:
    return HubUser(hub.url, USER, hub.password)


def run_cell(hub: Hub, token: str, kernel: str, code: str) -> str:
    return cell_through_hub(hub.container, USER, token, kernel, code)


def lab_container(hub: Hub) -> Any:
    return docker.from_env(version="auto").containers.get(f"{hub.container.name}-{USER}")


def test_pylab_starts_as_kubespawner_starts_it(hub: Hub, user: HubUser) -> None:
    user.spawn("pylab")
    lab = lab_container(hub)
    config, host_config = lab.attrs["Config"], lab.attrs["HostConfig"]
    assert config["User"] == "1000:100"
    assert config["Cmd"] == ["jupyterhub-singleuser"]
    assert host_config["GroupAdd"] == ["100"]
    assert "no-new-privileges" in host_config["SecurityOpt"]
    assert any(variable.startswith("JUPYTERHUB_API_TOKEN=") for variable in config["Env"])
    code = (
        "import os, pathlib; pathlib.Path('kept.txt').write_text('from pylab'); "
        "print(os.getuid(), os.getgid(), sorted(os.getgroups()), os.getcwd(), os.environ['HOME'])"
    )
    output = run_cell(hub, user.token(), "python3", code)
    assert output.split() == ["1000", "100", "[100]", "/home/jovyan", "/home/jovyan"]
    kept = hub.homes / USER / "kept.txt"
    assert kept.read_text() == "from pylab"
    assert kept.stat().st_uid == 1000
    # Nothing in the container runs as root: no root stage, and no way to gain it.
    code = "import os; print(sorted({os.stat(f'/proc/{pid}').st_uid for pid in os.listdir('/proc') if pid.isdigit()}))"
    assert run_cell(hub, user.token(), "python3", code).strip() == "[1000]"
    user.stop()


def test_rlab_runs_r_in_the_same_home(hub: Hub, user: HubUser) -> None:
    user.spawn("rlab")
    token = user.token()
    assert run_cell(hub, token, "ir", "cat(readLines('kept.txt', warn = FALSE), 6 * 7)") == "from pylab 42"
    assert run_cell(hub, token, "python3", "import os; print(os.getuid())").strip() == "1000"
    user.stop()


def test_the_hub_proxy_asks_for_the_users_login(hub: Hub, user: HubUser) -> None:
    """Without the hub's login nobody reaches the lab: the gateway is the hub, as in the cluster."""
    user.spawn("pylab")
    anonymous = requests.get(f"{hub.url}/user/{USER}/api/status", allow_redirects=False, timeout=10)
    assert anonymous.status_code in (302, 403), anonymous.status_code
    headers = {"Authorization": f"token {user.token()}"}
    assert requests.get(f"{hub.url}/user/{USER}/api/status", headers=headers, timeout=10).status_code == 200
    user.stop()
