"""`make password`: a Jupyter password, hashed inside an image and kept in the configuration folder."""

from __future__ import annotations

from pathlib import Path

from pyrlab.engine import EngineError
from pyrlab.engine import run as run_cli
from pyrlab.labs.errors import LabError
from pyrlab.labs.private import caller_ids, notebook_ids, password_file, prepare_config_dir, write_private


def hash_password(cli: str, image: str, password: str) -> str:
    """The argon2 hash of a password, made by jupyter_server inside the image (nothing to install here)."""
    script = "import sys; from jupyter_server.auth import passwd; print(passwd(sys.stdin.read()))"
    try:
        command = ("run", "--rm", "--interactive", "--entrypoint", "python", image, "-c", script)
        hashed = run_cli(cli, *command, stdin=password)
    except EngineError as error:
        raise LabError(f"could not hash the password in {image}: {error} (run `make build` first)") from None
    return hashed.strip()


def store_password(config: Path, notebooks: Path, hashed: str) -> Path:
    """Keep the hash where the labs look for it, readable by the notebook user only."""
    owner = notebook_ids(notebooks) if notebooks.exists() else caller_ids()
    prepare_config_dir(config, owner)
    path = password_file(config)
    write_private(path, hashed, owner)
    return path
