"""`make bench`'s figures of the team server on a three-node swarm (HUB_ENGINE=swarm): `make hub`
until it answers, and login -> spawn -> first cell for one user and for SWARM_USERS at once."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.bench import PREFIX, BenchError, Figure, make_command, run
from harness.hubclient import HubUser
from harness.makefile import make_environment
from harness.swarm import swarm_for_a_hub

SWARM_USERS = 6
FIRST_SPAWN = 900  # a worker's first lab of an image waits for its pull


def swarm_figures(make: Callable[..., float], _cli: str, copy: Path, _runs: int) -> list[Figure]:
    repo = Path(__file__).resolve().parents[2]
    kernel_client = (repo / "tests" / "harness" / "kernel_client.py").read_text(encoding="utf-8")
    tools_venv = repo / ".venv"
    folder = copy.parent / "swarm"
    make(".build/pyrlab-hub.id")
    base, hub_image = f"{PREFIX}pyrlab-base:latest", f"{PREFIX}pyrlab-hub:latest"
    with swarm_for_a_hub("pyrlab-bench-swarm", folder, make, base, hub_image) as team:
        swarm, port = team.swarm, team.port
        environment = {**make_environment(), **team.environment}
        settings = [*team.settings, "HUB_ADMIN=bench", f"HUB_IMAGES=pylab={PREFIX}pylab:latest"]

        def swarm_make(*args: str) -> subprocess.CompletedProcess[str]:
            command = make_command(tools_venv, *args, *settings)
            return subprocess.run(command, cwd=copy, env=environment, capture_output=True, text=True, check=False)

        start = run(make_command(tools_venv, "hub", "-o", ".build/pyrlab-hub.id", *settings), copy, environment)
        try:
            url = f"http://{swarm.manager.address}:{port}"
            hub = swarm.manager.client().containers.get(f"pyrlab-hub-{port}")

            def add_user(name: str) -> str:
                added = swarm_make("hub-user", f"NAME={name}")
                found = re.search(r"^    (\S+)$", added.stdout, re.MULTILINE)
                if added.returncode != 0 or not found:
                    raise BenchError(f"make hub-user {name} failed:\n{added.stdout[-2000:]}{added.stderr[-2000:]}")
                return found.group(1)

            def login_spawn_cell(name: str, password: str) -> float:
                began = time.monotonic()
                user = HubUser(url, name, password)
                user.spawn("pylab", timeout=FIRST_SPAWN)
                command = ["python", "-c", kernel_client, f"127.0.0.1:8000/user/{name}", user.token(), "python3"]
                exit_code, output = hub.exec_run([*command, "print(6 * 7)"])
                if exit_code != 0 or json.loads(output.decode().strip().splitlines()[-1])["status"] != "ok":
                    raise BenchError(f"the cell through the swarm's hub failed for {name}: {output.decode()}")
                return time.monotonic() - began

            passwords = {f"bench{number}": add_user(f"bench{number}") for number in range(SWARM_USERS)}
            first = login_spawn_cell("bench0", passwords["bench0"])  # its worker pulls pylab
            login_spawn_cell("bench1", passwords["bench1"])  # Swarm spreads: the other worker pulls
            for name in ("bench0", "bench1"):
                HubUser(url, name, passwords[name]).stop()
            again = login_spawn_cell("bench0", passwords["bench0"])
            HubUser(url, "bench0", passwords["bench0"]).stop()
            began = time.monotonic()
            with ThreadPoolExecutor(SWARM_USERS) as pool:
                list(pool.map(lambda pair: login_spawn_cell(*pair), passwords.items()))
            all_users = time.monotonic() - began
        finally:
            swarm_make("hub-stop")
    return [
        Figure("swarm (3 nodes): make hub until it answers", "s", [start]),
        Figure("swarm: login, spawn pylab, first cell (the worker pulls pylab)", "s", [first]),
        Figure("swarm: login, spawn pylab, first cell (pylab on the worker)", "s", [again]),
        Figure(f"swarm: {SWARM_USERS} users log in and spawn at once, until all ran a first cell", "s", [all_users]),
    ]
