"""`make rootfs`: the chain's registry-free base, Debian built by mmdebstrap from the archive and
imported as an image. Debian with python3 and its venv module, like the python image, and the
updates and security suites in its sources."""

from __future__ import annotations

import shutil
import sys

from pyrlab.engine import EngineError, image_facts, import_image
from pyrlab.settings import SettingError, Settings

RECORD_ARCHIVE = "pyrlab-base/record-debian-archive"  # which archive snapshot each suite came from


def mmdebstrap_command(settings: Settings) -> list[str]:
    """mmdebstrap writing a tarball to standard output. An apt proxy is used for the download and
    removed from the result."""
    command = ["mmdebstrap", "--variant=minbase", "--include=ca-certificates,python3,python3-venv"]
    command.append(f'--customize-hook={RECORD_ARCHIVE} "$1"')
    if settings.apt_proxy:
        command.append(f'--aptopt=Acquire::http::Proxy "{settings.apt_proxy}"')
        command.append('--customize-hook=rm -f "$1/etc/apt/apt.conf.d/99mmdebstrap"')
    suite, mirror = settings.debian_suite, settings.debian_mirror
    return [
        *command, suite, "-",
        f"deb {mirror} {suite} main",
        f"deb {mirror} {suite}-updates main",
        f"deb {settings.debian_security_mirror} {suite}-security main",
    ]  # fmt: skip


def rootfs_id(settings: Settings, anew: bool) -> str:
    """The id of ROOTFS_IMAGE: the existing one (its cached layers stay valid) unless asked anew."""
    existing = image_facts(settings.container_cli, settings.rootfs_image)
    if existing is not None and not anew:
        print(f"using the existing {settings.rootfs_image} (make rootfs builds it anew)", file=sys.stderr)
        return str(existing["Id"])
    if shutil.which("mmdebstrap") is None:
        raise SettingError(
            "mmdebstrap is not installed: apt-get install mmdebstrap (Debian/Ubuntu), or use BASE=python"
        )
    try:
        return import_image(
            settings.container_cli, mmdebstrap_command(settings), settings.rootfs_image, "ENV LANG=C.UTF-8"
        )
    except EngineError as error:
        raise EngineError(f"`make rootfs` could not build {settings.rootfs_image}: {error}") from None
