"""R packages that Debian has no binary of, from CRAN-like repositories (R_REPOS): resolved,
fetched with their sha256 checked, and compiled once.

Each name of r_packages.txt is Debian's binary when Debian has one; otherwise the first repository
of R_REPOS that has it gives its source. A source package's R dependencies again come from
Debian wherever Debian has them, and from the repositories otherwise. The plan (Debian names to
install, source packages in dependency order) is made inside the rlab build and by `make lock`.

The build's repositories come in a file of one "KIND LOCATION ORIGIN" a line (make writes it):
  cran     a CRAN-like repository, by URL (http, https) or folder (src/contrib/PACKAGES in it)
  tarballs a folder of source tarballs (each one's DESCRIPTION read from the tarball)
LOCATION is where this process reads it (a folder relative to the repositories' base folder);
ORIGIN is what R_REPOS said, recorded in locks and manifests.

Standard library only: it runs inside the build (rlab's builder stage), where only the image's
Python is at hand.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyrlab.inside.errors import UserError
from pyrlab.inside.lists import R_BASE_PACKAGES, Entry
from pyrlab.inside.rdeb import PREFIXES, debian_package, r_name_of

SOURCE_PIN = re.compile(r"^([A-Za-z][A-Za-z0-9.]*)==(\S+) sha256=([0-9a-f]{64}) repo=(\S+)$")
DEPENDENCY_FIELDS = ("Depends", "Imports", "LinkingTo")


class SourceError(UserError):
    """A source package cannot be resolved, fetched or built; the message names it and the fix."""


@dataclass(frozen=True)
class Repository:
    kind: str  # "cran" or "tarballs"
    location: str  # URL or folder, as this process reads it
    origin: str  # as R_REPOS said it


@dataclass
class Source:
    """A source package: where its tarball is, and what it needs."""

    name: str
    version: str
    repository: str  # the origin, as R_REPOS said it
    url: str  # the tarball, as this process reads it
    depends: list[str] = field(default_factory=list)
    sha256: str = ""

    def pin(self) -> str:
        """Its line in r_packages.lock."""
        return f"{self.name}=={self.version} sha256={self.sha256} repo={self.repository}"


@dataclass
class Plan:
    """What the R list needs: Debian's binaries (with a note each) and sources in install order."""

    debian: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    sources: list[Source] = field(default_factory=list)


def read_repositories(path: Path, base: Path) -> list[Repository]:
    """The repositories file make writes; folder locations are relative to `base`."""
    repositories = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        kind, location, origin = line.split(" ", 2)
        if "://" not in location:
            location = str(base / location)
        repositories.append(Repository(kind, location, origin))
    return repositories


def read_bytes(location: str) -> bytes:
    """A file by URL (http, https, file) or path."""
    if location.startswith(("http://", "https://")):
        with urllib.request.urlopen(location, timeout=120) as answer:  # noqa: S310 - R_REPOS, http(s) only
            data: bytes = answer.read()
            return data
    return Path(location.removeprefix("file://")).read_bytes()


def parse_dcf(text: str) -> list[dict[str, str]]:
    """Debian control format, as PACKAGES and DESCRIPTION files are written."""
    records: list[dict[str, str]] = []
    record: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if record:
                records.append(record)
            record, last = {}, ""
        elif line[0] in " \t" and last:
            record[last] += " " + line.strip()
        elif ":" in line:
            last, _, value = line.partition(":")
            record[last] = value.strip()
    if record:
        records.append(record)
    return records


def dependencies(record: dict[str, str]) -> list[str]:
    """The R packages a DESCRIPTION needs to install and load (R itself and its base left out)."""
    names = []
    for field_name in DEPENDENCY_FIELDS:
        for item in record.get(field_name, "").split(","):
            name = item.split("(")[0].strip()
            if name and name != "R" and name not in R_BASE_PACKAGES and name not in names:
                names.append(name)
    return names


def index(repository: Repository) -> dict[str, Source]:
    """Every package a repository offers, by name."""
    found: dict[str, Source] = {}
    try:
        if repository.kind == "tarballs":
            for tarball in sorted(Path(repository.location).glob("*.tar.gz")):
                record = description_in(tarball)
                found[record["Package"]] = Source(
                    record["Package"], record["Version"], repository.origin, str(tarball), dependencies(record)
                )
            return found
        contrib = repository.location.rstrip("/") + "/src/contrib"
        for record in parse_dcf(read_bytes(contrib + "/PACKAGES").decode("utf-8", errors="replace")):
            name, version = record["Package"], record["Version"]
            found[name] = Source(
                name, version, repository.origin, f"{contrib}/{name}_{version}.tar.gz", dependencies(record)
            )
    except (OSError, KeyError, tarfile.TarError) as error:
        raise SourceError(
            f"R_REPOS: {repository.origin} cannot be read ({error}).\n"
            "    fix: give a CRAN-like repository (its src/contrib/PACKAGES), a folder of tarballs, or correct R_REPOS"
        ) from None
    return found


def description_in(tarball: Path) -> dict[str, str]:
    with tarfile.open(tarball) as archive:
        member = next(
            item for item in archive.getmembers() if item.name.count("/") == 1 and item.name.endswith("/DESCRIPTION")
        )
        handle = archive.extractfile(member)
        if handle is None:
            raise KeyError(f"{tarball} has no DESCRIPTION file")
        return parse_dcf(handle.read().decode("utf-8", errors="replace"))[0]


class UnknownRNames(UserError):
    """Some lines name a package that neither Debian nor R_REPOS provides."""


class Repositories:
    """R_REPOS, each repository's index read once, when first needed (a locked build never reads them
    when the tarballs are cached: an offline rebuild works)."""

    def __init__(self, repositories: list[Repository]) -> None:
        self.repositories = repositories
        self._indexes: list[dict[str, Source]] | None = None

    def __bool__(self) -> bool:
        return bool(self.repositories)

    def indexes(self) -> list[dict[str, Source]]:
        if self._indexes is None:
            self._indexes = [index(repository) for repository in self.repositories]
        return self._indexes

    def find(self, name: str) -> Source | None:
        """The package from the first repository that has it."""
        for packages in self.indexes():
            if name in packages:
                return packages[name]
        return None

    def locate(self, source: Source) -> str:
        """Where a locked source's tarball is: its repository's, at the locked version."""
        for repository, packages in zip(self.repositories, self.indexes(), strict=True):
            if repository.origin != source.repository:
                continue
            offered = packages.get(source.name)
            if offered is not None and offered.version == source.version:
                return offered.url
            if repository.kind == "cran":  # CRAN keeps every older version in its archive
                contrib = repository.location.rstrip("/") + "/src/contrib"
                return f"{contrib}/Archive/{source.name}/{source.name}_{source.version}.tar.gz"
            raise SourceError(
                f"{source.repository} no longer has {source.name} {source.version}, which r_packages.lock pins; "
                "fix: run `make lock`"
            )
        raise SourceError(
            f"r_packages.lock takes {source.name} from {source.repository}, which R_REPOS no longer names; "
            "fix: add it to R_REPOS again, or run `make lock`"
        )


def make_plan(entries: list[Entry], available: set[str], repositories: Repositories, debian_only: bool = False) -> Plan:
    """Resolve every entry (Debian first, then the repositories in order) with its dependencies.
    With debian_only, the entries Debian lacks are left out, not looked up."""
    plan = Plan()
    chosen: dict[str, Source] = {}
    problems = []

    def add_debian(package: str, note: str) -> None:
        if package not in plan.debian:
            plan.debian.append(package)
            plan.notes[package] = note

    def add_source(source: Source, path: list[str]) -> None:
        if source.name in chosen:
            return
        chosen[source.name] = source
        for needed in source.depends:
            package = debian_package(needed, available)
            if package is not None:
                add_debian(package, f"R: {needed}, for {source.name}")
            elif (dependency := repositories.find(needed)) is not None:
                add_source(dependency, [*path, source.name])
            else:
                problems.append(
                    f"{' -> '.join([*path, source.name])} needs {needed!r}, which neither Debian nor R_REPOS provides"
                )
        plan.sources.append(source)  # after its dependencies: the install order

    for entry in entries:
        package = debian_package(entry.text, available)
        if package is not None:
            add_debian(package, f"R: {entry.text}")
        elif debian_only:
            continue
        elif repositories and (source := repositories.find(entry.text)) is not None:
            add_source(source, [])
        else:
            indexes = repositories.indexes() if repositories else []
            problems.append(unknown_message(entry, available, indexes, bool(repositories)))
    if problems:
        fix = (
            "fix: correct the names, remove them, or add a repository that has them to R_REPOS "
            "(`apt-cache search r-cran-` lists Debian's)"
        )
        raise UnknownRNames("\n".join([*problems, fix]))
    return plan


def locked_plan(entries: list[Entry]) -> Plan | None:
    """The plan r_packages.lock spells out (Debian pins, sources in install order); None for a list."""
    plan = Plan()
    for entry in entries:
        if match := SOURCE_PIN.match(entry.text):
            plan.sources.append(Source(match[1], match[2], match[4], "", [], match[3]))
        elif "=" in entry.text:
            plan.debian.append(entry.text)
        else:
            return None
    return plan


def unknown_message(entry: Entry, available: set[str], indexes: list[dict[str, Source]], any_repos: bool) -> str:
    """file:line, what was looked up, and the closest names of Debian and the repositories."""
    known = {r_name_of(name) for name in available if name.startswith(PREFIXES)}
    for packages in indexes:
        known.update(packages)
    names = sorted(known)
    close = difflib.get_close_matches(entry.text, names, n=3, cutoff=0.75)
    lower = difflib.get_close_matches(entry.text.lower(), names, n=3, cutoff=0.75)
    close += [name for name in lower if name not in close]
    hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
    repositories = "and no repository of R_REPOS has it" if any_repos else "and R_REPOS names no repository"
    debian = f"has no Debian package r-cran-/r-bioc-/r-other-{entry.text.lower()}"
    return f"{entry.path}:{entry.line}: {entry.text!r} {debian}, {repositories}{hint}"


def fetch(source: Source, cache: Path, repositories: Repositories) -> Path:
    """The tarball, from the cache (by sha256) or its repository; a hash other than the lock's fails."""
    if source.sha256 and (cached := cache / f"{source.sha256}.tar.gz").is_file():
        return cached
    if not source.url:
        source.url = repositories.locate(source)
    try:
        data = read_bytes(source.url)
    except OSError as error:
        raise SourceError(f"{source.url} cannot be fetched ({error}); fix: check R_REPOS, or run `make lock`") from None
    digest = hashlib.sha256(data).hexdigest()
    if source.sha256 and digest != source.sha256:
        raise SourceError(
            f"{source.url} has sha256 {digest}, but r_packages.lock says {source.sha256} for "
            f"{source.name} {source.version}: the tarball changed since the lock.\n"
            "    fix: find out why; if the new tarball is trusted, run `make lock`"
        )
    source.sha256 = digest
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{digest}.tar.gz"
    temporary = path.with_suffix(".partial")
    temporary.write_bytes(data)
    temporary.replace(path)
    return path


def r_version() -> str:
    result = subprocess.run(["R", "--version"], capture_output=True, text=True, check=True)
    return result.stdout.split()[2]


def build(plan_file: Path, library: Path, tarballs: Path, built: Path, repositories: Repositories) -> list[str]:
    """Install every source of the plan into `library`, compiling only what the cache lacks.

    A compiled package is kept as R's binary tarball, by the source's sha256 and R's version, so
    that an unchanged package is unpacked, not compiled, when the list changes elsewhere.
    """
    sources = [Source(**item) for item in json.loads(plan_file.read_text(encoding="utf-8"))["sources"]]
    library.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "R_LIBS": str(library), "MAKEFLAGS": f"-j{os.cpu_count() or 1}"}
    version = r_version()
    report = []
    for source in sources:
        tarball = fetch(source, tarballs, repositories)
        binary = built / version / f"{source.sha256}.tar.gz"
        if binary.is_file():
            install = ["R", "CMD", "INSTALL", "--library=" + str(library), str(binary)]
            run(install, environment, source)
            report.append(f"{source.name} {source.version}: from the cache of compiled packages")
            continue
        with tempfile.TemporaryDirectory() as work:
            run(
                ["R", "CMD", "INSTALL", "--build", "--library=" + str(library), str(tarball)], environment, source, work
            )
            made = next(Path(work).glob(f"{source.name}_*.tar.gz"))
            binary.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made, binary.with_suffix(".partial"))
            binary.with_suffix(".partial").replace(binary)
        report.append(f"{source.name} {source.version}: compiled from {source.repository}")
    origins = [{"name": s.name, "version": s.version, "repository": s.repository, "sha256": s.sha256} for s in sources]
    (library / ".pyrlab-sources.json").write_text(json.dumps(origins, indent=2) + "\n", encoding="utf-8")
    return report


def run(command: list[str], environment: dict[str, str], source: Source, cwd: str | None = None) -> None:
    result = subprocess.run(command, env=environment, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SourceError(
            f"R could not install {source.name} {source.version} from {source.repository}:\n"
            f"{(result.stdout + result.stderr)[-3000:]}\n"
            "    fix: add the Debian -dev packages it needs to r_build_debs.txt (its SystemRequirements says which)"
        )


def runtime_packages(library: Path, present: set[str]) -> list[str]:
    """The Debian packages whose shared libraries the compiled packages load, but for those
    `present` (rlab-base's, which the final image has anyway)."""
    libraries: set[str] = set()
    for shared in library.glob("*/libs/*.so"):
        result = subprocess.run(["ldd", str(shared)], capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            parts = line.split("=>")
            if len(parts) == 2 and parts[1].strip().startswith("/"):
                libraries.add(parts[1].split()[0])
    packages: set[str] = set()
    for path in sorted(libraries):
        # usrmerge: dpkg may know a library under /lib rather than /usr/lib.
        for candidate in (path, os.path.realpath(path), path.replace("/usr/lib/", "/lib/", 1)):
            result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True, check=False)
            owners = [line for line in result.stdout.splitlines() if not line.startswith("diversion ")]
            if result.returncode == 0 and owners:
                for line in owners:
                    packages.update(owner.split(":")[0] for owner in line.partition(": ")[0].split(", "))
                break
    return sorted(packages - present)


def plan_command(list_path: Path, repositories: Repositories, out: Path, debian_only: bool = False) -> list[str]:
    """Plan the list (or lock); write the plan; return the Debian packages to install."""
    from pyrlab.inside.lists import ListError, check_r_list, read_entries
    from pyrlab.inside.rdeb import apt_package_names

    entries = read_entries(list_path)
    plan = locked_plan(entries)
    if plan is None:
        problems = check_r_list(entries)
        if problems:
            raise ListError(problems)
        plan = make_plan(entries, apt_package_names(), repositories, debian_only)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(plan_document(plan) + "\n", encoding="utf-8")
    return plan.debian


def main(argv: list[str] | None = None) -> int:
    """In the rlab build:
    `python3 -m pyrlab.inside.rsource plan LIST REPOS BASE PLAN`: write the plan of r_packages.txt (or
        its lock) to PLAN and print the Debian packages to install, one a line;
    `python3 -m pyrlab.inside.rsource debian LIST REPOS BASE PLAN`: the same for the names Debian has,
        the others left out (the first of rlab's two layers, which R_REPOS does not change);
    `python3 -m pyrlab.inside.rsource build PLAN REPOS BASE LIBRARY CACHE`: compile the plan's sources
        into LIBRARY (tarballs and compiled packages kept in CACHE), and write
        LIBRARY/.pyrlab-runtime-debs, the Debian runtime libraries they load that are not in
        LIBRARY/../rlab-base-packages.
    REPOS is the repositories file make writes, BASE the folder its folders are relative to.
    """
    from pyrlab.inside.lists import ListError

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (5, 6) or args[0] not in ("plan", "debian", "build"):
        print(main.__doc__, file=sys.stderr)
        return 2
    repositories_file, base = Path(args[2]), Path(args[3])
    found = read_repositories(repositories_file, base) if repositories_file.is_file() else []
    repositories = Repositories(found)
    try:
        if args[0] in ("plan", "debian"):
            debian_only = args[0] == "debian"
            print("\n".join(plan_command(Path(args[1]), repositories, Path(args[4]), debian_only)))
            return 0
        library, cache = Path(args[4]), Path(args[5])
        for line in build(Path(args[1]), library, cache / "tarballs", cache / "built", repositories):
            print(f"pyrlab: {line}", file=sys.stderr, flush=True)
        present = library.parent / "rlab-base-packages"
        runtime = runtime_packages(library, set(present.read_text(encoding="utf-8").split()))
        (library / ".pyrlab-runtime-debs").write_text("".join(f"{name}\n" for name in runtime), encoding="utf-8")
    except (SourceError, UnknownRNames, ListError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def plan_document(plan: Plan) -> str:
    return json.dumps({"debian": plan.debian, "sources": [asdict(source) for source in plan.sources]}, indent=2)


if __name__ == "__main__":
    raise SystemExit(main())
