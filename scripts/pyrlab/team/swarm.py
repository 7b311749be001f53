"""The team server on Docker Swarm (HUB_ENGINE=swarm), from the host: the swarm this engine manages,
the labs' images as the nodes pull them (by the digests `make push` recorded), the registry
credentials the hub hands to Swarm for those pulls, each user's lab and its node for `make
hub-status`, and what a new node runs to join (`make swarm-join`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyrlab.cluster.z2jh import chosen_images
from pyrlab.engine import run as run_cli
from pyrlab.inside.contract import (
    HOME_VOLUME,
    HUB_DOCKER_CONFIG,
    HUB_LABEL,
    SWARM_GPU_KIND,
    SWARM_NODE_LABEL,
    USER_LABEL,
    image_choices,
    swarm_gpus,
    task_gpus,
)
from pyrlab.labs.errors import LabError
from pyrlab.settings import HubSettings

SWARM_PORT = 2377  # a manager's port for the nodes that join
NO_NEW_PRIVILEGES = "name=no-new-privileges"  # as `docker info` says it


def check_manager(cli: str) -> dict[str, Any]:
    """This engine's swarm, which it must manage; else say how to start one."""
    swarm: dict[str, Any] = json.loads(run_cli(cli, "info", "--format", "{{json .Swarm}}"))
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        raise LabError(
            "HUB_ENGINE=swarm, but this host's Docker engine manages no swarm: start one with "
            "`docker swarm init`, add the other servers with `make swarm-join`; or HUB_ENGINE=docker"
        )
    return swarm


def lab_images(settings: HubSettings) -> str:
    """HUB_IMAGES with each choice as the nodes pull it: by the digest `make push` recorded (an
    index's when several platforms were pushed), from SWARM_REGISTRY when it is set."""
    choices = []
    for name, manifest in chosen_images(settings, settings.manifests):
        pushed = manifest["pushed"]
        reference = str(pushed["reference"])
        if settings.swarm_registry:
            repository = str(pushed["repository"]).rsplit("/", 1)[-1]
            reference = f"{settings.swarm_registry}/{repository}@{reference.split('@', 1)[1]}"
        choices.append(f"{name}={reference}")
    return ",".join(choices)


def client_config() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"


def write_registry_credentials(settings: HubSettings, images: str) -> Path:
    """The caller's `docker login` for each registry of the labs' images, alone, in
    HUB_DATA/docker/config.json (0600): the hub hands it to Swarm, which passes it to the node that
    pulls. Nothing else of the caller's Docker configuration reaches the hub."""
    config = client_config()
    known = json.loads(config.read_text()).get("auths", {}) if config.is_file() else {}
    auths = {}
    for host in sorted({reference.split("/", 1)[0] for reference in image_choices(images).values()}):
        auth = known.get(host, {}).get("auth")
        if not auth:
            raise LabError(
                f"HUB_ENGINE=swarm: the nodes pull the labs' images from {host} with your credentials, and "
                f"{config} has none for it: `docker login {host}` first (with no credential helper: the hub "
                "hands the credentials themselves to Swarm)"
            )
        auths[host] = {"auth": auth}
    folder = settings.data / Path(HUB_DOCKER_CONFIG).name
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "config.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"auths": auths}, handle)
    return path


def remove_labs(cli: str, settings: HubSettings) -> list[str]:
    """Remove the hub's labs (Swarm services); return their names."""
    names = run_cli(cli, "service", "ls", "--filter", f"label={HUB_LABEL}={settings.name}", "--format", "{{.Name}}")
    services = [name for name in names.split() if name]
    if services:
        run_cli(cli, "service", "rm", *services)
    return services


@dataclass(frozen=True)
class SwarmLab:
    user: str
    image: str
    node: str
    state: str
    gpus: list[str]


def labs(cli: str, settings: HubSettings) -> list[SwarmLab]:
    """Each lab of the hub with the node its task runs on, its state and the GPUs Swarm gave it."""
    ids = run_cli(cli, "service", "ls", "--quiet", "--filter", f"label={HUB_LABEL}={settings.name}").split()
    if not ids:
        return []
    nodes = {
        node["ID"]: node["Description"]["Hostname"]
        for node in json.loads(run_cli(cli, "node", "inspect", *run_cli(cli, "node", "ls", "--quiet").split()))
    }
    found = []
    for service in json.loads(run_cli(cli, "service", "inspect", *ids)):
        spec = service["Spec"]
        task_ids = run_cli(cli, "service", "ps", "--quiet", "--filter", "desired-state=running", service["ID"]).split()
        tasks = json.loads(run_cli(cli, "inspect", *task_ids)) if task_ids else []
        task = tasks[0] if tasks else {}
        found.append(
            SwarmLab(
                user=spec.get("Labels", {}).get(USER_LABEL, spec["Name"]),
                image=spec["TaskTemplate"]["ContainerSpec"]["Image"],
                node=nodes.get(task.get("NodeID", ""), "-"),
                state=task.get("Status", {}).get("State", "stopped"),
                gpus=task_gpus(task) if task else [],
            )
        )
    return found


def join(cli: str, settings: HubSettings) -> list[str]:
    """Join the engine at SWARM_NODE to this swarm as a node for labs, once its settings are
    pyrlab's (step 1 of join_instructions); return what was done."""
    swarm = check_manager(cli)
    node = settings.swarm_node
    info: dict[str, Any] = json.loads(run_cli(cli, "--host", node, "info", "--format", "{{json .}}"))
    name = info.get("Name", node)
    fix = (
        "set its /etc/docker/daemon.json as step 1 of `make swarm-join` (without SWARM_NODE) says, restart its "
        "docker, and run this again"
    )
    if f"{SWARM_NODE_LABEL}=yes" not in (info.get("Labels") or []):
        raise LabError(
            f"SWARM_NODE={node}: the engine of {name} lacks the label {SWARM_NODE_LABEL}=yes, so no lab would "
            "go there: " + fix
        )
    # Engines from Docker 24 say it among their security options; older ones only by the label.
    if int(str(info.get("ServerVersion", "0")).split(".")[0]) >= 24 and NO_NEW_PRIVILEGES not in (
        info.get("SecurityOptions") or []
    ):
        raise LabError(
            f"SWARM_NODE={node}: the engine of {name} lets containers gain privileges (no no-new-privileges), "
            "and a Swarm service cannot forbid it: " + fix
        )
    joined = info.get("Swarm") or {}
    if joined.get("LocalNodeState") == "active":
        if joined.get("NodeID") in run_cli(cli, "node", "ls", "--quiet").split():
            return [f"{name} is a node of this swarm already"]
        raise LabError(f"SWARM_NODE={node}: {name} is a node of another swarm: run `docker swarm leave` there first")
    hostnames = run_cli(cli, "node", "ls", "--format", "{{.Hostname}}").split()
    if name in hostnames:
        raise LabError(
            f"SWARM_NODE={node}: the swarm has a node named {name} already (pinned homes and GPUs are told by "
            f"node name): remove the old one with `docker node rm {name}` when it is gone, or rename this server"
        )
    token = run_cli(cli, "swarm", "join-token", "--quiet", "worker").strip()
    run_cli(cli, "--host", node, "swarm", "join", "--token", token, f"{swarm['NodeAddr']}:{SWARM_PORT}")
    gpus = swarm_gpus(info.get("GenericResources")) or ["none"]
    return [
        f"{name} joined the swarm as a node for labs (GPUs: {', '.join(gpus)}).",
        *homes_instructions(settings, "Homes: "),
    ]


def join_instructions(cli: str, settings: HubSettings) -> list[str]:
    """What a new server runs to become a node of this swarm that takes labs."""
    swarm = check_manager(cli)
    token = run_cli(cli, "swarm", "join-token", "--quiet", "worker").strip()
    manager = f"{swarm['NodeAddr']}:{SWARM_PORT}"
    daemon = {"no-new-privileges": True, "labels": [f"{SWARM_NODE_LABEL}=yes"]}
    gpus = {
        **daemon,
        "default-runtime": "nvidia",
        "node-generic-resources": [f"{SWARM_GPU_KIND}=GPU-<uuid of each GPU: nvidia-smi -L>"],
    }
    registry = settings.swarm_registry or "the REGISTRY of `make push`"
    return [
        "On the new server, as root, with Debian's docker.io (or Docker Engine) installed:",
        "",
        "1. /etc/docker/daemon.json: no process of a lab gains privileges (a Swarm service cannot ask for",
        "   it, so the engine sets it for every container), and the label that lets labs come here:",
        "",
        f"       {json.dumps(daemon)}",
        "",
        "   A server with GPUs also declares them, and runs every container with NVIDIA's runtime (a",
        "   service cannot choose one): NVIDIA Container Toolkit installed (`nvidia-ctk runtime configure",
        '   --runtime=docker --set-as-default`), swarm-resource = "DOCKER_RESOURCE_GPU" in',
        "   /etc/nvidia-container-runtime/config.toml, and:",
        "",
        f"       {json.dumps(gpus)}",
        "",
        "   then: systemctl restart docker",
        "",
        "2. Join the swarm: on the server,",
        "",
        f"       docker swarm join --token {token} {manager}",
        "",
        "   or from here, which first checks step 1 on its engine:",
        "",
        "       make swarm-join SWARM_NODE=ssh://root@<the server>",
        "",
        f"3. The server must reach {registry} (HTTPS; or list it in daemon.json's",
        '   "insecure-registries" on a network of your own): the nodes pull the labs by digest, with the',
        "   hub's credentials.",
        "",
        *homes_instructions(settings, "4. Homes: "),
    ]


def homes_instructions(settings: HubSettings, lead: str) -> list[str]:
    """Where the users' homes live on the nodes, its first line after `lead`."""
    if settings.swarm_homes == "pinned":
        return [
            f"{lead}no shared storage (SWARM_HOMES=pinned): a user's home is the Docker volume "
            + HOME_VOLUME.format(user="<user>", uid="<uid>"),
            "   on the node of their first lab, and their labs run only there (`make hub-status` says where).",
            f"   Back up the node's volumes (docker volume ls --filter label={USER_LABEL}).",
        ]
    return [
        f"{lead}HUB_HOMES mounted at the same path as here, on shared storage (NFS), with the same owners:",
        f"   {settings.homes}",
    ]
