"""`docker build` of one image from its folder's Dockerfile, on the parent make names: its tags,
the build secrets (the CA bundle, the caches' addresses: never in an image), pylab's CUDA or CPU
stage, and whether rlab compiles R sources. On a failure, the lines of the build's Python lists
that name no project of the index are named."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
from pathlib import Path

from pyrlab.engine import image_facts
from pyrlab.images.prepare import BUILD
from pyrlab.inside.contract import DTALE_PORT, JUPYTER_PORT, TENSORBOARD_PORT
from pyrlab.settings import Settings

R_SOURCES_IMAGE = "rlab"
# The contract's facts a Dockerfile needs, as build arguments of the images that use them.
CONTRACT_ARGS = {
    "pyrlab-base": {"JUPYTER_PORT": JUPYTER_PORT},
    "pylab": {"DTALE_PORT": DTALE_PORT, "TENSORBOARD_PORT": TENSORBOARD_PORT},
}
# The caches' image is never built through the caches themselves.
WITHOUT_CACHES = "proxies"


def compiles_r_sources(settings: Settings, root: Path) -> bool:
    """R packages come from R_REPOS, or rlab's lock pins some there (name==version)."""
    lock = root / "r_packages.lock"
    return bool(settings.r_repos.strip()) or (lock.is_file() and "==" in lock.read_text(encoding="utf-8"))


def build_command(
    settings: Settings, folder: str, parent: str, reference: str, iidfile: Path, caches: bool, native: str = ""
) -> list[str]:
    command = [settings.container_cli, "build", "--file", f"{folder}/Dockerfile", "--network", settings.build_network]
    if settings.platform.foreign:
        # BuildKit then takes the parent of that platform from the local images (make built it).
        command += ["--platform", settings.platform.name]
        command += ["--build-arg", f"NATIVE_IMAGE={native}"] if native else []
    command += ["--build-arg", f"PARENT_IMAGE={parent}", "--tag", reference, "--iidfile", str(iidfile)]
    name, _, tag = reference.rpartition(":")
    # Each build is also tagged with TAG (today's date): `latest-cuda13` gives `20261205-cuda13`.
    command += ["--tag", f"{name}:{tag.replace('latest', settings.tag, 1)}"] if tag.startswith("latest") else []
    if settings.ca_certs:
        # A build secret, with its checksum so that a new bundle rebuilds the layer adding it.
        checksum = hashlib.sha256(Path(settings.ca_certs).read_bytes()).hexdigest()
        command += ["--secret", f"id=ca_certs,src={settings.ca_certs}", "--build-arg", f"CA_CERTS_SHA256={checksum}"]
        command += ["--build-arg", f"CA_CERTS_KEEP={'yes' if settings.ca_certs_keep else 'no'}"]
    if caches and settings.apt_proxy:
        command += ["--secret", f"id=aptproxy,src={BUILD / 'aptproxy'}"]
    if caches and settings.pip_proxy:
        command += ["--secret", f"id=pipindex,src={BUILD / 'pipindex'}"]
    if folder == settings.cuda_image:  # its CUDA build is the `cuda` stage
        cuda = ["cuda", "--build-arg", f"CUDA_VERSION={settings.cuda_version}"] if settings.cuda_install else ["cpu"]
        command += ["--target", *cuda]
    for argument, value in CONTRACT_ARGS.get(folder, {}).items():
        command += ["--build-arg", f"{argument}={value}"]
    if folder == R_SOURCES_IMAGE:
        command += ["--build-arg", f"R_SOURCES={'yes' if compiles_r_sources(settings, Path('.')) else 'no'}"]
    return [*command, *shlex.split(settings.build_args), "."]


def native_image(settings: Settings) -> str:
    """The chain's base image of the host's own platform, whose Python compiles the bytecode of a
    foreign platform's build (uv-install); empty, with a note, when it is not here."""
    if settings.base == "rootfs":
        image = settings.rootfs_image.removesuffix(settings.platform.suffix)
    else:
        image = f"python:{settings.python_base}"
    facts = image_facts(settings.container_cli, image)
    if facts is not None and f"{facts.get('Os')}/{facts.get('Architecture')}" == settings.platform.host:
        return image
    print(
        f"note: {image} for this host ({settings.platform.host}) is not here, so Python's bytecode is compiled "
        f"under emulation, many times slower: build it first (`make rootfs` or `make build` without PLATFORM)",
        file=sys.stderr,
    )
    return ""


def build(settings: Settings, folder: str, parent: str, reference: str, iidfile: Path) -> int:
    """Build; the engine's output goes to the terminal. A failure is explained, then returned."""
    native = native_image(settings) if settings.platform.foreign else ""
    command = build_command(settings, folder, parent, reference, iidfile, folder != WITHOUT_CACHES, native)
    print(shlex.join(command), flush=True)
    if subprocess.run(command, check=False).returncode == 0:
        return 0
    for line in failure_notes(settings, folder):
        print(line, file=sys.stderr)
    return 1


def failure_notes(settings: Settings, folder: str) -> list[str]:
    """After a failed build: a TLS-intercepting proxy without CA_CERTS, else the lines of the
    build's Python lists that name no project of the index, with the closest names."""
    from pyrlab.images import indexnames

    hint = "" if settings.ca_certs else indexnames.intercepted_tls_hint(settings.package_index)
    if hint:
        return [f"note: {hint}"]
    problems = indexnames.unknown_projects(Path("."), folder, settings.package_index, settings.tls_verify)
    return [str(problem) for problem in problems]
