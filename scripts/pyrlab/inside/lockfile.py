"""Lock files: what `make lock` resolved each list to, and whether the list changed since.

A lock sits next to its list (`requirements.txt` -> `requirements.lock`). Its first line records a
digest of each list it was resolved from; a list edited after its lock makes the build refuse
with "run make lock". Python locks are uv's output with hashes; Debian locks (for the deb lists
and for the R packages' Debian binaries) are `name=version` lines, as `apt-get install` takes them.

Standard library only: the rlab build and the lock container import this module too.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from pyrlab.inside.lists import LISTS, ListError, Problem, canonical_name, logical_lines, read_entries

HEADER_MARK = "# pyrlab-lock:"
PYTHON_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
# A torch project pinned to the one wheel of TORCH_CPU_INDEX: name @ URL of name-VERSION-tags.whl
PYTHON_WHEEL_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*) @ \S*/[^/\s]+?-([^-/\s]+)-[^/\s]+\.whl")
DEBIAN_PIN = re.compile(r"^([a-z0-9][a-z0-9+.-]+)=(\S+)$")
# A Debian pin of one architecture (name:arm64=version): there it replaces the plain pin of that
# name, where Debian's version differs (a rebuild of that architecture only: 1.5.0-2+b2).
DEBIAN_ARCH_PIN = re.compile(r"^([a-z0-9][a-z0-9+.-]+):([a-z0-9]+)=(\S+)$")
# An R source of R_REPOS in r_packages.lock: name==version sha256=… repo=…
SOURCE_PIN = re.compile(r"^([A-Za-z][A-Za-z0-9.]*)==(\S+) sha256=")


@dataclass(frozen=True)
class LockSpec:
    """A lock file, the lists it was resolved from (paths relative to the project) and its format."""

    lock: str
    sources: tuple[str, ...]
    kind: str  # "python" (uv's output with hashes) or "debian" (name=version lines)

    @property
    def list(self) -> str:
        """The list this lock stands in for at build time."""
        return self.sources[0]


# Every lock, in build order, from the lists' table. R packages are pinned to Debian binaries
# (and sources of R_REPOS), so their lock has the Debian format.
LOCKS = tuple(
    LockSpec(
        package_list.lock,
        (package_list.path, *package_list.locked_with),
        "python" if package_list.kind == "python" else "debian",
    )
    for package_list in LISTS
    if package_list.lock is not None
)
LOCK_FOR_LIST = {spec.list: spec for spec in LOCKS}


def list_digest(path: Path) -> str:
    """A digest of a list's entries: comments, blank lines and order do not change it."""
    entries = sorted(entry.text for entry in read_entries(path))
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]


def header(root: Path, spec: LockSpec, resolved_for: str) -> str:
    """The first lines of a lock: the digests of its lists, then what it was resolved for."""
    digests = " ".join(f"{source}={list_digest(root / source)}" for source in spec.sources)
    return (
        f"{HEADER_MARK} {digests}\n"
        f"# Written by `make lock` ({resolved_for}); `make build` installs exactly this.\n"
        f"# Do not edit: change {spec.list} and run `make lock` (or `make upgrade`).\n"
    )


def recorded_digests(lock: Path) -> dict[str, str]:
    """The list digests a lock's first line records; empty when it has none."""
    with lock.open(encoding="utf-8") as stream:
        first = stream.readline()
    if not first.startswith(HEADER_MARK):
        return {}
    pairs = (word.split("=", 1) for word in first[len(HEADER_MARK) :].split() if "=" in word)
    return dict(pairs)


def stale_problems(root: Path, specs: tuple[LockSpec, ...] = LOCKS) -> list[Problem]:
    """Every lock of specs whose lists changed after it was written, with the fix."""
    problems = []
    for spec in specs:
        lock = root / spec.lock
        if not lock.is_file():
            continue
        recorded = recorded_digests(lock)
        if not recorded:
            problems.append(
                Problem(
                    lock, 1, "this is not a lock written by `make lock` (no '# pyrlab-lock:' line)", "run make lock"
                )
            )
            continue
        for source in spec.sources:
            if recorded.get(source) != list_digest(root / source):
                problems.append(
                    Problem(
                        lock,
                        1,
                        f"{source} was edited after this lock was written",
                        f"run make lock (it keeps the other pins), or delete {spec.lock} to build from {spec.list}",
                    )
                )
    return problems


def check_locks(root: Path) -> None:
    """Raise ListError naming every stale lock."""
    problems = stale_problems(root)
    if problems:
        raise ListError(problems)


def python_pins(text: str) -> dict[str, str]:
    """name -> version of every `name==version` requirement in a Python lock (names normalised)."""
    pins = {}
    for line in logical_lines(text):
        match = PYTHON_PIN.match(line) or PYTHON_WHEEL_PIN.match(line)
        if match:
            pins[canonical_name(match[1])] = urllib.parse.unquote(match[2])
    return pins


def debian_pins(text: str) -> dict[str, str]:
    """name -> version of every `name=version` line in a Debian lock."""
    pins = {}
    for line in logical_lines(text):
        match = DEBIAN_PIN.match(line)
        if match:
            pins[match[1]] = match[2]
        elif arch := DEBIAN_ARCH_PIN.match(line):
            pins[f"{arch[1]}:{arch[2]}"] = arch[3]
        elif source := SOURCE_PIN.match(line):
            pins[f"{source[1]} (R source)"] = source[2]
    return pins


def pins(spec: LockSpec, text: str) -> dict[str, str]:
    return python_pins(text) if spec.kind == "python" else debian_pins(text)


def install_text(root: Path, list_name: str) -> tuple[str, str]:
    """What the build installs for a list: its lock when there is one (checked fresh), else the list.
    Returns (the file it came from, its text)."""
    spec = LOCK_FOR_LIST.get(list_name)
    if spec is not None and (root / spec.lock).is_file():
        problems = stale_problems(root, (spec,))
        if problems:
            raise ListError(problems)
        return spec.lock, (root / spec.lock).read_text(encoding="utf-8")
    return list_name, (root / list_name).read_text(encoding="utf-8")


def with_arch_pins(text: str, arch: str, versions: dict[str, str], notes: dict[str, str]) -> str:
    """A Debian lock with its pins for one more architecture: a `name:ARCH=version` line for each
    package whose version there differs from the plain pin (or that has none); that
    architecture's earlier lines are replaced, every other line is kept."""
    kept, plain = [], {}
    for line in text.splitlines():
        match = DEBIAN_ARCH_PIN.match(line.split("  #", 1)[0].strip())
        if match and match[2] == arch:
            continue
        kept.append(line)
        if pin := DEBIAN_PIN.match(line.split("  #", 1)[0].strip()):
            plain[pin[1]] = pin[2]
    added = [
        f"{package}:{arch}={version}" + (f"  # {notes[package]}" if notes.get(package) else "")
        for package, version in sorted(versions.items())
        if plain.get(package) != version
    ]
    return "\n".join(kept + added) + "\n"
