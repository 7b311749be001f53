"""What the host, the images, the hub and the tests must agree on, each written once: ports, paths
in the container, the notebook user's ids, the labs' isolation, container labels, authenticators
and the team server's image choices. Standard library only: the hub's image imports it too.
"""

from __future__ import annotations

from typing import Any

# Ports inside the containers. The host side of each is a setting (PYPORT, HUB_PORT, ...).
JUPYTER_PORT = 8888
DTALE_PORT = 40000  # pylab's D-Tale, behind Jupyter at /proxy/40000/
TENSORBOARD_PORT = 6006  # pylab's TensorBoard, behind Jupyter at /proxy/6006/
HUB_PROXY_PORT = 8000  # the team server's public port: configurable-http-proxy
HUB_API_PORT = 8081  # the hub's own API, for its labs and services on its network
# The ports of pyrlab-proxies' servers in their containers (`serve` listens where it is told).
APT_CACHE_PORT = 3142  # apt-cacher-ng
DEVPI_PORT = 3141  # devpi-server
REGISTRY_PORT = 5000  # Debian's docker-registry

# The notebook user of the images (docker-stacks' jovyan) and its folders.
NOTEBOOK_USER = "jovyan"
NOTEBOOK_UID = 1000
NOTEBOOK_GROUP_ID = 100  # group `users`: owns the virtual environment and the home
HOME = f"/home/{NOTEBOOK_USER}"
WORK = f"{HOME}/work"  # the notebooks: NOTEBOOKS on the host, a user's home on the team server
SHARED = f"{HOME}/shared"  # HUB_SHARED, read-only

# A lab runs as its user from the first process, with no capability and no way to gain one.
LAB_CAP_DROP = ("ALL",)
LAB_SECURITY_OPT = ("no-new-privileges",)
# The hub runs as root for the Docker socket, with only what it needs to give homes to users' uids.
HUB_CAP_ADD = ("CHOWN", "DAC_OVERRIDE")

# A token or password file the labs read: at most this many bytes.
SECRET_MAX_BYTES = 4096

# Paths inside the hub's container: its state (HUB_DATA, root's alone), the admin's DOCKER folder
# (read-only: ssl/, hub/oauth.json), the host's accounts (read-only: no user gets a host's uid)
# and the hub's own code.
HUB_STATE = "/srv/jupyterhub"
HUB_DATABASE = f"{HUB_STATE}/jupyterhub.sqlite"
HUB_ACCOUNTS = f"{HUB_STATE}/accounts.json"  # every account's uid, and whether it was deleted
HUB_CONFIG = "/srv/pyrlab-config"
HUB_HOST_PASSWD = "/srv/host/passwd"  # noqa: S105 - a path, not a password
HUB_CODE = "/etc/jupyterhub"

# Labels on the team server's containers: which hub, which user, which GPUs.
HUB_LABEL = "pyrlab.hub"
USER_LABEL = "pyrlab.hub.user"
GPU_LABEL = "pyrlab.hub.gpus"
# HUB_ENGINE=swarm: labs go only to nodes whose engine has this label, which `make swarm-join`'s
# daemon.json sets beside no-new-privileges (a Swarm service cannot ask for it); a node's GPUs are
# its generic resources of this kind (NVIDIA's runtime reads them from DOCKER_RESOURCE_GPU).
SWARM_NODE_LABEL = "pyrlab.lab-node"
SWARM_GPU_KIND = "gpu"
# HUB_ENGINE=swarm: the registry credentials the hub hands to Swarm for the nodes' pulls.
HUB_DOCKER_CONFIG = f"{HUB_STATE}/docker"
# SWARM_HOMES: shared (HUB_HOMES the same folder on every node) or pinned (each home a Docker
# volume on one node, the node of the user's first lab, recorded by uid in SWARM_PINS).
SWARM_HOMES = ("shared", "pinned")
SWARM_PINS = f"{HUB_STATE}/swarm-pins.json"
HOME_VOLUME = "pyrlab-home-{user}-{uid}"  # by uid too: a new account of a deleted one's name gets its own
# The folder in HUB_HOMES where the homes of deleted accounts are kept aside.
KEPT_ASIDE = ".deleted"

# HUB_AUTH: JupyterHub's authenticator for each value.
AUTHENTICATORS = {
    "native": "pyrlab_hub.PyrlabNativeAuthenticator",
    "github": "github",
    "gitlab": "gitlab",
    "generic": "generic-oauth",
}


class ImageChoicesError(ValueError):
    """HUB_IMAGES is not `name=image,...`; the message says what is wrong and how to write it."""


def image_choices(text: str) -> dict[str, str]:
    """HUB_IMAGES, `name=reference,...`: what the team server's users may choose, the first the
    default, in order."""
    choices: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, equals, reference = (piece.strip() for piece in item.partition("="))
        if not equals or not name or not reference:
            raise ImageChoicesError(
                f"HUB_IMAGES={text}: {item!r} is not name=image; write e.g. HUB_IMAGES=pylab=pylab:latest,rlab=rlab"
            )
        choices[name] = reference
    if not choices:
        raise ImageChoicesError(f"HUB_IMAGES={text!r} names no image; write e.g. HUB_IMAGES=pylab=pylab:latest")
    return choices


def swarm_gpus(resources: list[dict[str, Any]] | None) -> list[str]:
    """The GPU ids (kind SWARM_GPU_KIND) among a Swarm node's generic resources."""
    return [
        resource["NamedResourceSpec"]["Value"]
        for resource in resources or []
        if resource.get("NamedResourceSpec", {}).get("Kind") == SWARM_GPU_KIND
    ]


def task_gpus(task: dict[str, Any]) -> list[str]:
    """The GPU ids Swarm gave a task (the field's name differs between engines)."""
    return swarm_gpus(task.get("AssignedGenericResources") or task.get("GenericResources"))
