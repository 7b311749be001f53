"""pyrlab's spawner for JupyterHub: each user's lab a container of an image pyrlab built, isolated
as `make pylab` runs a lab, with a home folder of the user's own on the host and, for a CUDA
image, GPUs that no other running server holds. Runs inside the hub's container.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from docker.errors import APIError
from docker.types import DeviceRequest
from dockerspawner import DockerSpawner
from tornado import web

import gpus

HOMES = Path(os.environ.get("HUB_HOMES", "/srv/homes"))
SHARED = os.environ.get("HUB_SHARED", "")
UID_BASE = int(os.environ.get("HUB_UID_BASE", "20000"))
GPU_POOL = gpus.parse_pool(os.environ.get("GPU_POOL", ""))
GPUS_PER_USER = int(os.environ.get("GPUS_PER_USER", "1"))
HUB_NAME = os.environ.get("HUB_CONTAINER", "pyrlab-hub")
USER_LABEL = "pyrlab.hub.user"
HUB_LABEL = "pyrlab.hub"
WORK = "/home/jovyan/work"
# As for `make pylab`: what the root stage of start.sh needs, nothing more, and no new privileges.
CAPABILITIES = ["CHOWN", "DAC_READ_SEARCH", "SETUID", "SETGID", "KILL"]


def wants_gpus(choice: str) -> bool:
    """An image whose name in HUB_IMAGES says cuda (pylab's CUDA build) gets GPUs of the pool."""
    return "cuda" in choice.lower()


class PyrlabSpawner(DockerSpawner):  # type: ignore[misc]
    """DockerSpawner with pyrlab's isolation, per-user homes and host uids, and a GPU pool."""

    @property
    def host_uid(self) -> int:
        """The user's own uid on the host, distinct per user: their files are theirs alone."""
        return UID_BASE + int(self.user.id)

    def prepare_home(self) -> Path:
        home = HOMES / str(self.user.name)
        if not home.exists():
            home.mkdir(mode=0o700)
            os.chown(home, self.host_uid, self.host_uid)
        return home

    async def held_gpus(self) -> dict[str, str]:
        """GPU id -> user, from the labels of this hub's running user containers."""
        running = await self.docker("containers", filters={"label": [f"{HUB_LABEL}={HUB_NAME}", gpus.GPU_LABEL]})
        return gpus.holders({item["Labels"][USER_LABEL]: item["Labels"][gpus.GPU_LABEL] for item in running})

    async def listening(self, started: Any) -> Any:
        """Return once the lab's server accepts connections. JupyterHub's own check then answers at
        once; alone, it backs off (0.2 s, 0.4 s, 0.8 s, ...) and sees a lab up at 0.7 s only at 1.4 s."""
        if not (isinstance(started, tuple) and len(started) == 2):
            return started
        host, port = started
        deadline = asyncio.get_running_loop().time() + float(self.http_timeout)
        while asyncio.get_running_loop().time() < deadline:
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break
        return started  # not listening by the deadline: JupyterHub's own check reports it

    async def start(self) -> Any:
        choice = self.user_options.get("image") or next(iter(self._get_allowed_images()), "")
        await self.check_allowed(choice)  # anything but the built images is refused, with the list
        home = self.prepare_home()
        self.volumes = {str(home): {"bind": WORK, "mode": "rw"}}
        if SHARED:
            self.volumes[SHARED] = {"bind": "/home/jovyan/shared", "mode": "ro"}
        self.environment.update({"NB_UID": str(self.host_uid), "NB_GID": str(self.host_uid)})
        labels = {HUB_LABEL: HUB_NAME, USER_LABEL: self.user.name}
        host_config: dict[str, Any] = {
            "cap_drop": ["ALL"],
            "cap_add": CAPABILITIES,
            "security_opt": ["no-new-privileges"],
        }
        if wants_gpus(choice):
            try:
                chosen = gpus.allocate(GPU_POOL, GPUS_PER_USER, await self.held_gpus(), self.user.name)
            except gpus.NoFreeGpu as error:
                raise web.HTTPError(409, str(error)) from None
            host_config["device_requests"] = [DeviceRequest(device_ids=chosen, capabilities=[["gpu"]])]
            labels[gpus.GPU_LABEL] = ",".join(chosen)
            self.log.info("%s gets GPU %s", self.user.name, ",".join(chosen))
        # Root only for start.sh's root stage, which gives the notebook user the host uid and drops.
        self.extra_create_kwargs = {"user": "root", "labels": labels}
        self.extra_host_config = host_config
        if gpus.GPU_LABEL not in labels:
            return await self.listening(await super().start())
        try:
            return await self.listening(await super().start())
        except APIError as error:
            # The engine refuses GPUs it cannot give (no NVIDIA Container Toolkit, a wrong id): say
            # which GPUs were asked for, as the engine recorded them, and why it refused.
            container = await self.get_object()
            asked = container["HostConfig"]["DeviceRequests"] if container else host_config["device_requests"]
            ids = ",".join(
                id_ for request in asked for id_ in (request.get("DeviceIDs") or request.get("device_ids") or [])
            )
            raise web.HTTPError(
                503,
                f"your lab was given GPU {ids} of GPU_POOL, but the Docker engine could not start it with them: "
                f"{error.explanation or error}. Ask the admin (is the NVIDIA Container Toolkit installed?)",
            ) from None
