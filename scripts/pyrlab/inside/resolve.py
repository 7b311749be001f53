"""Resolve the lists inside a container of the chain's base image, for `make lock`, `make upgrade`
and `make outdated`: Debian and R versions from that image's own apt index, Python versions by uv
for that image's own Python. Run as root, with the project mounted read-only on /src.

`python3 -m pyrlab.inside.resolve lock` prints one JSON document on stdout (progress goes to stderr):
    {"resolved_for": "...", "debian": {list: {package: version}}, "notes": {list: {package: note}},
     "python": {lock path: uv's output}}
`python3 -m pyrlab.inside.resolve lock-debian` gives the same without the Python locks (another
platform's Debian pins). `python3 -m pyrlab.inside.resolve candidates` reads {package: pinned
version} on stdin and prints the packages whose apt candidate is newer, {package: candidate}.

Settings come from the environment: APT_PROXY, PIP_INDEX, TORCH_INDEX (pylab's torch projects
come from it alone), UPGRADE=yes. A CA bundle mounted on
/run/pyrlab-ca.crt joins the container's trust store. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from pyrlab.inside.lists import (
    LIST_BY_PATH,
    Entry,
    read_entries,
    requirement_name,
    torch_pinned_project,
)
from pyrlab.inside.lockfile import LOCKS
from pyrlab.inside.rdeb import apt_package_names
from pyrlab.inside.rsource import Repositories, SourceError, UnknownRNames, fetch, make_plan, read_repositories

SRC = Path("/src")
CA_BUNDLE = Path("/run/pyrlab-ca.crt")
TRUST_STORE = "/etc/ssl/certs/ca-certificates.crt"
INSTALLED = re.compile(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+)", re.MULTILINE)
NOT_FOUND = re.compile(r"^E: (?:Unable to locate package |Package '?)([^'\s]+)", re.MULTILINE)
# The Debian lists in the order the images install them (each after the ones before it).
RUNTIME_DEBS = "pyrlab-base/runtime_debs.txt"
R_CORE_DEBS = "rlab-base/r_core_debs.txt"
PROXIES_DEBS = "proxies/apt_debs.txt"
HUB_DEBS = "hub/hub_debs.txt"
# R_REPOS as make prepared it for the build (the repositories file, local repositories copied).
R_REPOS_FILE = SRC / ".build" / "install" / "r_repos.txt"
R_REPOS_BASE = SRC / ".build" / "r-repos"


class ResolveError(Exception):
    """A list could not be resolved; the message names the file, the line and the fix."""


def log(message: str) -> None:
    print(f"pyrlab lock: {message}", file=sys.stderr, flush=True)


def trust_ca() -> None:
    """Add a TLS-intercepting proxy's CA to the trust store, and point pip, uv and apt at it."""
    if CA_BUNDLE.is_file() and CA_BUNDLE.stat().st_size:
        shutil.copy(CA_BUNDLE, "/usr/local/share/ca-certificates/pyrlab-ca-certs.crt")
        # Its warnings about bundles holding many certificates are noise; a failure is not.
        result = subprocess.run(["update-ca-certificates"], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ResolveError(f"the CA bundle (CA_CERTS) could not be added: {result.stderr.strip()}")
    for variable in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"):
        os.environ[variable] = TRUST_STORE


def apt_options() -> list[str]:
    proxy = os.environ.get("APT_PROXY", "")
    return ["-o", f"Acquire::http::Proxy={proxy}"] if proxy else []


def apt_update() -> None:
    log("reading the Debian archive's index (apt-get update)")
    subprocess.run(["apt-get", *apt_options(), "update", "-qq"], check=True, stdout=sys.stderr)


def entries_of(name: str) -> list[Entry]:
    return read_entries(SRC / name)


def simulate(packages: list[str], lists: list[str]) -> dict[str, str]:
    """package -> version of everything `apt-get install` would add to the image for these packages."""
    if not packages:
        return {}
    command = ["apt-get", *apt_options(), "install", "--simulate", "--no-install-recommends", *packages]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ResolveError(not_installable(result.stderr, lists))
    return dict(INSTALLED.findall(result.stdout))


def installed_version(package: str) -> str:
    """The version of a package the base image already has."""
    query = ["dpkg-query", "--show", "--showformat", "${Version}", package]
    return subprocess.run(query, capture_output=True, text=True, check=True).stdout.strip()


def not_installable(apt_error: str, lists: list[str]) -> str:
    """apt's refusal, with file:line of each package it could not find."""
    missing = set(NOT_FOUND.findall(apt_error))
    where = [
        f"{entry.path.relative_to(SRC)}:{entry.line}: {entry.text!r} is not a package of this Debian release"
        for name in lists
        for entry in entries_of(name)
        if entry.text in missing
    ]
    fix = "fix: correct or remove those lines (`apt-cache search WORD` in a lab lists Debian's packages)"
    return "\n".join([*where, fix] if where else [apt_error.strip(), fix])


def resolve_r_sources() -> tuple[list[str], dict[str, str], list[str]]:
    """r_packages.txt: Debian's binaries (with their notes), and the pins of the sources R_REPOS
    gives for the rest, each tarball fetched once for its sha256."""
    found = read_repositories(R_REPOS_FILE, R_REPOS_BASE) if R_REPOS_FILE.is_file() else []
    repositories = Repositories(found)
    try:
        # Named as the user sees them: r_packages.txt:12, not /src/r_packages.txt:12.
        entries = [Entry(entry.path.relative_to(SRC), entry.line, entry.text) for entry in entries_of("r_packages.txt")]
        plan = make_plan(entries, apt_package_names(), repositories)
        downloads = Path(tempfile.mkdtemp())
        for source in plan.sources:
            log(f"fetching {source.url} for its sha256")
            fetch(source, downloads, repositories)
    except (UnknownRNames, SourceError) as error:
        raise ResolveError(str(error)) from error
    return plan.debian, plan.notes, [source.pin() for source in plan.sources]


def resolve_debian() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], list[str]]:
    """The pins of each Debian lock: what its list adds on top of the lists installed before it;
    and the R sources' pins."""
    names = {name: [entry.text for entry in entries_of(name)] for name in (RUNTIME_DEBS, "base_debs.txt", R_CORE_DEBS)}
    names["r_debs.txt"] = [entry.text for entry in entries_of("r_debs.txt")]
    r_packages, r_notes, r_sources = resolve_r_sources()
    notes = {"r_packages.txt": dict(r_notes)}

    order = [RUNTIME_DEBS, "base_debs.txt", R_CORE_DEBS, "r_debs.txt"]
    before: list[str] = []
    installed_before: dict[str, str] = {}
    through_base: list[str] = []
    installed_through_base: dict[str, str] = {}
    pins: dict[str, dict[str, str]] = {}
    for name, packages in [*((name, names[name]) for name in order), ("r_packages.txt", r_packages)]:
        with_these = simulate(before + packages, [*order, "r_packages.txt"])
        pins[name] = {package: version for package, version in with_these.items() if package not in installed_before}
        # A listed package that an earlier step (or the base image) installs is pinned here too.
        for package in packages:
            pins[name].setdefault(package, with_these.get(package) or installed_version(package))
        before += packages
        installed_before = with_these
        if name == "base_debs.txt":  # the team server's image is built on pyrlab-base
            through_base, installed_through_base = list(before), dict(with_these)
        listed_here = notes.setdefault(name, {})
        for package in packages:
            listed_here.setdefault(package, "listed")
    for internal in (RUNTIME_DEBS, R_CORE_DEBS):
        pins.pop(internal)
        notes.pop(internal, None)
    hub_packages = [entry.text for entry in entries_of(HUB_DEBS)]
    with_hub = simulate(through_base + hub_packages, [HUB_DEBS])
    pins[HUB_DEBS] = {
        package: version for package, version in with_hub.items() if package not in installed_through_base
    }
    for package in hub_packages:
        pins[HUB_DEBS].setdefault(package, with_hub.get(package) or installed_version(package))
    notes[HUB_DEBS] = {package: "listed" for package in hub_packages}
    # The caches' image is built on the base image itself, beside the chain.
    caches = [entry.text for entry in entries_of(PROXIES_DEBS)]
    with_caches = simulate(caches, [PROXIES_DEBS])
    pins[PROXIES_DEBS] = {package: with_caches.get(package) or installed_version(package) for package in caches}
    pins[PROXIES_DEBS].update(with_caches)
    notes[PROXIES_DEBS] = {package: "listed" for package in caches}
    return pins, notes, r_sources


def uv_command(work: Path) -> list[str]:
    """uv in a throw-away environment of the image's own Python."""
    uv = work / "uv" / "bin" / "uv"
    if not uv.exists():
        log("installing uv to resolve the Python lists")
        subprocess.run([sys.executable, "-m", "venv", str(work / "uv")], check=True)
        index = os.environ.get("PIP_INDEX", "")
        pip = [str(work / "uv" / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "uv"]
        subprocess.run(pip + (["--index-url", index] if index else []), check=True, stdout=sys.stderr)
    command = [str(uv), "pip", "compile", "--python", sys.executable, "--generate-hashes", "--no-header", "--quiet"]
    command += ["--custom-compile-command", "make lock"]
    if os.environ.get("PIP_INDEX"):
        command += ["--default-index", os.environ["PIP_INDEX"]]
    if os.environ.get("UPGRADE") == "yes":
        command.append("--upgrade")
    return command


def torch_pinned_project_file(work: Path, sources: tuple[str, ...], index: str) -> Path | None:
    """For pylab's CPU build: the lists as a project whose torch projects come from the CPU index
    alone (uv's index pinning); every other package from the default index. None without torch."""
    requirements = [entry.text for source in sources for entry in read_entries(SRC / source)]
    text = torch_pinned_project(requirements, index)
    if text is None:
        return None
    project = work / "project" / "pyproject.toml"
    project.parent.mkdir(parents=True, exist_ok=True)
    project.write_text(text, encoding="utf-8")
    return project


def wheel_fits(filename: str) -> bool:
    """Whether a wheel installs on this interpreter and machine (the image the lock is for)."""
    parts = urllib.parse.unquote(filename).removesuffix(".whl").split("-")
    if len(parts) < 5:
        return False
    pythons, abis, platforms = (set(part.split(".")) for part in parts[-3:])
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    machine = os.uname().machine
    return (
        bool(pythons & {f"cp{version}", f"py{sys.version_info.major}", f"py{version}"})
        and bool(abis & {"none", "abi3", f"cp{version}"})
        and any(
            name == "any" or (name.startswith(("linux", "manylinux")) and name.endswith(machine)) for name in platforms
        )
    )


def direct_urls(lock: str, index: str) -> str:
    """The torch projects of a lock, each as `name @ URL` of the one file of the CPU index that this
    image installs (with its hash): a later install needs no index that could serve anything else."""
    blocks = re.split(r"\n(?=\S)", lock)
    for number, block in enumerate(blocks):
        if f"# from {index.rstrip('/')}" not in block:  # uv's annotation of the index it took
            continue
        name = requirement_name(block)
        hashes = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
        page_url = f"{index.rstrip('/')}/{name}/"
        if not page_url.startswith(("http://", "https://")):
            raise ResolveError(f"TORCH_CPU_INDEX={index}: give the http(s) URL of a package index")
        with urllib.request.urlopen(page_url, timeout=120) as answer:  # noqa: S310 - http(s), checked above
            page = answer.read().decode()
        for href in re.findall(r'href="([^"]+)"', page):
            url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
            digest = fragment.removeprefix("sha256=")
            if digest in hashes and wheel_fits(url.rsplit("/", 1)[-1]):
                comments = "".join(f"\n{line}" for line in block.splitlines() if line.strip().startswith("#"))
                blocks[number] = f"{name} @ {url} \\\n    --hash=sha256:{digest}{comments}"
                break
        else:
            raise ResolveError(f"{page_url} has no file of {name} for this image with the hashes uv locked")
    return "\n".join(blocks)


def resolve_python(work: Path) -> dict[str, str]:
    """uv's lock of each Python list. An existing lock is given to uv as the output file, so that uv
    keeps its pins where it can (unless UPGRADE=yes)."""
    python_locks: dict[str, str] = {}
    for spec in LOCKS:
        if spec.kind != "python":
            continue
        output = work / "locks" / spec.lock
        output.parent.mkdir(parents=True, exist_ok=True)
        # uv keeps the pins of its output file where it can: the lock's own, or for a first lock the
        # pins of the locks before it (pylab then keeps pyrlab-base's versions unless a line says
        # otherwise, as a build from the lists does).
        if (SRC / spec.lock).is_file():
            shutil.copy(SRC / spec.lock, output)
        else:
            output.write_text("".join(python_locks.values()), encoding="utf-8")
        command = uv_command(work)
        torch_index = os.environ.get("TORCH_INDEX", "") if LIST_BY_PATH[spec.list].frameworks else ""
        project = torch_pinned_project_file(work, spec.sources, torch_index) if torch_index else None
        inputs = [str(project), "--emit-index-annotation"] if project else list(spec.sources)
        log(f"resolving {' + '.join(spec.sources)} with uv" + (f" (PyTorch from {torch_index})" if project else ""))
        result = subprocess.run(
            [*command, *inputs, "--output-file", str(output)],
            cwd=SRC,
            stdout=sys.stderr,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            uv_message = result.stderr.strip().removeprefix("error: ")
            raise ResolveError(
                f"{uv_message}\nfix: {spec.list} (or a list it is resolved with) asks for something the "
                "package index cannot give: correct the line of the package uv names above"
            )
        text = output.read_text(encoding="utf-8")
        python_locks[spec.lock] = direct_urls(text, torch_index) if project else text
    return python_locks


def resolved_for() -> str:
    release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line).get(
        "VERSION_CODENAME", "?"
    )
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    python = ".".join(map(str, sys.version_info[:3]))
    return f"Debian {release} {arch}, Python {python}"


def candidates(pinned: dict[str, str]) -> dict[str, str]:
    """The packages whose apt candidate is newer than their pin."""
    if not pinned:
        return {}
    result = subprocess.run(["apt-cache", "policy", *pinned], capture_output=True, text=True, check=True)
    newer = {}
    for block in re.split(r"^(?=\S)", result.stdout, flags=re.MULTILINE):
        name, _, rest = block.partition(":\n")
        match = re.search(r"^\s+Candidate: (\S+)", rest, re.MULTILINE)
        if name in pinned and match and match[1] != "(none)":
            compare = ["dpkg", "--compare-versions", match[1], "gt", pinned[name]]
            if subprocess.run(compare, check=False).returncode == 0:
                newer[name] = match[1]
    return newer


def main(argv: list[str] | None = None) -> int:
    mode = (sys.argv[1:] if argv is None else argv) or ["lock"]
    try:
        trust_ca()
        apt_update()
        if mode[0] == "candidates":
            print(json.dumps(candidates(json.load(sys.stdin))))
            return 0
        debian, notes, r_sources = resolve_debian()
        document = {
            "resolved_for": resolved_for(),
            "debian": debian,
            "notes": notes,
            "r_sources": r_sources,
            # lock-debian: another platform's Debian pins only (its Python locks are the host's).
            "python": {} if mode[0] == "lock-debian" else resolve_python(Path(tempfile.mkdtemp())),
        }
    except ResolveError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
