"""`make help` and docs/configuration.md, from the one declaration of each setting (settings.mk)
and target (the Makefile).

Each setting is a `## what it does` line directly above its `NAME ?= default` line; a target says
what it does after `## ` on its own line; `##@ Title` starts a section. A run of settings whose
docs start with the same `Prefix: ` (the team server's) becomes a section of its own in the page,
after the general table. Standard library only: `make help` runs it before `.venv` exists.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from pyrlab.inside.errors import UserError

SETTINGS = Path("settings.mk")
MAKEFILE = Path("Makefile")
OUTPUT = Path("docs/configuration.md")

_SETTING = re.compile(r"^([A-Z0-9_]+) \?=[ \t]?(.*)$")
# `Team server: …` or `Team server (`make hub`): …`: a name that several settings share.
_PREFIX = re.compile(r"^([A-Z][A-Za-z ]*?)(?: \([^)]*\))?: (.*)$")

HEADER = """\
# Configuration

<!-- Written by `make docs` from the `##` lines of settings.mk; do not edit by hand. -->

Set each variable on the command line (`make build BASE=rootfs`), in the environment, or in an
untracked `local.mk`, one `VARIABLE = value` a line; make reads that file before the defaults.
`make help` prints the same list. To add a setting, write a `##` line and a `NAME ?= default` line
in settings.mk, then run `make docs`.
"""


class ConfigDocError(UserError):
    """A setting of settings.mk without its `##` line."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    doc: str


def settings(text: str) -> list[Setting]:
    """Every `NAME ?= default` of settings.mk, in order, with the `##` line directly above it."""
    found: list[Setting] = []
    previous = ""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _SETTING.match(line)
        if match:
            if not previous.startswith("## "):
                raise ConfigDocError(f"{SETTINGS}:{number}: {match[1]} has no `## what it does` line directly above it")
            found.append(Setting(match[1], match[2].strip(), previous[3:].strip()))
        previous = line
    return found


def _prefix(setting: Setting) -> str:
    match = _PREFIX.match(setting.doc)
    return match[1] if match else ""


def _sections(found: list[Setting]) -> list[tuple[str, list[Setting]]]:
    """The general settings first, in their order, then each run of two or more settings
    that share a prefix as a section of its own."""
    general: list[Setting] = []
    grouped: list[tuple[str, list[Setting]]] = []
    for prefix, run in groupby(found, key=_prefix):
        members = list(run)
        if prefix and len(members) > 1:
            grouped.append((prefix, members))
        else:
            general.extend(members)
    return [("", general), *grouped] if general else grouped


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(setting: Setting, strip_prefix: bool) -> str:
    doc = setting.doc
    if strip_prefix:
        rest = _PREFIX.match(doc)
        doc = rest[2] if rest else doc
        doc = doc[:1].upper() + doc[1:]
    default = f"`{setting.default}`" if setting.default else "empty"
    return f"| `{setting.name}` | {_cell(default)} | {_cell(doc)} |"


def _title(prefix: str, members: list[Setting]) -> str:
    """The section's title as its first doc writes it, with any parenthesis: Team server (`make hub`)."""
    match = re.match(rf"^({re.escape(prefix)}(?: \([^)]*\))?): ", members[0].doc)
    return match[1] if match else prefix


def markdown(declarations: str) -> str:
    """The text of docs/configuration.md for these settings."""
    parts = [HEADER]
    for prefix, members in _sections(settings(declarations)):
        if prefix:
            parts.append(f"\n## {_title(prefix, members)}\n")
        parts.append("\n| variable | default | meaning |\n| --- | --- | --- |\n")
        parts.extend(f"{_row(setting, bool(prefix))}\n" for setting in members)
    return "".join(parts)


def write(root: Path) -> str:
    """Write docs/configuration.md under root, only when its content changes; say what was done."""
    text = markdown((root / SETTINGS).read_text(encoding="utf-8"))
    output = root / OUTPUT
    if output.is_file() and output.read_text(encoding="utf-8") == text:
        return f"{OUTPUT} is up to date"
    output.write_text(text, encoding="utf-8")
    return f"wrote {OUTPUT}"


_TARGET = re.compile(r"^([a-z0-9 %-]+):.*?## (.*)$")


def help_text(makefile: str, chain: str) -> str:
    """What `make help` prints from settings.mk and the Makefile (one text): each section's targets
    and settings, each setting with its default."""
    lines = [f"Usage: make TARGET [VARIABLE=value ...]   Images: {chain}"]
    documented = {setting.name: setting for setting in settings(makefile)}
    for line in makefile.splitlines():
        setting, target = _SETTING.match(line), _TARGET.match(line)
        if line.startswith("##@ "):
            lines += ["", line[4:]]
        elif setting:
            described = documented[setting[1]]
            lines += [f"  {described.name:<15} {described.doc}", f"  {'':15} (default: {described.default})"]
        elif target:
            lines.append(f"  {target[1]:<15} {target[2]}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["help"]:
            text = "\n".join(path.read_text(encoding="utf-8") for path in (SETTINGS, MAKEFILE))
            print(help_text(text, " ".join(argv[1:])))
        else:
            print(write(Path(".")))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
