"""`make bench`: build and start performance of pyrlab, measured against its targets.

Everything happens in a scratch copy of the project whose images are named pyrlab-bench/...,
so your lists and images are never touched. The cold build clears Docker's build cache (as
`make clean` does); the base image is kept. Needs the tools environment (docker SDK, requests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import docker

from harness import localcran
from harness.chain import chain_images
from harness.makefile import copy_project, free_port, make_environment
from pyrlab.platforms import Platform

PREFIX = "pyrlab-bench/"
ADDED_PYTHON_PACKAGE = "tabulate"
ADDED_R_PACKAGE = "praise"
GB = 1e9
MB = 1e6
# The team server under load: users spawning at once, then each running a cell every
# LOAD_INTERVAL seconds for LOAD_SECONDS through the hub's proxy.
LOAD_USERS = 8
LOAD_SECONDS = 60
LOAD_INTERVAL = 0.5
LOAD_ROUNDS = 3  # the users spawn at once this many times (the median counts); the last runs the cells
HUB_TO_CELL = "hub: login, spawn pylab, first cell"
ARM64 = "PLATFORM=linux/arm64"
PIP_WAY_DOCKERFILE = """\
# The original pyrlab's way: one layer that reinstalls the whole list with pip, no cache.
ARG PARENT_IMAGE
FROM ${PARENT_IMAGE}
COPY requirements.txt /tmp/requirements.txt
RUN pip install --quiet --no-cache-dir --requirement /tmp/requirements.txt
"""


@dataclass
class Figure:
    """One measured figure: its runs, their median, and the target it is held to."""

    name: str
    unit: str
    runs: list[float]
    target: str = ""
    met: bool | None = None
    value: float = field(init=False)

    def __post_init__(self) -> None:
        self.value = statistics.median(self.runs)


class BenchError(Exception):
    """A step of the benchmark failed; the message has its output."""


def run(command: list[str], cwd: Path, environment: dict[str, str] | None = None) -> float:
    """Run a command; return its wall time in seconds, raise BenchError with its output on failure."""
    started = time.monotonic()
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise BenchError(f"`{' '.join(command)}` failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
    return seconds


def make_command(tools_venv: Path, *args: str) -> list[str]:
    """`make` with the bench's image prefix and the caller's settings."""
    return ["make", "--no-print-directory", f"IMAGE_PREFIX={PREFIX}", f"TOOLS_VENV={tools_venv}", *args]


def make_runner(copy: Path, tools_venv: Path) -> Callable[..., float]:
    """`make` in the scratch copy; each call returns its wall time."""
    environment = make_environment()

    def make(*args: str) -> float:
        return run(make_command(tools_venv, *args), copy, environment)

    return make


@contextmanager
def appended(path: Path, line: str) -> Iterator[None]:
    """The list with one more line, restored afterwards."""
    original = path.read_text(encoding="utf-8")
    path.write_text(original + line + "\n", encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(original, encoding="utf-8")


def cold_builds(make: Callable[..., float], cli: str, copy: Path, images: list[str]) -> list[Figure]:
    make("clean-images")
    run([cli, "builder", "prune", "--all", "--force"], copy)
    figures = [Figure(f"cold build: {image}", "s", [make(f"build-{image}")]) for image in images]
    total = sum(figure.value for figure in figures)
    figures.append(Figure("cold build: all four, default lists", "s", [total], "<= 300 s", total <= 300))
    return figures


def rebuild_after_adding(make: Callable[..., float], path: Path, package: str, runs: int) -> list[float]:
    """`make build` after adding one package; each run then restores the list (from the cache).

    Each run's line carries its own comment, so that no run finds the previous run's layer in
    the build cache: every run installs the package for real.
    """
    times = []
    for number in range(runs):
        with appended(path, f"{package}  # bench run {number} {time.time_ns()}"):
            times.append(make("build"))
        make("build")
    return times


def add_r_source(make: Callable[..., float], cli: str, copy: Path, runs: int) -> list[float]:
    """`make build-rlab` after adding one R package that Debian lacks, served by a CRAN-like
    repository on 127.0.0.1 (R_REPOS): each run compiles a new package; the others come from the
    cache of compiled packages."""
    times = []
    with tempfile.TemporaryDirectory(prefix="pyrlab-bench-cran-") as folder:
        cran, r_image = Path(folder) / "cran", f"{PREFIX}rlab-base:latest"

        def publish(name: str, files: dict[str, str]) -> None:
            sources = Path(folder) / "sources" / name
            localcran.write_package(sources / name, files)
            localcran.build_tarballs(cli, r_image, sources, cran / "src" / "contrib")
            localcran.index_repository(cli, r_image, cran)

        publish("benchbase", localcran.with_c("benchbase"))
        with localcran.serve(cran) as url, appended(copy / "r_packages.txt", "benchbase"):
            make("build-rlab", f"R_REPOS={url}")
            for number in range(runs):
                name = f"benchadd{number}x{time.time_ns()}"
                publish(name, localcran.pure_r(name))
                with appended(copy / "r_packages.txt", name):
                    times.append(make("build-rlab", f"R_REPOS={url}"))
                make("build-rlab", f"R_REPOS={url}")
    return times


def pip_way(cli: str, copy: Path, runs: int) -> list[float]:
    """The same addition with one `pip install --no-cache-dir -r` layer on the same base."""
    with tempfile.TemporaryDirectory(prefix="pyrlab-pip-way-") as folder:
        context = Path(folder)
        (context / "Dockerfile").write_text(PIP_WAY_DOCKERFILE, encoding="utf-8")
        requirements = context / "requirements.txt"
        shutil.copy(copy / "requirements.txt", requirements)
        build = [cli, "build", "--quiet", "--build-arg", f"PARENT_IMAGE={PREFIX}pyrlab-base:latest"]
        build += ["--tag", f"{PREFIX}pip-way:latest", "."]
        environment = dict(os.environ, DOCKER_BUILDKIT="1")
        run(build, context, environment)  # the list as it is, so that only the addition is measured
        times = []
        for number in range(runs):
            with appended(requirements, f"{ADDED_PYTHON_PACKAGE}  # bench run {number} {time.time_ns()}"):
                times.append(run(build, context, environment))
        return times


def start_to_ready(make: Callable[..., float], cli: str, copy: Path, runs: int) -> tuple[list[float], list[float]]:
    """`make pylab` until Jupyter answers with the token, and the floor beside it."""
    notebooks, config = copy / "bench-notebooks", copy / "bench-config"
    notebooks.mkdir(exist_ok=True)
    starts = []
    for _ in range(runs):
        ports = [f"PYPORT={free_port()}", f"DTPORT={free_port()}", f"TFPORT={free_port()}"]
        settings = [*ports, f"NOTEBOOKS={notebooks}", f"DOCKER={config}"]
        starts.append(make("pylab", *settings))
        make("pylab-stop", *settings)
    floor_command = [cli, "run", "--rm", f"{PREFIX}pylab:latest", "python", "-c", "import jupyter_server.serverapp"]
    floors = [run(floor_command, copy) for _ in range(runs)]
    return starts, floors


def in_the_browser(make: Callable[..., float], copy: Path, tools_venv: Path, runs: int) -> list[Figure]:
    """What a person waits for in Chromium: the printed URL to the launcher, and a new notebook to
    its first plot. A lab started with `make pylab` for each run."""
    from harness import browser  # Playwright: only the browser figures need it

    to_launcher, to_plot = [], []
    with browser.chromium() as chromium:
        for number in range(runs):
            # A first start each time: a configuration folder of its own, so no workspace is restored.
            notebooks, config = copy / f"browser-notebooks-{number}", copy / f"browser-config-{number}"
            notebooks.mkdir()
            settings = [f"PYPORT={free_port()}", f"DTPORT={free_port()}", f"TFPORT={free_port()}"]
            settings += [f"NOTEBOOKS={notebooks}", f"DOCKER={config}"]
            started = subprocess.run(
                make_command(tools_venv, "pylab", *settings), cwd=copy, env=make_environment(),
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            urls = [word for word in started.stdout.split() if word.startswith("http") and "/lab" in word]
            if started.returncode != 0 or not urls:
                raise BenchError(f"make pylab failed:\n{started.stdout[-2000:]}{started.stderr[-2000:]}")
            try:
                began = time.monotonic()
                tab = browser.open_lab(chromium, urls[0])
                to_launcher.append(time.monotonic() - began)
                began = time.monotonic()
                browser.new_notebook(tab, "Python 3 (ipykernel)")
                plot = browser.run_cell(tab, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
                plot.locator("img").wait_for()
                to_plot.append(time.monotonic() - began)
                tab.page.context.close()
            finally:
                make("pylab-stop", *settings)
    return [
        Figure("browser: printed URL to the launcher shown", "s", to_launcher),
        Figure("browser: new notebook to its first plot shown", "s", to_plot),
    ]


def team_server(
    make: Callable[..., float], client: Any, copy: Path, tools_venv: Path, kernel_client: str, runs: int
) -> list[Figure]:
    """`make hub` until it answers, and a user's login to the first cell of a new pylab through the
    hub's proxy (spawn included)."""
    from harness.hubclient import HubUser  # requests: only the team server's figures need it

    port = free_port()
    settings = [f"HUB_PORT={port}", f"HUB_DATA={copy / 'hub-data'}", f"HUB_HOMES={copy / 'hub-homes'}"]
    settings += [f"DOCKER={copy / 'hub-config'}", "HUB_ADMIN=bench"]
    build = make(".build/pyrlab-hub.id")
    start = make("hub", *settings)
    try:
        added = subprocess.run(
            make_command(tools_venv, "hub-user", "NAME=bench-user", *settings), cwd=copy, env=make_environment(),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        words = [line.strip() for line in added.stdout.splitlines() if line.startswith("    ")]
        if added.returncode != 0 or not words:
            raise BenchError(f"make hub-user failed:\n{added.stdout[-2000:]}{added.stderr[-2000:]}")
        hub = client.containers.get(f"pyrlab-hub-{port}")
        url = f"http://127.0.0.1:{port}"

        def login_spawn_cell(name: str, password: str, load: float = 0) -> tuple[float, list[float]]:
            """Log in, spawn pylab, run a first cell: when (time.monotonic()) its reply came, and with
            `load` seconds of cells every LOAD_INTERVAL after it, their round trips."""
            user = HubUser(url, name, password)
            user.spawn("pylab")
            command = ["python", "-c", kernel_client, f"127.0.0.1:8000/user/{name}", user.token(), "python3"]
            command += ["print(6 * 7)", str(load), str(LOAD_INTERVAL)]
            asked = time.monotonic()
            exit_code, output = hub.exec_run(command)
            if exit_code != 0:
                raise BenchError(f"the cell through the hub failed for {name}: {output.decode(errors='replace')}")
            result = json.loads(output.decode().strip().splitlines()[-1])
            return asked + float(result["seconds"]), list(result.get("round_trips", []))

        to_cell = []
        for _ in range(runs):
            began = time.monotonic()
            login_spawn_cell("bench-user", words[-1])
            to_cell.append(time.monotonic() - began)
            HubUser(url, "bench-user", words[-1]).stop()
        figures = [
            Figure("build pyrlab-hub (on pyrlab-base)", "s", [build]),
            Figure("make hub until it answers", "s", [start]),
            Figure(HUB_TO_CELL, "s", to_cell),
        ]
        figures += hub_under_load(make, client, hub, url, login_spawn_cell, tools_venv, copy, settings, to_cell)
    finally:
        make("hub-stop", *settings)
    return figures


def hub_under_load(
    make: Callable[..., float],
    client: Any,
    hub: Any,
    hub_url: str,
    login_spawn_cell: Callable[..., tuple[float, list[float]]],
    tools_venv: Path,
    copy: Path,
    settings: list[str],
    one_user: list[float],
) -> list[Figure]:
    """LOAD_USERS users log in and spawn pylab at once, each to a first cell, LOAD_ROUNDS times; in
    the last round each then runs a cell every LOAD_INTERVAL s for LOAD_SECONDS through the hub's
    proxy. The hub's memory under that load, and an idle pylab's and rlab's memory after it."""
    from concurrent.futures import ThreadPoolExecutor

    from harness.hubclient import HubUser

    passwords = {}
    for index in range(LOAD_USERS):
        name = f"load{index}"
        added = subprocess.run(
            make_command(tools_venv, "hub-user", f"NAME={name}", *settings), cwd=copy, env=make_environment(),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        words = [line.strip() for line in added.stdout.splitlines() if line.startswith("    ")]
        if added.returncode != 0 or not words:
            raise BenchError(f"make hub-user {name} failed:\n{added.stdout[-2000:]}{added.stderr[-2000:]}")
        passwords[name] = words[-1]
    hub_memory: list[float] = []
    all_first_cells: list[float] = []
    with ThreadPoolExecutor(LOAD_USERS) as pool:
        for round_ in range(LOAD_ROUNDS):
            load = LOAD_SECONDS if round_ == LOAD_ROUNDS - 1 else 0
            began = time.monotonic()
            running = [pool.submit(login_spawn_cell, name, password, load) for name, password in passwords.items()]
            while not all(future.done() for future in running):
                hub_memory.append(memory_in_use(hub))
                time.sleep(2)
            results = [future.result() for future in running]  # a failed spawn raises here
            all_first_cells.append(max(replied for replied, _ in results) - began)
            if load == 0:
                stopping = [pool.submit(HubUser(hub_url, name, password).stop) for name, password in passwords.items()]
                for future in stopping:
                    future.result()
    round_trips = sorted(trip * 1000 for _, trips in results for trip in trips)
    ratio = statistics.median(all_first_cells) / statistics.median(one_user)
    p95 = round_trips[int(0.95 * (len(round_trips) - 1))]
    labs = [client.containers.get(f"{hub.name}-{name}") for name in passwords]
    time.sleep(5)  # the load is over: the labs are idle
    idle_pylab = statistics.median(memory_in_use(lab) for lab in labs)
    return [
        Figure(f"hub: {LOAD_USERS} users log in and spawn at once, until all ran a first cell", "s", all_first_cells),
        Figure("  / one user's spawn to first cell", "x", [ratio], "<= 4x", ratio <= 4),
        Figure(f"hub: cell round trip p50, {LOAD_USERS} labs, a cell every {LOAD_INTERVAL} s", "ms",
               [statistics.median(round_trips)]),
        Figure(f"hub: cell round trip p95, {LOAD_USERS} labs", "ms", [p95], "<= 100 ms", p95 <= 100),
        Figure("hub's memory under that load (peak)", "MB", [max(hub_memory)]),
        Figure("an idle pylab's memory (kernel started)", "MB", [idle_pylab]),
        Figure("an idle rlab's memory", "MB", [idle_lab_memory(client)]),
    ]  # fmt: skip


def memory_in_use(container: Any) -> float:
    """MB a container uses, as `docker stats` counts it: its memory less the page cache it could drop."""
    stats = container.stats(stream=False)["memory_stats"]
    cache = stats.get("stats", {}).get("inactive_file", stats.get("stats", {}).get("total_inactive_file", 0))
    return float(stats.get("usage", 0) - cache) / MB


@contextmanager
def answering_rlab(client: Any, token: str) -> Iterator[Any]:
    """A container of the bench's rlab whose Jupyter answers, removed after the block."""
    container = client.containers.run(
        f"{PREFIX}rlab:latest", detach=True, environment={"JUPYTER_TOKEN": token}, labels={"pyrlab.bench": "1"}
    )
    try:
        answer = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8888/api', timeout=2)"
        deadline = time.monotonic() + 90
        while container.exec_run(["python", "-c", answer]).exit_code != 0:
            if time.monotonic() > deadline:
                raise BenchError(f"Jupyter did not start: {container.logs().decode(errors='replace')}")
            time.sleep(0.3)
        yield container
    finally:
        container.remove(force=True)


def idle_lab_memory(client: Any) -> float:
    """An rlab with Jupyter answering and nothing asked of it, as a new lab of the hub is."""
    with answering_rlab(client, "bench") as container:
        time.sleep(3)
        return memory_in_use(container)


def first_cells(client: Any, kernel_client: str, runs: int) -> dict[str, list[float]]:
    """Seconds from asking Jupyter for a fresh kernel to its first cell's reply, per kernel."""
    token = "bench-" + os.urandom(12).hex()
    with answering_rlab(client, token) as container:
        results: dict[str, list[float]] = {"python3": [], "ir": []}
        for kernel, code in (("python3", "print(6 * 7)"), ("ir", "cat(6 * 7)")):
            for _ in range(runs):
                exit_code, output = container.exec_run(
                    ["python", "-c", kernel_client, "8888", token, kernel, code], user="jovyan"
                )
                if exit_code != 0:
                    raise BenchError(f"the {kernel} cell failed: {output.decode(errors='replace')}")
                results[kernel].append(float(json.loads(output.decode().strip().splitlines()[-1])["seconds"]))
        return results


def measure(repo: Path, runs: int) -> list[Figure]:
    client = docker.from_env(version="auto")
    cli = os.environ.get("CONTAINER_CLI", "docker")
    kernel_client = (repo / "tests" / "harness" / "kernel_client.py").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="pyrlab-bench-") as folder:
        copy = Path(folder) / "pyrlab"
        copy_project(repo, copy)
        make = make_runner(copy, repo / ".venv")
        images = list(chain_images())
        figures = cold_builds(make, cli, copy, images)

        noop = [make("build") for _ in range(runs)]
        figures.append(Figure("no-op make build", "s", noop, "<= 1 s", statistics.median(noop) <= 1))

        python_add = rebuild_after_adding(make, copy / "requirements.txt", ADDED_PYTHON_PACKAGE, runs)
        figures.append(Figure(f"add {ADDED_PYTHON_PACKAGE} to requirements.txt, make build", "s", python_add))
        pip_add = pip_way(cli, copy, 1)
        figures.append(Figure("the same with one pip --no-cache-dir layer", "s", pip_add))
        ratio = statistics.median(pip_add) / statistics.median(python_add)
        figures.append(Figure("pip way / pyrlab", "x", [ratio], ">= 10x", ratio >= 10))

        r_add = rebuild_after_adding(make, copy / "r_packages.txt", ADDED_R_PACKAGE, runs)
        figures.append(Figure(f"add {ADDED_R_PACKAGE} to r_packages.txt, make build", "s", r_add, "<= 20 s"))
        figures[-1].met = figures[-1].value <= 20
        figures.append(r_source_figure(make, cli, copy, runs))

        start = start_figures(make, cli, copy, max(runs, 5))
        figures += start

        figures += in_the_browser(make, copy, repo / ".venv", runs)

        cells = first_cells(client, kernel_client, runs)
        for kernel, seconds in cells.items():
            figures.append(Figure(f"first cell in a fresh {kernel} kernel", "s", seconds))

        hub_figures = team_server(make, client, copy, repo / ".venv", kernel_client, max(runs, 5))
        figures += hub_figures
        lab_to_cell = start[0].value + statistics.median(cells["python3"])
        figures.append(Figure("make pylab, then its first cell", "s", [lab_to_cell]))
        hub_to_cell = next(figure for figure in hub_figures if figure.name == HUB_TO_CELL)
        hub_ratio = hub_to_cell.value / lab_to_cell
        figures.append(
            Figure("hub spawn to first cell / make pylab to first cell", "x", [hub_ratio], "<= 2x", hub_ratio <= 2)
        )

        limits = {"pylab": 2.0, "rlab": 1.5}
        for image in images:
            size = client.images.get(f"{PREFIX}{image}:latest").attrs["Size"] / GB
            limit = limits.get(image)
            target = f"<= {limit} GB" if limit else ""
            figures.append(Figure(f"size: {image}", "GB", [size], target, size <= limit if limit else None))

        # pylab's CUDA build, on the CPU build's layers: NVIDIA's wheels and requirements-gpu.txt.
        cuda_version = os.environ.get("CUDA_VERSION", "13")
        cuda_build = make("build-pylab", "CUDA_INSTALL=yes", f"CUDA_VERSION={cuda_version}")
        figures.append(Figure(f"build pylab with CUDA_INSTALL=yes (CUDA {cuda_version})", "s", [cuda_build]))
        size = client.images.get(f"{PREFIX}pylab:latest-cuda{cuda_version}").attrs["Size"] / GB
        figures.append(Figure("size: pylab, CUDA build", "GB", [size]))
        figures += swarm_figures(make, cli, copy, runs)
        figures += arm64_figures(make, cli, copy, runs)
        make("clean-images")
    return figures


def arm64_figures(make: Callable[..., float], cli: str, copy: Path, _runs: int) -> list[Figure]:
    """The four images for arm64 from a cold build cache, under QEMU on an amd64 host (the
    rootfs is kept, as for the amd64 figures), and their sizes."""
    client = docker.from_env(version="auto")
    run([cli, "builder", "prune", "--all", "--force"], copy)
    images = list(chain_images())
    figures = [Figure(f"arm64 cold build: {image}", "s", [make(f"build-{image}", ARM64)]) for image in images]
    total = sum(figure.value for figure in figures)
    figures.append(Figure("arm64 cold build: all four, default lists", "s", [total]))
    suffix = Platform.parse(ARM64.split("=", 1)[1]).suffix
    for image in images:
        size = client.images.get(f"{PREFIX}{image}:latest{suffix}").attrs["Size"] / GB
        figures.append(Figure(f"size: {image}, arm64", "GB", [size]))
    return figures


def r_source_figure(make: Callable[..., float], cli: str, copy: Path, runs: int) -> Figure:
    source_add = add_r_source(make, cli, copy, runs)
    name = "add an R package from R_REPOS (compiled), make build-rlab"
    return Figure(name, "s", source_add, "<= 20 s", statistics.median(source_add) <= 20)


def start_figures(make: Callable[..., float], cli: str, copy: Path, runs: int) -> list[Figure]:
    starts, floors = start_to_ready(make, cli, copy, runs)
    start_ratio = statistics.median(starts) / statistics.median(floors)
    return [
        Figure("make pylab until Jupyter answers", "s", starts),
        Figure("floor: docker run + import jupyter_server.serverapp", "s", floors),
        Figure("start / floor", "x", [start_ratio], "<= 1.25x", start_ratio <= 1.25),
    ]


Measurer = Callable[[Callable[..., float], str, Path, int], list[Figure]]


def measure_alone(repo: Path, runs: int, goal: str, measurer: Measurer) -> list[Figure]:
    """One part of the figures (`--only`), in a scratch copy of its own that makes GOAL first."""
    cli = os.environ.get("CONTAINER_CLI", "docker")
    with tempfile.TemporaryDirectory(prefix="pyrlab-bench-") as folder:
        copy = copy_project(repo, Path(folder) / "pyrlab")
        make = make_runner(copy, repo / ".venv")
        make(goal)
        figures = measurer(make, cli, copy, runs)
        make("clean-images")
    return figures


def team_server_figures(make: Callable[..., float], _cli: str, copy: Path, runs: int) -> list[Figure]:
    repo = Path(__file__).resolve().parents[2]
    kernel_client = (repo / "tests" / "harness" / "kernel_client.py").read_text(encoding="utf-8")
    return team_server(make, docker.from_env(version="auto"), copy, repo / ".venv", kernel_client, max(runs, 5))


# The parts that `--only` measures alone: what each needs built, and its figures.
PARTS: dict[str, tuple[str, Measurer]] = {
    "r-sources": ("build-rlab", lambda make, cli, copy, runs: [r_source_figure(make, cli, copy, runs)]),
    "start": ("build-pylab", start_figures),
    "hub": ("build", team_server_figures),
    "arm64": ("check", arm64_figures),
    "swarm": ("build", lambda make, cli, copy, runs: swarm_figures(make, cli, copy, runs)),
}


def swarm_figures(make: Callable[..., float], cli: str, copy: Path, runs: int) -> list[Figure]:
    from harness import swarmbench  # it builds on this module's Figure and make commands

    return swarmbench.swarm_figures(make, cli, copy, runs)


def table(figures: list[Figure]) -> str:
    lines = ["| figure | value | runs | target | met |", "| --- | ---: | ---: | --- | --- |"]
    for figure in figures:
        met = {True: "yes", False: "**no**", None: ""}[figure.met]
        value = f"{figure.value:.2f} {figure.unit}"
        lines.append(f"| {figure.name} | {value} | {len(figure.runs)} | {figure.target} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harness.bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="runs of each cheap figure (median reported)")
    parser.add_argument("--output", default="bench-results", help="folder of the JSON results")
    parser.add_argument("--only", choices=sorted(PARTS), help="measure only these figures")
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parents[2]
    try:
        figures = measure_alone(repo, args.runs, *PARTS[args.only]) if args.only else measure(repo, args.runs)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"pyrlab benchmark, {stamp}, {machine}\n\n{table(figures)}")
    if not args.only:  # the figures of record: a full run only, never edited by hand
        record = repo / "docs" / "benchmark.md"
        record.write_text(
            f"# pyrlab's figures\n\nWritten by `make bench` on {stamp}, {machine}, Docker "
            f"{docker.from_env(version='auto').version()['Version']}, BASE={os.environ.get('BASE', 'auto')}. "
            "docs/performance.md says how each is measured and what limits them.\n\n"
            f"{table(figures)}\n",
            encoding="utf-8",
        )
        print(f"\nwritten into {record}")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    result = output / f"bench-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    document = {"date": stamp, "machine": machine, "figures": [asdict(figure) for figure in figures]}
    result.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"\nresults: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
