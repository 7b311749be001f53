"""pyrlab's spawner on Docker Swarm (HUB_ENGINE=swarm): each user's lab a Swarm service that Swarm
places on a node, with the isolation, uid, home and image choices of PyrlabSpawner's containers.
A CUDA image's GPUs are the nodes' generic resources, which Swarm reserves. Runs inside the hub.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dockerspawner import SwarmSpawner
from tornado import web

from labspec import lab_spec, service_spec
from pyrlab.inside.contract import SWARM_GPU_KIND, USER_LABEL, swarm_gpus, task_gpus
from pyrlab_hub import PyrlabSpawner, wants_gpus

# Why Swarm keeps a task pending when no node can take it (its scheduler's words).
UNSCHEDULABLE = ("insufficient resources", "no suitable node")
# How long a spawn waits for the GPUs of a lab that was just stopped.
RELEASE_SECONDS = 30


class PyrlabSwarmSpawner(PyrlabSpawner, SwarmSpawner):  # type: ignore[misc]
    """A user's lab as a Swarm service; the rest (accounts, homes, image choices) as PyrlabSpawner."""

    async def gpus_by_node(self) -> dict[str, dict[str, str]]:
        """Each node's GPUs (by hostname): GPU id -> the user whose lab holds it, or "" when free."""
        nodes = {node["ID"]: node for node in await self.docker("nodes")}
        owners = {
            service["ID"]: service["Spec"].get("Labels", {}).get(USER_LABEL, service["Spec"]["Name"])
            for service in await self.docker("services")
        }
        gpus: dict[str, dict[str, str]] = {}
        for node in nodes.values():
            if node["Status"]["State"] == "ready":
                held = swarm_gpus(node["Description"].get("Resources", {}).get("GenericResources"))
                gpus[node["Description"]["Hostname"]] = dict.fromkeys(held, "")
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
        home = self.prepare_home(uid)
        spec = lab_spec(user=self.user.name, uid=uid, home=home, shared=self.shared, hub_name=self.hub_name, gpus=[])
        service = service_spec(spec)
        self.volumes = spec.volumes
        self.environment.update(spec.environment)
        self.extra_container_spec = service.container
        self.extra_placement_spec = service.placement
        self.extra_create_kwargs = {"labels": service.labels}
        # The hub reaches a lab at its task's own address (get_ip_and_port): no virtual IP, nor
        # IPVS on the nodes.
        self.extra_endpoint_spec = {"mode": "dnsrr"}
        # A lab that ends is stopped, as a container is: Swarm does not start it again elsewhere
        # behind the hub's back (the hub sees it stopped; the user's next spawn goes to a live node).
        self.extra_task_spec = {"restart_policy": {"Condition": "none"}}
        self.extra_resources_spec = {}
        if wants_gpus(choice):
            # Swarm reserves them: of two spawns for the last free GPU, one waits in pending and is
            # refused by start_object, naming the holders.
            nodes = await self.gpus_by_node()
            if not self.some_node_has_free_gpus(nodes):
                raise self.no_free_gpus(nodes)
            self.extra_resources_spec = {"generic_resources": {SWARM_GPU_KIND: self.gpus_per_user}}
        return await self.listening(await SwarmSpawner.start(self))

    async def node_of(self, task: dict[str, Any]) -> tuple[str, str]:
        """The hostname and state of the node a task was given, or "?" and "gone"."""
        node = await self.docker("inspect_node", task["NodeID"]) if task.get("NodeID") else {}
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
        node can take it (GPUs or memory all reserved, no node labelled for labs)."""
        released_by = asyncio.get_running_loop().time() + RELEASE_SECONDS
        while True:
            task = await self.get_task()
            if task is None:
                raise web.HTTPError(503, f"the Swarm service {self.service_name} is gone")
            status = task["Status"]
            reason = status.get("Err", "")
            if status["State"] == "pending" and any(words in reason for words in UNSCHEDULABLE):
                # Swarm frees a stopped lab's GPUs once its task is gone, a few seconds after the
                # hub removed it: wait while some node has them free by the labs that run.
                nodes = await self.gpus_by_node() if self.extra_resources_spec else {}
                if self.some_node_has_free_gpus(nodes) and asyncio.get_running_loop().time() < released_by:
                    await asyncio.sleep(0.5)
                    continue
                await self.remove_object()
                if self.extra_resources_spec:
                    raise self.no_free_gpus(nodes)
                raise web.HTTPError(503, f"no node of the swarm can run your lab: {reason}. Ask the admin")
            if status["State"] in ("failed", "rejected"):  # a node that cannot pull the image, say
                where, _ = await self.node_of(task)
                await self.remove_object()
                raise web.HTTPError(503, f"your lab could not start on node {where}: {reason}. Ask the admin")
            if status["State"] == "running":
                return
            await asyncio.sleep(0.5)
