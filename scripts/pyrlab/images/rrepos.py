"""R_REPOS for the rlab build and `make lock`: the repositories file pyrlab.inside.rsource reads, and a copy
of every local repository inside the build context (a build sees nothing outside it).

R_REPOS is a space-separated list of:
  https://… or http://…   a CRAN-like repository (CRAN, Posit Package Manager, an internal mirror)
  file:///folder          a folder laid out as a CRAN-like repository (tools::write_PACKAGES)
  /folder or ./folder     a folder of source tarballs (name_version.tar.gz)
Files are written only when their content changes, so that make sees a change by its timestamp.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from pyrlab.files import write_if_changed
from pyrlab.settings import SettingError


def kind_of(folder: Path) -> str:
    return "cran" if (folder / "src" / "contrib" / "PACKAGES").is_file() else "tarballs"


def repository_lines(setting: str, copies: Path) -> list[str]:
    """One "KIND LOCATION ORIGIN" line a repository; local ones copied below `copies`."""
    lines = []
    for number, item in enumerate(setting.split()):
        if item.startswith(("http://", "https://")):
            lines.append(f"cran {item.rstrip('/')} {item}")
            continue
        folder = Path(item.removeprefix("file://")).expanduser().absolute()
        if item.startswith("file://") and not (folder / "src" / "contrib" / "PACKAGES").is_file():
            raise SettingError(
                f"R_REPOS: {item} has no src/contrib/PACKAGES. fix: lay it out with R's "
                "tools::write_PACKAGES(), or give the folder of tarballs without file://"
            )
        if not folder.is_dir() or "://" in item.removeprefix("file://"):
            raise SettingError(
                f"R_REPOS: {item} is neither a URL (https://…) nor a folder. fix: correct R_REPOS "
                "(a space-separated list of CRAN-like URLs, file:// folders and folders of tarballs)"
            )
        kind = kind_of(folder)
        if kind == "tarballs" and not any(folder.glob("*.tar.gz")):
            raise SettingError(f"R_REPOS: {item} has no *.tar.gz source package. fix: correct R_REPOS")
        mirror(folder, copies / str(number))
        lines.append(f"{kind} {number} {item}")
    return lines


def mirror(source: Path, target: Path) -> None:
    """Make `target` hold exactly the files of `source`, copying only what differs."""
    target.mkdir(parents=True, exist_ok=True)
    wanted = {path.relative_to(source) for path in source.rglob("*") if path.is_file()}
    for relative in sorted(wanted):
        destination = target / relative
        if not destination.is_file() or not filecmp.cmp(source / relative, destination, shallow=False):
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, destination)
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(target) not in wanted:
            path.unlink()


def prepare(setting: str, out: Path, copies: Path) -> None:
    """Write the repositories file and the copies of local repositories (stale copies removed)."""
    copies.mkdir(parents=True, exist_ok=True)
    lines = repository_lines(setting, copies)
    kept = {line.split(" ")[1] for line in lines}
    for folder in copies.iterdir():
        if folder.name not in kept:
            shutil.rmtree(folder)
    write_if_changed(out, "".join(f"{line}\n" for line in lines))
