"""`make outdated`: which pins of the locks have newer releases. Python pins are compared with the
package index's JSON simple API (PEP 691) through requests; Debian and R pins with the apt
candidates of the chain's base image. A report: it never changes a lock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from pyrlab.images.lock import Resolver
from pyrlab.inside.errors import UserError
from pyrlab.inside.lists import read_entries
from pyrlab.inside.lockfile import LOCKS, pins
from pyrlab.inside.rsource import Repositories, locked_plan, read_repositories

# How lockfile.pins names an R source of r_packages.lock, beside the Debian pins.
SOURCE_SUFFIX = " (R source)"

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Outdated:
    lock: str
    package: str
    pinned: str
    newest: str


class IndexAnswerError(UserError):
    """The package index did not answer as an index."""


def file_version(filename: str) -> Version | None:
    """The version a distribution's file name carries, or None for a name that is neither a wheel
    nor an sdist."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def newest_release(project_page: dict[str, object], pinned: Version) -> Version | None:
    """The newest version with a file that is not yanked; pre-releases only when the pin is one."""
    versions = set()
    files = project_page.get("files", [])
    for entry in files if isinstance(files, list) else []:
        if not isinstance(entry, dict) or entry.get("yanked"):
            continue
        version = file_version(str(entry.get("filename", "")))
        if version is not None and (not version.is_prerelease or pinned.is_prerelease):
            versions.add(version)
    return max(versions, default=None)


def index_get(session: requests.Session, url: str, timeout: float = 30) -> requests.Response:
    """A page of the package index, asked for in PEP 691's JSON."""
    try:
        return session.get(url, headers={"Accept": SIMPLE_JSON}, timeout=timeout)
    except requests.RequestException as error:
        raise IndexAnswerError(f"the package index did not answer ({error}): check PIPPROXY, or unset it") from error


def project_url(index: str, name: str) -> str:
    return f"{index.rstrip('/')}/{canonicalize_name(name)}/"


def project_page(session: requests.Session, index: str, name: str) -> dict[str, object]:
    url = project_url(index, name)
    response = index_get(session, url)
    if response.status_code == 404:
        return {"files": []}
    response.raise_for_status()
    if SIMPLE_JSON not in response.headers.get("Content-Type", ""):
        raise IndexAnswerError(f"{url} did not answer with the JSON simple API (PEP 691); is it a package index?")
    page = response.json()
    if not isinstance(page, dict):
        raise IndexAnswerError(f"{url} answered with something other than a project page")
    return page


def locked(root: Path, kind: str) -> dict[str, tuple[str, str]]:
    """package -> (the first lock that pins it, its version), over the locks of one kind."""
    pinned: dict[str, tuple[str, str]] = {}
    for spec in LOCKS:
        path = root / spec.lock
        if spec.kind == kind and path.is_file():
            for name, version in pins(spec, path.read_text(encoding="utf-8")).items():
                pinned.setdefault(name, (spec.lock, version))
    return pinned


def python_outdated(root: Path, index: str, verify: bool | str = True) -> list[Outdated]:
    """Every Python pin with a newer release on the index."""
    pinned = locked(root, "python")
    session = requests.Session()
    session.verify = verify

    def check(name: str) -> Outdated | None:
        lock, version = pinned[name]
        newest = newest_release(project_page(session, index, name), Version(version))
        if newest is not None and newest > Version(version):
            return Outdated(lock, name, version, str(newest))
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = [item for item in pool.map(check, sorted(pinned)) if item is not None]
    return found


def debian_outdated(root: Path, resolver: Resolver) -> list[Outdated]:
    """Every Debian or R pin whose apt candidate in the base image is newer."""
    pinned = {name: pin for name, pin in locked(root, "debian").items() if not name.endswith(SOURCE_SUFFIX)}
    if not pinned:
        return []
    newer = resolver.run(root, "candidates", stdin=json.dumps({name: pin[1] for name, pin in pinned.items()}))
    return [Outdated(pinned[name][0], name, pinned[name][1], str(newest)) for name, newest in sorted(newer.items())]


def r_version(text: str) -> tuple[int, ...]:
    """R's package_version: numbers separated by dots and dashes."""
    return tuple(int(part) for part in re.split(r"[.-]", text) if part.isdigit())


def r_source_outdated(root: Path, repositories_file: Path, copies: Path) -> list[Outdated]:
    """Every R source pinned in r_packages.lock whose repository offers a newer version."""
    lock = root / "r_packages.lock"
    pinned = locked_plan(read_entries(lock)) if lock.is_file() else None
    if pinned is None or not pinned.sources:
        return []
    repositories = Repositories(read_repositories(repositories_file, copies) if repositories_file.is_file() else [])
    rows = []
    for source in pinned.sources:
        for repository, packages in zip(repositories.repositories, repositories.indexes(), strict=True):
            offered = packages.get(source.name)
            if (
                repository.origin == source.repository
                and offered is not None
                and r_version(offered.version) > r_version(source.version)
            ):
                rows.append(Outdated("r_packages.lock", source.name, source.version, offered.version))
    return rows


def table(rows: Iterable[Outdated]) -> str:
    header = ("lock", "package", "pinned", "newest")
    cells = [header, *((row.lock, row.package, row.pinned, row.newest) for row in rows)]
    widths = [max(len(cell[column]) for cell in cells) for column in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip() for row in cells
    )
