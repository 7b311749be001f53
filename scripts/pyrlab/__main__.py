"""Command line: `python3 -m pyrlab COMMAND` with scripts/ on PYTHONPATH (the Makefile does this)."""

from __future__ import annotations

import argparse
import getpass
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

# Only the labs' modules load up front: `make pylab` pays for none of the build tools (about 70 ms
# of imports); every other verb imports what it uses.
from pyrlab.engine import buildkit_problem, hand_over
from pyrlab.inside.contract import WORK
from pyrlab.inside.errors import UserError
from pyrlab.labs.errors import LabError
from pyrlab.labs.password import hash_password, store_password
from pyrlab.labs.spec import LABS, LabSpec, lab_container, published
from pyrlab.labs.start import start
from pyrlab.labs.status import status
from pyrlab.labs.stop import stop
from pyrlab.settings import HubSettings, Settings

if TYPE_CHECKING:
    from pyrlab.images.lock import Resolver

# The names of Debian's R packages as rlab-base's apt index had them (written by make, in the
# platform's stamps folder).
DEBIAN_R_NAMES = "debian-r-packages.txt"


def settings() -> Settings:
    return Settings.from_environment()


def check(args: argparse.Namespace) -> int:
    """The settings, the lists and their locks, and the caches a build would use: whatever a
    build would stop on is named before anything is built."""
    from pyrlab.images import prepare, proxies
    from pyrlab.inside import lists, lockfile, rsource

    root, configured = Path("."), settings()
    cannot_build = buildkit_problem(configured.container_cli)
    if cannot_build:
        raise LabError(cannot_build)
    cannot_run = configured.platform.emulation_problem()
    if cannot_run:
        raise LabError(cannot_run)
    if configured.platform.foreign:
        if configured.base == "python":
            # A pull for another platform would give the host's python:TAG that platform's image.
            raise LabError(
                f"PLATFORM={configured.platform.name} is not this host's ({configured.platform.host}): its chain "
                f"starts from BASE=rootfs, built for it from Debian's archive (`make rootfs PLATFORM="
                f"{configured.platform.name}`), not from BASE=python, whose pull would replace the host's "
                f"{configured.python_base_reference}. Set BASE=rootfs (or BASE=auto with mmdebstrap installed)"
            )
        print(f"PLATFORM={configured.platform.name}: built under QEMU, named *{configured.platform.suffix}")
    problems = proxies.unanswered({"APTPROXY": configured.apt_proxy, "PIPPROXY": configured.pip_proxy})
    if problems:
        raise LabError("\n".join(problems))
    if configured.base_setting == "auto":
        print(configured.base_choice())
    lists.check_lists(root, allow_direct_urls=configured.allow_direct_urls)
    if args.locks:
        lockfile.check_locks(root)
    if configured.platform.foreign:
        # Another platform's wheels are rarer: a package without one is named here, not compiled.
        from pyrlab.images import wheels

        missing = wheels.missing_wheels(root, configured)
        if missing:
            raise lists.ListError(missing)
        print(f"every Python package of the lists has a wheel for {configured.platform.name}")
    prepare.write_r_repos(root, configured)  # a bad R_REPOS is named here too
    debian_r_names = configured.platform.stamps / DEBIAN_R_NAMES
    if debian_r_names.is_file():
        # Every R name from Debian (as rlab-base's apt index had them) or R_REPOS, as the rlab build
        # will resolve it: a line neither provides is named before anything is built.
        available = set(debian_r_names.read_text(encoding="utf-8").split())
        found = rsource.read_repositories(root / prepare.R_REPOS_FILE, root / prepare.R_REPOS_COPIES)
        rsource.make_plan(lists.read_entries(root / lists.R_LIST), available, rsource.Repositories(found))
    print("the package lists are valid" + (" and their locks up to date" if args.locks else ""))
    return 0


def prepare_builds(args: argparse.Namespace) -> int:
    from pyrlab.images import prepare

    for message in prepare.prepare(Path("."), settings(), args.builds, pull_base=args.pull_base):
        print(message)
    return 0


def clean_cache(_: argparse.Namespace) -> int:
    from pyrlab.images import buildcache

    print(buildcache.clean(settings().container_cli))
    return 0


def clean_images(args: argparse.Namespace) -> int:
    from pyrlab.images import clean

    images = dict(pair.split("=", 1) for pair in args.images)
    removed = clean.remove_images(settings().container_cli, images)
    print(f"removed {' '.join(removed)}" if removed else "no image of pyrlab's to remove")
    return 0


def clean_rootfs(_: argparse.Namespace) -> int:
    from pyrlab.images import clean

    configured = settings()
    removed = clean.remove_rootfs(configured.container_cli, configured.rootfs_image)
    print(f"removed {configured.rootfs_image}" if removed else f"{configured.rootfs_image} was not here")
    return 0


def debian_r_names(args: argparse.Namespace) -> int:
    from pyrlab.images import clean

    print(clean.debian_r_names(settings().container_cli, args.image), end="")
    return 0


def show_inputs(args: argparse.Namespace) -> int:
    from pyrlab.images import prepare

    print("\n".join(str(path) for path in prepare.build_inputs(Path("."), args.build)))
    return 0


def resolver(base_image: str) -> Resolver:
    from pyrlab.images import lock

    configured = settings()
    return lock.Resolver(
        cli=configured.container_cli,
        image=base_image,
        network=configured.build_network,
        ca_certs=configured.ca_certs,
        apt_proxy=configured.apt_proxy,
        pip_index=configured.pip_index,
        torch_index=configured.torch_cpu_index,
    )


def lock_lists(args: argparse.Namespace) -> int:
    from pyrlab.images import lock, prepare

    configured = settings()
    prepare.write_r_repos(Path("."), configured)  # the resolver reads it from .build/
    foreign = configured.platform.arch if configured.platform.foreign else ""
    report = lock.lock(
        Path("."),
        resolver(args.base_image),
        upgrade=args.upgrade,
        allow_direct_urls=configured.allow_direct_urls,
        foreign_arch=foreign,
    )
    if foreign:
        print("\n".join(report))
        print(f"commit the .lock files: they now also pin Debian's {foreign} versions where they differ")
        return 0
    report.append(
        lock.lock_base(
            Path("."), configured.container_cli, configured.base, configured.python_base_reference, upgrade=args.upgrade
        )
    )
    print("\n".join(report))
    print("commit the .lock files: `make build` now installs exactly what they say")
    return 0


def report_outdated(args: argparse.Namespace) -> int:
    from pyrlab.images import outdated, prepare
    from pyrlab.inside import lockfile

    root, configured = Path("."), settings()
    if not any((root / spec.lock).is_file() for spec in lockfile.LOCKS):
        print("no lock files: `make lock` pins the lists first")
        return 0
    rows = outdated.python_outdated(root, configured.package_index, configured.tls_verify)
    rows += outdated.debian_outdated(root, resolver(args.base_image))
    prepare.write_r_repos(root, configured)
    rows += outdated.r_source_outdated(root, prepare.R_REPOS_FILE, prepare.R_REPOS_COPIES)
    print(outdated.table(rows) if rows else "every pin is the newest release")
    if rows:
        print(f"\n{len(rows)} pins have newer releases: `make upgrade` re-resolves them")
    return 0


def write_manifest(args: argparse.Namespace) -> int:
    from pyrlab.engine import image_facts
    from pyrlab.images import manifest

    configured = settings()
    if args.if_built and image_facts(configured.container_cli, args.reference) is None:
        print(f"{args.reference} is not built: no manifest")
        return 0
    described = manifest.describe(configured.container_cli, args.image, args.reference, args.parent)
    as_json, as_markdown = manifest.write_manifest(configured.manifests, described)
    print(f"wrote {as_json} and {as_markdown}")
    return 0


def build_image(args: argparse.Namespace) -> int:
    from pyrlab.images.build import build

    return build(settings(), args.folder, args.parent, args.reference, Path(args.iidfile))


def rootfs(args: argparse.Namespace) -> int:
    from pyrlab.images.rootfs import rootfs_id

    identity = rootfs_id(settings(), args.anew)
    # make records the id in its stamp; this command's messages went to the terminal before it.
    print(identity)
    return 0


def lab_start(args: argparse.Namespace) -> int:
    configured = settings()
    spec = LabSpec(
        lab=args.lab,
        image=args.image,
        bind=configured.bind_address,
        publish=published(args.lab, configured),
        notebooks=configured.required_path("NOTEBOOKS"),
        config=configured.required_path("DOCKER"),
        cli=configured.container_cli,
        docker_args=shlex.split(configured.docker_args),
        auth=configured.auth,
    )
    url = start(spec)
    login = "" if "token=" in url or spec.auth == "none" else "  (log in with the password of `make password`)"
    print(f"{spec.name} is running. Open:\n\n    {url}{login}\n")
    return 0


def lab_password(args: argparse.Namespace) -> int:
    configured = settings()
    if sys.stdin.isatty():
        password = getpass.getpass("New Jupyter password: ")
        if password != getpass.getpass("Again: "):
            raise LabError("the two passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise LabError("the password is empty; nothing was changed")
    hashed = hash_password(configured.container_cli, args.image, password)
    path = store_password(configured.required_path("DOCKER"), configured.required_path("NOTEBOOKS"), hashed)
    print(f"stored a hashed password in {path}: labs started from now on ask for it instead of a token")
    return 0


def lab_stop(args: argparse.Namespace) -> int:
    configured = settings()
    name = lab_container(args.lab, configured)
    print(f"stopped {name}" if stop(configured.container_cli, name) else f"{name} was not running")
    return 0


def lab_logs(args: argparse.Namespace) -> int:
    configured = settings()
    hand_over(configured.container_cli, "logs", "--follow", lab_container(args.lab, configured))
    return 0


def lab_shell(args: argparse.Namespace) -> int:
    """A shell in the lab as the user it runs as, in the notebooks' folder."""
    configured = settings()
    hand_over(configured.container_cli, "exec", "--interactive", "--tty", "--workdir", WORK,
              lab_container(args.lab, configured), "bash")  # fmt: skip
    return 0


def hub_logs(_: argparse.Namespace) -> int:
    hand_over(settings().container_cli, "logs", "--follow", HubSettings.from_environment().name)
    return 0


def lab_status(_: argparse.Namespace) -> int:
    configured = settings()
    lines = status(configured.container_cli, configured.required_path("DOCKER"))
    print("\n".join(lines) if lines else "no lab is running")
    return 0


def cache_ports(configured: Settings) -> dict[str, int]:
    return {"apt": configured.aptcache_port, "pypi": configured.devpi_port}


def proxies_start(args: argparse.Namespace) -> int:
    from pyrlab.images import proxies

    configured = settings()
    offline = configured.proxies_offline
    data = configured.proxy_cache
    lines = proxies.start(configured.container_cli, args.image, data, cache_ports(configured), offline=offline)
    mode = " (offline: they serve only what they hold)" if offline else ""
    print(f"the build caches are running{mode}, their data in {data}. Builds use them with these")
    print("settings, on the command line or in local.mk:\n")
    print("\n".join(f"    {line}" for line in lines))
    return 0


def proxies_stop(_: argparse.Namespace) -> int:
    from pyrlab.images import proxies

    configured = settings()
    removed = proxies.stop(configured.container_cli, cache_ports(configured))
    print(f"stopped {', '.join(removed)}" if removed else "no build cache was running")
    return 0


def registry_start(args: argparse.Namespace) -> int:
    from pyrlab.cluster import registry

    configured = settings()
    port, data = configured.registry_port, configured.registry_data
    lines = registry.start(configured.container_cli, args.image, data, port)
    print(f"the registry is running on 127.0.0.1:{port}, its data in {data}; this machine's Docker")
    print("is logged in to it (the password is in REGISTRY_DATA). Push to it with this setting:\n")
    print("\n".join(f"    {line}" for line in lines))
    return 0


def registry_stop(_: argparse.Namespace) -> int:
    from pyrlab.cluster import registry

    configured = settings()
    name = registry.container_name(configured.registry_port)
    stopped = registry.stop(configured.container_cli, configured.registry_port)
    print(f"stopped {name}" if stopped else f"{name} was not running")
    return 0


def push_images(args: argparse.Namespace) -> int:
    from pyrlab.cluster import registry

    configured = settings()
    images = [registry.Built.parse(item) for item in args.images]
    pushed = registry.push(
        configured.container_cli,
        configured.registry,
        images,
        configured.manifests,
        Path("."),
        configured.push_platforms,
    )
    print("\n".join(pushed))
    return 0


def pull_images(args: argparse.Namespace) -> int:
    from pyrlab.cluster import registry

    configured = settings()
    images = [registry.Built.parse(item) for item in args.images]
    pulled = registry.pull(
        configured.container_cli, configured.registry, images, configured.manifests, configured.platform
    )
    print("\n".join(pulled))
    return 0


def write_sboms(_: argparse.Namespace) -> int:
    from pyrlab.images import sbom

    print("\n".join(sbom.write_all(settings().manifests)))
    return 0


def z2jh_values(_: argparse.Namespace) -> int:
    from pyrlab.cluster import z2jh

    configured = settings()
    written = z2jh.write_values(configured.z2jh_values, configured.manifests)
    print(f"wrote {written} (private: with OAuth it holds the client secret; keep it out of git). Install with:")
    print(f"\n    helm upgrade --install pyrlab jupyterhub/jupyterhub --values {written}\n")
    return 0


def hub_start(args: argparse.Namespace) -> int:
    from pyrlab.team import server

    print(server.start(settings().container_cli, args.image))
    return 0


def hub_stop(_: argparse.Namespace) -> int:
    from pyrlab.team import server

    stopped = server.stop(settings().container_cli)
    print(f"stopped {', '.join(stopped)}" if stopped else "the team server was not running")
    return 0


def hub_status(_: argparse.Namespace) -> int:
    from pyrlab.team import status as team

    print("\n".join(team.status(settings().container_cli)))
    return 0


def swarm_join(_: argparse.Namespace) -> int:
    from pyrlab.team import swarm

    hub = HubSettings.from_environment()
    cli = settings().container_cli
    print("\n".join(swarm.join(cli, hub) if hub.swarm_node else swarm.join_instructions(cli, hub)))
    return 0


def hub_user(args: argparse.Namespace) -> int:
    from pyrlab.team import server

    if not args.name:
        raise LabError("no user named: give NAME, e.g. `make hub-user NAME=alice`")
    password = server.add_user(settings().container_cli, args.name)
    print(f"{args.name} may log in with this password (shown once; they change it at /hub/change-password):")
    print(f"\n    {password}\n")
    return 0


def parser() -> argparse.ArgumentParser:
    """The verbs, and the operands make derives (image references, ports of a lab). Every setting
    comes from the environment (pyrlab.settings)."""
    top = argparse.ArgumentParser(prog="pyrlab", description=__doc__)
    commands = top.add_subparsers(required=True)

    def verb(name: str, run: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.set_defaults(run=run)
        return command

    verb("check", check, "check the package lists and their locks").add_argument(
        "--no-locks", dest="locks", action="store_false", help="do not check the locks"
    )
    command = verb("prepare", prepare_builds, "write what the builds read under .build/ (only what changed)")
    command.add_argument("builds", nargs="*", help="folders of the Dockerfiles whose inputs to record, e.g. pylab")
    command.add_argument("--pull-base", default="", help="the python base image, pulled now when it is not here")
    verb("inputs", show_inputs, "print every file a build reads").add_argument("build", help="e.g. pylab")
    verb("clean-cache", clean_cache, "remove pyrlab's build cache, not other projects'")
    verb("clean-images", clean_images, "remove pyrlab's images, every tag").add_argument(
        "images", nargs="*", help="IMAGE=REPOSITORY, e.g. pylab=me/pylab"
    )
    verb("clean-rootfs", clean_rootfs, "remove the image of `make rootfs`")
    verb("debian-r-names", debian_r_names, "print the Debian R packages rlab-base knows").add_argument(
        "image", help="rlab-base's reference"
    )
    for name, run in (("lock", lock_lists), ("outdated", report_outdated)):
        command = verb(name, run, f"{name} the lists")
        command.add_argument("base_image", help="the chain's base image, to resolve in")
        if name == "lock":
            command.add_argument("--upgrade", action="store_true", help="newest versions, not the locked ones")
    verb("proxies-start", proxies_start, "start the build caches").add_argument("image", help="pyrlab-proxies")
    verb("proxies-stop", proxies_stop, "stop the build caches")
    verb("registry-start", registry_start, "start the local registry").add_argument("image", help="pyrlab-proxies")
    verb("registry-stop", registry_stop, "stop the local registry")
    for name, run in (("push", push_images), ("pull", pull_images)):
        verb(name, run, f"{name} the images to or from REGISTRY").add_argument(
            "images", nargs="+", help="NAME=REFERENCE, e.g. pylab=pylab:latest"
        )
    verb("sbom", write_sboms, "write a CycloneDX SBOM beside every manifest")
    verb("z2jh-values", z2jh_values, "write Helm values for Zero to JupyterHub")
    command = verb("manifest", write_manifest, "write an image's manifest (JSON and Markdown)")
    command.add_argument("image", help="the image's name in the chain, e.g. pylab")
    command.add_argument("reference", help="the image reference, e.g. pylab:latest")
    command.add_argument("parent", help="the image it is built on")
    command.add_argument("--if-built", action="store_true", help="say so and write nothing when it is not built")
    command = verb("build", build_image, "build one image (make's rules call it)")
    command.add_argument("folder", help="the folder of its Dockerfile, e.g. pylab")
    command.add_argument("parent", help="the image it is built on")
    command.add_argument("--if-built", action="store_true", help="say so and write nothing when it is not built")
    command.add_argument("reference", help="its reference, e.g. pylab:latest")
    command.add_argument("iidfile", help="where the engine writes the new image's id")
    verb("rootfs", rootfs, "print the id of ROOTFS_IMAGE, built by mmdebstrap when missing").add_argument(
        "--anew", action="store_true", help="build it even when it exists"
    )
    command = verb("lab-start", lab_start, "start a lab")
    command.add_argument("lab", choices=LABS)
    command.add_argument("image", help="its image reference")
    for name, run, about in (
        ("lab-stop", lab_stop, "stop a lab"),
        ("lab-logs", lab_logs, "follow a lab's log"),
        ("lab-shell", lab_shell, "a shell in a lab"),
    ):
        verb(name, run, about).add_argument("lab", choices=LABS)
    verb("lab-status", lab_status, "list the labs")
    verb("lab-password", lab_password, "store a hashed Jupyter password").add_argument(
        "image", help="an image with jupyter_server, to hash with"
    )
    verb("hub-start", hub_start, "start the team server").add_argument("image", help="pyrlab-hub")
    verb("hub-stop", hub_stop, "stop the team server")
    verb("hub-logs", hub_logs, "follow the team server's log")
    verb("hub-status", hub_status, "the team server and its labs")
    verb("swarm-join", swarm_join, "what a new node runs to join the team server's swarm")
    verb("hub-user", hub_user, "add or authorize a user").add_argument("name", nargs="?", default="", help="NAME")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
