"""`make pylab-stop` and `make rlab-stop`; a lab that did not start is removed the same way."""

from __future__ import annotations

from pyrlab.engine import container_state
from pyrlab.engine import run as run_cli


def stop(cli: str, name: str) -> bool:
    """Stop and remove a lab container; False when there was none."""
    if container_state(cli, name) is None:
        return False
    run_cli(cli, "rm", "--force", name)
    return True
