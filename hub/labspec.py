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


def lab_spec(*, user: str, uid: int, home: Path, shared: str, hub_name: str, gpus: list[str]) -> LabSpec:
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


def service_spec(spec: LabSpec) -> ServiceSpec:
    """The same lab as a Swarm service (HUB_ENGINE=swarm): the user's uid from the first process,
    no capability, group users, no probe. A service cannot ask for no-new-privileges: it goes only to
    nodes whose engine sets it for every container, which their label SWARM_NODE_LABEL says."""
    return ServiceSpec(
        container={
            "user": spec.create["user"],
            "labels": spec.create["labels"],
            "healthcheck": {"Test": spec.create["healthcheck"]["test"]},
            "cap_drop": spec.host["cap_drop"],
            "groups": spec.host["group_add"],
        },
        placement={"constraints": [f"engine.labels.{SWARM_NODE_LABEL} == yes"]},
        labels=spec.create["labels"],
    )
