"""`make hub-status`: the team server, a line per user's lab (image, state and node, GPUs, idle time), and
the homes of deleted users that it kept aside."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from pyrlab.engine import container_state
from pyrlab.engine import run as run_cli
from pyrlab.inside.contract import (
    GPU_LABEL,
    HUB_ACCOUNTS,
    HUB_API_PORT,
    HUB_LABEL,
    HUB_STATE,
    KEPT_ASIDE,
    SWARM_PINS,
    USER_LABEL,
)
from pyrlab.settings import HubSettings
from pyrlab.team import swarm

# What `make hub-status` runs in the hub: each user's last activity, with the status service's token.
ACTIVITY = f"""
import json, urllib.request
token = open('{HUB_STATE}/status_token').read().strip()
users_api = 'http://127.0.0.1:{HUB_API_PORT}/hub/api/users'
request = urllib.request.Request(users_api, headers={{'Authorization': 'token ' + token}})
users = json.load(urllib.request.urlopen(request, timeout=10))
print(json.dumps({{user['name']: user['last_activity'] for user in users}}))
"""

# SWARM_HOMES=pinned: each home's node and volume, and whether its account was deleted (files of
# the hub's state, root's alone, so read in the hub).
PINS = f"""
import json, os
def read(path, empty):
    return json.load(open(path)) if os.path.exists(path) else empty
deleted = {{account['uid'] for account in read('{HUB_ACCOUNTS}', {{'accounts': []}})['accounts'] if account['deleted']}}
pins = read('{SWARM_PINS}', {{}})
print(json.dumps([dict(pin, deleted=int(uid) in deleted) for uid, pin in pins.items()]))
"""


def status(cli: str) -> list[str]:
    """The hub and a line per user's lab: user, image, GPUs, state."""
    settings = HubSettings.from_environment()
    state = container_state(cli, settings.name) or "not running"
    lines = [f"{settings.name}\t{state}\t{settings.url}"]
    activity: dict[str, str] = {}
    if state == "running":
        activity = json.loads(run_cli(cli, "exec", settings.name, "python", "-c", ACTIVITY))
    now = datetime.now(UTC)

    def idle(user: str) -> str:
        last = activity.get(user)
        return f"idle {int((now - datetime.fromisoformat(last)).total_seconds())} s" if last else "idle: unknown"

    if settings.on_swarm:
        for lab in swarm.labs(cli, settings):
            gpus = ",".join(lab.gpus) or "-"
            lines.append(
                f"{printable(lab.user)}\t{lab.image}\t{lab.state} on {lab.node}\tGPUs: {gpus}\t{idle(lab.user)}"
            )
        if settings.swarm_homes == "pinned" and state == "running":
            return lines + pinned_homes(json.loads(run_cli(cli, "exec", settings.name, "python", "-c", PINS)))
        return lines + kept_aside(settings.homes / KEPT_ASIDE)
    # Labels as JSON strings: a name with a tab or a line break stays one field of one row.
    fields = ["{{.Names}}", "{{.Image}}", "{{.State}}", "{{.Status}}", f'{{{{json (.Label "{USER_LABEL}")}}}}']
    fields.append(f'{{{{json (.Label "{GPU_LABEL}")}}}}')
    output = run_cli(
        cli, "ps", "--all", "--filter", f"label={USER_LABEL}", "--filter", f"label={HUB_LABEL}={settings.name}",
        "--format", "\t".join(fields),
    )  # fmt: skip
    for row in filter(None, output.splitlines()):
        _, image, container_state_now, since, user_label, gpu_label = row.split("\t", 5)
        user, gpus = json.loads(user_label), json.loads(gpu_label)
        lines.append(f"{printable(user)}\t{image}\t{container_state_now} ({since})\tGPUs: {gpus or '-'}\t{idle(user)}")
    return lines + kept_aside(settings.homes / KEPT_ASIDE)


def pinned_homes(pins: list[dict[str, str | bool]]) -> list[str]:
    """A line per home of SWARM_HOMES=pinned: its node and volume; a deleted user's is kept there."""
    lines = []
    for pin in pins:
        where = f"the volume {printable(str(pin['volume']))} on node {printable(str(pin['hostname']))}"
        if pin["deleted"]:
            lines.append(f"kept aside: {where} (a deleted user's home: remove it there with `docker volume rm`)")
        else:
            lines.append(f"{printable(str(pin['user']))}\thome: {where}")
    return lines


def kept_aside(folder: Path) -> list[str]:
    """A line per deleted user's home the hub put aside, or one saying where when only root may look."""
    if not folder.is_dir():
        return []
    try:
        homes = sorted(folder.iterdir())
    except PermissionError:
        return [f"kept aside: deleted users' homes in {printable(str(folder))} (root's: look as root)"]
    note = "a deleted user's home: `mv` it back to restore it, or remove it"
    return [f"kept aside: {printable(str(home))} ({note})" for home in homes]


def printable(text: str) -> str:
    """A name as the terminal should show it: control characters escaped, never acted on."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
