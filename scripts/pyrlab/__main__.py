"""Command line: `python3 -m pyrlab COMMAND` with scripts/ on PYTHONPATH (the Makefile does this)."""

from __future__ import annotations

import argparse
import getpass
import os
import shlex
import sys
from pathlib import Path

from pyrlab import (
    engine,
    frameworks,
    hub,
    lab,
    lists,
    lock,
    lockfile,
    manifest,
    outdated,
    proxies,
    registry,
    rrepos,
    rsource,
    sbom,
    z2jh,
)


def check(args: argparse.Namespace) -> int:
    root = Path(args.root)
    lists.check_lists(root, allow_direct_urls=args.allow_direct_urls == "yes")
    if args.locks:
        lockfile.check_locks(root)
    if args.debian_r_names:
        # Every R name from Debian or R_REPOS, as the rlab build will resolve it.
        available = set(Path(args.debian_r_names).read_text(encoding="utf-8").split())
        repositories_file, copies = root / ".build" / "install" / "r_repos.txt", root / ".build" / "r-repos"
        found = rsource.read_repositories(repositories_file, copies) if repositories_file.is_file() else []
        rsource.make_plan(lists.read_entries(root / lists.R_LIST), available, rsource.Repositories(found))
    print(f"the package lists in {args.root} are valid" + (" and their locks up to date" if args.locks else ""))
    return 0


def install_file(args: argparse.Namespace) -> int:
    """Write what the build installs for a list (its lock, or the list, with pylab's frameworks
    switched to the build asked for) to OUT, and the state make compares to OUT.from."""
    _, text = lockfile.install_text(Path("."), args.list)
    if args.frameworks:
        cuda_version = args.cuda_version
        text = frameworks.rewrite(text, bool(cuda_version), cuda_version, args.torch_cpu_index)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    out.with_name(out.name + ".from").write_text(args.state, encoding="utf-8")
    return 0


def resolver(args: argparse.Namespace) -> lock.Resolver:
    return lock.Resolver(
        cli=args.cli,
        image=args.image,
        network=args.network,
        ca_certs=args.ca_certs,
        apt_proxy=args.apt_proxy,
        pip_index=args.pip_index,
    )


def lock_lists(args: argparse.Namespace) -> int:
    report = lock.lock(Path("."), resolver(args), upgrade=args.upgrade)
    report.append(lock.lock_base(Path("."), args.cli, args.base, args.base_reference, upgrade=args.upgrade))
    print("\n".join(report))
    print("commit the .lock files: `make build` now installs exactly what they say")
    return 0


def report_outdated(args: argparse.Namespace) -> int:
    root = Path(".")
    if not any((root / spec.lock).is_file() for spec in lockfile.LOCKS):
        print("no lock files: `make lock` pins the lists first")
        return 0
    rows = outdated.python_outdated(root, args.pip_index or outdated.DEFAULT_INDEX, args.ca_certs or True)
    rows += outdated.debian_outdated(root, resolver(args))
    rows += outdated.r_source_outdated(root, Path(".build/install/r_repos.txt"), Path(".build/r-repos"))
    print(outdated.table(rows) if rows else "every pin is the newest release")
    if rows:
        print(f"\n{len(rows)} pins have newer releases: `make upgrade` re-resolves them")
    return 0


def write_manifest(args: argparse.Namespace) -> int:
    described = manifest.describe(args.cli, args.image, args.reference, args.parent)
    as_json, as_markdown = manifest.write_manifest(Path(args.out), described)
    print(f"wrote {as_json} and {as_markdown}")
    return 0


def snapshot(args: argparse.Namespace) -> int:
    path, copy = Path(args.list), Path(args.snapshot)
    if lists.refresh_snapshot(path, copy):
        print(f"{copy}: a new snapshot of {path} (its packages' layer is rebuilt in full)")
    return 0


def required_setting(value: str | None, variable: str) -> str:
    if not value:
        raise lab.LabError(f"{variable} is not set: give it on the command line, e.g. `make pylab {variable}=...`")
    return value


def lab_start(args: argparse.Namespace) -> int:
    spec = lab.LabSpec(
        lab=args.lab,
        image=args.image,
        bind=args.bind,
        publish=[lab.Publish.parse(text) for text in args.publish],
        notebooks=Path(required_setting(args.notebooks, "NOTEBOOKS")).expanduser().absolute(),
        config=Path(required_setting(args.config, "DOCKER")).expanduser().absolute(),
        cli=args.cli,
        docker_args=shlex.split(args.docker_args),
        auth=args.auth,
    )
    url = lab.start(spec)
    login = "" if "token=" in url or spec.auth == "none" else "  (log in with the password of `make password`)"
    print(f"{spec.name} is running. Open:\n\n    {url}{login}\n")
    return 0


def lab_password(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass("New Jupyter password: ")
        if password != getpass.getpass("Again: "):
            raise lab.LabError("the two passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise lab.LabError("the password is empty; nothing was changed")
    config = Path(required_setting(args.config, "DOCKER")).expanduser()
    path = lab.store_password(config, lab.hash_password(args.cli, args.image, password))
    print(f"stored a hashed password in {path}: labs started from now on ask for it instead of a token")
    return 0


def lab_stop(args: argparse.Namespace) -> int:
    name = lab.container_name(args.lab, args.port)
    print(f"stopped {name}" if lab.stop(args.cli, name) else f"{name} was not running")
    return 0


def lab_status(args: argparse.Namespace) -> int:
    lines = lab.status(args.cli, Path(required_setting(args.config, "DOCKER")).expanduser())
    print("\n".join(lines) if lines else "no lab is running")
    return 0


def check_proxies(args: argparse.Namespace) -> int:
    problems = proxies.unanswered({"APTPROXY": args.apt_proxy, "PIPPROXY": args.pip_proxy})
    if problems:
        raise lab.LabError("\n".join(problems))
    return 0


def proxies_start(args: argparse.Namespace) -> int:
    ports = {"apt": args.apt_port, "pypi": args.pypi_port}
    settings = proxies.start(args.cli, args.image, Path(args.data), ports, offline=args.offline)
    mode = " (offline: they serve only what they hold)" if args.offline else ""
    print(f"the build caches are running{mode}, their data in {args.data}. Builds use them with these")
    print("settings, on the command line or in local.mk:\n")
    print("\n".join(f"    {line}" for line in settings))
    return 0


def proxies_stop(args: argparse.Namespace) -> int:
    removed = proxies.stop(args.cli, {"apt": args.apt_port, "pypi": args.pypi_port})
    print(f"stopped {', '.join(removed)}" if removed else "no build cache was running")
    return 0


def registry_start(args: argparse.Namespace) -> int:
    settings = registry.start(args.cli, args.image, Path(args.data), args.port)
    print(f"the registry is running on 127.0.0.1:{args.port}, its data in {args.data}; this machine's Docker")
    print("is logged in to it (the password is in REGISTRY_DATA). Push to it with this setting:\n")
    print("\n".join(f"    {line}" for line in settings))
    return 0


def registry_stop(args: argparse.Namespace) -> int:
    name = registry.container_name(args.port)
    print(f"stopped {name}" if registry.stop(args.cli, args.port) else f"{name} was not running")
    return 0


def push_images(args: argparse.Namespace) -> int:
    images = [registry.Built.parse(item) for item in args.image]
    print("\n".join(registry.push(args.cli, args.registry, images, Path(args.manifests), Path("."))))
    return 0


def pull_images(args: argparse.Namespace) -> int:
    images = [registry.Built.parse(item) for item in args.image]
    print("\n".join(registry.pull(args.cli, args.registry, images, Path(args.manifests))))
    return 0


def r_repositories(args: argparse.Namespace) -> int:
    rrepos.prepare(args.repos, Path(args.out), Path(args.copies))
    return 0


def write_sboms(args: argparse.Namespace) -> int:
    print("\n".join(sbom.write_all(Path(args.manifests))))
    return 0


def z2jh_values(args: argparse.Namespace) -> int:
    written = z2jh.write_values(Path(args.out), Path(args.manifests))
    print(f"wrote {written} (private: with OAuth it holds the client secret; keep it out of git). Install with:")
    print(f"\n    helm upgrade --install pyrlab jupyterhub/jupyterhub --values {written}\n")
    return 0


def hub_start(args: argparse.Namespace) -> int:
    print(hub.start(args.cli, args.image))
    return 0


def hub_stop(args: argparse.Namespace) -> int:
    stopped = hub.stop(args.cli)
    print(f"stopped {', '.join(stopped)}" if stopped else "the team server was not running")
    return 0


def hub_status(args: argparse.Namespace) -> int:
    print("\n".join(hub.status(args.cli)))
    return 0


def hub_user(args: argparse.Namespace) -> int:
    password = hub.add_user(args.cli, args.name)
    print(f"{args.name} may log in with this password (shown once; they change it at /hub/change-password):")
    print(f"\n    {password}\n")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pyrlab", description=__doc__)
    commands = top.add_subparsers(required=True)

    command = commands.add_parser("check", help="check the four package lists and their locks")
    command.add_argument("--root", default=".", help="folder holding the lists")
    command.add_argument("--no-locks", dest="locks", action="store_false", help="do not check the locks")
    command.add_argument("--debian-r-names", default="", help="file of Debian's R package names (rlab-base's)")
    command.add_argument(
        "--allow-direct-urls", default=os.environ.get("ALLOW_DIRECT_URLS", "no"), help="yes: accept name @ URL"
    )
    command.set_defaults(run=check)

    command = commands.add_parser("install-file", help="write what the build installs for a list")
    command.add_argument("list", help="the list, e.g. requirements.txt")
    command.add_argument("out", help="where to write its lock or itself")
    command.add_argument("--state", required=True, help="what make compares with OUT.from next time")
    command.add_argument("--frameworks", action="store_true", help="switch the deep-learning frameworks' builds")
    command.add_argument("--cuda-version", default="", help="with --frameworks: CUDA builds of it; empty: CPU")
    command.add_argument("--torch-cpu-index", default="", help="with --frameworks: index of CPU-only torch")
    command.set_defaults(run=install_file)

    for name, run in (("lock", lock_lists), ("outdated", report_outdated)):
        command = commands.add_parser(name, help=f"{name} the lists")
        command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
        command.add_argument("--image", required=True, help="the chain's base image, to resolve in")
        command.add_argument("--network", default="default", help="network of the resolving container")
        command.add_argument("--ca-certs", default="", help="CA bundle of a TLS-intercepting proxy (CA_CERTS)")
        command.add_argument("--apt-proxy", default="", help="apt proxy URL (APTPROXY)")
        command.add_argument("--pip-index", default="", help="package index URL (from PIPPROXY)")
        command.set_defaults(run=run)
        if name == "lock":
            command.add_argument("--upgrade", action="store_true", help="newest versions, not the locked ones")
            command.add_argument("--base", default="python", help="BASE: python (pinned in base.lock) or rootfs")
            command.add_argument("--base-reference", default="", help="python:PYTHONBASE, the image base.lock pins")

    command = commands.add_parser("check-proxies", help="fail when a configured build cache does not answer")
    command.add_argument("--apt-proxy", default="", help="APTPROXY")
    command.add_argument("--pip-proxy", default="", help="PIPPROXY")
    command.set_defaults(run=check_proxies)

    for name, run in (("start", proxies_start), ("stop", proxies_stop)):
        command = commands.add_parser(f"proxies-{name}", help=f"{name} the build caches")
        command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
        command.add_argument("--apt-port", type=int, default=3142, help="APTCACHE_PORT")
        command.add_argument("--pypi-port", type=int, default=3141, help="DEVPI_PORT")
        command.set_defaults(run=run)
        if name == "start":
            command.add_argument("--image", required=True, help="the pyrlab-proxies image")
            command.add_argument("--data", required=True, help="folder of the caches' data (PROXY_CACHE)")
            command.add_argument("--offline", action="store_true", help="serve only what the caches hold")

    for name, run in (("start", registry_start), ("stop", registry_stop)):
        command = commands.add_parser(f"registry-{name}", help=f"{name} the local registry")
        command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
        command.add_argument("--port", type=int, default=5000, help="REGISTRY_PORT")
        command.set_defaults(run=run)
        if name == "start":
            command.add_argument("--image", required=True, help="the pyrlab-proxies image")
            command.add_argument("--data", required=True, help="folder of the registry's data (REGISTRY_DATA)")

    for name, run in (("push", push_images), ("pull", pull_images)):
        command = commands.add_parser(name, help=f"{name} the images to or from REGISTRY")
        command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
        command.add_argument("--registry", default=os.environ.get("REGISTRY", ""), help="host[:port]/org")
        command.add_argument("--manifests", required=True, help="folder of the manifests (MANIFESTS)")
        command.add_argument("--image", action="append", default=[], help="NAME=REFERENCE, e.g. pylab=pylab:latest")
        command.set_defaults(run=run)

    command = commands.add_parser("r-repos", help="write the R repositories file of the rlab build (R_REPOS)")
    command.add_argument("--repos", default=os.environ.get("R_REPOS", ""), help="R_REPOS")
    command.add_argument("--out", required=True, help="the repositories file to write")
    command.add_argument("--copies", required=True, help="folder of the copies of local repositories")
    command.set_defaults(run=r_repositories)

    command = commands.add_parser("sbom", help="write a CycloneDX SBOM beside every manifest")
    command.add_argument("--manifests", required=True, help="folder of the manifests (MANIFESTS)")
    command.set_defaults(run=write_sboms)

    command = commands.add_parser("z2jh-values", help="write Helm values for Zero to JupyterHub (HUB_* settings)")
    command.add_argument("--manifests", required=True, help="folder of the manifests (MANIFESTS)")
    command.add_argument("--out", required=True, help="the values file to write (Z2JH_VALUES)")
    command.set_defaults(run=z2jh_values)

    command = commands.add_parser("manifest", help="write an image's manifest (JSON and Markdown)")
    command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
    command.add_argument("--image", required=True, help="the image's name in the chain, e.g. pylab")
    command.add_argument("--reference", required=True, help="the image reference, e.g. pylab:latest")
    command.add_argument("--parent", required=True, help="the image it is built on")
    command.add_argument("--out", required=True, help="folder of the manifests")
    command.set_defaults(run=write_manifest)

    command = commands.add_parser("snapshot", help="keep a list's snapshot while the list only gains lines")
    command.add_argument("list", help="the package list")
    command.add_argument("snapshot", help="its snapshot")
    command.set_defaults(run=snapshot)

    for name, run in (("start", lab_start), ("stop", lab_stop), ("status", lab_status)):
        command = commands.add_parser(f"lab-{name}", help=f"{name} a lab container")
        command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
        # Paths and docker arguments come through the environment, which make exports: no shell
        # quoting stands between a path (with a quote, a colon, a newline) and this program.
        command.add_argument("--config", default=os.environ.get("DOCKER"), help="configuration directory (DOCKER)")
        if name != "status":
            command.add_argument("--lab", required=True, help="pylab or rlab")
        command.set_defaults(run=run)
        if name == "stop":
            command.add_argument("--port", type=int, required=True, help="the lab's Jupyter port on the host")
        if name == "start":
            command.add_argument("--image", required=True)
            command.add_argument(
                "--bind", default=os.environ.get("BIND_ADDRESS", "127.0.0.1"), help="host address of published ports"
            )
            command.add_argument("--publish", action="append", default=[], help="VARIABLE=HOST:CONTAINER")
            command.add_argument(
                "--notebooks", default=os.environ.get("NOTEBOOKS"), help="folder mounted as the work directory"
            )
            command.add_argument(
                "--docker-args", default=os.environ.get("DOCKER_ARGS", ""), help="more `docker run` arguments"
            )
            command.add_argument("--auth", default=os.environ.get("AUTH", "token"), help="token (default) or none")

    for name, run in (("start", hub_start), ("stop", hub_stop), ("status", hub_status), ("user", hub_user)):
        command = commands.add_parser(
            f"hub-{name}", help=f"{name} the team server (settings: HUB_* in the environment)"
        )
        command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
        command.set_defaults(run=run)
        if name == "start":
            command.add_argument("--image", required=True, help="the pyrlab-hub image")
        if name == "user":
            command.add_argument("--name", required=True, help="the user's name")

    command = commands.add_parser("lab-password", help="store a hashed Jupyter password for the labs")
    command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
    command.add_argument("--config", default=os.environ.get("DOCKER"), help="configuration directory (DOCKER)")
    command.add_argument("--image", required=True, help="an image with jupyter_server, to hash with")
    command.set_defaults(run=lab_password)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (
        engine.EngineError,
        lists.ListError,
        lab.LabError,
        lock.LockError,
        manifest.ManifestError,
        outdated.IndexAnswerError,
        registry.RegistryError,
        rsource.SourceError,
        rsource.UnknownRNames,
        sbom.SbomError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
