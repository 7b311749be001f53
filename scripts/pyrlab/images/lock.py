"""`make lock` and `make upgrade`: resolve the lists in a container of the chain's base image (its
own Debian release and Python) and write the locks next to the lists, showing what changed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyrlab.engine import image_facts, run_showing_progress
from pyrlab.engine import run as run_cli
from pyrlab.inside.errors import UserError
from pyrlab.inside.lists import check_lists
from pyrlab.inside.lockfile import LOCKS, LockSpec, header, pins, with_arch_pins


class LockError(UserError):
    """Resolving failed; the message says where and what to fix."""


@dataclass(frozen=True)
class Resolver:
    """How to run pyrlab.inside.resolve: the container CLI, the base image and what the build would use."""

    cli: str
    image: str
    network: str = "default"
    ca_certs: str = ""
    apt_proxy: str = ""
    pip_index: str = ""
    torch_index: str = ""  # TORCH_CPU_INDEX: pylab's lock takes the torch projects from it, and nothing else

    def command(self, root: Path, mode: str, upgrade: bool = False) -> list[str]:
        command = ["run", "--rm", "--interactive", "--user", "root", "--network", self.network]
        command += ["--volume", f"{root.absolute()}:/src:ro", "--env", "PYTHONPATH=/src/scripts"]
        command += ["--env", "PYTHONDONTWRITEBYTECODE=1", "--env", f"UPGRADE={'yes' if upgrade else 'no'}"]
        command += ["--env", f"APT_PROXY={self.apt_proxy}", "--env", f"PIP_INDEX={self.pip_index}"]
        command += ["--env", f"TORCH_INDEX={self.torch_index}"]
        if self.ca_certs:
            command += ["--volume", f"{Path(self.ca_certs).absolute()}:/run/pyrlab-ca.crt:ro"]
        return [*command, "--entrypoint", "python3", self.image, "-m", "pyrlab.inside.resolve", mode]

    def run(self, root: Path, mode: str, stdin: str = "", upgrade: bool = False) -> Any:
        """Run the resolver; its progress reaches the terminal, its JSON answer is returned."""
        if image_facts(self.cli, self.image) is None:
            raise LockError(f"the base image {self.image} is not here: run `make build` (or `make rootfs`) first")
        answer = run_showing_progress(self.cli, *self.command(root, mode, upgrade), stdin=stdin)
        if answer is None:
            raise LockError(f"resolving in {self.image} failed (its message is above)")
        return json.loads(answer)


def debian_lock_body(versions: dict[str, str], notes: dict[str, str]) -> str:
    lines = []
    for package, version in sorted(versions.items()):
        note = notes.get(package)
        lines.append(f"{package}={version}" + (f"  # {note}" if note else ""))
    return "\n".join(lines) + "\n" if lines else ""


def describe_changes(lock: str, old: dict[str, str], new: dict[str, str], existed: bool) -> list[str]:
    """What a new lock changes, a line a package: `name old -> new`, `+ name version`, `- name version`."""
    if not existed:
        return [f"{lock}: written, {len(new)} packages pinned"]
    lines = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            lines.append(f"  - {name} {old[name]}")
        elif name not in old:
            lines.append(f"  + {name} {new[name]}")
        elif old[name] != new[name]:
            lines.append(f"    {name} {old[name]} -> {new[name]}")
    return [f"{lock}: " + (f"{len(lines)} changes" if lines else "unchanged"), *lines]


def lock_text(root: Path, spec: LockSpec, document: dict[str, Any]) -> str:
    if spec.kind == "python":
        body = str(document["python"][spec.lock])
    else:
        body = debian_lock_body(document["debian"][spec.list], document["notes"].get(spec.list, {}))
    if spec.list == "r_packages.txt" and document.get("r_sources"):
        # The sources R_REPOS gives, in install order: name==version, the tarball's sha256, the repository.
        body += "".join(f"{pin}\n" for pin in document["r_sources"])
    return header(root, spec, str(document["resolved_for"])) + body


def arch_lock_text(root: Path, spec: LockSpec, document: dict[str, Any], arch: str) -> str | None:
    """For a platform other than the host's (`make lock PLATFORM=…`): the host's lock with that
    architecture's Debian pins where they differ; None for a Python lock, which already holds the
    hashes of both platforms' wheels and stays as it is."""
    if spec.kind == "python":
        return None
    path = root / spec.lock
    if not path.is_file():
        raise LockError(f"{spec.lock} is missing: run `make lock` for this host's platform first, then with PLATFORM")
    versions = document["debian"][spec.list]
    return with_arch_pins(path.read_text(encoding="utf-8"), arch, versions, document["notes"].get(spec.list, {}))


def write_locks(root: Path, document: dict[str, Any], foreign_arch: str = "") -> list[str]:
    """Write every lock from the resolver's answer; return the changes, described. For a foreign
    architecture, only its own Debian pins change."""
    report = []
    owner = root.stat()
    for spec in LOCKS:
        path = root / spec.lock
        existed = path.is_file()
        old = pins(spec, path.read_text(encoding="utf-8")) if existed else {}
        text = arch_lock_text(root, spec, document, foreign_arch) if foreign_arch else lock_text(root, spec, document)
        if text is None:
            continue
        path.write_text(text, encoding="utf-8")
        if os.getuid() == 0:  # run as root for a user's checkout: the lock is the user's
            os.chown(path, owner.st_uid, owner.st_gid)
        report += describe_changes(spec.lock, old, pins(spec, text), existed)
    return report


def lock(
    root: Path, resolver: Resolver, upgrade: bool, allow_direct_urls: bool = False, foreign_arch: str = ""
) -> list[str]:
    """Resolve every list and write its lock; raises LockError or ListError before writing anything.
    With foreign_arch (PLATFORM not the host's), only that architecture's Debian pins are added."""
    check_lists(root, allow_direct_urls=allow_direct_urls)
    if foreign_arch and upgrade:
        raise LockError("make upgrade moves the host's pins: run it without PLATFORM, then `make lock PLATFORM=…`")
    document = resolver.run(root, "lock-debian" if foreign_arch else "lock", upgrade=upgrade)
    return write_locks(root, document, foreign_arch)


BASE_LOCK = "base.lock"


def pinned_reference(reference: str, repo_digests: list[str]) -> str:
    """python:3.13-trixie and the engine's RepoDigests -> python:3.13-trixie@sha256:…"""
    repository = reference.rsplit(":", 1)[0]
    names = {repository, f"docker.io/{repository}", f"docker.io/library/{repository}", f"library/{repository}"}
    for entry in repo_digests:
        name, _, digest = entry.partition("@")
        if name in names and digest.startswith("sha256:"):
            return f"{reference}@{digest}"
    raise LockError(f"the engine knows no registry digest of {reference}: pull it (`docker pull {reference}`)")


def lock_base(root: Path, cli: str, base: str, reference: str, upgrade: bool) -> str:
    """Pin the chain's base image by digest in base.lock (BASE=python); keep a pin still valid."""
    path = root / BASE_LOCK
    if base != "python":
        path.unlink(missing_ok=True)
        return (
            f"{BASE_LOCK}: none for BASE={base}: `make rootfs` builds the base here; "
            "its id and Debian archive dates are in the manifests"
        )
    old = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    if old.startswith(f"{reference}@") and not upgrade:
        return f"{BASE_LOCK}: {old} kept"
    if upgrade or image_facts(cli, reference) is None:
        run_cli(cli, "pull", reference)
    facts = image_facts(cli, reference) or {}
    pinned = pinned_reference(reference, facts.get("RepoDigests") or [])
    path.write_text(pinned + "\n", encoding="utf-8")
    return f"{BASE_LOCK}: {old or 'none'} -> {pinned}" if old != pinned else f"{BASE_LOCK}: {pinned} kept"
