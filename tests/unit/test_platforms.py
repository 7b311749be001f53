"""PLATFORM: the platform's facts, the names that keep a foreign platform's images, stamps and
manifests apart from the host's, and the commands that build for it; without an engine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.makerun import REPO, exported_settings
from pyrlab.images.build import build_command
from pyrlab.images.rootfs import foreign_build_command, mmdebstrap_command
from pyrlab.platforms import Platform, PlatformError, host
from pyrlab.settings import SettingError, Settings

ARM64_ON_AMD64 = Platform("linux/arm64", "linux/amd64")


def settings(**changes: str) -> Settings:
    return Settings.from_environment({**exported_settings(), **changes})


def test_the_host_platform_keeps_todays_names() -> None:
    native = Platform.parse("", host_name="linux/amd64")
    assert (native.name, native.arch, native.machine) == ("linux/amd64", "amd64", "x86_64")
    assert not native.foreign
    assert native.suffix == ""
    assert native.stamps == Path(".build")
    assert Platform.parse("linux/amd64", host_name="linux/amd64") == native


def test_a_foreign_platform_gets_its_suffix_and_stamps_folder() -> None:
    arm = Platform.parse("linux/arm64", host_name="linux/amd64")
    assert (arm.arch, arm.machine, arm.foreign) == ("arm64", "aarch64", True)
    assert arm.suffix == "-arm64"
    assert arm.stamps == Path(".build/arm64")


def test_arm64_on_an_arm64_host_is_native() -> None:
    assert Platform.parse("linux/arm64", host_name="linux/arm64").suffix == ""
    assert Platform.parse("linux/amd64", host_name="linux/arm64").suffix == "-amd64"


@pytest.mark.parametrize("value", ["linux/arm", "arm64", "linux/arm64/v8", "windows/amd64"])
def test_an_unknown_platform_names_the_setting_and_the_choices(value: str) -> None:
    with pytest.raises(PlatformError, match=f"PLATFORM={value}: pyrlab builds for PLATFORM=linux/amd64 or"):
        Platform.parse(value, host_name="linux/amd64")
    with pytest.raises(SettingError, match="PLATFORM=linux/amd64 or PLATFORM=linux/arm64"):
        settings(PLATFORM=value)


def test_emulation_is_asked_for_only_off_the_host(tmp_path: Path) -> None:
    assert Platform("linux/amd64", "linux/amd64").emulation_problem(tmp_path) == ""
    missing = ARM64_ON_AMD64.emulation_problem(tmp_path)
    assert "QEMU for aarch64 is not registered" in missing
    assert "apt-get install qemu-user-static binfmt-support" in missing
    assert "update-binfmts --enable qemu-aarch64" in missing


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n", ""),
        ("disabled\ninterpreter /x\nflags: PF\n", "registered but disabled"),
        ("enabled\ninterpreter /x\nflags: P\n", "without the F flag"),
    ],
)
def test_the_binfmt_entry_must_be_enabled_with_the_f_flag(tmp_path: Path, entry: str, expected: str) -> None:
    (tmp_path / "qemu-aarch64").write_text(entry, encoding="utf-8")
    problem = ARM64_ON_AMD64.emulation_problem(tmp_path)
    assert (expected in problem) if expected else problem == ""


def test_the_settings_carry_the_platform_and_the_rootfs_name() -> None:
    native = settings(PLATFORM="")
    assert native.platform.name == native.platform.host
    assert native.rootfs_image == "pyrlab-rootfs:trixie"
    foreign = settings(PLATFORM="linux/arm64" if native.platform.arch == "amd64" else "linux/amd64")
    assert foreign.platform.foreign
    assert foreign.rootfs_image == f"pyrlab-rootfs:trixie-{foreign.platform.arch}"


def test_a_foreign_build_asks_for_its_platform() -> None:
    host = settings(PLATFORM="")
    other = "linux/arm64" if host.platform.arch == "amd64" else "linux/amd64"
    words = build_command(settings(PLATFORM=other), "pylab", "pyrlab-base:latest-x", "pylab:latest-x", Path("i"), True)
    assert words[words.index("--platform") + 1] == other
    assert "--platform" not in build_command(host, "pylab", "p:latest", "pylab:latest", Path("i"), True)


def test_a_foreign_build_compiles_bytecode_with_the_hosts_python_when_given() -> None:
    other = "linux/arm64" if settings(PLATFORM="").platform.arch == "amd64" else "linux/amd64"
    foreign = settings(PLATFORM=other)
    words = build_command(foreign, "pylab", "p:latest-x", "pylab:latest-x", Path("i"), True, "pyrlab-rootfs:trixie")
    assert "NATIVE_IMAGE=pyrlab-rootfs:trixie" in words
    assert not any(
        word.startswith("NATIVE_IMAGE=") for word in build_command(foreign, "pylab", "p", "q", Path("i"), True)
    )


def test_the_rootfs_is_debootstrapped_for_the_platform(tmp_path: Path) -> None:
    host = settings(PLATFORM="")
    assert f"--arch={host.platform.arch}" in mmdebstrap_command(host)
    other = settings(PLATFORM="linux/arm64" if host.platform.arch == "amd64" else "linux/amd64")
    assert f"--arch={other.platform.arch}" in mmdebstrap_command(other)
    words = foreign_build_command(other, tmp_path)
    assert words[1:4] == ["build", "--platform", other.platform.name]
    assert words[words.index("--tag") + 1] == other.rootfs_image
    assert words[-1] == str(tmp_path)


def make_values(*assignments: str) -> list[str]:
    """What the Makefile derives, printed by an --eval'd goal."""
    values = "$(call ref,pylab) $(call ref,pyrlab-base) $(BUILD) $(call manifest_of,pylab) $(call stamped_ref,rootfs)"
    show = f"pyrlab-show: ; @echo {values}"
    environment = {**exported_settings(), "CUDA_INSTALL": "no"}
    result = subprocess.run(
        ["make", "--no-print-directory", "--silent", "--eval", show, "pyrlab-show", "BASE=rootfs", *assignments],
        cwd=REPO, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.split()


def test_the_makefile_names_a_foreign_platforms_images_stamps_and_manifests_apart() -> None:
    host = Platform.parse("")
    other = "linux/arm64" if host.arch == "amd64" else "linux/amd64"
    arch = Platform.parse(other).arch
    assert make_values() == [
        "pylab:latest",
        "pyrlab-base:latest",
        ".build",
        "manifests/pylab.json",
        "pyrlab-rootfs:trixie",
    ]
    assert make_values(f"PLATFORM={host.name}") == make_values()
    assert make_values(f"PLATFORM={other}") == [
        f"pylab:latest-{arch}",
        f"pyrlab-base:latest-{arch}",
        f".build/{arch}",
        f"manifests/pylab-{arch}.json",
        f"pyrlab-rootfs:trixie-{arch}",
    ]
    assert make_values(f"PLATFORM={other}", "CUDA_INSTALL=yes")[0] == f"pylab:latest-cuda13-{arch}"


def test_platforms_of_a_push_default_to_platform_and_each_is_named_once() -> None:
    assert [item.name for item in settings(PLATFORM="", PLATFORMS="").push_platforms] == [host()]
    both = settings(PLATFORMS="linux/amd64, linux/arm64").push_platforms
    assert [item.name for item in both] == ["linux/amd64", "linux/arm64"]
    with pytest.raises(SettingError, match="names a platform twice"):
        settings(PLATFORMS="linux/arm64,linux/arm64")
    with pytest.raises(SettingError, match="PLATFORM=linux/amd64 or PLATFORM=linux/arm64"):
        settings(PLATFORMS="linux/amd64,linux/s390x")
