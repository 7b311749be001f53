"""What is installed in an image, as JSON on stdout: read inside a container of it by `make manifest`,
with the image's own Python (`python - < inventory.py`). Standard library only, and no R or
Jupyter start: it reads their files."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

R_LIBRARIES = ("/usr/lib/R/library", "/usr/lib/R/site-library", "/usr/local/lib/R/site-library")
KERNEL_DIRS = ("/opt/venv/share/jupyter/kernels", "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels")


def description_field(path: Path, field: str) -> str | None:
    match = re.search(rf"^{field}:\s*(\S+)", path.read_text(encoding="utf-8", errors="replace"), re.MULTILINE)
    return match[1] if match else None


def python_packages() -> dict[str, str]:
    packages: dict[str, str] = {}
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            # PEP 503's name, as lists.canonical_name: this file runs alone (piped in), importing nothing.
            packages[re.sub(r"[-_.]+", "-", name).lower()] = distribution.version
    return dict(sorted(packages.items()))


def debian_packages() -> dict[str, str]:
    result = subprocess.run(
        ["dpkg-query", "--show", "--showformat", "${Package}\t${Version}\t${db:Status-Abbrev}\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = (line.split("\t") for line in result.stdout.splitlines())
    return dict(sorted((row[0], row[1]) for row in rows if len(row) == 3 and row[2].startswith("ii")))


def r_installation() -> dict[str, object] | None:
    """R's version, and every R package with its version and origin: R itself, Debian, or the
    repository of R_REPOS it was compiled from."""
    base = Path(R_LIBRARIES[0]) / "base" / "DESCRIPTION"
    if not base.is_file():
        return None
    sources_file = Path("/usr/local/share/pyrlab/r-sources.json")
    sources = json.loads(sources_file.read_text(encoding="utf-8")) if sources_file.is_file() else []
    compiled = {source["name"]: source["repository"] for source in sources}
    packages: dict[str, str] = {}
    origins: dict[str, str] = {}
    for library in map(Path, R_LIBRARIES):
        for description in sorted(library.glob("*/DESCRIPTION")):
            name, version = description_field(description, "Package"), description_field(description, "Version")
            if name and version and name not in packages:
                packages[name] = version
                if name in compiled:
                    origins[name] = compiled[name]
                else:
                    origins[name] = "R" if library == Path(R_LIBRARIES[0]) else "debian"
    return {
        "version": description_field(base, "Version"),
        "packages": dict(sorted(packages.items())),
        "origins": dict(sorted(origins.items())),
    }


def kernels() -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for directory in map(Path, KERNEL_DIRS):
        for spec in sorted(directory.glob("*/kernel.json")):
            content = json.loads(spec.read_text(encoding="utf-8"))
            found.setdefault(
                spec.parent.name,
                {"display_name": content.get("display_name", ""), "language": content.get("language", "")},
            )
    return found


def debian_archive() -> dict[str, str] | None:
    """The date of each Debian suite the base was built from (`make rootfs` records it), or None."""
    record = Path("/etc/pyrlab-debian-archive")
    if not record.is_file():
        return None
    lines = (line.split(" ", 1) for line in record.read_text(encoding="utf-8").splitlines() if " " in line)
    return {suite: date for suite, date in lines}


def main() -> int:
    inventory = {
        "debian_archive": debian_archive(),
        "python": {"version": platform.python_version(), "executable": sys.executable, "packages": python_packages()},
        "debian": debian_packages(),
        "r": r_installation(),
        "kernels": kernels(),
    }
    print(json.dumps(inventory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
