"""What `make pylab` and `make rlab` pass in (LabSpec), and the names, paths and labels of a lab's
container."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pyrlab.inside.contract import DTALE_PORT, HOME, JUPYTER_PORT, TENSORBOARD_PORT
from pyrlab.labs.ports import Publish, address_literal
from pyrlab.labs.private import notebook_ids, password_file, scheme_for, token_file
from pyrlab.settings import Settings

LABS = ("pylab", "rlab")
CONFIG_DIR = f"{HOME}/.pyrlab"
LABEL = "pyrlab.lab"
# The configuration folder a lab was started with: `make status` shows a lab's URL only to the
# folder that holds its token.
CONFIG_LABEL = "pyrlab.config"


@dataclass(frozen=True)
class LabSpec:
    """Everything `make pylab` or `make rlab` passes in."""

    lab: str
    image: str
    bind: str
    publish: list[Publish]
    notebooks: Path
    config: Path
    cli: str
    docker_args: list[str]
    auth: str = "token"

    @property
    def jupyter(self) -> Publish:
        return next(publish for publish in self.publish if publish.container_port == JUPYTER_PORT)

    @property
    def name(self) -> str:
        return container_name(self.lab, self.jupyter.host_port)

    @property
    def token_file(self) -> Path:
        return token_file(self.config, self.lab)

    @property
    def password_file(self) -> Path:
        return password_file(self.config)

    @property
    def scheme(self) -> str:
        return scheme_for(self.config)

    @property
    def url_host(self) -> str:
        """Where this host reaches the published port (an IPv6 address in brackets)."""
        return "127.0.0.1" if self.bind in ("0.0.0.0", "") else address_literal(self.bind)  # noqa: S104 - a comparison

    @property
    def grants_sudo(self) -> bool:
        """GRANT_SUDO=yes among DOCKER_ARGS: the user asked for root in the lab (docker-stacks' way)."""
        return any(re.fullmatch(r"GRANT_SUDO=(yes|1)", arg) for arg in self.docker_args)

    @property
    def owner(self) -> tuple[int, int]:
        """The notebook user's uid and gid: the owner of what the lab reads and writes on the host."""
        return notebook_ids(self.notebooks)


def published(lab: str, settings: Settings) -> list[Publish]:
    """A lab's ports on the host: Jupyter's first (PYPORT or RPORT), then, with PUBLISH_TOOLS=yes,
    pylab's D-Tale (DTPORT) and TensorBoard (TFPORT)."""
    if lab == "rlab":
        return [Publish("RPORT", settings.rport, JUPYTER_PORT)]
    ports = [Publish("PYPORT", settings.pyport, JUPYTER_PORT)]
    if settings.publish_tools:
        ports += [Publish("DTPORT", settings.dtport, DTALE_PORT), Publish("TFPORT", settings.tfport, TENSORBOARD_PORT)]
    return ports


def lab_container(lab: str, settings: Settings) -> str:
    """The container of that lab with these settings: pylab-8888 for PYPORT=8888."""
    return container_name(lab, published(lab, settings)[0].host_port)


def container_name(lab: str, port: int) -> str:
    """The name says which lab and which port: pylab-8888."""
    return f"{lab}-{port}"
