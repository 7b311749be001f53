"""`make hub`, `make hub-stop` and `make hub-user`: start and stop the team server, and add its users.

The hub is a container of pyrlab-hub with the Docker socket, on a private Docker network of its
own with its users' labs, and only its proxy's port published. Its settings come from the
environment make exports (HUB_*); each is checked here before anything starts.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from pyrlab.engine import bind_mount, container_state, succeeds
from pyrlab.engine import run as run_cli
from pyrlab.inside.contract import (
    HUB_CAP_ADD,
    HUB_CODE,
    HUB_CONFIG,
    HUB_DOCKER_CONFIG,
    HUB_HOST_PASSWD,
    HUB_LABEL,
    HUB_PROXY_PORT,
    HUB_STATE,
    LAB_CAP_DROP,
    LAB_SECURITY_OPT,
    image_choices,
)
from pyrlab.labs.errors import LabError
from pyrlab.labs.ports import NO_ANSWER, answer_status, is_loopback
from pyrlab.labs.private import caller_ids, check_private, prepare_config_dir
from pyrlab.settings import HubSettings
from pyrlab.team import swarm

DOCKER_SOCKET = "/var/run/docker.sock"
HUB_USERS = f"{HUB_CODE}/hub_users.py"


def image_references(settings: HubSettings) -> list[str]:
    return list(image_choices(settings.images).values())


def docker_run_args(settings: HubSettings, image: str, lab_images: str) -> list[str]:
    """The hub's container; lab_images: HUB_IMAGES as the labs' engine pulls them."""
    environment = {
        "HUB_CONTAINER": settings.name, "HUB_NETWORK": settings.name, "HUB_HOMES": str(settings.homes),
        "HUB_SHARED": settings.shared, "HUB_ADMIN": settings.admin, "HUB_IMAGES": lab_images,
        "HUB_ENGINE": settings.engine, "SWARM_HOMES": settings.swarm_homes,
        "HUB_MEM_LIMIT": settings.mem_limit, "HUB_CPU_LIMIT": settings.cpu_limit,
        "HUB_IDLE_TIMEOUT": str(settings.idle_timeout), "HUB_UID_BASE": str(settings.uid_base),
        "GPU_POOL": settings.gpu_pool, "GPUS_PER_USER": str(settings.gpus_per_user), "HUB_AUTH": settings.auth,
    }  # fmt: skip
    args = [
        "run", "--detach", "--name", settings.name, "--network", settings.name,
        "--label", f"{HUB_LABEL}={settings.name}", "--restart", "unless-stopped",
        "--publish", f"{settings.bind}:{settings.port}:{HUB_PROXY_PORT}",
        # The hub creates and removes its users' containers: it needs the engine's socket.
        "--mount", bind_mount(Path(DOCKER_SOCKET), DOCKER_SOCKET),
        "--mount", bind_mount(settings.data, HUB_STATE),
        # The homes at the same path inside: the hub makes them, and names them to the engine.
        "--mount", bind_mount(settings.homes, str(settings.homes)),
        "--mount", bind_mount(settings.config, HUB_CONFIG) + ",readonly",
        # The host's accounts: the hub gives no user a uid the host has given.
        "--mount", bind_mount(Path("/etc/passwd"), HUB_HOST_PASSWD) + ",readonly",
    ]  # fmt: skip
    # Root in the hub's container only for what it does: give each home its owner (CHOWN) and
    # write HUB_DATA and HUB_HOMES, which are yours (DAC_OVERRIDE); nothing else, no way to gain more.
    args += [word for cap in LAB_CAP_DROP for word in ("--cap-drop", cap)]
    args += [word for cap in HUB_CAP_ADD for word in ("--cap-add", cap)]
    args += [word for option in LAB_SECURITY_OPT for word in ("--security-opt", option)]
    if settings.on_swarm:  # the credentials of the nodes' pulls (pyrlab.team.swarm)
        environment["DOCKER_CONFIG"] = HUB_DOCKER_CONFIG
    for variable, value in environment.items():
        args += ["--env", f"{variable}={value}"]
    return [*args, image]


def wait_until_answering(cli: str, settings: HubSettings, timeout: float = 90.0) -> None:
    health = settings.url + "health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if answer_status(health, {}, timeout=2) == 200:
                return
        except NO_ANSWER:
            pass  # not listening yet
        if container_state(cli, settings.name) != "running":
            break
        time.sleep(0.3)
    raise LabError(f"the team server did not answer at {health}: see `make hub-logs`")


def start(cli: str, image: str) -> str:
    """Start the hub; return what to tell the admin."""
    settings = HubSettings.from_environment()
    # On a swarm the nodes pull the labs' images from the registry; this engine runs the hub alone.
    lab_images = settings.images
    if settings.on_swarm:
        swarm.check_manager(cli)
        lab_images = swarm.lab_images(settings)
    for reference in [image] if settings.on_swarm else [image, *image_references(settings)]:
        if succeeds(cli, "image", "inspect", reference) is False:
            raise LabError(f"image {reference} does not exist: run `make build` (and check HUB_IMAGES)")
    prepare_config_dir(settings.config, caller_ids())
    if settings.auth != "native":
        oauth = settings.config / "hub" / "oauth.json"
        if not oauth.is_file():
            raise LabError(
                f"HUB_AUTH={settings.auth} needs {oauth}: a JSON file with client_id, client_secret, callback_url "
                "and allowed_users (see docs/team-server.md); or HUB_AUTH=native"
            )
        check_private(oauth, oauth.stat(), os.geteuid())
        if oauth.stat().st_mode & 0o044:
            raise LabError(f"{oauth} holds a client secret: `chmod 600 {oauth}`")
    state = container_state(cli, settings.name)
    if state == "running":
        running_image = run_cli(cli, "container", "inspect", "--format", "{{.Image}}", settings.name).strip()
        if running_image == run_cli(cli, "image", "inspect", "--format", "{{.Id}}", image).strip():
            raise LabError(f"{settings.name} is already running at {settings.url}: `make hub-stop` stops it")
        # An upgrade: a new pyrlab-hub replaces the hub alone; the users' labs keep running, and the
        # new hub finds them (and its users) in HUB_DATA.
        print(f"upgrading {settings.name} to the new {image}; the users' labs keep running", file=sys.stderr)
        run_cli(cli, "rm", "--force", settings.name)
    elif state is not None:
        run_cli(cli, "rm", settings.name)
    for path, mode in ((settings.data, 0o700), (settings.homes, 0o755)):
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    settings.data.chmod(0o700)  # the hub's database and secrets: root's and yours alone
    if settings.on_swarm:
        swarm.write_registry_credentials(settings, lab_images)
    if succeeds(cli, "network", "inspect", settings.name) is False:
        # On a swarm, a network that spans the nodes, which the hub's container joins too.
        driver = ["--driver", "overlay", "--attachable"] if settings.on_swarm else []
        run_cli(cli, "network", "create", *driver, "--label", f"{HUB_LABEL}={settings.name}", settings.name)
    run_cli(cli, *docker_run_args(settings, image, lab_images))
    wait_until_answering(cli, settings)
    lines = [f"the team server is running. Open:\n\n    {settings.url}\n"]
    if settings.auth == "native":
        # The admin's account is made now, so that nobody can sign up under the admin's name first.
        password = run_cli(cli, "exec", settings.name, "python", HUB_USERS, "--if-new", settings.admin).strip()
        if password:
            lines.append(
                f"{settings.admin} logs in with this password (shown once; change it at /hub/change-password):"
            )
            lines.append(f"\n    {password}\n")
        lines.append(f"{settings.admin} authorizes those who sign up at {settings.url}signup, at /hub/authorize;")
    lines.append("or add a user with a password: make hub-user NAME=alice")
    if is_loopback(settings.bind) or settings.https:
        lines.append(
            f"From a laptop: ssh -L {settings.port}:127.0.0.1:{settings.port} this-server, then open the URL there."
        )
    if not is_loopback(settings.bind) and not settings.https:
        print(
            f"WARNING: HUB_BIND={settings.bind} without HTTPS: passwords cross the network in clear; "
            "keep HUB_BIND=127.0.0.1 and use ssh -L",
            file=sys.stderr,
        )
    return "\n".join(lines)


def stop(cli: str) -> list[str]:
    """Stop the hub and its users' labs (their homes and the hub's data stay); return what stopped."""
    settings = HubSettings.from_environment()
    services = swarm.remove_labs(cli, settings) if settings.on_swarm else []
    names = run_cli(cli, "ps", "--all", "--filter", f"label={HUB_LABEL}={settings.name}", "--format", "{{.Names}}")
    containers = [name for name in names.split() if name]
    if containers:
        run_cli(cli, "rm", "--force", *containers)
    if succeeds(cli, "network", "inspect", settings.name):
        run_cli(cli, "network", "rm", settings.name)
    return services + containers


def add_user(cli: str, name: str) -> str:
    """A new random password for NAME, who is authorized from now on."""
    settings = HubSettings.from_environment()
    if container_state(cli, settings.name) != "running":
        raise LabError(f"the team server {settings.name} is not running: `make hub` first")
    return run_cli(cli, "exec", settings.name, "python", HUB_USERS, name).strip()
