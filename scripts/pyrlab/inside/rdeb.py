"""Map R package names to Debian's binary packages (r-cran-*, r-bioc-*, r-other-*).

Debian names an R package by lower-casing it behind a prefix that tells its repository:
`data.table` is `r-cran-data.table`, `DESeq2` is `r-bioc-deseq2`.
"""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from pyrlab.inside.lists import Entry

PREFIXES = ("r-cran-", "r-bioc-", "r-other-")


@dataclass(frozen=True)
class Unknown:
    """An R package with no Debian binary, with Debian names close to it."""

    entry: Entry
    suggestions: list[str]

    def __str__(self) -> str:
        where = f"{self.entry.path}:{self.entry.line}"
        hint = f" (did you mean {', '.join(self.suggestions)}?)" if self.suggestions else ""
        name = self.entry.text
        return f"{where}: {name!r} has no Debian package r-cran-/r-bioc-/r-other-{name.lower()}{hint}"


class UnknownRPackages(Exception):
    """Some R packages have no Debian binary package."""

    def __init__(self, unknown: list[Unknown]) -> None:
        self.unknown = unknown
        lines = [str(item) for item in unknown]
        lines.append(
            "fix: correct the names, or remove them from the list: pyrlab installs R packages "
            "only from Debian's binaries (`apt-cache search r-cran-` lists them)"
        )
        super().__init__("\n".join(lines))


def debian_package(name: str, available: set[str]) -> str | None:
    """The Debian binary package for R package `name`, or None."""
    for prefix in PREFIXES:
        candidate = prefix + name.lower()
        if candidate in available:
            return candidate
    return None


def r_name_of(debian_name: str) -> str:
    """The lower-cased R name inside a Debian name: r-cran-data.table -> data.table."""
    for prefix in PREFIXES:
        if debian_name.startswith(prefix):
            return debian_name.removeprefix(prefix)
    return debian_name


def map_entries(entries: Iterable[Entry], available: set[str]) -> list[str]:
    """Debian packages for every entry; raise UnknownRPackages naming every one missing."""
    found = []
    unknown = []
    r_names = sorted({r_name_of(name) for name in available if name.startswith(PREFIXES)})
    for entry in entries:
        package = debian_package(entry.text, available)
        if package is None:
            close = difflib.get_close_matches(entry.text.lower(), r_names, n=3, cutoff=0.75)
            unknown.append(Unknown(entry, close))
        else:
            found.append(package)
    if unknown:
        raise UnknownRPackages(unknown)
    return found


def apt_package_names() -> set[str]:
    """Every package name in the local apt index (`apt-get update` must have run)."""
    result = subprocess.run(["apt-cache", "pkgnames", "r-"], check=True, capture_output=True, text=True)
    return set(result.stdout.split())


def main(argv: list[str] | None = None) -> int:
    """`python3 -m pyrlab.inside.rdeb r_packages.txt`: print the Debian packages, one a line; the list
    may also be r_packages.lock, whose `name=version` lines are printed unchanged.

    Run inside the rlab build, where the apt index is at hand; needs only the standard library.
    """
    import sys
    from pathlib import Path

    from pyrlab.inside.lists import ListError, check_r_list, read_entries

    paths = sys.argv[1:] if argv is None else argv
    if len(paths) != 1:
        print("usage: python3 -m pyrlab.inside.rdeb r_packages.txt", file=sys.stderr)
        return 2
    try:
        entries = read_entries(Path(paths[0]))
        # r_packages.lock: Debian names already pinned to versions (`r-cran-x=1.0-1`) pass as they are.
        pinned = [entry.text for entry in entries if "=" in entry.text]
        names = [entry for entry in entries if "=" not in entry.text]
        problems = check_r_list(names)
        if problems:
            raise ListError(problems)
        print("\n".join(pinned + (map_entries(names, apt_package_names()) if names else [])))
    except (ListError, UnknownRPackages) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
