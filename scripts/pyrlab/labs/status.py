"""`make status`: the lab containers, each running one with its URL when it was started with your
configuration folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pyrlab.engine import run as run_cli
from pyrlab.inside.contract import JUPYTER_PORT
from pyrlab.labs.ports import address_literal
from pyrlab.labs.private import password_file, read_private, scheme_for, token_file
from pyrlab.labs.spec import CONFIG_LABEL, LABEL


def url_to_open(config: Path, lab: str, port: str, host: str = "127.0.0.1") -> str:
    """A running lab's URL as its configuration folder tells it: https or not, password or token."""
    base = f"{scheme_for(config)}://{host}:{port}/lab"
    if password_file(config).is_file():
        return f"{base} (log in with the password of `make password`)"
    token = token_file(config, lab)
    return f"{base}?token={read_private(token, config.stat().st_uid).strip()}" if os.path.lexists(token) else base


# `docker ps` Ports: "127.0.0.1:8888->8888/tcp, …" (IPv6 in brackets or as ":::").
JUPYTER_BINDING = re.compile(rf"(\[[0-9a-f:]+\]|[0-9a-f.:]*?):(\d+)->{JUPYTER_PORT}/tcp")


def published_address(ports: str) -> tuple[str, str] | None:
    """Where this machine reaches a lab's Jupyter: its published host address and port."""
    match = JUPYTER_BINDING.search(ports)
    if match is None:
        return None
    host, port = match.groups()
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 - every address: this machine's loopback
        host = "127.0.0.1"
    return address_literal(host), port


def status(cli: str, config: Path) -> list[str]:
    """One line per lab container: name, state, ports, and for a running lab started with this
    configuration folder, its URL. The token of another folder is never shown, nor guessed."""
    # One column a field, the labels by name: a path in a label may hold commas.
    columns = (
        f'{{{{.Names}}}}\t{{{{.State}}}}\t{{{{.Ports}}}}\t{{{{.Label "{LABEL}"}}}}\t{{{{.Label "{CONFIG_LABEL}"}}}}'
    )
    output = run_cli(cli, "ps", "--all", "--filter", f"label={LABEL}", "--format", columns)
    lines = []
    for row in filter(None, output.splitlines()):
        name, state, ports, lab, started_with = row.split("\t", 4)
        line = f"{name}\t{state}\t{ports}"
        address = published_address(ports)
        if state == "running" and address:
            if started_with == str(config.resolve()):
                line += f"\t{url_to_open(config, lab, address[1], address[0])}"
            else:
                line += f"\t(started with DOCKER={started_with or 'unknown'}: its URL is there)"
        lines.append(line)
    return lines
