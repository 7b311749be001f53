"""pyrlab's settings, read once from the environment that make exports.

settings.mk declares each setting once (`## what it does` over `NAME ?= default`); `make help` and
docs/configuration.md (`make docs`) come from those lines. make exports them all, and the commands
read this one typed object instead of taking them as flags. Nothing here has a default of its
own: a setting make did not export is an error. Values are checked here, each error naming the
setting and the fix, before anything is built or started.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pyrlab.inside.contract import SWARM_HOMES, ImageChoicesError, image_choices
from pyrlab.inside.errors import UserError
from pyrlab.platforms import Platform, PlatformError

PYPI = "https://pypi.org/simple/"


class SettingError(UserError):
    """A setting with a value pyrlab cannot use; the message names it and the fix."""


def _text(environment: Mapping[str, str], name: str) -> str:
    try:
        return environment[name]
    except KeyError:
        raise SettingError(
            f"{name} is not set: pyrlab's commands read the settings make exports, so run them through make "
            "(`make help` lists every setting with its default)"
        ) from None


def _choice(environment: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = _text(environment, name)
    if value not in allowed:
        options = " or ".join(f"{name}={option}" for option in allowed)
        raise SettingError(f"{name}={value}: use {options}")
    return value


def _yes(environment: Mapping[str, str], name: str) -> bool:
    return _choice(environment, name, ("yes", "no")) == "yes"


def _port(environment: Mapping[str, str], name: str) -> int:
    text = _text(environment, name)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SettingError(f"{name}={text}: give a port number from 1 to 65535")
    return int(text)


def _number(environment: Mapping[str, str], name: str) -> int:
    text = _text(environment, name)
    if not text.isdigit():
        raise SettingError(f"{name}={text}: give a whole number")
    return int(text)


def check_mountable(source: Path, name: str) -> None:
    """Docker's --mount reads one line: a path with a line break cannot be mounted."""
    if "\n" in str(source) or "\r" in str(source):
        raise SettingError(
            f"{name} has a line break in its path ({str(source)!r}), which Docker cannot mount: "
            f"rename the folder, or set {name} to another one"
        )


@dataclass(frozen=True)
class Settings:
    """The settings the commands read (the Makefile has the defaults and their documentation)."""

    container_cli: str
    base_setting: str  # BASE as given: auto, python or rootfs
    base: str  # the base the chain starts from: python or rootfs (CHAIN_BASE); "" for a lab's goals
    python_base: str
    debian_suite: str
    debian_mirror: str
    debian_security_mirror: str
    rootfs_image: str  # ROOTFS_IMAGE with the platform's suffix: pyrlab-rootfs:trixie-arm64
    platform: Platform
    push_platforms: tuple[Platform, ...]  # PLATFORMS, else PLATFORM alone
    tag: str
    build_args: str
    cuda_image: str  # not a setting: the image CUDA_INSTALL changes (the Makefile's CUDA_IMAGE)
    cuda_install: bool
    cuda_version: str
    torch_cpu_index: str
    apt_proxy: str
    pip_proxy: str
    ca_certs: str
    ca_certs_keep: bool
    r_repos: str
    build_network: str
    allow_direct_urls: bool
    manifests: Path
    proxy_cache: Path
    aptcache_port: int
    devpi_port: int
    proxies_offline: bool
    registry: str
    registry_port: int
    registry_data: Path
    z2jh_values: Path
    notebooks: str  # the labs' settings: paths stay text until a lab needs them
    config: str  # DOCKER, pyrlab's configuration folder
    docker_args: str
    bind_address: str
    auth: str
    pyport: int
    dtport: int
    tfport: int
    rport: int
    publish_tools: bool

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environment is None else environment
        cuda_version = _text(env, "CUDA_VERSION")
        if not re.fullmatch(r"[0-9]+", cuda_version):
            raise SettingError(f"CUDA_VERSION={cuda_version}: give the major version only, e.g. CUDA_VERSION=13")
        ca_certs = _text(env, "CA_CERTS")
        if ca_certs and not os.access(ca_certs, os.R_OK):
            raise SettingError(
                f"CA_CERTS={ca_certs} is not a readable file: give the path of a PEM bundle, or leave CA_CERTS empty"
            )
        try:
            platform = Platform.parse(_text(env, "PLATFORM"))
            push_platforms = tuple(Platform.parse(name) for name in _text(env, "PLATFORMS").split(",") if name.strip())
        except PlatformError as error:
            raise SettingError(str(error)) from None
        if len({item.name for item in push_platforms}) != len(push_platforms):
            raise SettingError(f"PLATFORMS={_text(env, 'PLATFORMS')} names a platform twice: name each once")
        return cls(
            container_cli=_text(env, "CONTAINER_CLI"),
            base_setting=_choice(env, "BASE", ("auto", "python", "rootfs")),
            # Not a setting: what make derived from BASE, for the goals that build only (a lab's
            # goals ask the engine nothing), so empty for the others.
            base=env.get("CHAIN_BASE", ""),
            python_base=_text(env, "PYTHONBASE"),
            debian_suite=_text(env, "DEBIAN_SUITE"),
            debian_mirror=_text(env, "DEBIAN_MIRROR"),
            debian_security_mirror=_text(env, "DEBIAN_SECURITY_MIRROR"),
            rootfs_image=_text(env, "ROOTFS_IMAGE") + platform.suffix,
            platform=platform,
            push_platforms=push_platforms or (platform,),
            tag=_text(env, "TAG"),
            build_args=_text(env, "BUILD_ARGS"),
            cuda_image=_text(env, "CUDA_IMAGE"),
            cuda_install=_yes(env, "CUDA_INSTALL"),
            cuda_version=cuda_version,
            torch_cpu_index=_text(env, "TORCH_CPU_INDEX"),
            apt_proxy=_text(env, "APTPROXY"),
            pip_proxy=_text(env, "PIPPROXY"),
            ca_certs=ca_certs,
            ca_certs_keep=_yes(env, "CA_CERTS_KEEP"),
            r_repos=_text(env, "R_REPOS"),
            build_network=_text(env, "BUILD_NETWORK"),
            allow_direct_urls=_yes(env, "ALLOW_DIRECT_URLS"),
            manifests=Path(_text(env, "MANIFESTS")),
            proxy_cache=Path(_text(env, "PROXY_CACHE")).expanduser(),
            aptcache_port=_port(env, "APTCACHE_PORT"),
            devpi_port=_port(env, "DEVPI_PORT"),
            proxies_offline=_yes(env, "PROXIES_OFFLINE"),
            registry=_text(env, "REGISTRY"),
            registry_port=_port(env, "REGISTRY_PORT"),
            registry_data=Path(_text(env, "REGISTRY_DATA")).expanduser(),
            z2jh_values=Path(_text(env, "Z2JH_VALUES")),
            notebooks=_text(env, "NOTEBOOKS"),
            config=_text(env, "DOCKER"),
            docker_args=_text(env, "DOCKER_ARGS"),
            bind_address=_text(env, "BIND_ADDRESS"),
            auth=_text(env, "AUTH"),
            pyport=_port(env, "PYPORT"),
            dtport=_port(env, "DTPORT"),
            tfport=_port(env, "TFPORT"),
            rport=_port(env, "RPORT"),
            publish_tools=_yes(env, "PUBLISH_TOOLS"),
        )

    def base_choice(self) -> str:
        """What BASE=auto chose, and why, in a sentence for the user."""
        if self.base == "rootfs":
            reason = f"no {self.python_base_reference} image is here; `make rootfs` builds one from the Debian archive"
            other = "BASE=python pulls it from a registry"
        elif shutil.which("mmdebstrap"):
            reason = f"{self.python_base_reference} is here"
            other = "BASE=rootfs builds from the Debian archive instead"
        else:
            reason = "mmdebstrap is not installed, so the python image comes from a registry"
            other = "install mmdebstrap for BASE=rootfs, the registry-free base"
        return f"BASE=auto: the chain starts from {self.base} ({reason}; {other})"

    @property
    def python_base_reference(self) -> str:
        """The official python image of BASE=python."""
        return f"python:{self.python_base}"

    @property
    def pip_index(self) -> str:
        """The package index of PIPPROXY's devpi, or empty."""
        return f"{self.pip_proxy.rstrip('/')}/root/pypi/+simple/" if self.pip_proxy else ""

    @property
    def package_index(self) -> str:
        """The index the builds install from: PIPPROXY's devpi, else PyPI."""
        return self.pip_index or PYPI

    @property
    def tls_verify(self) -> bool | str:
        """What requests checks an https index against: CA_CERTS when set, else its own bundle."""
        return self.ca_certs or True

    def required_path(self, variable: str) -> Path:
        """A folder setting the command cannot do without (NOTEBOOKS, DOCKER), made absolute."""
        value = {"NOTEBOOKS": self.notebooks, "DOCKER": self.config}[variable]
        if not value:
            raise SettingError(f"{variable} is not set: give it on the command line, e.g. `make pylab {variable}=...`")
        return Path(value).expanduser().absolute()

    def cuda_of(self, package_list_path: str) -> str:
        """The CUDA version a Python list's frameworks are switched to ("" for the CPU builds):
        the GPU list is installed only in the CUDA build."""
        if package_list_path == "requirements-gpu.txt" or self.cuda_install:
            return self.cuda_version
        return ""


# The authenticators `make hub` offers (HUB_AUTH).
AUTHENTICATORS = ("native", "github", "gitlab", "generic")
HUB_ENGINES = ("docker", "swarm")


@dataclass(frozen=True)
class HubSettings:
    """The team server's settings (HUB_*, GPU_POOL, GPUS_PER_USER, DOCKER), read when a hub command
    runs: the hub's required ones (HUB_ADMIN, HUB_DATA, HUB_HOMES) are no concern of a build."""

    bind: str
    port: int
    data: Path
    homes: Path
    shared: str
    admin: str
    images: str
    mem_limit: str
    cpu_limit: str
    idle_timeout: int
    uid_base: int
    gpu_pool: str
    gpus_per_user: int
    auth: str
    config: Path
    engine: str
    swarm_registry: str
    swarm_homes: str
    swarm_node: str
    manifests: Path

    @property
    def on_swarm(self) -> bool:
        return self.engine == "swarm"

    @property
    def https(self) -> bool:
        return (self.config / "ssl" / "cert.pem").is_file() and (self.config / "ssl" / "key.pem").is_file()

    @property
    def name(self) -> str:
        """The hub's container and network: one hub per port."""
        return f"pyrlab-hub-{self.port}"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind  # noqa: S104 - a comparison
        return f"{'https' if self.https else 'http'}://{host}:{self.port}/hub/"

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] | None = None) -> HubSettings:
        env = os.environ if environment is None else environment

        def folder(name: str) -> Path:
            text = _text(env, name)
            if not text:
                raise SettingError(f"{name} is not set: give a folder, e.g. `make hub {name}=/srv/pyrlab`")
            path = Path(text).expanduser().absolute()
            check_mountable(path, name)
            return path

        admin = _text(env, "HUB_ADMIN")
        if not admin:
            raise SettingError("HUB_ADMIN is not set: name the admin who authorizes sign-ups, e.g. HUB_ADMIN=alice")
        images = _text(env, "HUB_IMAGES")
        try:
            image_choices(images)
        except ImageChoicesError as error:
            raise SettingError(str(error)) from None
        return cls(
            bind=_text(env, "HUB_BIND"),
            port=_port(env, "HUB_PORT"),
            data=folder("HUB_DATA"),
            homes=folder("HUB_HOMES"),
            shared=_text(env, "HUB_SHARED"),
            admin=admin,
            images=images,
            mem_limit=_text(env, "HUB_MEM_LIMIT"),
            cpu_limit=_text(env, "HUB_CPU_LIMIT"),
            idle_timeout=_number(env, "HUB_IDLE_TIMEOUT"),
            uid_base=_number(env, "HUB_UID_BASE"),
            gpu_pool=_text(env, "GPU_POOL"),
            gpus_per_user=_number(env, "GPUS_PER_USER"),
            auth=_choice(env, "HUB_AUTH", AUTHENTICATORS),
            config=folder("DOCKER"),
            engine=_choice(env, "HUB_ENGINE", HUB_ENGINES),
            swarm_registry=_text(env, "SWARM_REGISTRY"),
            swarm_homes=_choice(env, "SWARM_HOMES", SWARM_HOMES),
            swarm_node=_text(env, "SWARM_NODE"),
            manifests=Path(_text(env, "MANIFESTS")).expanduser().absolute(),
        )
