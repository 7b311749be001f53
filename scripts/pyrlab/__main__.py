"""Command line: `python3 -m pyrlab COMMAND` with scripts/ on PYTHONPATH (the Makefile does this)."""

from __future__ import annotations

import argparse
import getpass
import shlex
import sys
from pathlib import Path

from pyrlab import lab, lists


def check(args: argparse.Namespace) -> int:
    lists.check_lists(Path(args.root))
    print(f"the package lists in {args.root} are valid")
    return 0


def snapshot(args: argparse.Namespace) -> int:
    path, copy = Path(args.list), Path(args.snapshot)
    if lists.refresh_snapshot(path, copy):
        print(f"{copy}: a new snapshot of {path} (its packages' layer is rebuilt in full)")
    return 0


def lab_start(args: argparse.Namespace) -> int:
    spec = lab.LabSpec(
        lab=args.lab,
        image=args.image,
        bind=args.bind,
        publish=[lab.Publish.parse(text) for text in args.publish],
        notebooks=Path(args.notebooks).expanduser().absolute(),
        config=Path(args.config).expanduser().absolute(),
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
    path = lab.store_password(Path(args.config).expanduser(), lab.hash_password(args.cli, args.image, password))
    print(f"stored a hashed password in {path}: labs started from now on ask for it instead of a token")
    return 0


def lab_stop(args: argparse.Namespace) -> int:
    name = lab.container_name(args.lab, args.port)
    print(f"stopped {name}" if lab.stop(args.cli, name) else f"{name} was not running")
    return 0


def lab_status(args: argparse.Namespace) -> int:
    lines = lab.status(args.cli, Path(args.config).expanduser())
    print("\n".join(lines) if lines else "no lab is running")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="pyrlab", description=__doc__)
    commands = top.add_subparsers(required=True)

    command = commands.add_parser("check", help="check the four package lists")
    command.add_argument("--root", default=".", help="folder holding the lists")
    command.set_defaults(run=check)

    command = commands.add_parser("snapshot", help="keep a list's snapshot while the list only gains lines")
    command.add_argument("list", help="the package list")
    command.add_argument("snapshot", help="its snapshot")
    command.set_defaults(run=snapshot)

    for name, run in (("start", lab_start), ("stop", lab_stop), ("status", lab_status)):
        command = commands.add_parser(f"lab-{name}", help=f"{name} a lab container")
        command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
        command.add_argument("--config", required=name != "stop", help="configuration directory (DOCKER)")
        if name != "status":
            command.add_argument("--lab", required=True, help="pylab or rlab")
        command.set_defaults(run=run)
        if name == "stop":
            command.add_argument("--port", type=int, required=True, help="the lab's Jupyter port on the host")
        if name == "start":
            command.add_argument("--image", required=True)
            command.add_argument("--bind", default="127.0.0.1", help="host address for published ports")
            command.add_argument("--publish", action="append", default=[], help="VARIABLE=HOST:CONTAINER")
            command.add_argument("--notebooks", required=True, help="folder mounted as the work directory")
            command.add_argument("--docker-args", default="", help="more `docker run` arguments")
            command.add_argument("--auth", default="token", help="token (default) or none")

    command = commands.add_parser("lab-password", help="store a hashed Jupyter password for the labs")
    command.add_argument("--cli", default="docker", help="container CLI (CONTAINER_CLI)")
    command.add_argument("--config", required=True, help="configuration directory (DOCKER)")
    command.add_argument("--image", required=True, help="an image with jupyter_server, to hash with")
    command.set_defaults(run=lab_password)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (lists.ListError, lab.LabError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
