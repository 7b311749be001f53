"""`make check` for a PLATFORM other than the host's: every Python package the builds install must
come as a wheel for that platform, so that nothing is compiled in an image (slowly, under QEMU, or
not at all for want of a compiler) without anyone asking for it.

What is checked: with a lock, every package it pins, at its version; without one, each line of the
list, at the newest version the line allows (its dependencies are known only once it is locked).
A requirement's extras (`jax[cuda13]`, `tensorflow[and-cuda]`) bring their own projects, which are
checked too, one level deep, from the metadata the index serves beside each wheel (PEP 658).
A package with wheels, none of them for the platform, is named with its file and line. A package
with no wheel at all (a source distribution only) builds the same way on every platform and is
left to the build.
"""

from __future__ import annotations

import re
import struct
import urllib.parse
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from pyrlab.images.frameworks import cuda_extras
from pyrlab.images.outdated import index_get, project_url
from pyrlab.inside.lists import LISTS, Problem, read_entries
from pyrlab.inside.lockfile import LOCK_FOR_LIST, PYTHON_PIN
from pyrlab.platforms import Platform
from pyrlab.settings import Settings

# The Python of every image: Debian trixie's (the rootfs) or python:3.13-trixie.
PYTHON = (3, 13)
# The projects pylab's Dockerfile adds to requirements-gpu.txt in its CUDA stage.
CUDA_STAGE = ("cuda-toolkit[cudart,cublas,nvrtc,nvcc]", "nvidia-cudnn-cu{version}")


@dataclass(frozen=True)
class Wanted:
    """A package a build installs, where it is named, and which versions may come."""

    path: Path
    line: int
    name: str
    specifier: SpecifierSet
    extras: frozenset[str] = field(default_factory=frozenset)
    via: str = ""  # for a project an extra brings: the requirement that asked for it
    hashes: frozenset[str] = frozenset()  # a lock's pin: the sha256 of the files it allows


def fits(filename: str, platform: Platform, python: tuple[int, int] = PYTHON) -> bool:
    """Whether a wheel installs on the images' Python on this platform (glibc Linux)."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    major, minor = python
    interpreters = {f"py{major}", f"py{major}{minor}", f"cp{major}{minor}"}
    for tag in tags:
        machine_ok = tag.platform == "any" or (
            tag.platform.startswith(("manylinux", "linux_")) and tag.platform.endswith(f"_{platform.machine}")
        )
        abi3 = tag.abi == "abi3" and re.fullmatch(rf"cp{major}(\d+)", tag.interpreter) is not None
        abi3_ok = abi3 and int(tag.interpreter[len(f"cp{major}") :]) <= minor
        if machine_ok and (tag.interpreter in interpreters or abi3_ok):
            return True
    return False


def version_of(filename: str) -> Version | None:
    """The version a distribution file carries (a wheel, or a name-version.tar.gz/.zip sdist)."""
    try:
        return parse_wheel_filename(filename)[1]
    except InvalidWheelFilename:
        pass
    stem = re.sub(r"\.(tar\.gz|zip|tar\.bz2)$", "", filename)
    try:
        return Version(stem.rsplit("-", 1)[-1]) if "-" in stem else None
    except InvalidVersion:
        return None


def wanted(root: Path, settings: Settings) -> list[Wanted]:
    """Every Python package the platform's builds install: the locks' pins, else the lists' lines."""
    found: list[Wanted] = []
    for package_list in LISTS:
        path = root / package_list.path
        if package_list.kind != "python" or not path.is_file():
            continue
        if package_list.path == "requirements-gpu.txt" and not settings.cuda_install:
            continue
        spec = LOCK_FOR_LIST.get(package_list.path)
        lock = root / spec.lock if spec is not None else None
        if lock is not None and lock.is_file():
            found += locked(lock.relative_to(root), lock.read_text(encoding="utf-8"))
            continue
        for entry in read_entries(path):
            try:
                requirement = Requirement(entry.text)
            except InvalidRequirement:
                continue  # `make check` names it
            if requirement.url is None:
                # The frameworks' CUDA builds, as `pyrlab prepare` switches them (frameworks.rewrite).
                cuda = settings.cuda_of(package_list.path) if package_list.frameworks else ""
                extras = set(requirement.extras) | (
                    cuda_extras(canonicalize_name(requirement.name), cuda) if cuda else set()
                )
                found.append(
                    Wanted(
                        Path(package_list.path), entry.line, requirement.name, requirement.specifier, frozenset(extras)
                    )
                )
        if settings.cuda_install and package_list.path == "requirements-gpu.txt":
            found += cuda_stage(root, settings.cuda_version)
    return found


def locked(path: Path, text: str) -> list[Wanted]:
    """A Python lock's pins, each with its line and the hashes on its continuation lines."""
    pins: list[Wanted] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        match = PYTHON_PIN.match(raw)
        if match:
            pins.append(Wanted(path, number, match[1], SpecifierSet(f"=={match[2]}")))
        elif pins and raw[:1].isspace():
            hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", raw))
            last = pins[-1]
            pins[-1] = Wanted(
                last.path, last.line, last.name, last.specifier, last.extras, last.via, last.hashes | hashes
            )
    return pins


def cuda_stage(root: Path, cuda_version: str) -> list[Wanted]:
    """What pylab's CUDA stage adds to requirements-gpu.txt, named by its Dockerfile's line."""
    dockerfile = Path("pylab/Dockerfile")
    lines = (root / dockerfile).read_text(encoding="utf-8").splitlines()
    line = next((number for number, text in enumerate(lines, start=1) if "cuda-toolkit[" in text), 0)
    requirements = [Requirement(text.format(version=cuda_version)) for text in CUDA_STAGE]
    return [
        Wanted(dockerfile, line, requirement.name, requirement.specifier, frozenset(requirement.extras))
        for requirement in requirements
    ]


class Index:
    """The project pages of one package index, each asked for once."""

    def __init__(self, url: str, verify: bool | str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.verify = verify
        self.pages: dict[str, list[dict[str, object]]] = {}

    def files(self, name: str) -> list[dict[str, object]]:
        key = str(canonicalize_name(name))
        if key not in self.pages:
            page = project_url(self.url, key)
            response = index_get(self.session, page)
            files = response.json().get("files", []) if response.status_code == 200 else []
            # A file's URL may be relative to its page (PEP 691).
            self.pages[key] = [
                {**item, "url": urllib.parse.urljoin(page, str(item.get("url", "")))}
                for item in files
                if isinstance(item, dict) and not item.get("yanked")
            ]
        return self.pages[key]

    def metadata(self, file: dict[str, object]) -> str:
        """A wheel's METADATA: the index's copy (PEP 658) when it has one, else read from the wheel
        itself with three range requests (its zip directory, then the one member)."""
        url = str(file["url"])
        response = self.session.get(f"{url}.metadata", timeout=60)
        if response.status_code == 200:
            return response.text
        try:
            return zip_member(self.session, url, "METADATA")
        except (requests.RequestException, ValueError, zlib.error):
            return ""


def byte_range(session: requests.Session, url: str, start: int, end: int | None = None) -> bytes:
    wanted = f"bytes={start}-{'' if end is None else end}" if start >= 0 else f"bytes={start}"
    response = session.get(url, headers={"Range": wanted}, timeout=60)
    if response.status_code != 206:
        raise ValueError(f"{url} does not serve ranges")
    return response.content


def zip_member(session: requests.Session, url: str, tail: str) -> str:
    """The text of a wheel's .dist-info member named tail, without downloading the wheel."""
    end = byte_range(session, url, -65536)
    record = end.rfind(b"PK\x05\x06")  # the end of the central directory
    if record < 0:
        raise ValueError("no zip directory")
    size, offset = struct.unpack("<II", end[record + 12 : record + 20])
    directory = byte_range(session, url, offset, offset + size - 1)
    position = 0
    while directory[position : position + 4] == b"PK\x01\x02":
        method = struct.unpack("<H", directory[position + 10 : position + 12])[0]
        compressed = struct.unpack("<I", directory[position + 20 : position + 24])[0]
        name_length, extra_length, comment_length = struct.unpack("<HHH", directory[position + 28 : position + 34])
        local = struct.unpack("<I", directory[position + 42 : position + 46])[0]
        name = directory[position + 46 : position + 46 + name_length].decode()
        if name.endswith(f".dist-info/{tail}") and name.count("/") == 1:
            header = byte_range(session, url, local, local + 29)
            skip = 30 + sum(struct.unpack("<HH", header[26:30]))
            data = byte_range(session, url, local + skip, local + skip + compressed - 1)
            return (zlib.decompress(data, -15) if method == 8 else data).decode()
        position += 46 + name_length + extra_length + comment_length
    raise ValueError(f"no {tail} in the wheel")


def chosen_version(files: list[dict[str, object]], specifier: SpecifierSet) -> Version | None:
    """The version uv would take: the newest final release the line allows (a pre-release when
    only those match)."""
    versions = {version for item in files if (version := version_of(str(item["filename"]))) is not None}
    allowed = list(specifier.filter(sorted(versions)))
    return max(allowed) if allowed else None


def dependencies(metadata: str, extras: Iterable[str], platform: Platform, *, extras_only: bool) -> list[Requirement]:
    """The dependencies a wheel's METADATA names on that platform: those its extras add, or all."""
    found = []
    environment = {"platform_machine": platform.machine, "sys_platform": "linux", "platform_system": "Linux"}
    environment |= {"python_version": f"{PYTHON[0]}.{PYTHON[1]}", "extra": ""}
    for line in metadata.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        try:
            requirement = Requirement(line.split(":", 1)[1].strip())
        except InvalidRequirement:
            continue
        by_extra = requirement.marker is not None and "extra" in str(requirement.marker)
        if extras_only and not by_extra:
            continue
        marker = requirement.marker
        if marker is None or any(marker.evaluate({**environment, "extra": extra}) for extra in ["", *extras]):
            found.append(requirement)
    return found


def extra_projects(metadata: str, extras: Iterable[str], platform: Platform) -> list[Requirement]:
    """The dependencies a wheel's METADATA adds for the extras asked, on that platform."""
    return dependencies(metadata, extras, platform, extras_only=True)


# The deep-learning frameworks of the CUDA build, and what their CUDA build brings on a platform:
# NVIDIA's libraries as wheels (nvidia-*), directly or through a plugin (jax-cudaNN-plugin).
CUDA_FRAMEWORKS = frozenset({"torch", "jax", "tensorflow"})


def brings_cuda(index: Index, name: str, extras: Iterable[str], platform: Platform, depth: int = 2) -> bool:
    """Whether the newest fitting wheel of a project brings NVIDIA's libraries on the platform
    (looking two levels down)."""
    files = index.files(name)
    version = chosen_version(files, SpecifierSet())
    fitting = [
        file for file in files if version_of(str(file["filename"])) == version and fits(str(file["filename"]), platform)
    ]
    if not fitting:
        return False
    for requirement in dependencies(index.metadata(fitting[0]), extras, platform, extras_only=False):
        if canonicalize_name(requirement.name).startswith("nvidia-"):
            return True
        plugin = canonicalize_name(requirement.name).startswith(("jax-cuda", "jaxlib"))
        if depth > 1 and plugin and brings_cuda(index, requirement.name, requirement.extras, platform, depth - 1):
            return True
    return False


def cpu_only_frameworks(index: Index, items: list[Wanted], settings: Settings) -> list[Problem]:
    """With CUDA_INSTALL=yes: each framework whose build for PLATFORM on the index brings no CUDA."""
    if not settings.cuda_install:
        return []
    problems = []
    for item in items:
        if str(canonicalize_name(item.name)) not in CUDA_FRAMEWORKS or item.path.suffix != ".txt":
            continue
        if not brings_cuda(index, item.name, item.extras, settings.platform):
            extras = f"[{','.join(sorted(item.extras))}]" if item.extras else ""
            problems.append(
                Problem(
                    item.path,
                    item.line,
                    f"{item.name}{extras} on the package index has no CUDA build for {settings.platform.name}: "
                    "its wheel for that platform brings none of NVIDIA's libraries (a CPU build)",
                    "take that framework from its makers' own CUDA index for aarch64 (PIPPROXY can mirror it), "
                    "remove the line, or build CUDA_INSTALL=yes for linux/amd64",
                )
            )
    return problems


def problem_of(index: Index, item: Wanted, platform: Platform) -> tuple[Problem | None, list[Wanted]]:
    """The package's problem on the platform (None when it has a wheel there, or no wheel at all),
    and the projects its extras bring."""
    files = index.files(item.name)
    version = chosen_version(files, item.specifier)
    if version is None:
        return None, []  # not on this index, or no version matches: uv and `make check` say so
    of_version = [file for file in files if version_of(str(file["filename"])) == version]
    wheels = [file for file in of_version if str(file["filename"]).endswith(".whl")]
    fitting = [file for file in wheels if fits(str(file["filename"]), platform)]
    brought: list[Wanted] = []
    if item.extras and fitting:
        for requirement in extra_projects(index.metadata(fitting[0]), item.extras, platform):
            brought.append(
                Wanted(item.path, item.line, requirement.name, requirement.specifier, frozenset(requirement.extras),
                       via=f"{item.name}[{','.join(sorted(item.extras))}]")
            )  # fmt: skip
    digests = {sha256(file) for file in fitting}
    if fitting and item.hashes and not digests & item.hashes:
        # uv installs a lock with --require-hashes: a lock without the platform's hashes fails there.
        return (
            Problem(
                item.path,
                item.line,
                f"{item.name}=={version} has wheels for {platform.name}, but the lock carries none of their hashes",
                "run make lock: it records the hashes of every file of each pinned version",
            ),
            brought,
        )
    if fitting or not wheels:
        return None, brought
    others = sorted({tag for file in wheels for tag in platform_tags(str(file["filename"]))})
    via = f" (brought by {item.via})" if item.via else ""
    return (
        Problem(
            item.path,
            item.line,
            f"{item.name} {version}{via} has no wheel for {platform.name} on Python {PYTHON[0]}.{PYTHON[1]} "
            f"(its wheels: {', '.join(others[:6])}{', ...' if len(others) > 6 else ''})",
            "pin a version that has one, remove the line, or build for another PLATFORM "
            "(pyrlab compiles no Python package in an image)",
        ),
        brought,
    )


def sha256(file: dict[str, object]) -> str:
    hashes = file.get("hashes")
    return str(hashes.get("sha256", "")) if isinstance(hashes, dict) else ""


def platform_tags(filename: str) -> set[str]:
    try:
        return {tag.platform for tag in parse_wheel_filename(filename)[3]}
    except InvalidWheelFilename:
        return set()


def index_for(item: Wanted, settings: Settings) -> str:
    """pylab's torch projects come from TORCH_CPU_INDEX in its CPU build; the rest from the index."""
    torch = str(canonicalize_name(item.name)) in {"torch", "torchvision", "torchaudio"}
    if torch and not settings.cuda_install and settings.torch_cpu_index and item.path.name == "requirements.txt":
        return settings.torch_cpu_index
    return settings.package_index


def missing_wheels(root: Path, settings: Settings) -> list[Problem]:
    """Every package of the builds' Python lists without a wheel for PLATFORM."""
    platform = settings.platform
    indexes: dict[str, Index] = {}
    problems: list[Problem] = []
    queue = wanted(root, settings)
    seen: set[tuple[str, str]] = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        while queue:
            batch = [item for item in queue if (str(canonicalize_name(item.name)), str(item.specifier)) not in seen]
            seen.update((str(canonicalize_name(item.name)), str(item.specifier)) for item in batch)
            queue = []
            for item in batch:
                url = index_for(item, settings)
                indexes.setdefault(url, Index(url, settings.tls_verify))
            results = pool.map(lambda item: problem_of(indexes[index_for(item, settings)], item, platform), batch)
            for problem, brought in results:
                if problem is not None:
                    problems.append(problem)
                queue += brought
    listed = wanted(root, settings)
    return problems + cpu_only_frameworks(Index(settings.package_index, settings.tls_verify), listed, settings)
