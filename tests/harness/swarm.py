"""A real swarm on this machine: Docker engines (Debian's docker.io, each in a container of an image
built from pyrlab-base), a manager and workers joined into one swarm on a network the test creates,
with one folder at the same path on every node (the team's shared storage, as NFS would be).

The node containers are not --privileged: this machine's engine cannot give every capability, so
they get all but CAP_SYS_RESOURCE, and their engine remounts its cgroups writable (the Dockerfile).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from harness.makefile import free_port
from harness.makerun import REPO
from harness.registryserver import ORG, running_registry
from pyrlab.cluster.registry import container_name
from pyrlab.inside.contract import REGISTRY_PORT, SWARM_GPU_KIND, SWARM_NODE_LABEL

CLI = os.environ.get("CONTAINER_CLI", "docker")
NODE_IMAGE = "pyrlab-test-swarm-node:latest"
# The registry as the nodes reach it: the test's `make registry`, joined to the swarm's network.
REGISTRY_HOST = f"registry.pyrlab.test:{REGISTRY_PORT}"
# The nodes' own networks, apart from this machine's (172.17.0.0/16 and the networks Docker gives
# the tests): their bridge, their local networks and the swarm's overlay networks.
NODE_BRIDGE = "10.123.0.1/24"
NODE_POOL = "base=10.124.0.0/16,size=24"
SWARM_POOL = "10.125.0.0/16"
NODE_ACCESS = [
    *("--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--device-cgroup-rule", "a *:* rwm"),
    *("--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"),
    *("--security-opt", "systempaths=unconfined"),
]


def docker_cli(*args: str, host: str = "", stdin: bytes | None = None) -> str:
    environment = {**os.environ, "DOCKER_BUILDKIT": "1", "DOCKER_HOST": host}
    if not host:
        environment.pop("DOCKER_HOST", None)
    result = subprocess.run([CLI, *args], env=environment, input=stdin, capture_output=True, check=False)
    assert result.returncode == 0, (args, result.stderr.decode(errors="replace")[-2000:])
    return result.stdout.decode(errors="replace").strip()


def build_node_image(parent: str) -> str:
    command = ["build", "--quiet", "--file", str(REPO / "tests/swarm/node/Dockerfile"), "--tag", NODE_IMAGE]
    command += ["--build-arg", f"PARENT_IMAGE={parent}"]
    if os.environ.get("CA_CERTS"):
        command += ["--secret", f"id=ca_certs,src={os.environ['CA_CERTS']}"]
    docker_cli(*command, str(REPO))
    return NODE_IMAGE


@dataclass
class Node:
    container: str
    hostname: str
    socket: Path
    address: str = ""
    gpus: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def cli(self, *args: str, stdin: bytes | None = None) -> str:
        return docker_cli(*args, host=self.host, stdin=stdin)

    def client(self) -> Any:
        return docker.DockerClient(base_url=self.host, version="auto")


@dataclass
class Swarm:
    network: str
    folder: Path
    manager: Node
    workers: list[Node]

    @property
    def nodes(self) -> list[Node]:
        return [self.manager, *self.workers]

    def node_of_task(self, service: str) -> str:
        """The hostname of the node that runs the service's task."""
        return self.manager.cli("service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}}", service)

    def load(self, reference: str, node: Node) -> None:
        """An image of this machine's onto a node, as if it had been built there."""
        node.cli(
            "load", "--quiet", stdin=subprocess.run([CLI, "save", reference], capture_output=True, check=True).stdout
        )


def start_node(
    swarm_name: str, hostname: str, folder: Path, lab_node: bool, gpus: list[str], no_new_privileges: bool = True
) -> Node:
    """A node's engine: labs come to it only with pyrlab's engine settings (`make swarm-join`);
    no_new_privileges=False: the label without the setting, an admin's slip."""
    sockets = folder / "sockets" / hostname
    sockets.mkdir(parents=True)
    node = Node(f"{swarm_name}-{hostname}", hostname, sockets / "docker.sock", gpus=gpus)
    engine = ["--host", "unix:///run/pyrlab-node/docker.sock", "--host", "unix:///var/run/docker.sock"]
    engine += ["--bip", NODE_BRIDGE, "--default-address-pool", NODE_POOL, "--insecure-registry", REGISTRY_HOST]
    if lab_node:
        engine += ["--label", f"{SWARM_NODE_LABEL}=yes"] + (["--no-new-privileges"] if no_new_privileges else [])
    for gpu in gpus:
        engine += ["--node-generic-resource", f"{SWARM_GPU_KIND}={gpu}"]
    docker_cli(
        *("run", "--detach", "--name", node.container, "--hostname", hostname, "--network", swarm_name),
        *NODE_ACCESS,
        *("--label", "pyrlab.test=swarm", "--volume", f"{folder}:{folder}"),
        *("--volume", f"{sockets}:/run/pyrlab-node", NODE_IMAGE, *engine),
    )
    deadline = time.monotonic() + 60
    while subprocess.run([CLI, "info"], env={**os.environ, "DOCKER_HOST": node.host}, capture_output=True).returncode:
        assert time.monotonic() < deadline, docker_cli("logs", "--tail", "30", node.container)
        time.sleep(0.5)
    node.address = docker_cli(
        "inspect", "--format", f'{{{{(index .NetworkSettings.Networks "{swarm_name}").IPAddress}}}}', node.container
    )
    return node


@contextmanager
def running_swarm(name: str, folder: Path, registry_container: str, workers: int = 2) -> Iterator[Swarm]:
    """A manager (not a node for labs: no pyrlab engine settings) and workers with one GPU each,
    joined; the registry's container reachable from every node as REGISTRY_HOST."""
    docker_cli("network", "create", "--label", "pyrlab.test=swarm", name)
    started: list[Node] = []
    try:
        docker_cli("network", "connect", "--alias", REGISTRY_HOST.split(":")[0], name, registry_container)
        manager = start_node(name, "manager", folder, lab_node=False, gpus=[])
        started.append(manager)
        manager.cli("swarm", "init", "--advertise-addr", manager.address, "--default-addr-pool", SWARM_POOL)
        token = manager.cli("swarm", "join-token", "--quiet", "worker")
        for number in range(1, workers + 1):
            worker = start_node(name, f"worker{number}", folder, lab_node=True, gpus=[f"GPU-worker{number}"])
            started.append(worker)
            worker.cli("swarm", "join", "--token", token, f"{manager.address}:2377")
        yield Swarm(name, folder, manager, started[1:])
    finally:
        for node in started:
            subprocess.run([CLI, "rm", "--force", "--volumes", node.container], capture_output=True, check=False)
        subprocess.run([CLI, "network", "disconnect", "--force", name, registry_container], capture_output=True)
        subprocess.run([CLI, "network", "rm", name], capture_output=True, check=False)


@dataclass(frozen=True)
class SwarmTeam:
    """A swarm ready for `make hub HUB_ENGINE=swarm`: its settings and the environment that makes
    the manager's engine make's engine, with a `docker login` for the registry."""

    swarm: Swarm
    port: int
    environment: dict[str, str]
    settings: list[str]


@contextmanager
def swarm_for_a_hub(name: str, folder: Path, make: Callable[..., object], base: str, hub: str) -> Iterator[SwarmTeam]:
    """A registry with the chain pushed (make: the caller's make), a swarm of nodes built on the
    image base that reach it, and the hub's image on the manager (as if the admin built it there)."""
    with running_registry(folder / "registry") as registry:
        make("manifest", *registry.settings)
        make("push", f"REGISTRY={registry.name}", *registry.settings)
        build_node_image(base)
        with running_swarm(f"{name}-{registry.port}", folder, container_name(registry.port)) as swarm:
            swarm.load(hub, swarm.manager)
            client_config = folder / "client"
            client_config.mkdir()
            password = (registry.data / "registry-password").read_text().strip()
            login = ["--config", str(client_config), "login", "--username", "pyrlab", "--password-stdin", REGISTRY_HOST]
            swarm.manager.cli(*login, stdin=password.encode())
            port = free_port()
            settings = ["HUB_ENGINE=swarm", f"SWARM_REGISTRY={REGISTRY_HOST}/{ORG}", f"MANIFESTS={registry.manifests}"]
            settings += [f"HUB_BIND={swarm.manager.address}", f"HUB_PORT={port}"]
            settings += [f"HUB_DATA={folder / 'data'}", f"HUB_HOMES={folder / 'homes'}", f"DOCKER={folder / 'config'}"]
            environment = {"DOCKER_HOST": swarm.manager.host, "DOCKER_CONFIG": str(client_config)}
            yield SwarmTeam(swarm, port, environment, settings)
