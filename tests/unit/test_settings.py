"""The settings, read once from the environment make exports; a bad value names itself and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrlab.settings import SettingError, Settings


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"BASE": "debian"}, "BASE=debian: use BASE=auto or BASE=python or BASE=rootfs"),
        ({"CUDA_INSTALL": "true"}, "CUDA_INSTALL=true: use CUDA_INSTALL=yes or CUDA_INSTALL=no"),
        ({"CUDA_VERSION": "12.4"}, "CUDA_VERSION=12.4: give the major version only"),
        ({"CA_CERTS_KEEP": "1"}, "CA_CERTS_KEEP=1: use CA_CERTS_KEEP=yes or CA_CERTS_KEEP=no"),
        ({"CA_CERTS": "/no/such/bundle.pem"}, "CA_CERTS=/no/such/bundle.pem is not a readable file"),
        ({"APTCACHE_PORT": "70000"}, "APTCACHE_PORT=70000: give a port number"),
    ],
)
def test_a_bad_setting_is_named_with_its_fix(environment: dict[str, str], message: str) -> None:
    with pytest.raises(SettingError, match=message.replace(".", r"\.")):
        Settings.from_environment(environment)


def test_defaults_match_the_makefile() -> None:
    settings = Settings.from_environment({})
    assert (settings.base, settings.cuda_install, settings.cuda_version) == ("python", False, "13")
    assert settings.manifests == Path("manifests")
    assert (settings.aptcache_port, settings.devpi_port, settings.registry_port) == (3142, 3141, 5000)


def test_the_gpu_list_is_always_switched_to_cuda() -> None:
    cpu = Settings.from_environment({"CUDA_INSTALL": "no", "CUDA_VERSION": "12"})
    assert (cpu.cuda_of("requirements.txt"), cpu.cuda_of("requirements-gpu.txt")) == ("", "12")


def test_a_folder_setting_that_is_missing_says_how_to_give_it() -> None:
    with pytest.raises(SettingError, match=r"NOTEBOOKS is not set: .*make pylab NOTEBOOKS="):
        Settings.from_environment({}).required_path("NOTEBOOKS")


def test_base_auto_says_what_it_chose_and_the_other_way() -> None:
    rootfs = Settings.from_environment({"BASE": "auto", "CHAIN_BASE": "rootfs", "PYTHONBASE": "3.13-trixie"})
    assert rootfs.base == "rootfs"
    assert rootfs.base_choice().startswith("BASE=auto: the chain starts from rootfs (no python:3.13-trixie image")
    assert "BASE=python pulls it from a registry" in rootfs.base_choice()
    python = Settings.from_environment({"BASE": "auto", "CHAIN_BASE": "python"})
    assert python.base_choice().startswith("BASE=auto: the chain starts from python")
