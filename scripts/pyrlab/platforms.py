"""PLATFORM: which machine the images are built for, and how a foreign platform's names are kept
apart from the host's.

A build for the host's platform keeps today's names. A build for another platform (arm64 on an
amd64 host, under QEMU) gets its own: every local tag ends in -ARCH (`pylab:latest-arm64`,
`pyrlab-rootfs:trixie-arm64`), its stamps live in .build/ARCH/ and its manifests are
manifests/IMAGE-ARCH.json, so that it never replaces the host's images by accident.

Standard library only: make runs `python3 -m pyrlab.platforms suffix PLATFORM` while it reads
the Makefile, before pyrlab's own tools exist.
"""

from __future__ import annotations

import contextlib
import platform as host_platform
import sys
from dataclasses import dataclass
from pathlib import Path

from pyrlab.inside.errors import UserError

# Docker's platform -> (Debian's architecture, the kernel's machine name: also the wheels' tag's tail).
KNOWN = {
    "linux/amd64": ("amd64", "x86_64"),
    "linux/arm64": ("arm64", "aarch64"),
}
# What the kernel reports -> Docker's platform.
MACHINES = {machine: name for name, (_, machine) in KNOWN.items()} | {"arm64": "linux/arm64", "amd64": "linux/amd64"}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
EMULATION_FIX = (
    "apt-get install qemu-user-static binfmt-support; "
    "mount | grep -q binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; "
    "update-binfmts --enable qemu-{machine}"
)


class PlatformError(UserError):
    """PLATFORM names no platform pyrlab builds, or this host cannot run it."""


def host() -> str:
    """The host's platform, as Docker names it."""
    machine = host_platform.machine()
    return MACHINES.get(machine, f"linux/{machine}")


@dataclass(frozen=True)
class Platform:
    """The platform the images are built for (PLATFORM, or the host's when it is empty)."""

    name: str  # linux/amd64 or linux/arm64
    host: str  # the host's, as Docker names it

    @classmethod
    def parse(cls, setting: str, host_name: str | None = None) -> Platform:
        here = host() if host_name is None else host_name
        name = setting.strip() or here
        if name not in KNOWN:
            known = " or ".join(f"PLATFORM={option}" for option in KNOWN)
            raise PlatformError(f"PLATFORM={setting}: pyrlab builds for {known} (empty: this host's, {here})")
        return cls(name, here)

    @property
    def arch(self) -> str:
        """Debian's architecture: amd64 or arm64 (`mmdebstrap --arch`, the -ARCH of the names)."""
        return KNOWN[self.name][0]

    @property
    def machine(self) -> str:
        """What `uname -m` says in its containers, and the tail of its wheels' platform tags."""
        return KNOWN[self.name][1]

    @property
    def foreign(self) -> bool:
        """Whether the host runs it only under emulation (QEMU through binfmt_misc)."""
        return self.name != self.host

    @property
    def suffix(self) -> str:
        """What a foreign platform's local names end in: -arm64; nothing for the host's."""
        return f"-{self.arch}" if self.foreign else ""

    @property
    def stamps(self) -> Path:
        """The folder of its build stamps: .build for the host's, .build/ARCH for another."""
        return Path(".build") / self.arch if self.foreign else Path(".build")

    def emulation_problem(self, binfmt: Path = BINFMT) -> str:
        """Why this host cannot run the platform's programs, with the fix; empty when it can. A
        foreign platform needs QEMU registered with binfmt_misc, with the F flag, so that the
        emulator is found inside containers too."""
        if not self.foreign:
            return ""
        entry = binfmt / f"qemu-{self.machine}"
        fix = EMULATION_FIX.format(machine=self.machine)
        if not entry.is_file():
            return (
                f"PLATFORM={self.name} runs under emulation on this {self.host} host, and QEMU for {self.machine} "
                f"is not registered ({entry} is missing). As root: {fix}"
            )
        lines = entry.read_text(encoding="utf-8").splitlines()
        if not lines or lines[0].strip() != "enabled":
            return f"PLATFORM={self.name}: QEMU for {self.machine} is registered but disabled ({entry}). As root: {fix}"
        flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
        if "F" not in flags:
            return (
                f"PLATFORM={self.name}: QEMU for {self.machine} is registered without the F flag ({entry}: "
                f"flags {flags or 'none'}), so containers cannot find the emulator. Install Debian's "
                f"qemu-user-static (it registers with F), then: update-binfmts --enable qemu-{self.machine}"
            )
        return ""


def main(argv: list[str]) -> int:
    """`python3 -m pyrlab.platforms suffix PLATFORM`: the names' suffix, for the Makefile (an
    argument: make before 4.4 gives its $(shell) none of its variables). A bad PLATFORM prints
    nothing here: `make check` names it before anything is built."""
    if len(argv) not in (1, 2) or argv[0] != "suffix":
        print("usage: python3 -m pyrlab.platforms suffix [PLATFORM]", file=sys.stderr)
        return 2
    with contextlib.suppress(PlatformError):
        print(Platform.parse(argv[1] if len(argv) == 2 else "").suffix)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
