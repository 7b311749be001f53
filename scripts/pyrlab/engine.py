"""Every call of the container CLI from the host code goes through here, with one error family.

The CLI (CONTAINER_CLI: Docker with BuildKit, or Debian's docker.io) is called as a program, so
that what pyrlab runs is what a user could type; its own message is kept in the error.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pyrlab.inside.errors import UserError


class EngineError(UserError):
    """The container CLI failed; the message quotes the command and what it printed."""


def run(cli: str, *args: str, stdin: str | None = None) -> str:
    """Run the container CLI and return what it printed; a failure raises EngineError."""
    result = subprocess.run([cli, *args], input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EngineError(f"`{cli} {shlex.join(args)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def hand_over(cli: str, *args: str) -> None:
    """Become the container CLI (a shell in a container, a log to follow): the terminal is its."""
    os.execvp(cli, [cli, *args])  # noqa: S606 - the CLI the user configured, with arguments, no shell


def bind_mount(source: Path, target: str) -> str:
    """A --mount value: CSV, so that a path with a quote, a colon or a comma stays one path."""
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(["type=bind", f"source={source}", f"target={target}"])
    return line.getvalue()


def run_showing_progress(cli: str, *args: str, stdin: str = "") -> str | None:
    """Run the container CLI with its standard error on the terminal (a long job's progress and
    its own error message) and return its standard output, or None when it failed."""
    result = subprocess.run([cli, *args], input=stdin, stdout=subprocess.PIPE, text=True, check=False)
    return result.stdout if result.returncode == 0 else None


def succeeds(cli: str, *args: str) -> bool:
    """Whether the command succeeds: for questions such as "does this network exist"."""
    result = subprocess.run([cli, *args], capture_output=True, text=True, check=False)
    return result.returncode == 0


def container_state(cli: str, name: str) -> str | None:
    """'running', 'exited', … or None when no such container exists."""
    result = subprocess.run(
        [cli, "container", "inspect", "--format", "{{.State.Status}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def container_logs(cli: str, name: str, lines: int) -> str:
    """The last lines a container printed (both streams), for an error message; empty when none."""
    result = subprocess.run([cli, "logs", "--tail", str(lines), name], capture_output=True, text=True, check=False)
    return result.stdout + result.stderr


def image_facts(cli: str, reference: str) -> dict[str, Any] | None:
    """What the engine knows of a local image (`image inspect`), or None when there is none."""
    result = subprocess.run(
        [cli, "image", "inspect", "--format", "{{json .}}", reference], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    facts: dict[str, Any] = json.loads(result.stdout)
    return facts


def import_image(cli: str, producer: list[str], reference: str, change: str) -> str:
    """`docker import` of the tarball a program writes to its standard output, as it streams; the
    new image's id. The program's progress goes to the terminal."""
    with subprocess.Popen(producer, stdout=subprocess.PIPE) as tarball:
        imported = subprocess.run(
            [cli, "import", "--change", change, "-", reference],
            stdin=tarball.stdout, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if tarball.stdout is not None:
            tarball.stdout.close()
    if tarball.returncode != 0:
        raise EngineError(f"`{shlex.join(producer)}` failed (exit {tarball.returncode}); its messages are above")
    if imported.returncode != 0:
        raise EngineError(f"`{cli} import` failed: {imported.stderr.strip()}")
    return imported.stdout.strip()


def build_cache_records(cli: str) -> list[dict[str, Any]]:
    """The engine's build cache, a record a layer or cache mount (`system df -v`)."""
    records = json.loads(run(cli, "system", "df", "--verbose", "--format", "{{json .BuildCache}}") or "null")
    return [record for record in records or [] if isinstance(record, dict)]


def prune_build_cache(cli: str, record_ids: list[str]) -> None:
    """Remove exactly these build cache records (the engine's id filter is a regular expression)."""
    if record_ids:
        run(cli, "builder", "prune", "--force", "--all", "--filter", f"id=^({'|'.join(record_ids)})$")


# Debian's docker.io client: it builds with the engine's BuildKit without the buildx plugin.
DEBIAN_CLIENT = "/usr/bin/docker"


def buildkit_problem(cli: str) -> str:
    """Why CONTAINER_CLI cannot build pyrlab's Dockerfiles (cache mounts and secrets need BuildKit),
    with the fix; empty when it can. A client with buildx can; so can one older than 23, whose
    own builder takes DOCKER_BUILDKIT=1 (Debian's docker.io); a newer one without buildx cannot."""
    path = shutil.which(cli)
    if path is None:
        return f"CONTAINER_CLI={cli} is not on PATH: install Docker (or Debian's docker.io), or set CONTAINER_CLI"
    if succeeds(cli, "buildx", "version"):
        return ""
    version = subprocess.run([cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True)
    major = version.stdout.strip().split(".")[0]
    if version.returncode == 0 and major.isdigit() and int(major) < 23:
        return ""
    other = os.path.exists(DEBIAN_CLIENT) and not os.path.samefile(path, DEBIAN_CLIENT)
    fix = (
        f"`make ... CONTAINER_CLI={DEBIAN_CLIENT}` (Debian's client, which has BuildKit)"
        if other
        else ("install Docker's buildx plugin (Debian: apt-get install docker-buildx)")
    )
    return f"CONTAINER_CLI={cli} ({path}) cannot build with BuildKit: it has no buildx plugin. Use {fix}"
