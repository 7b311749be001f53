"""`make`'s one preparing step: every file under .build/ that the builds read, each written only
when its content changes, so that make sees a change by a file's timestamp and nothing else.

- .build/install/NAME: what a build installs for each list of lists.LISTS: its lock (refused when
  the list changed since), else the list; Debian lists as bare names, pylab's Python lists with
  the frameworks switched to the build asked for (CUDA_INSTALL, CUDA_VERSION, TORCH_CPU_INDEX).
- .build/snapshots/NAME: the first of the two layers of a layered list (lists.refresh_snapshot).
- .build/install/r_repos.txt and .build/r-repos/: R_REPOS as the rlab build reads it.
- .build/aptproxy, .build/pipindex: the caches' addresses, given to builds as secrets.
- .build/inputs/BUILD: a digest of every file each build reads, the one thing make compares (for
  a foreign PLATFORM in .build/ARCH/inputs/, beside that platform's stamps).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pyrlab import engine
from pyrlab.files import write_if_changed
from pyrlab.images import frameworks, rrepos
from pyrlab.inside import lockfile
from pyrlab.inside.lists import LISTS, PackageList, logical_lines, refresh_snapshot
from pyrlab.settings import SettingError, Settings

BUILD = Path(".build")
INSTALL = BUILD / "install"
SNAPSHOTS = BUILD / "snapshots"
R_REPOS_FILE = INSTALL / "r_repos.txt"
R_REPOS_COPIES = BUILD / "r-repos"
# The helpers the builds bind-mount from pyrlab-base/ (apt-install, uv-install, venv-install, the CA's).
BUILD_HELPERS = (
    "pyrlab-base/apt-install",
    "pyrlab-base/uv-install",
    "pyrlab-base/venv-install",
    "pyrlab-base/build-ca",
    "pyrlab-base/add-ca-certs",
)
# The code that runs inside a build (rlab resolves R names in it), standard library only.
IN_CONTAINER_CODE = Path("scripts/pyrlab/inside")
# What a build reads beyond its own folder, its lists' install files and the helpers.
EXTRA_INPUTS: dict[str, tuple[Path, ...]] = {
    "rlab": (IN_CONTAINER_CODE, R_REPOS_FILE, R_REPOS_COPIES),
    "hub": (IN_CONTAINER_CODE / "contract.py",),
}


def write_r_repos(root: Path, settings: Settings) -> None:
    """R_REPOS as the rlab build, `make check`, `make lock` and `make outdated` read it."""
    rrepos.prepare(settings.r_repos, root / R_REPOS_FILE, root / R_REPOS_COPIES)


def install_text(root: Path, package_list: PackageList, settings: Settings) -> str:
    """What the build installs for a list (an optional list that is missing installs nothing)."""
    if package_list.optional and not (root / package_list.path).is_file():
        return ""
    _, text = lockfile.install_text(root, package_list.path)
    if package_list.kind == "debian":
        # Bare names (or name=version pins): apt-install reads them as they are.
        return "".join(f"{entry}\n" for entry in logical_lines(text))
    if package_list.frameworks:
        cuda_version = settings.cuda_of(package_list.path)
        return frameworks.rewrite(text, bool(cuda_version), cuda_version, settings.torch_cpu_index)
    return text


def check_base_lock(root: Path, settings: Settings) -> None:
    """BASE=python builds from base.lock's digest: it must pin the PYTHONBASE asked for."""
    path = root / "base.lock"
    pinned = path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    if settings.base == "python" and pinned and not pinned.startswith(f"{settings.python_base_reference}@"):
        raise SettingError(
            f"base.lock pins {pinned}, not PYTHONBASE={settings.python_base}: run `make lock` (or delete base.lock)"
        )


def pull_base_image(settings: Settings, reference: str) -> None:
    """Fetch the python base image before any build, so that a registry out of reach is named
    with its fix instead of ending a build in the engine's own words."""
    if engine.image_facts(settings.container_cli, reference) is not None:
        return
    try:
        engine.run(settings.container_cli, "pull", reference)
    except engine.EngineError as error:
        raise SettingError(
            f"BASE={settings.base_setting}: {reference} could not be pulled, so no registry is reachable ({error}).\n"
            "    fix: install mmdebstrap and build with BASE=rootfs (from the Debian archive, no registry), "
            "or give this machine access to the registry"
        ) from error


def build_inputs(root: Path, build: str) -> list[Path]:
    """Every file a build reads: its folder, its lists' install files, the helpers and its extras."""
    roots = [
        Path(build),
        *(Path(helper) for helper in BUILD_HELPERS),
        *(INSTALL / package_list.name for package_list in LISTS if package_list.build == build),
        *(
            SNAPSHOTS / package_list.name
            for package_list in LISTS
            if package_list.build == build and package_list.layered
        ),
        *EXTRA_INPUTS.get(build, ()),
    ]
    files: set[Path] = set()
    for item in roots:
        path = root / item
        if path.is_dir():
            files.update(
                found.relative_to(root)
                for found in path.rglob("*")
                if found.is_file() and "__pycache__" not in found.parts
            )
        elif path.is_file():
            files.add(item)
    return sorted(files)


def inputs_record(root: Path, build: str) -> str:
    """One `sha256  path` line a file the build reads."""
    lines = []
    for path in build_inputs(root, build):
        digest = hashlib.sha256((root / path).read_bytes()).hexdigest()
        lines.append(f"{digest}  {path}\n")
    return "".join(lines)


def prepare(root: Path, settings: Settings, builds: list[str], pull_base: str = "") -> list[str]:
    """Write every file under .build/ that changed (after pulling the python base image, when it
    is named and not here); return what to tell the user."""
    check_base_lock(root, settings)
    if pull_base:
        pull_base_image(settings, pull_base)
    messages = []
    for package_list in LISTS:
        install = root / INSTALL / package_list.name
        write_if_changed(install, install_text(root, package_list, settings))
        if package_list.layered and refresh_snapshot(install, root / SNAPSHOTS / package_list.name):
            messages.append(f"a new snapshot of {package_list.path}: its packages' layer is rebuilt in full")
    write_r_repos(root, settings)
    write_if_changed(root / BUILD / "aptproxy", settings.apt_proxy)
    write_if_changed(root / BUILD / "pipindex", settings.pip_index)
    for build in builds:
        write_if_changed(root / settings.platform.stamps / "inputs" / build, inputs_record(root, build))
    return messages
