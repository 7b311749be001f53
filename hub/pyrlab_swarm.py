"""pyrlab's spawner on Docker Swarm (HUB_ENGINE=swarm): each user's lab a Swarm service that Swarm
places on a node, with the isolation, uid, home and image choices of PyrlabSpawner's containers.
A CUDA image's GPUs are the nodes' generic resources, which Swarm reserves. With SWARM_HOMES=pinned
a home is a volume on the node of the user's first lab, and their labs run only there. Runs inside
the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from docker.errors import NotFound
from docker.types import ContainerSpec, Placement, Resources, RestartPolicy, TaskTemplate
from dockerspawner import SwarmSpawner
from pins import Pin, Pins
from tornado import web
from traitlets import Bool

from labspec import LabSpec, home_owner_spec, home_volume, lab_spec, service_spec
from pyrlab.inside.contract import SWARM_GPU_KIND, SWARM_NODE_LABEL, SWARM_PINS, USER_LABEL, swarm_gpus, task_gpus
from pyrlab_hub import PyrlabSpawner, wants_gpus

# Why Swarm keeps a task pending when no node can take it (its scheduler's words).
UNSCHEDULABLE = ("insufficient resources", "no suitable node")
# A task's states after which it runs no more.
ENDED = ("complete", "failed", "rejected", "shutdown", "orphaned", "remove")
# How long a spawn waits for what a lab that was just stopped had reserved (GPUs, memory, CPUs).
RELEASE_SECONDS = 30


class PyrlabSwarmSpawner(PyrlabSpawner, SwarmSpawner):  # type: ignore[misc]
    """A user's lab as a Swarm service; the rest (accounts, homes, image choices) as PyrlabSpawner."""

    pinned = Bool(help="SWARM_HOMES=pinned: each home a volume on one node, where the user's labs run").tag(config=True)
    # The node this spawn's home is pinned to (SWARM_HOMES=pinned), once start() knows it.
    pin: Pin | None = None

    @property
    def pins(self) -> Pins:
        return Pins(Path(SWARM_PINS))

    async def gpus_by_node(self) -> dict[str, dict[str, str]]:
        """Each node's GPUs (by hostname): GPU id -> the user whose lab holds it, or "" when free."""
        nodes = {node["ID"]: node for node in await self.docker("nodes")}
        owners = {
            service["ID"]: service["Spec"].get("Labels", {}).get(USER_LABEL, service["Spec"]["Name"])
            for service in await self.docker("services")
        }
        gpus: dict[str, dict[str, str]] = {}
        for node in nodes.values():
            hostname = node["Description"]["Hostname"]
            if node["Status"]["State"] == "ready" and (self.pin is None or self.pin.node_id == node["ID"]):
                held = swarm_gpus(node["Description"].get("Resources", {}).get("GenericResources"))
                gpus[hostname] = dict.fromkeys(held, "")
        for task in await self.docker("tasks", filters={"desired-state": "running"}):
            hostname = nodes.get(task.get("NodeID", ""), {}).get("Description", {}).get("Hostname")
            for gpu in task_gpus(task):
                if hostname in gpus:
                    gpus[hostname][gpu] = owners.get(task["ServiceID"], "another service")
        return gpus

    async def held_gpus(self) -> dict[str, str]:
        return {gpu: user for node in (await self.gpus_by_node()).values() for gpu, user in node.items() if user}

    async def free_gpus_text(self) -> str:
        nodes = await self.gpus_by_node()
        free = sum(1 for node in nodes.values() for user in node.values() if not user)
        return f"GPUs free now: {free} of {sum(len(node) for node in nodes.values())} on the swarm"

    def some_node_has_free_gpus(self, nodes: dict[str, dict[str, str]]) -> bool:
        return any(sum(1 for user in gpus.values() if not user) >= self.gpus_per_user for gpus in nodes.values())

    def no_free_gpus(self, nodes: dict[str, dict[str, str]]) -> web.HTTPError:
        held = "; ".join(
            f"{hostname}: " + ", ".join(f"{gpu} {'held by ' + user if user else 'free'}" for gpu, user in gpus.items())
            for hostname, gpus in sorted(nodes.items())
            if gpus
        )
        return web.HTTPError(
            409,
            f"no node has {self.gpus_per_user} free GPU{'s' if self.gpus_per_user > 1 else ''} ({held}); "
            "try again when one of them stops their server, or ask the admin",
        )

    async def start(self) -> Any:
        choice, self.image = await self.choose_image()
        uid = self.host_uid
        home = home_volume(self.user.name, uid) if self.pinned else self.prepare_home(uid)
        spec = lab_spec(user=self.user.name, uid=uid, home=home, shared=self.shared, hub_name=self.hub_name, gpus=[])
        self.extra_resources_spec = {}
        if wants_gpus(choice):
            # Swarm reserves them: of two spawns for the last free GPU, one waits in pending and is
            # refused by start_object, naming the holders.
            self.extra_resources_spec = {"generic_resources": {SWARM_GPU_KIND: self.gpus_per_user}}
        self.pin = None
        if self.pinned:
            self.pin = self.pins.of(uid)
            if self.pin is None:
                await self.refuse_without_free_gpus()
                self.pin = await self.pin_home(spec, uid)
            self.pin = await self.check_pinned_node(uid, self.pin)
        await self.refuse_without_free_gpus()
        service = service_spec(spec, self.pin.node_id if self.pin else "")
        self.volumes = spec.volumes
        self.environment.update({**spec.environment, **service.environment})
        self.extra_container_spec = service.container
        self.extra_placement_spec = service.placement
        self.extra_create_kwargs = {"labels": service.labels}
        # The hub reaches a lab at its task's own address (get_ip_and_port): no virtual IP, nor
        # IPVS on the nodes.
        self.extra_endpoint_spec = {"mode": "dnsrr"}
        # A lab that ends is stopped, as a container is: Swarm does not start it again elsewhere
        # behind the hub's back (the hub sees it stopped; the user's next spawn goes to a live node).
        self.extra_task_spec = {"restart_policy": {"Condition": "none"}}
        return await self.listening(await SwarmSpawner.start(self))

    async def refuse_without_free_gpus(self) -> None:
        if self.extra_resources_spec:
            nodes = await self.gpus_by_node()
            if self.pin and len(nodes.get(self.pin.hostname, {})) < self.gpus_per_user:
                raise web.HTTPError(
                    409,
                    f"your files are on node {self.pin.hostname} (the volume {self.pin.volume}), which has fewer "
                    f"than {self.gpus_per_user} GPU{'s' if self.gpus_per_user > 1 else ''}, and your lab runs only "
                    "there (SWARM_HOMES=pinned): choose an image without GPUs, or ask the admin to move your volume",
                )
            if not self.some_node_has_free_gpus(nodes):
                raise self.no_free_gpus(nodes)

    async def pin_home(self, spec: LabSpec, uid: int) -> Pin:
        """A new home (SWARM_HOMES=pinned): Swarm chooses a node as for the lab; a one-shot task
        there makes the volume and gives it to the user; the node is recorded as the home's."""
        name = f"{self.hub_name}-HOME-{uid}"  # upper case: no user's lab has such a name
        await self.remove_service(name)  # left by a hub stopped while it ran
        task = TaskTemplate(
            container_spec=ContainerSpec(image=self.image, **home_owner_spec(spec, uid)),
            resources=Resources(**self.extra_resources_spec),
            placement=Placement(constraints=[f"engine.labels.{SWARM_NODE_LABEL} == yes"]),
            restart_policy=RestartPolicy(condition="none"),
        )
        await self.docker("create_service", task, name=name, labels=spec.create["labels"])
        volume = home_volume(self.user.name, uid)
        try:
            done = await self.task_reaching(name, "complete", f"your home (the volume {volume}) could not be made")
        finally:
            await self.remove_service(name)
        hostname, _ = await self.node_of(done)
        pin = Pin(user=self.user.name, volume=volume, node_id=done["NodeID"], hostname=hostname)
        self.pins.record(uid, pin)
        self.log.info("%s's home is the volume %s on node %s", self.user.name, pin.volume, hostname)
        return pin

    async def check_pinned_node(self, uid: int, pin: Pin) -> Pin:
        """The pin, when its node takes labs now; else the spawn is refused, naming the node. A node
        that left the swarm and joined again (a new id, the same volumes) is the node of its name."""
        try:
            node = await self.docker("inspect_node", pin.node_id)
        except NotFound:
            same_name = [node for node in await self.docker("nodes") if node["Description"]["Hostname"] == pin.hostname]
            if len(same_name) != 1:
                node = {}
            else:
                node = same_name[0]
                pin = Pin(user=pin.user, volume=pin.volume, node_id=node["ID"], hostname=pin.hostname)
                self.pins.record(uid, pin)
                self.log.warning("%s's home %s: node %s joined the swarm again", pin.user, pin.volume, pin.hostname)
        why = "no longer in the swarm"
        if node:
            state, availability = node["Status"]["State"], node["Spec"]["Availability"]
            labels = node["Description"].get("Engine", {}).get("Labels") or {}
            if state == "ready" and availability == "active" and labels.get(SWARM_NODE_LABEL) == "yes":
                return pin
            why = state if state != "ready" else f"set to {availability} by the admin"
            if labels.get(SWARM_NODE_LABEL) != "yes":
                why = f"without the engine label {SWARM_NODE_LABEL}=yes now"
        raise web.HTTPError(
            503,
            f"your files are on node {pin.hostname} (the volume {pin.volume}), which is {why}: your lab runs "
            f"only there (SWARM_HOMES=pinned). Ask the admin to bring {pin.hostname} back",
        )

    async def remove_service(self, name: str) -> None:
        with contextlib.suppress(NotFound):  # gone already: nothing to remove
            await self.docker("remove_service", name)

    def delete_forever(self) -> None:
        live = self.accounts.live_account(self.accounts.read(), self.user.name, self.account_created)
        pin = self.pins.of(live.uid) if live else None
        super().delete_forever()
        if pin:
            self.log.warning(
                "%s was deleted; their home is kept in the volume %s on node %s: remove it there, or keep it",
                self.user.name,
                pin.volume,
                pin.hostname,
            )

    async def node_of(self, task: dict[str, Any]) -> tuple[str, str]:
        """The hostname and state of the node a task was given, or "?" and "gone"."""
        try:
            node = await self.docker("inspect_node", task["NodeID"]) if task.get("NodeID") else {}
        except NotFound:  # removed from the swarm (`docker node rm`)
            node = {}
        return node.get("Description", {}).get("Hostname", "?"), node.get("Status", {}).get("State", "gone")

    async def poll(self) -> Any:
        """Stopped also when Swarm gave up the lab's task (its node is down): the task's last state,
        reported before the node went, would say running forever."""
        task = await self.get_task()
        if task is not None and task["DesiredState"] != "running":
            where, state = await self.node_of(task)
            self.log.warning("%s's lab is stopped: Swarm shut its task down (node %s)", self.user.name, where)
            return f"shut down by Swarm (node {where} is {state})"
        return await SwarmSpawner.poll(self)

    async def get_ip_and_port(self) -> tuple[str, int]:
        """The task's own address on the hub's network. Its service's name would resolve, for a
        while after a lab is spawned anew, to the address of the task it replaced."""
        task = await self.get_task()
        for attachment in (task or {}).get("NetworksAttachments") or []:
            if attachment["Network"]["Spec"]["Name"] == self.network_name and attachment.get("Addresses"):
                return str(attachment["Addresses"][0]).split("/")[0], int(self.port)
        raise web.HTTPError(503, f"the lab's task has no address on the network {self.network_name}")

    async def start_object(self) -> None:
        """Wait for the task as SwarmSpawner does, but give up at once, with Swarm's reason, when no
        node can take it (GPUs or memory all reserved, no node labelled for labs) or it failed."""
        try:
            await self.task_reaching(self.service_name, "running", "your lab could not start")
        except web.HTTPError:
            await self.remove_service(self.service_name)
            raise

    async def task_reaching(self, service: str, wanted: str, failure: str) -> dict[str, Any]:
        """The service's task once its state is `wanted`; an HTTP error with Swarm's reason, and
        the node, when it cannot get there."""
        released_by = asyncio.get_running_loop().time() + RELEASE_SECONDS
        while True:
            tasks = await self.docker("tasks", filters={"service": service})
            if not tasks:
                try:
                    await self.docker("inspect_service", service)
                except NotFound:
                    raise web.HTTPError(503, f"the Swarm service {service} is gone") from None
                await asyncio.sleep(0.5)
                continue
            task: dict[str, Any] = max(tasks, key=lambda each: str(each["CreatedAt"]))
            status = task["Status"]
            reason = status.get("Err", "")
            if status["State"] == "pending" and any(words in reason for words in UNSCHEDULABLE):
                # Swarm frees a stopped lab's GPUs, memory and CPUs once its task is gone, a few
                # seconds after the hub removed it: wait, unless no node has GPUs free by the labs
                # that run.
                nodes = await self.gpus_by_node() if self.extra_resources_spec else {}
                gpus_free = not self.extra_resources_spec or self.some_node_has_free_gpus(nodes)
                if gpus_free and asyncio.get_running_loop().time() < released_by:
                    await asyncio.sleep(0.5)
                    continue
                if not gpus_free:
                    raise self.no_free_gpus(nodes)
                raise web.HTTPError(503, f"no node of the swarm can run your lab: {reason}. Ask the admin")
            if status["State"] == wanted:
                return task
            if status["State"] in ENDED or task["DesiredState"] not in ("running", wanted):
                # a node that cannot pull the image, say, or one that went down
                where, _ = await self.node_of(task)
                raise web.HTTPError(503, f"{failure} on node {where}: {reason or status['Message']}. Ask the admin")
            await asyncio.sleep(0.5)
