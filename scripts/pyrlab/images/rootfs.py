"""`make rootfs`: the chain's registry-free base, Debian built by mmdebstrap from the archive and
imported as an image. Debian with python3 and its venv module, like the python image, and the
updates and security suites in its sources.

For the host's platform the tarball is streamed into `docker import`. For another (PLATFORM), it
is built from `FROM scratch` + `ADD` with `docker build --platform`: the engine (20.10) records an
imported image as the host's architecture whatever `--platform` says, and BuildKit then refuses it
as the parent of an arm64 build (it tries to pull one from a registry instead)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pyrlab.engine import EngineError, image_facts, import_image
from pyrlab.settings import SettingError, Settings

RECORD_ARCHIVE = "pyrlab-base/record-debian-archive"  # which archive snapshot each suite came from


def mmdebstrap_command(settings: Settings) -> list[str]:
    """mmdebstrap writing a tarball to standard output. An apt proxy is used for the download and
    removed from the result."""
    command = ["mmdebstrap", "--variant=minbase", f"--arch={settings.platform.arch}"]
    command.append("--include=ca-certificates,python3,python3-venv")
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
        if settings.platform.foreign:
            return build_foreign(settings)
        return import_image(
            settings.container_cli, mmdebstrap_command(settings), settings.rootfs_image, "ENV LANG=C.UTF-8"
        )
    except EngineError as error:
        raise EngineError(f"`make rootfs` could not build {settings.rootfs_image}: {error}") from None


# The image of a foreign platform's tarball: its metadata says that platform.
SCRATCH_DOCKERFILE = "FROM scratch\nADD rootfs.tar /\nENV LANG=C.UTF-8\n"


def foreign_build_command(settings: Settings, context: Path) -> list[str]:
    """`docker build` of the tarball in context/rootfs.tar as an image of PLATFORM."""
    iidfile = context / "id"
    return [
        settings.container_cli, "build", "--platform", settings.platform.name, "--tag", settings.rootfs_image,
        "--iidfile", str(iidfile), str(context),
    ]  # fmt: skip


def build_foreign(settings: Settings) -> str:
    """mmdebstrap writes the tarball into a scratch folder (it runs the foreign binaries under
    QEMU), which becomes the build context of a FROM scratch image."""
    with tempfile.TemporaryDirectory(prefix="pyrlab-rootfs-") as folder:
        context = Path(folder)
        command = [*mmdebstrap_command(settings)]
        command[command.index("-")] = str(context / "rootfs.tar")
        if subprocess.run(command, stdout=sys.stderr, check=False).returncode != 0:
            raise EngineError(f"`{' '.join(command[:3])} ...` failed; its messages are above")
        (context / "Dockerfile").write_text(SCRATCH_DOCKERFILE, encoding="utf-8")
        # The build's progress is the engine's, on the terminal (stdout is make's stamp).
        if subprocess.run(foreign_build_command(settings, context), stdout=sys.stderr, check=False).returncode != 0:
            raise EngineError(
                f"the engine could not build {settings.rootfs_image} from the tarball; its messages are above"
            )
        return (context / "id").read_text(encoding="utf-8").strip()
