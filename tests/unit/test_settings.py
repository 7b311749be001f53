"""The settings, read once from the environment make exports; a bad value names itself and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.makerun import exported_settings
from pyrlab.settings import HubSettings, SettingError, Settings


def settings(**changes: str) -> Settings:
    """The settings as make exports them, with these changed."""
    return Settings.from_environment({**exported_settings(), **changes})


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
        settings(**environment)


def test_the_settings_are_the_makefiles_with_no_default_of_their_own() -> None:
    """Each setting is declared once, in the Makefile: the commands take what make exports."""
    exported = settings()
    assert (exported.cuda_install, exported.cuda_version) == (False, "13")
    assert exported.manifests == Path("manifests")
    assert (exported.aptcache_port, exported.devpi_port, exported.registry_port) == (3142, 3141, 5000)
    assert exported.torch_cpu_index == "https://download.pytorch.org/whl/cpu"  # once disagreed with the Makefile
    missing = {name: value for name, value in exported_settings().items() if name != "DEVPI_PORT"}
    with pytest.raises(SettingError, match=r"DEVPI_PORT is not set: .* run them through make"):
        Settings.from_environment(missing)


def test_the_gpu_list_is_always_switched_to_cuda() -> None:
    cpu = settings(CUDA_INSTALL="no", CUDA_VERSION="12")
    assert (cpu.cuda_of("requirements.txt"), cpu.cuda_of("requirements-gpu.txt")) == ("", "12")


def test_a_folder_setting_that_is_missing_says_how_to_give_it() -> None:
    with pytest.raises(SettingError, match=r"NOTEBOOKS is not set: .*make pylab NOTEBOOKS="):
        settings(NOTEBOOKS="").required_path("NOTEBOOKS")


def test_base_auto_says_what_it_chose_and_the_other_way() -> None:
    rootfs = settings(BASE="auto", CHAIN_BASE="rootfs", PYTHONBASE="3.13-trixie")
    assert rootfs.base == "rootfs"
    assert rootfs.base_choice().startswith("BASE=auto: the chain starts from rootfs (no python:3.13-trixie image")
    assert "BASE=python pulls it from a registry" in rootfs.base_choice()
    python = settings(BASE="auto", CHAIN_BASE="python")
    assert python.base_choice().startswith("BASE=auto: the chain starts from python")


HUB = {
    **exported_settings(),
    "HUB_ADMIN": "alice",
    "HUB_IMAGES": "pylab=pylab:latest",
    "HUB_DATA": "/srv/d",
    "HUB_HOMES": "/srv/h",
    "DOCKER": "/srv/c",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"HUB_ADMIN": ""}, "HUB_ADMIN is not set: name the admin"),
        ({"HUB_DATA": ""}, "HUB_DATA is not set: give a folder, e.g. `make hub HUB_DATA=/srv/pyrlab`"),
        ({"HUB_HOMES": "/srv/a\nb"}, "HUB_HOMES has a line break in its path"),
        ({"HUB_IMAGES": "pylab"}, "HUB_IMAGES=pylab: 'pylab' is not name=image"),
        ({"HUB_AUTH": "ldap"}, "HUB_AUTH=ldap: use HUB_AUTH=native or HUB_AUTH=github"),
        ({"HUB_PORT": "80000"}, "HUB_PORT=80000: give a port number"),
        ({"HUB_IDLE_TIMEOUT": "1h"}, "HUB_IDLE_TIMEOUT=1h: give a whole number"),
    ],
)
def test_a_bad_hub_setting_is_named_with_its_fix(change: dict[str, str], message: str) -> None:
    """The team server's settings are read by the same rules as the rest."""
    with pytest.raises(SettingError, match=message.replace(".", r"\.")):
        HubSettings.from_environment({**HUB, **change})


def test_hub_settings_are_the_makefiles() -> None:
    hub = HubSettings.from_environment(HUB)
    assert (hub.bind, hub.port, hub.auth, hub.idle_timeout, hub.uid_base, hub.gpus_per_user) == (
        "127.0.0.1",
        8000,
        "native",
        3600,
        20000,
        1,
    )
    assert hub.url == "http://127.0.0.1:8000/hub/"
