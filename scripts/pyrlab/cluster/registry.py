"""`make registry`, `make push` and `make pull`: the images in a container registry, for a cluster.

`make registry` runs Debian's docker-registry (a container of pyrlab-proxies) on 127.0.0.1 with
its data in a host folder and a password of its own. `make push` tags every built image as
docker-stacks does (latest, the build date, the git commit, and content tags read from the image's
manifest: python-3.13.5, lab-4.5.0, r-4.5.0, cuda13), pushes it and writes the pushed digest into
the manifest; `make pull` fetches the images back by that digest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from pyrlab.engine import EngineError, container_logs, container_state, image_facts
from pyrlab.engine import run as run_cli
from pyrlab.images.manifest import write_manifest
from pyrlab.inside.contract import REGISTRY_PORT
from pyrlab.inside.errors import UserError
from pyrlab.labs.ports import Publish, check_port_free
from pyrlab.labs.private import notebook_ids, read_private
from pyrlab.platforms import Platform

USER = "pyrlab"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
CONTAINER_PORT = REGISTRY_PORT
PASSWORD_FILE = "registry-password"  # noqa: S105 - the name of the file, not a password
# host[:port][/path], as Docker names a repository's prefix (lower case, no scheme, no tag).
REGISTRY_FORMAT = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")


class RegistryError(UserError):
    """A push or pull cannot go on; the message says why and what to do."""


def container_name(port: int) -> str:
    return f"pyrlab-registry-{port}"


def start(cli: str, image: str, data: Path, port: int, timeout: float = 60.0) -> list[str]:
    """(Re)start the registry on 127.0.0.1:port, log this machine's Docker in; return the settings."""
    data = data.expanduser().absolute()
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    uid, gid = notebook_ids(data)
    name = container_name(port)
    if container_state(cli, name) is not None:
        run_cli(cli, "rm", "--force", name)
    check_port_free("127.0.0.1", Publish("REGISTRY_PORT", port, CONTAINER_PORT))
    run_cli(
        cli,
        *("run", "--detach", "--name", name, "--user", f"{uid}:{gid}", "--label", "pyrlab.registry=yes"),
        *("--env", f"PYRLAB_PORT={CONTAINER_PORT}", "--volume", f"{data}:/data"),
        *("--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}", image, "registry"),
    )
    url = f"http://127.0.0.1:{port}/v2/"
    deadline = time.monotonic() + timeout
    while not answers_with_auth(url):
        if container_state(cli, name) != "running" or time.monotonic() > deadline:
            logs = container_logs(cli, name, 20)
            raise EngineError(f"the registry ({name}) did not start; its log ends:\n{logs}")
        time.sleep(0.3)
    address = f"127.0.0.1:{port}"
    run_cli(cli, "login", "--username", USER, "--password-stdin", address, stdin=password(data))
    return [f"REGISTRY = {address}/pyrlab"]


def answers_with_auth(url: str) -> bool:
    """The registry is up when /v2/ asks for credentials (401); nothing is served without them."""
    try:
        return requests.get(url, timeout=2).status_code == 401
    except requests.RequestException:
        return False


def password(data: Path) -> str:
    return read_private(data.expanduser().absolute() / PASSWORD_FILE, os.geteuid()).strip()


def stop(cli: str, port: int) -> bool:
    name = container_name(port)
    if container_state(cli, name) is None:
        return False
    run_cli(cli, "rm", "--force", name)
    return True


@dataclass(frozen=True)
class Built:
    """An image of the chain as pushed: its manifest's name, its repository, its local reference."""

    name: str  # pylab; pylab-cuda13 for pylab's CUDA build; pylab-arm64 for a foreign platform's (its manifest's name)
    repository: str  # pylab
    reference: str  # pylab:latest, pylab:latest-cuda13, pylab:latest-arm64
    flavour: str  # -cuda13 for a CUDA build, as its tags carry it; empty otherwise

    @classmethod
    def parse(cls, text: str) -> Built:
        """NAME=REFERENCE as make gives it (the host's names), the reference's repository (without
        a prefix) the image's own."""
        name, _, reference = text.partition("=")
        repository = reference.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        return cls(name, repository, reference, name.removeprefix(repository))

    def on(self, platform: Platform) -> Built:
        """This image as built for a platform: a foreign one's names end in its suffix (-arm64)."""
        return Built(self.name + platform.suffix, self.repository, self.reference + platform.suffix, self.flavour)


def check_registry(registry: str) -> str:
    registry = registry.strip().rstrip("/")
    if not registry:
        raise RegistryError("REGISTRY is empty: give host[:port]/org, e.g. `make push REGISTRY=registry.example.org/t`")
    if not REGISTRY_FORMAT.match(registry):
        raise RegistryError(
            f"REGISTRY={registry} is not host[:port]/org: no scheme, no tag, lower case, "
            "e.g. REGISTRY=127.0.0.1:5000/pyrlab"
        )
    return registry


def git_commit(project: Path) -> str | None:
    """The commit the images were built from; None when tracked files have changed since."""
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=project, capture_output=True, text=True
    )
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=project, capture_output=True, text=True)
    if dirty.returncode != 0 or head.returncode != 0 or dirty.stdout.strip():
        return None
    return head.stdout.strip()


def content_tags(manifest: dict[str, Any], flavour: str) -> list[str]:
    """What is inside, as docker-stacks tags it: python-3.13.5, lab-4.5.0, r-4.5.0; cuda13 alone."""
    packages = manifest["python"]["packages"]
    tags = [f"python-{manifest['python']['version']}"]
    if "jupyterlab" in packages:
        tags.append(f"lab-{packages['jupyterlab']}")
    if manifest.get("r"):
        tags.append(f"r-{manifest['r']['version']}")
    tags = [tag + flavour for tag in tags]
    return [*tags, flavour.lstrip("-")] if flavour else tags


def tags_for(manifest: dict[str, Any], flavour: str, commit: str | None) -> list[str]:
    date = manifest["built"][:10].replace("-", "")
    tags = ["latest", date, *([commit] if commit else [])]
    return [tag + flavour for tag in tags] + content_tags(manifest, flavour)


def read_manifest(manifests: Path, built: Built, image_id: str) -> dict[str, Any]:
    path = manifests / f"{built.name}.json"
    if not path.is_file():
        raise RegistryError(f"{path} is missing: run `make manifest` (it describes {built.reference})")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("id") != image_id:
        raise RegistryError(f"{path} describes another build than {built.reference}: run `make manifest`")
    return manifest


def repo_digest(cli: str, reference: str, repository: str) -> str:
    facts = image_facts(cli, reference) or {}
    for entry in facts.get("RepoDigests") or []:
        name, _, digest = str(entry).partition("@")
        if name == repository:
            return digest
    raise RegistryError(f"the engine recorded no digest of {reference} in {repository} after the push")


def push(
    cli: str, registry: str, images: list[Built], manifests: Path, project: Path, platforms: tuple[Platform, ...]
) -> list[str]:
    """Push every built image with all its tags; record each digest in its manifest. With several
    platforms, each platform's build goes under its own tags (latest-arm64), and every tag names
    an index of them all, so that a pull gets the puller's own.

    Every image and manifest is checked first: nothing is pushed when one is missing or stale.
    """
    registry = check_registry(registry)
    commit = git_commit(project)
    report = [] if commit else ["no commit tag: tracked files changed since the last commit"]
    ready: list[list[Ready]] = []
    for built in images:
        variants = [Ready.check(cli, built.on(platform), platform, manifests) for platform in platforms]
        missing = [variant.built.reference for variant in variants if variant.facts is None]
        if len(platforms) > 1 and missing and len(missing) < len(variants):
            raise RegistryError(
                f"{', '.join(missing)} not built: build each platform of PLATFORMS first "
                f"(make build PLATFORM=…), or push fewer platforms"
            )
        report += [f"{reference} is not built: not pushed" for reference in missing]
        if not missing:
            ready.append(variants)
    if not ready:
        raise RegistryError("no image is built: run `make build` first")
    for variants in ready:
        repository = f"{registry}/{variants[0].built.repository}"
        tags = tags_for(variants[0].manifest, variants[0].built.flavour, commit)
        if len(variants) == 1:
            report.append(push_one(cli, repository, variants[0], tags, manifests))
            continue
        for variant in variants:
            push_one(cli, repository, variant, [f"{tag}-{variant.platform.arch}" for tag in tags], manifests)
        index = push_index(cli, repository, [variant.pushed_digest for variant in variants], tags)
        for variant in variants:
            variant.manifest["pushed"]["reference"] = f"{repository}@{index}"
            variant.manifest["pushed"]["index"] = {"digest": index, "tags": tags}
            write_manifest(manifests, variant.manifest)
        platform_names = ", ".join(variant.platform.name for variant in variants)
        report.append(f"{repository}@{index}  {' '.join(tags)}  ({platform_names})")
    return report


@dataclass
class Ready:
    """One platform's build of an image, checked for a push: its facts and manifest."""

    built: Built
    platform: Platform
    facts: dict[str, Any] | None
    manifest: dict[str, Any]

    @classmethod
    def check(cls, cli: str, built: Built, platform: Platform, manifests: Path) -> Ready:
        facts = image_facts(cli, built.reference)
        if facts is None:
            return cls(built, platform, None, {})
        if facts.get("Architecture") != platform.arch:
            raise RegistryError(
                f"{built.reference} is a {facts.get('Architecture')} image, not {platform.name}: "
                f"build it again with `make build PLATFORM={platform.name}`"
            )
        return cls(built, platform, facts, read_manifest(manifests, built, facts["Id"]))

    @property
    def pushed_digest(self) -> str:
        return str(self.manifest["pushed"]["digest"])


def push_one(cli: str, repository: str, ready: Ready, tags: list[str], manifests: Path) -> str:
    """Push one build under its tags, write its digest into its manifest, and say so."""
    assert ready.facts is not None
    print(f"pushing {ready.built.reference} ({ready.facts['Size'] / 1e9:.2f} GB) to {repository}", flush=True)
    for tag in tags:
        run_cli(cli, "tag", ready.built.reference, f"{repository}:{tag}")
        try:
            run_cli(cli, "push", f"{repository}:{tag}")
        except EngineError as error:
            raise RegistryError(
                f"{error}\n    fix: start the registry (`make registry`) or log in to it (`docker login "
                f"{repository.split('/')[0]}`), or correct REGISTRY"
            ) from None
    digest = repo_digest(cli, ready.built.reference, repository)
    # Only the image's own names stay on this machine: the registry's names were for the push.
    run_cli(cli, "image", "rm", *(f"{repository}:{tag}" for tag in tags))
    ready.manifest["pushed"] = {"repository": repository, "digest": digest, "reference": f"{repository}@{digest}"}
    ready.manifest["pushed"]["tags"] = tags
    write_manifest(manifests, ready.manifest)
    return f"{repository}@{digest}  {' '.join(tags)}"


def push_index(cli: str, repository: str, digests: list[str], tags: list[str]) -> str:
    """Name the platforms' builds (already pushed) by each tag, as one index; return its digest."""
    # The registry on this machine speaks plain HTTP, which the CLI's manifest commands allow only
    # when told; a remote registry keeps TLS.
    insecure = ["--insecure"] if repository.split("/")[0].split(":")[0] in LOOPBACK else []
    index_digest = ""
    for tag in tags:
        members = [f"{repository}@{digest}" for digest in digests]
        run_cli(cli, "manifest", "create", "--amend", *insecure, f"{repository}:{tag}", *members)
        answer = run_cli(cli, "manifest", "push", "--purge", *insecure, f"{repository}:{tag}")
        index_digest = answer.split()[-1] if answer.split() else ""
    if not index_digest.startswith("sha256:"):
        raise RegistryError(f"the registry gave no digest for the index of {repository}: {index_digest!r}")
    return index_digest


def pull(cli: str, registry: str, images: list[Built], manifests: Path, platform: Platform) -> list[str]:
    """Fetch every image back, by the digest its manifest records when it was pushed there: the
    index for this host's platform (the engine takes its own from it), the build's own otherwise."""
    registry = check_registry(registry)
    report = []
    for host_named in images:
        built = host_named.on(platform)
        repository = f"{registry}/{built.repository}"
        path = manifests / f"{built.name}.json"
        manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        pushed = manifest.get("pushed") or {}
        if pushed.get("repository") == repository:
            source = pushed["reference"] if not platform.foreign else f"{repository}@{pushed['digest']}"
        else:
            source = f"{repository}:latest{built.flavour}"
        try:
            run_cli(cli, "pull", source)
        except EngineError as error:
            raise RegistryError(
                f"{error}\n    fix: check REGISTRY={registry}, `make push` to it first, or log in to it"
            ) from None
        run_cli(cli, "tag", source, built.reference)
        if "built" in manifest and manifest.get("id") == (image_facts(cli, built.reference) or {}).get("Id"):
            name, _, tag = built.reference.rpartition(":")
            run_cli(cli, "tag", source, f"{name}:{tag.replace('latest', manifest['built'][:10].replace('-', ''), 1)}")
        report.append(f"{built.reference} <- {source}")
    return report
