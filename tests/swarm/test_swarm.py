"""The team server on a real swarm (HUB_ENGINE=swarm): three Docker engines on this machine, a
manager and two workers with one (fake) GPU each; `make hub` on the manager; each lab a Swarm
service that a worker pulls by digest from a `make registry` the nodes reach; the homes in a folder
every node mounts at the same path."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.chain import chain_images, hub_image
from harness.hubclient import HubUser
from harness.imagelab import cell_through_hub
from harness.makefile import free_port
from harness.makerun import make
from harness.registryserver import ORG, checked, running_registry
from harness.swarm import REGISTRY_HOST, Swarm, build_node_image, docker_cli, running_swarm
from pyrlab.cluster.registry import container_name
from pyrlab.inside.contract import SWARM_NODE_LABEL

IMAGES = chain_images()
# The labs' first pull on a node takes minutes here (several processes share two cores).
FIRST_SPAWN = 900


@dataclass(frozen=True)
class SwarmHub:
    swarm: Swarm
    port: int
    homes: Path
    settings: list[str]
    environment: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://{self.swarm.manager.address}:{self.port}"

    @property
    def name(self) -> str:
        return f"pyrlab-hub-{self.port}"

    def make(self, *args: str) -> str:
        return checked(make(*args, *self.settings, environment=self.environment))

    def cell(self, user: HubUser, code: str, kernel: str = "python3") -> str:
        hub = self.swarm.manager.client().containers.get(self.name)
        return cell_through_hub(hub, user.name, user.token(), kernel, code)

    def add_user(self, name: str) -> HubUser:
        password = re.search(r"^    (\S+)$", self.make("hub-user", f"NAME={name}"), re.MULTILINE)
        assert password
        return HubUser(self.url, name, password.group(1))

    def node_of(self, user: str) -> str:
        return self.swarm.node_of_task(f"{self.name}-{user}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmHub]:
    folder = tmp_path_factory.mktemp("swarm")
    with running_registry(folder / "registry") as registry:
        checked(make("manifest", *registry.settings))
        checked(make("push", f"REGISTRY={registry.name}", *registry.settings))
        build_node_image(IMAGES["pyrlab-base"])
        with running_swarm(f"pyrlab-swarm-{registry.port}", folder, container_name(registry.port)) as swarm:
            # The manager is where the admin built the images and runs `make hub`.
            swarm.load(hub_image(), swarm.manager)
            client_config = folder / "client"
            client_config.mkdir()
            environment = {"DOCKER_HOST": swarm.manager.host, "DOCKER_CONFIG": str(client_config)}
            password = (registry.data / "registry-password").read_text().strip()
            login = ["--config", str(client_config), "login", "--username", "pyrlab", "--password-stdin", REGISTRY_HOST]
            swarm.manager.cli(*login, stdin=password.encode())
            port = free_port()
            choices = f"pylab={IMAGES['pylab']},rlab={IMAGES['rlab']},pylab-cuda={IMAGES['pylab']}"
            settings = ["HUB_ENGINE=swarm", f"SWARM_REGISTRY={REGISTRY_HOST}/{ORG}", f"MANIFESTS={registry.manifests}"]
            settings += [f"HUB_BIND={swarm.manager.address}", f"HUB_PORT={port}", f"HUB_IMAGES={choices}"]
            settings += [f"HUB_DATA={folder / 'data'}", f"HUB_HOMES={folder / 'homes'}", f"DOCKER={folder / 'config'}"]
            settings += ["HUB_ADMIN=admin", "GPUS_PER_USER=1", "HUB_MEM_LIMIT=2G", "HUB_CPU_LIMIT=1"]
            # -o: the hub's image is the one loaded above; this make must not build it on the manager.
            started = make("hub", "-o", ".build/pyrlab-hub.id", *settings, environment=environment)
            assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
            assert f"http://{swarm.manager.address}:{port}/hub/" in started.stdout
            hub = SwarmHub(swarm, port, folder / "homes", settings, environment)
            yield hub
            stopped = hub.make("hub-stop")
            assert "stopped" in stopped


@pytest.fixture(scope="module")
def alice(hub: SwarmHub) -> HubUser:
    return hub.add_user("alice")


@pytest.fixture(scope="module")
def bob(hub: SwarmHub) -> HubUser:
    return hub.add_user("bob")


def test_two_users_labs_run_on_two_workers_with_their_own_uids_and_homes(
    hub: SwarmHub, alice: HubUser, bob: HubUser
) -> None:
    alice.spawn("pylab", timeout=FIRST_SPAWN)
    bob.spawn("rlab", timeout=FIRST_SPAWN)
    nodes = {user: hub.node_of(user) for user in ("alice", "bob")}
    # Spread by Swarm over the workers; the manager has no pyrlab engine settings and gets no lab.
    assert sorted(nodes.values()) == ["worker1", "worker2"], nodes
    write = (
        "import os; open('/home/jovyan/work/proof.txt', 'w').write(os.environ['JUPYTERHUB_USER']); print(os.getuid())"
    )
    uids = {user.name: int(hub.cell(user, write)) for user in (alice, bob)}
    assert hub.cell(bob, "cat(6 * 7)", kernel="ir") == "42"
    assert uids["alice"] != uids["bob"]
    for user, uid in uids.items():
        proof = hub.homes / user / "proof.txt"
        assert proof.read_text() == user
        assert proof.stat().st_uid == uid
        assert (hub.homes / user).stat().st_mode & 0o077 == 0


def test_a_lab_on_a_worker_has_no_capability_and_cannot_gain_privileges(hub: SwarmHub, alice: HubUser) -> None:
    """What a notebook sees of its own process on the worker: the user's uid, no capability in any
    set, and no-new-privileges (so a setuid program gives nothing)."""
    status = hub.cell(alice, "print(open('/proc/self/status').read())")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["NoNewPrivs"].strip() == "1", status
    for capabilities in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
        assert int(fields[capabilities], 16) == 0, (capabilities, status)
    assert fields["Uid"].split()[0] == str((hub.homes / "alice").stat().st_uid)


def test_a_lab_is_a_service_of_the_users_uid_pulled_by_digest_within_its_limits(hub: SwarmHub, alice: HubUser) -> None:
    task = hub.swarm.manager.client().services.get(f"{hub.name}-alice").attrs["Spec"]["TaskTemplate"]
    container = task["ContainerSpec"]
    uid = (hub.homes / "alice").stat().st_uid
    assert container["User"] == f"{uid}:{uid}"
    assert container["CapabilityDrop"] == ["ALL"]
    assert container["Healthcheck"]["Test"] == ["NONE"]
    assert container["Image"].startswith(f"{REGISTRY_HOST}/{ORG}/pylab@sha256:")
    assert task["Placement"]["Constraints"] == [f"engine.labels.{SWARM_NODE_LABEL} == yes"]
    assert task["Resources"]["Limits"] == {"MemoryBytes": 2 * 1024**3, "NanoCPUs": 10**9}


def test_hub_status_says_each_users_node(hub: SwarmHub, alice: HubUser, bob: HubUser) -> None:
    status = hub.make("hub-status")
    for user in ("alice", "bob"):
        line = next(line for line in status.splitlines() if line.startswith(f"{user}\t"))
        assert f"running on {hub.node_of(user)}" in line, status
        assert re.search(rf"\t{re.escape(REGISTRY_HOST)}/{ORG}/\S+@sha256:", line), line


def test_each_cuda_user_gets_a_gpu_of_a_worker_and_a_third_is_refused_naming_the_holders(hub: SwarmHub) -> None:
    carol, dave, erin = (hub.add_user(name) for name in ("carol", "dave", "erin"))
    carol.spawn("pylab-cuda", timeout=FIRST_SPAWN)
    dave.spawn("pylab-cuda", timeout=FIRST_SPAWN)
    gpu = "import os; print(os.environ['DOCKER_RESOURCE_GPU'], end='')"  # what NVIDIA's runtime reads
    given = {user.name: hub.cell(user, gpu) for user in (carol, dave)}
    assert sorted(given.values()) == ["GPU-worker1", "GPU-worker2"], given
    assert {hub.node_of("carol"), hub.node_of("dave")} == {"worker1", "worker2"}
    refused = erin.api("POST", "/users/erin/server", json={"image": "pylab-cuda"})
    assert refused.status_code == 409, refused.text
    for holder in ("worker1", "worker2", "carol", "dave"):
        assert holder in refused.text, refused.text
    carol.stop()
    erin.spawn("pylab-cuda", timeout=FIRST_SPAWN)
    assert hub.cell(erin, gpu) == given["carol"]
    erin.stop()
    dave.stop()


def test_a_lab_stopped_and_spawned_again_finds_its_files(hub: SwarmHub, alice: HubUser) -> None:
    alice.stop()
    alice.spawn("pylab", timeout=FIRST_SPAWN)
    assert hub.cell(alice, "print(open('/home/jovyan/work/proof.txt').read(), end='')") == "alice"


def test_swarm_join_says_what_a_new_node_runs(hub: SwarmHub) -> None:
    told = hub.make("swarm-join")
    token = hub.swarm.manager.cli("swarm", "join-token", "--quiet", "worker")
    assert f"docker swarm join --token {token} {hub.swarm.manager.address}:2377" in told
    assert '"no-new-privileges": true' in told
    assert '"labels": ["pyrlab.lab-node=yes"]' in told
    assert str(hub.homes) in told


def test_a_lab_whose_worker_dies_is_stopped_and_the_next_spawn_runs_on_a_live_worker(
    hub: SwarmHub, bob: HubUser
) -> None:
    lost = hub.node_of("bob")
    docker_cli("kill", next(node.container for node in hub.swarm.workers if node.hostname == lost))
    deadline = time.monotonic() + 180
    while bob.servers().get("", {}).get("ready"):
        assert time.monotonic() < deadline, f"the hub still counts bob's lab on {lost}, which is down"
        time.sleep(2)
    bob.spawn("rlab", timeout=FIRST_SPAWN)
    assert hub.node_of("bob") not in (lost, "")
    assert hub.cell(bob, "cat(readLines('/home/jovyan/work/proof.txt', warn = FALSE))", kernel="ir") == "bob"
