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
from harness.hubclient import HubClientError, HubUser
from harness.imagelab import cell_through_hub
from harness.makerun import make
from harness.registryserver import ORG, checked
from harness.swarm import REGISTRY_HOST, Swarm, docker_cli, start_node, swarm_for_a_hub
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

    def pinned_node(self, user: str) -> str:
        """The node of the user's home (SWARM_HOMES=pinned), as `make hub-status` says."""
        found = re.search(rf"^{user}\thome: the volume \S+ on node (\S+)$", self.make("hub-status"), re.MULTILINE)
        assert found, f"no pinned home of {user} in make hub-status"
        return found.group(1)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmHub]:
    folder = tmp_path_factory.mktemp("swarm")

    def checked_make(*args: str) -> str:
        return checked(make(*args))

    with swarm_for_a_hub("pyrlab-swarm", folder, checked_make, IMAGES["pyrlab-base"], hub_image()) as team:
        choices = f"pylab={IMAGES['pylab']},rlab={IMAGES['rlab']},pylab-cuda={IMAGES['pylab']}"
        settings = [*team.settings, f"HUB_IMAGES={choices}", "HUB_ADMIN=admin", "GPUS_PER_USER=1"]
        settings += ["HUB_MEM_LIMIT=2G", "HUB_CPU_LIMIT=1"]
        # -o: the hub's image is the one loaded on the manager; this make must not build it there.
        started = make("hub", "-o", ".build/pyrlab-hub.id", *settings, environment=team.environment)
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        assert f"http://{team.swarm.manager.address}:{team.port}/hub/" in started.stdout
        hub = SwarmHub(team.swarm, team.port, folder / "homes", settings, team.environment)
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


def test_a_lab_is_a_service_of_the_users_uid_pulled_by_digest_within_its_limits_reserved(
    hub: SwarmHub, alice: HubUser
) -> None:
    task = hub.swarm.manager.client().services.get(f"{hub.name}-alice").attrs["Spec"]["TaskTemplate"]
    container = task["ContainerSpec"]
    uid = (hub.homes / "alice").stat().st_uid
    assert container["User"] == f"{uid}:{uid}"
    assert container["CapabilityDrop"] == ["ALL"]
    assert container["Healthcheck"]["Test"] == ["NONE"]
    assert container["Image"].startswith(f"{REGISTRY_HOST}/{ORG}/pylab@sha256:")
    assert task["Placement"]["Constraints"] == [f"engine.labels.{SWARM_NODE_LABEL} == yes"]
    assert task["Resources"]["Limits"] == {"MemoryBytes": 2 * 1024**3, "NanoCPUs": 10**9}
    assert task["Resources"]["Reservations"] == {"MemoryBytes": 2 * 1024**3, "NanoCPUs": 10**9}
    assert "NVIDIA_VISIBLE_DEVICES=void" in container["Env"]  # no GPU reserved: none from NVIDIA's runtime


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
    visible = "import os; print(os.environ.get('NVIDIA_VISIBLE_DEVICES'), end='')"
    assert hub.cell(carol, visible) == "void"  # the runtime reads DOCKER_RESOURCE_GPU first
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


def test_swarm_join_joins_a_server_given_its_engine_once_its_settings_are_pyrlabs(hub: SwarmHub) -> None:
    swarm = hub.swarm
    refused = make("swarm-join", *hub.settings, f"SWARM_NODE={swarm.manager.host}", environment=hub.environment)
    assert refused.returncode != 0
    assert f"lacks the label {SWARM_NODE_LABEL}=yes" in refused.stderr + refused.stdout
    careless = start_node(swarm.network, "careless", swarm.folder, lab_node=True, gpus=[], no_new_privileges=False)
    try:
        refused = make("swarm-join", *hub.settings, f"SWARM_NODE={careless.host}", environment=hub.environment)
        assert refused.returncode != 0
        assert "careless lets containers gain privileges" in refused.stderr + refused.stdout
        assert "careless" not in swarm.manager.cli("node", "ls", "--format", "{{.Hostname}}").split()
    finally:
        docker_cli("rm", "--force", "--volumes", careless.container)
    node = start_node(swarm.network, "worker3", swarm.folder, lab_node=True, gpus=["GPU-worker3"])
    try:
        told = hub.make("swarm-join", f"SWARM_NODE={node.host}")
        assert "worker3 joined the swarm as a node for labs (GPUs: GPU-worker3)" in told
        state = "{{.Status.State}} {{.Spec.Role}}"
        assert swarm.manager.cli("node", "inspect", "--format", state, "worker3") == "ready worker"
        assert "worker3 is a node of this swarm already" in hub.make("swarm-join", f"SWARM_NODE={node.host}")
    finally:
        node.cli("swarm", "leave", "--force")
        docker_cli("rm", "--force", "--volumes", node.container)
        swarm.manager.cli("node", "rm", "--force", "worker3")


def test_swarm_join_says_how_homes_stay_on_one_node_without_shared_storage(hub: SwarmHub) -> None:
    told = hub.make("swarm-join", "SWARM_HOMES=pinned")
    assert "pyrlab-home-<user>-<uid>" in told
    assert str(hub.homes) not in told


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


# SWARM_HOMES=pinned, after a worker died above: the hub restarted with homes on the nodes' own
# disks (Docker volumes), each user's labs on the node of their home.
WORK = "'/home/jovyan/work'"
LOOK = f"import os; print(os.getuid(), oct(os.stat({WORK}).st_mode & 0o777), sorted(os.listdir({WORK})), end='')"


@pytest.fixture(scope="module")
def pinned(hub: SwarmHub) -> SwarmHub:
    hub.make("hub-stop")
    settings = [*hub.settings, "SWARM_HOMES=pinned"]
    checked(make("hub", "-o", ".build/pyrlab-hub.id", *settings, environment=hub.environment))
    return SwarmHub(hub.swarm, hub.port, hub.homes, settings, hub.environment)


def test_a_pinned_users_labs_run_on_the_node_of_their_home_which_is_theirs(pinned: SwarmHub) -> None:
    frank = pinned.add_user("frank")
    frank.spawn("pylab", timeout=FIRST_SPAWN)
    node = pinned.node_of("frank")
    uid, mode, files = pinned.cell(frank, "open('/home/jovyan/work/notes.txt', 'w').write('mine'); " + LOOK).split(
        " ", 2
    )
    assert (mode, files) == ("0o700", "['notes.txt']")
    assert not (pinned.homes / "frank").exists()  # not on the shared folder
    frank.stop()
    frank.spawn("pylab", timeout=FIRST_SPAWN)
    assert pinned.node_of("frank") == node
    assert pinned.cell(frank, "print(open('/home/jovyan/work/notes.txt').read(), end='')") == "mine"
    status = pinned.make("hub-status")
    assert f"frank\thome: the volume pyrlab-home-frank-{uid} on node {node}" in status, status
    volumes = next(each for each in pinned.swarm.workers if each.hostname == node).cli("volume", "ls", "--quiet")
    assert f"pyrlab-home-frank-{uid}" in volumes.split()
    frank.stop()


def test_a_deleted_pinned_users_files_never_reach_a_new_account_of_the_same_name(pinned: SwarmHub) -> None:
    first = pinned.add_user("gina")
    first.spawn("pylab", timeout=FIRST_SPAWN)
    old_uid = pinned.cell(first, "open('/home/jovyan/work/private.txt', 'w').write('secret'); " + LOOK).split()[0]
    first.stop()
    admin = pinned.add_user("admin")
    assert admin.api("DELETE", "/users/gina").status_code == 204
    newcomer = pinned.add_user("gina")
    newcomer.spawn("pylab", timeout=FIRST_SPAWN)
    new_uid, mode, files = pinned.cell(newcomer, LOOK).split(" ", 2)
    assert new_uid != old_uid
    assert (mode, files) == ("0o700", "[]")
    status = pinned.make("hub-status")
    assert f"kept aside: the volume pyrlab-home-gina-{old_uid} on node " in status, status
    newcomer.stop()


def test_a_pinned_home_is_found_when_its_node_joins_the_swarm_again(pinned: SwarmHub) -> None:
    """The admin takes frank's node out of the swarm and joins it again (a new node id; its volumes stay)."""
    frank = pinned.add_user("frank")
    hostname = pinned.pinned_node("frank")
    node = next(each for each in pinned.swarm.workers if each.hostname == hostname)
    manager = pinned.swarm.manager
    old_id = manager.cli("node", "inspect", "--format", "{{.ID}}", hostname)
    node.cli("swarm", "leave", "--force")
    manager.cli("node", "rm", "--force", old_id)
    assert f"{hostname} joined the swarm" in pinned.make("swarm-join", f"SWARM_NODE={node.host}")
    frank.spawn("pylab", timeout=FIRST_SPAWN)
    assert pinned.node_of("frank") == hostname
    assert pinned.cell(frank, "print(open('/home/jovyan/work/notes.txt').read(), end='')") == "mine"
    frank.stop()


def test_a_node_that_cannot_pull_the_lab_is_named_in_the_spawns_error(pinned: SwarmHub) -> None:
    """frank's node loses pylab and cannot reach the registry (its name is this node's own loopback)."""
    frank = pinned.add_user("frank")
    node = next(each for each in pinned.swarm.workers if each.hostname == pinned.pinned_node("frank"))
    node.cli("image", "rm", "--force", *node.cli("image", "ls", "--quiet").split())
    hosts = docker_cli("exec", node.container, "cat", "/etc/hosts")
    docker_cli("exec", node.container, "sh", "-c", f"echo '127.0.0.1 {REGISTRY_HOST.split(':')[0]}' >>/etc/hosts")
    try:
        with pytest.raises(HubClientError, match=rf"could not start on node {node.hostname}: "):
            frank.spawn("pylab", timeout=FIRST_SPAWN)
    finally:
        docker_cli("exec", "--interactive", node.container, "sh", "-c", "cat >/etc/hosts", stdin=hosts.encode() + b"\n")
    assert not frank.servers().get("", {}).get("ready")


def test_a_pinned_users_spawn_while_their_node_is_down_names_the_node(pinned: SwarmHub) -> None:
    frank = pinned.add_user("frank")
    lost = pinned.pinned_node("frank")
    docker_cli("kill", next(node.container for node in pinned.swarm.workers if node.hostname == lost))
    deadline = time.monotonic() + 120
    while pinned.swarm.manager.cli("node", "inspect", "--format", "{{.Status.State}}", lost) != "down":
        assert time.monotonic() < deadline, f"Swarm still counts {lost} up"
        time.sleep(2)
    with pytest.raises(HubClientError, match=rf"your files are on node {lost} .*which is down"):
        frank.spawn("pylab", timeout=FIRST_SPAWN)
