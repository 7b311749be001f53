"""What the team server asks of the engine for a user's lab: the same isolation as `make pylab`,
the user's home, labels and GPUs. Standard library only: the unit tests build it without
JupyterHub or a container.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyrlab.inside.contract import (
    GPU_LABEL,
    HOME,
    HOME_VOLUME,
    HUB_LABEL,
    LAB_CAP_DROP,
    LAB_SECURITY_OPT,
    NOTEBOOK_GROUP_ID,
    SHARED,
    SWARM_NODE_LABEL,
    USER_LABEL,
    WORK,
)


@dataclass(frozen=True)
class LabSpec:
    """DockerSpawner's volumes, environment, extra_create_kwargs and extra_host_config."""

    volumes: dict[str, dict[str, str]]
    environment: dict[str, str]
    create: dict[str, Any]
    host: dict[str, Any]


def home_volume(user: str, uid: int) -> str:
    """SWARM_HOMES=pinned: the Docker volume of an account's home on its node."""
    return HOME_VOLUME.format(user=user, uid=uid)


def lab_spec(*, user: str, uid: int, home: Path | str, shared: str, hub_name: str, gpus: list[str]) -> LabSpec:
    """home: a host folder, or the name of a Docker volume (SWARM_HOMES=pinned)."""
    volumes = {str(home): {"bind": WORK, "mode": "rw"}}
    if shared:
        volumes[shared] = {"bind": SHARED, "mode": "ro"}
    labels = {HUB_LABEL: hub_name, USER_LABEL: user}
    if gpus:
        labels[GPU_LABEL] = ",".join(gpus)
    return LabSpec(
        volumes=volumes,
        environment={"HOME": HOME},  # for `docker exec` too: the uid has no passwd entry
        # The user's own uid from the first process. The hub watches its labs itself: Docker's
        # probe would start a process in each every few seconds.
        create={"user": f"{uid}:{uid}", "labels": labels, "healthcheck": {"test": ["NONE"]}},
        # As for `make pylab`: no capability, no way to gain one; group users for the environment.
        host={
            "cap_drop": list(LAB_CAP_DROP),
            "security_opt": list(LAB_SECURITY_OPT),
            "group_add": [str(NOTEBOOK_GROUP_ID)],
        },
    )


@dataclass(frozen=True)
class ServiceSpec:
    """SwarmSpawner's extra_container_spec, extra_placement_spec and the service's labels."""

    container: dict[str, Any]
    placement: dict[str, Any]
    labels: dict[str, str]
    environment: dict[str, str]


# NVIDIA's runtime, a GPU node's default (Swarm cannot choose a runtime), gives a container the
# GPUs Swarm reserved for it (DOCKER_RESOURCE_GPU, with the runtime's swarm-resource setting), else
# those of this variable, which the CUDA image sets to all: none, then, without a reservation, or on
# a node whose runtime lacks that setting.
NO_GPU = {"NVIDIA_VISIBLE_DEVICES": "void"}


def mounts(volumes: dict[str, dict[str, str]], labels: dict[str, str]) -> list[dict[str, Any]]:
    """A service's mounts: a host folder bound, a volume's name as a volume (made on the node, with
    the lab's labels, at its first use)."""
    return [
        {"Target": bind["bind"], "Source": source, "Type": "bind", "ReadOnly": bind["mode"] == "ro"}
        if source.startswith("/")
        else {"Target": bind["bind"], "Source": source, "Type": "volume", "VolumeOptions": {"Labels": labels}}
        for source, bind in volumes.items()
    ]


def service_spec(spec: LabSpec, node_id: str = "") -> ServiceSpec:
    """The same lab as a Swarm service (HUB_ENGINE=swarm): the user's uid from the first process,
    no capability, group users, no probe. A service cannot ask for no-new-privileges: it goes only to
    nodes whose engine sets it for every container, which their label SWARM_NODE_LABEL says.
    node_id: the node the user's home is pinned to (SWARM_HOMES=pinned), the only one it may run on."""
    constraints = [f"engine.labels.{SWARM_NODE_LABEL} == yes"]
    if node_id:
        constraints.append(f"node.id == {node_id}")
    return ServiceSpec(
        container={
            "user": spec.create["user"],
            "labels": spec.create["labels"],
            "healthcheck": {"Test": spec.create["healthcheck"]["test"]},
            "cap_drop": spec.host["cap_drop"],
            "groups": spec.host["group_add"],
            "mounts": mounts(spec.volumes, spec.create["labels"]),
        },
        placement={"constraints": constraints},
        labels=spec.create["labels"],
        environment=NO_GPU,
    )


def home_owner_spec(spec: LabSpec, uid: int) -> dict[str, Any]:
    """SWARM_HOMES=pinned: the one-shot task that gives a new home volume to its user (Docker makes
    a volume root's) on the node Swarm chose, before the lab first runs there. Root with CHOWN
    alone, the volume alone mounted, the lab's image; it exits at once."""
    volume = next(source for source, bind in spec.volumes.items() if bind["bind"] == WORK)
    return {
        "command": ["sh", "-c", f"chmod 700 {WORK} && chown {uid}:{uid} {WORK}"],
        "env": [f"{name}={value}" for name, value in NO_GPU.items()],
        "user": "0:0",
        "labels": spec.create["labels"],
        "cap_drop": ["ALL"],
        "cap_add": ["CHOWN"],
        "mounts": mounts({volume: spec.volumes[volume]}, spec.create["labels"]),
    }
