"""pyrlab's spawner for JupyterHub: each user's lab a container of an image pyrlab built, isolated
as `make pylab` runs a lab, with a home folder of the user's own on the host and, for a CUDA
image, GPUs that no other server holds. Runs inside the hub's container.
"""

from __future__ import annotations

import asyncio
import html
import os
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

import bcrypt
from docker.errors import APIError, NotFound
from docker.types import DeviceRequest
from dockerspawner import DockerSpawner
from jupyterhub import orm
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.orm import UserInfo
from sqlalchemy import event
from tornado import web
from traitlets import Integer, List, Unicode

import gpus
from accounts import Accounts
from labspec import lab_spec
from pyrlab.inside.contract import GPU_LABEL, HUB_HOST_PASSWD, HUB_LABEL, HUB_STATE, USER_LABEL

# Engine calls (create, start, inspect) the hub makes side by side, for users who start at once.
ENGINE_THREADS = 8
# What the spawn page says of an image, from its label (each pyrlab image's Dockerfile sets it).
DESCRIPTION_LABEL = "org.opencontainers.image.description"


def wants_gpus(choice: str) -> bool:
    """An image whose name in HUB_IMAGES says cuda (pylab's CUDA build) gets GPUs of the pool."""
    return "cuda" in choice.lower()


def refuse_renaming(_user: Any, new: Any, old: Any, _initiator: Any) -> None:
    """A user's name is their login (NativeAuthenticator keeps the password under it), their home
    and their uid's record: renaming would split them. The admin page and the API both get this."""
    if isinstance(old, str) and new != old:
        raise web.HTTPError(
            400,
            f"renaming {old} to {new} is not supported by this team server: their login, home and uid "
            f"stay with the name. Add {new} as a new user and move the files from {old}'s home, then delete {old}",
        )


event.listen(orm.User.name, "set", refuse_renaming)


# A password checked in a thread before NativeAuthenticator's own login runs: (stored hash, password
# given, whether they match). bcrypt's cost would otherwise stop the hub for every user at each login.
checked_password: ContextVar[tuple[bytes, str, bool] | None] = ContextVar("checked_password", default=None)
hash_matches = UserInfo.is_valid_password


def is_valid_password(info: Any, password: str) -> bool:
    """NativeAuthenticator's check, answered from the thread's result when it was for this hash."""
    checked = checked_password.get()
    if checked is not None and checked[0] == info.password and checked[1] == password:
        return checked[2]
    return bool(hash_matches(info, password))


UserInfo.is_valid_password = is_valid_password


class PyrlabNativeAuthenticator(NativeAuthenticator):  # type: ignore[misc]
    """NativeAuthenticator that reads a user's record afresh at each login (`make hub-user` sets a
    password from another process, which the hub's database session would otherwise not see), and
    checks the password off the hub's event loop."""

    password_checks: ClassVar[ThreadPoolExecutor] = ThreadPoolExecutor(os.cpu_count() or 1)

    async def authenticate(self, handler: Any, data: dict[str, Any]) -> Any:
        info = self.get_user(str(data.get("username", "")))
        password = data.get("password")
        if info is None or not isinstance(password, str) or not info.password:
            return await super().authenticate(handler, data)
        if self.allowed_failed_logins and self.is_blocked(info.username):
            return await super().authenticate(handler, data)  # refused without a check
        matches = await asyncio.get_running_loop().run_in_executor(
            self.password_checks, bcrypt.checkpw, password.encode(), info.password
        )
        token = checked_password.set((info.password, password, matches))
        try:
            return await super().authenticate(handler, data)
        finally:
            checked_password.reset(token)

    def get_user(self, username: str) -> Any:
        user = super().get_user(username)
        if user is not None:
            self.db.refresh(user)
        return user

    def delete_user(self, user: Any) -> Any:
        """A user whose server runs or starts cannot be deleted yet (JupyterHub would keep the
        account and its home, and a new sign-up of the name would get them): say so, delete nothing."""
        if any(spawner.active for spawner in user.spawners.values()):
            raise web.HTTPError(400, f"stop {user.name}'s server first, then delete {user.name}")
        return super().delete_user(user)


class PyrlabSpawner(DockerSpawner):  # type: ignore[misc]
    """DockerSpawner with pyrlab's isolation, per-user homes and host uids, and a GPU pool."""

    # The team server's settings, set in jupyterhub_config.py from what `make hub` passes.
    homes = Unicode(help="HUB_HOMES: the host folder of the users' homes, at the same path in the hub").tag(config=True)
    shared = Unicode(help="HUB_SHARED: a host folder every lab reads at ~/shared (empty: none)").tag(config=True)
    uid_base = Integer(help="HUB_UID_BASE: the first host uid of the users' homes").tag(config=True)
    gpu_pool = List(Unicode(), help="GPU_POOL: GPU ids the CUDA image's users share").tag(config=True)
    gpus_per_user = Integer(help="GPUS_PER_USER: GPUs each user of the CUDA image gets").tag(config=True)
    hub_name = Unicode(help="the hub's container, which its labs' labels name").tag(config=True)

    # GPUs are chosen one spawn at a time, and those of a lab still starting count as held.
    gpu_lock: ClassVar[asyncio.Lock] = asyncio.Lock()
    gpus_starting: ClassVar[dict[str, list[str]]] = {}
    # DockerSpawner sends every engine call of every user through one thread: users starting at
    # once waited for each other's `docker start`. The engine takes them side by side.
    engine_calls: ClassVar[ThreadPoolExecutor] = ThreadPoolExecutor(ENGINE_THREADS)

    @property
    def executor(self) -> ThreadPoolExecutor:
        return self.engine_calls

    @property
    def accounts(self) -> Accounts:
        return Accounts(Path(HUB_STATE), Path(self.homes), self.uid_base, Path(HUB_HOST_PASSWD))

    @property
    def account_created(self) -> str:
        return str(self.user.orm_user.created.isoformat())

    @property
    def host_uid(self) -> int:
        """The account's own uid on the host, given once and never to another account."""
        return self.accounts.uid_for(self.user.name, self.account_created)

    def prepare_home(self, uid: int) -> Path:
        home, kept = self.accounts.prepare_home(self.user.name, uid)
        if kept:
            self.log.warning("a home of an earlier account named %s was put aside in %s", self.user.name, kept)
        return home

    def delete_forever(self) -> None:
        """The admin deleted the user: the home goes aside (`make hub-status` says where), never to a
        new account of the same name."""
        kept = self.accounts.delete(self.user.name, self.account_created)
        if kept:
            self.log.warning(
                "%s was deleted; their home is kept in %s on the host: move it back to restore it, or remove it",
                self.user.name,
                kept,
            )

    async def held_gpus(self) -> dict[str, str]:
        """GPU id -> user: this hub's user containers that exist (running or being started) by their
        labels, and the spawns that have been given GPUs but have no container yet."""
        existing = await self.docker(
            "containers", all=True, filters={"label": [f"{HUB_LABEL}={self.hub_name}", GPU_LABEL]}
        )
        labels = {
            item["Labels"][USER_LABEL]: item["Labels"][GPU_LABEL]
            for item in existing
            if item["State"] not in ("exited", "dead")
        }
        labels.update({user: ",".join(chosen) for user, chosen in self.gpus_starting.items()})
        return gpus.holders(labels)

    async def choose_image(self) -> tuple[str, str]:
        """The choice (a name of HUB_IMAGES) and its reference: the one asked for, or the first when
        none is (an empty spawn, a form without it, the admin page's start). Anything else is 400."""
        choice = self.user_options.get("image") or ""
        allowed = self._get_allowed_images()
        if not isinstance(choice, str):
            raise web.HTTPError(400, f"image must be one name of: {', '.join(allowed)}")
        choice = choice or next(iter(allowed))
        return choice, await self.check_allowed(choice)

    async def free_gpus_text(self) -> str:
        held = await self.held_gpus()
        free = [gpu for gpu in self.gpu_pool if gpu not in held]
        return f"GPUs free now: {len(free)} of {len(self.gpu_pool)}"

    async def describe(self, reference: str) -> str:
        """An image's description label; its reference where this engine does not have it (on a
        swarm, the nodes pull the labs' images, the manager need not)."""
        try:
            image = await self.docker("inspect_image", reference)
        except NotFound:
            return reference
        labels = image.get("Config", {}).get("Labels") or {}
        return str(labels.get(DESCRIPTION_LABEL, reference))

    async def get_options_form(self) -> str:
        """The spawn page: each choice with what it holds, and for a CUDA image the GPUs free now."""
        allowed = self._get_allowed_images()
        if len(allowed) <= 1:
            return ""
        rows = []
        for index, (choice, reference) in enumerate(allowed.items()):
            about = await self.describe(reference)
            if wants_gpus(choice):
                about += f". {await self.free_gpus_text()}"
            checked = "checked" if index == 0 else ""
            rows.append(
                f'<div class="radio"><label><input type="radio" name="image" value="{html.escape(choice)}" {checked}> '
                f"<strong>{html.escape(choice)}</strong>: {html.escape(about)}</label></div>"
            )
        return "<p>Choose what your lab runs:</p>" + "".join(rows)

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
        choice, self.image = await self.choose_image()  # anything but the built images is refused, with the list
        uid = self.host_uid
        home = self.prepare_home(uid)
        chosen: list[str] = []
        if wants_gpus(choice):
            async with self.gpu_lock:
                try:
                    chosen = gpus.allocate(self.gpu_pool, self.gpus_per_user, await self.held_gpus(), self.user.name)
                except gpus.NoFreeGpu as error:
                    raise web.HTTPError(409, str(error)) from None
                self.gpus_starting[self.user.name] = chosen
            self.log.info("%s gets GPU %s", self.user.name, ",".join(chosen))
        user, shared, hub_name = self.user.name, self.shared, self.hub_name
        spec = lab_spec(user=user, uid=uid, home=home, shared=shared, hub_name=hub_name, gpus=chosen)
        self.volumes = spec.volumes
        self.environment.update(spec.environment)
        self.extra_create_kwargs = spec.create
        self.extra_host_config = dict(spec.host)
        if not chosen:
            return await self.listening(await super().start())
        self.extra_host_config["device_requests"] = [DeviceRequest(device_ids=chosen, capabilities=[["gpu"]])]
        try:
            return await self.listening(await super().start())
        except APIError as error:
            # The engine refuses GPUs it cannot give (no NVIDIA Container Toolkit, a wrong id): say
            # which GPUs were asked for, as the engine recorded them, and why it refused.
            container = await self.get_object()
            recorded = (container or {}).get("HostConfig", {}).get("DeviceRequests")
            asked = recorded or self.extra_host_config["device_requests"]
            ids = ",".join(
                id_ for request in asked for id_ in (request.get("DeviceIDs") or request.get("device_ids") or [])
            )
            raise web.HTTPError(
                503,
                f"your lab was given GPU {ids} of GPU_POOL, but the Docker engine could not start it with them: "
                f"{error.explanation or error}. Ask the admin (is the NVIDIA Container Toolkit installed?)",
            ) from None
        finally:
            # Created by now (and labelled with its GPUs), or failed: either way no longer pending.
            self.gpus_starting.pop(self.user.name, None)
