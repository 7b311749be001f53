"""Read and check the four package lists: one entry a line, `#` starts a comment.

Every problem is collected before anything is reported, so a user fixes a list in one pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pyrlab.inside.errors import UserError

Kind = Literal["debian", "python", "r"]


@dataclass(frozen=True)
class PackageList:
    """One package list of the project: where it is, what it names, which build installs it.

    Everything about lists derives from the table below: `make check`, the locks and `make lock`,
    what each build installs (`pyrlab prepare`), `make outdated` and the images' inputs.
    """

    path: str  # relative to the project
    kind: Kind
    build: str  # the folder of the Dockerfile that installs it (pylab, hub, proxies, ...)
    locked: bool = True  # `make lock` pins it, in the .lock file beside it
    optional: bool = False  # a project may do without it (then nothing is installed)
    layered: bool = False  # installed in two layers: a snapshot of it, then the additions
    frameworks: bool = False  # pylab's: the deep-learning frameworks switched to the CUDA or CPU build
    locked_with: tuple[str, ...] = ()  # more lists its lock is resolved from, together with it

    @property
    def name(self) -> str:
        """The file's name, as the builds mount it from .build/install/."""
        return Path(self.path).name

    @property
    def lock(self) -> str | None:
        return str(Path(self.path).with_suffix(".lock")) if self.locked else None


# Every list, in build order. requirements.lock is resolved together with pyrlab-base's own
# packages, so it is the whole of pylab's environment.
LISTS = (
    PackageList("pyrlab-base/runtime_debs.txt", "debian", "pyrlab-base", locked=False),
    PackageList("pyrlab-base/bootstrap.txt", "python", "pyrlab-base"),  # the installers themselves
    PackageList("pyrlab-base/jupyter.txt", "python", "pyrlab-base"),
    PackageList("base_debs.txt", "debian", "pyrlab-base"),
    PackageList(
        "requirements.txt", "python", "pylab", layered=True, frameworks=True, locked_with=("pyrlab-base/jupyter.txt",)
    ),
    # Installed only with CUDA_INSTALL=yes.
    PackageList("requirements-gpu.txt", "python", "pylab", locked=False, optional=True, frameworks=True),
    PackageList("rlab-base/r_core_debs.txt", "debian", "rlab-base", locked=False),
    PackageList("r_debs.txt", "debian", "rlab-base"),
    PackageList("r_packages.txt", "r", "rlab", layered=True),
    # Debian -dev packages that R sources from R_REPOS compile against: in rlab's builder stage only.
    PackageList("r_build_debs.txt", "debian", "rlab", locked=False, optional=True),
    # The team server's image (`make hub`): its proxy from Debian, JupyterHub in an environment of its own.
    PackageList("hub/hub_debs.txt", "debian", "hub"),
    PackageList("hub/hub_requirements.txt", "python", "hub"),
    # The build caches of `make proxies`: apt-cacher-ng and Debian's registry, and the PyPI mirror.
    PackageList("proxies/apt_debs.txt", "debian", "proxies"),
    PackageList("proxies/devpi.txt", "python", "proxies"),
)
LIST_BY_PATH = {package_list.path: package_list for package_list in LISTS}
# The PyTorch projects that TORCH_CPU_INDEX serves for pylab's CPU build, and nothing else.
TORCH_PROJECTS = frozenset({"torch", "torchvision", "torchaudio"})
# How a list whose torch projects come from TORCH_CPU_INDEX is given to uv: as a project's
# pyproject.toml, the one place where uv pins an index to named packages (uv pip ignores
# `tool.uv.sources` in requirement files; an extra index would serve anything it carries).
TORCH_PINNED_PROJECT_START = "[project]\n"
PYTHON_LIST = "requirements.txt"
R_LIST = "r_packages.txt"

# Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters,
# starting with a letter or digit.
DEBIAN_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
# R's own rule ("Writing R Extensions" 1.1.1): letters, digits and dots, starting with a letter,
# not ending with a dot, at least two characters.
R_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$")
# Shipped with R itself (r-base-core): they need no entry and have no r-cran-* package.
R_BASE_PACKAGES = frozenset(
    {
        "base", "compiler", "datasets", "graphics", "grDevices", "grid", "methods",
        "parallel", "splines", "stats", "stats4", "tcltk", "tools", "utils",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One package named on one line of a list."""

    path: Path
    line: int
    text: str


@dataclass(frozen=True)
class Problem:
    """Something wrong with one line of a list, and what to do about it."""

    path: Path
    line: int
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}\n    fix: {self.fix}"


class ListError(UserError):
    """One or more problems in the package lists."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


# The one parser of the list format, for the lists and their locks alike. A comment starts at `#`
# at the start of a line or after white space, as in pip's requirement files: a `#` inside a URL
# (`pkg @ git+https://…@v1#subdirectory=python`) is part of it. A line ending in a backslash
# continues on the next (uv writes hashes so).
COMMENT = re.compile(r"(^|\s)#.*$")


def canonical_name(name: str) -> str:
    """A Python project's name as PEP 503 compares it (packaging's canonicalize_name, stdlib only)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def without_comment(line: str) -> str:
    """The line without its comment, stripped."""
    return COMMENT.sub("", line).strip()


def parse(text: str) -> list[tuple[int, str]]:
    """(number of its first line, text) of every entry: comments and blank lines dropped,
    continuation lines joined."""
    entries = []
    pending, first = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = without_comment(raw)
        if not pending:
            first = number
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            entries.append((first, joined))
    if pending.strip():
        entries.append((first, pending.strip()))
    return entries


def read_entries(path: Path) -> list[Entry]:
    """The entries of a list, without comments and blank lines."""
    if not path.is_file():
        raise ListError([Problem(path, 0, "the list does not exist", f"create {path.name} (it may be empty)")])
    return [Entry(path, number, text) for number, text in parse(path.read_text(encoding="utf-8"))]


def logical_lines(text: str) -> list[str]:
    """The entries of a list or lock (see parse), without their line numbers."""
    return [entry for _, entry in parse(text)]


def _duplicates(keyed: Iterable[tuple[Entry, str]]) -> list[Problem]:
    """Entries whose key (a normalised name) an earlier line already has."""
    first_line: dict[str, int] = {}
    problems = []
    for entry, name in keyed:
        if name in first_line:
            problems.append(
                Problem(
                    entry.path,
                    entry.line,
                    f"{entry.text!r} is already listed on line {first_line[name]}",
                    "keep one of the two lines",
                )
            )
        else:
            first_line[name] = entry.line
    return problems


def check_debian_list(entries: list[Entry]) -> list[Problem]:
    """Debian package names, one a line."""
    problems = []
    for entry in entries:
        if not DEBIAN_NAME.match(entry.text):
            lowered = entry.text.lower()
            fix = (
                f"write it as {lowered!r}: Debian package names are lower case"
                if DEBIAN_NAME.match(lowered)
                else "one Debian package name a line (letters a-z, digits, + - .), e.g. 'libxml2-dev'"
            )
            problems.append(Problem(entry.path, entry.line, f"{entry.text!r} is not a Debian package name", fix))
    return problems + _duplicates((entry, entry.text) for entry in entries)


# An operator that ends its clause (`numpy===`, `six>=,<2`): older releases of packaging accept
# some of these, newer ones refuse them all; either way the line is named the same.
EMPTY_OPERATOR = re.compile(r"(===|==|!=|~=|<=|>=|<|>)\s*(?=[,)]|$)")
PROJECT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _operator_without_version(entry: Entry, name: str, operators: list[str]) -> Problem:
    return Problem(
        entry.path,
        entry.line,
        f"{entry.text!r} has an operator without a version ({', '.join(operators)})",
        f"give the version, e.g. '{name}==2.2', or remove the operator",
    )


def _invalid_requirement(entry: Entry, error: str) -> Problem:
    specifiers = entry.text.split(";", 1)[0]
    name = PROJECT_NAME.match(specifiers)
    empty = [match.group(1) for match in EMPTY_OPERATOR.finditer(specifiers)]
    if name and empty and "@" not in specifiers:
        return _operator_without_version(entry, name.group(1), empty)
    return Problem(
        entry.path,
        entry.line,
        f"{entry.text!r} is not a valid requirement ({error})",
        "write a name with an optional version, e.g. 'numpy' or 'pandas>=2.2,<3'",
    )


def check_python_list(entries: list[Entry], allow_direct_urls: bool = False) -> list[Problem]:
    """PEP 508 requirements; the same project twice is an error even with other extras. A direct
    reference (`name @ URL`) is refused unless allowed: a lock cannot hash-check a moving URL."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    problems = []
    valid = []
    for entry in entries:
        if entry.text.startswith("-"):
            problems.append(
                Problem(
                    entry.path,
                    entry.line,
                    f"pip option {entry.text!r} is not supported in {entry.path.name}",
                    "list only requirements such as 'pandas>=2.2'; set PIPPROXY (make help) for another index",
                )
            )
            continue
        try:
            requirement = Requirement(entry.text)
        except InvalidRequirement as error:
            problems.append(_invalid_requirement(entry, str(error)))
            continue
        if requirement.url and not allow_direct_urls:
            problems.append(
                Problem(
                    entry.path,
                    entry.line,
                    f"{entry.text!r} is a direct reference (name @ URL): what it points at can change, and a lock "
                    "cannot check it by hash",
                    f"name a released version (e.g. '{requirement.name}==1.2'), or accept it: ALLOW_DIRECT_URLS=yes",
                )
            )
            continue
        empty = [str(specifier) for specifier in requirement.specifier if not specifier.version]
        if empty:
            problems.append(_operator_without_version(entry, requirement.name, empty))
            continue
        valid.append((entry, canonicalize_name(requirement.name)))
    return problems + _duplicates(valid)


def check_r_list(entries: list[Entry]) -> list[Problem]:
    """R package names; R's own packages are reported because they need no line."""
    problems = []
    for entry in entries:
        if entry.text in R_BASE_PACKAGES:
            problems.append(
                Problem(
                    entry.path,
                    entry.line,
                    f"{entry.text!r} is part of R itself",
                    "remove the line: it is always installed",
                )
            )
        elif not R_NAME.match(entry.text):
            problems.append(
                Problem(
                    entry.path,
                    entry.line,
                    f"{entry.text!r} is not an R package name",
                    "one R package name a line, as in library(): letters, digits and dots, e.g. 'data.table'",
                )
            )
    return problems + _duplicates((entry, entry.text.lower()) for entry in entries)


CHECKS: dict[Kind, Callable[[list[Entry], bool], list[Problem]]] = {
    "debian": lambda entries, _: check_debian_list(entries),
    "python": check_python_list,
    "r": lambda entries, _: check_r_list(entries),
}


def check_lists(root: Path, paths: Iterable[str] | None = None, allow_direct_urls: bool = False) -> None:
    """Check the lists (every list of LISTS unless paths are named) in root; raise ListError with
    every problem found."""
    problems: list[Problem] = []
    for package_list in LISTS if paths is None else [LIST_BY_PATH[path] for path in paths]:
        if package_list.optional and not (root / package_list.path).exists():
            continue
        try:
            entries = read_entries(root / package_list.path)
        except ListError as error:
            problems.extend(error.problems)
            continue
        problems.extend(CHECKS[package_list.kind](entries, allow_direct_urls))
    if problems:
        raise ListError(problems)


def requirement_name(requirement: str) -> str:
    """The canonical project name a requirement line starts with ('' when none)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    return canonical_name(match[0]) if match else ""


def torch_pinned_project(requirements: list[str], index: str) -> str | None:
    """The requirements as a pyproject.toml whose torch projects come from `index` alone and every
    other package from the default index; None when they name no torch project.

    One requirement a line, so that a list that only gains packages only gains lines (snapshots).
    """
    pinned = sorted({requirement_name(requirement) for requirement in requirements} & TORCH_PROJECTS)
    if not pinned:
        return None

    def toml_string(text: str) -> str:  # JSON's escapes are TOML's; non-ASCII stays as it is
        return json.dumps(text, ensure_ascii=False)

    return (
        f'{TORCH_PINNED_PROJECT_START}name = "pyrlab-packages"\nversion = "0"\ndependencies = [\n'
        + "".join(f"    {toml_string(requirement)},\n" for requirement in requirements)
        + "]\n\n[tool.uv.sources]\n"
        + "".join(f'{name} = {{ index = "torch-cpu" }}\n' for name in pinned)
        + f'\n[[tool.uv.index]]\nname = "torch-cpu"\nurl = {toml_string(index)}\nexplicit = true\n'
    )


def refresh_snapshot(path: Path, snapshot: Path) -> bool:
    """Keep `snapshot` (a copy of the list or lock) while it only gained entries; else copy it anew.

    Images install the snapshot in one layer and the whole list in the next, so that adding a
    package re-runs only the second, which installs just the additions. Returns True when the
    snapshot was written anew.
    """
    current = logical_lines(path.read_text(encoding="utf-8"))
    if snapshot.is_file():
        kept = logical_lines(snapshot.read_text(encoding="utf-8"))
        if set(kept) <= set(current):
            return False
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return True
