"""The configuration folder (DOCKER) and its private files: a lab's token, the password hash, and
how any secret of pyrlab's is written and read so that no other user can plant or read one.
Their owner is the notebook user: you, or the owner of NOTEBOOKS when make runs as root."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shlex
import stat
from pathlib import Path

from pyrlab.inside.contract import SECRET_MAX_BYTES
from pyrlab.labs.errors import LabError

# A token or password file is at most this long (the images refuse a longer one too).


def caller_ids() -> tuple[int, int]:
    """Who runs make: the owner of what pyrlab writes for itself (the hub's folder, values files)."""
    return os.getuid(), os.getgid()


def notebook_ids(notebooks: Path) -> tuple[int, int]:
    """The ids the notebook user takes: yours, so that what you save is yours.

    Run as root (or with sudo), it takes the owner of NOTEBOOKS instead; only a folder that root
    owns makes the notebook user root.
    """
    if os.getuid() != 0:
        return caller_ids()
    owner = notebooks.stat()
    return owner.st_uid, owner.st_gid


# What the configuration folder (DOCKER) holds for the labs, written here once.
def token_file(config: Path, lab: str) -> Path:
    """The lab's token, made on first start."""
    return config / f"{lab}.token"


def password_file(config: Path) -> Path:
    """A hashed password written by `make password`: the labs ask for it instead of a token."""
    return config / "jupyter_password"


def scheme_for(config: Path) -> str:
    """https when a certificate and key are in the configuration folder (ssl/cert.pem, ssl/key.pem)."""
    return "https" if (config / "ssl" / "cert.pem").is_file() else "http"


def write_private(path: Path, text: str, owner: tuple[int, int]) -> None:
    """Write a file that only its owner (the notebook user) can read, from its first byte on.

    Written beside it and renamed over it: a full disk or a crash leaves the old file (or none),
    never an empty or partial one.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        if os.geteuid() == 0:  # root writes for the owner of NOTEBOOKS, who runs the lab
            os.fchown(descriptor, *owner)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise LabError(f"cannot write {path}: {error.strerror}; free space or fix DOCKER={path.parent}") from error


def read_private(path: Path, owner_uid: int) -> str:
    """Read a secret of the configuration folder that must be the notebook user's alone: a regular
    file with no other link, owned by that user, writable by nobody else, at most SECRET_MAX_BYTES.
    Anything else could be another user's plant (a known token, a link to a file of root's), or
    would hang or flood the start (a FIFO, megabytes). Opened without following a link or blocking."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise LabError(f"{path} is a symbolic link: replace it with the file itself") from None
        raise LabError(f"cannot read {path}: {error.strerror}") from error
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        problem = ""
        if not stat.S_ISREG(status.st_mode):
            problem = "is not a regular file"
        elif status.st_nlink != 1:
            problem = f"has {status.st_nlink - 1} other hard link(s), perhaps to a file that is not yours"
        elif status.st_size > SECRET_MAX_BYTES:
            problem = f"is {status.st_size} bytes, more than a token or password hash ({SECRET_MAX_BYTES})"
        if problem:
            raise LabError(f"{path} {problem}: remove it (`make pylab` writes a new token, `make password` a hash)")
        check_private(path, status, owner_uid)
        return handle.read(SECRET_MAX_BYTES).decode("utf-8", errors="replace")


def check_private(path: Path, status: os.stat_result, owner_uid: int) -> None:
    """The configuration folder and what is read from it belong to the notebook user (you, or the
    owner of NOTEBOOKS when make runs as root) and nobody else writes them."""
    if status.st_uid != owner_uid:
        whose = "you" if owner_uid == os.geteuid() else "the notebook user, the owner of NOTEBOOKS"
        raise LabError(
            f"{path} belongs to uid {status.st_uid}, not to {whose} (uid {owner_uid}): another user may have "
            f"put it there, or the lab could not read it. Check it, then `chown {owner_uid} "
            f"{shlex.quote(str(path))}`, or set DOCKER to a folder of uid {owner_uid}'s"
        )
    if status.st_mode & 0o022:
        raise LabError(
            f"{path} can be written by others (mode {stat.filemode(status.st_mode)}): "
            f"`chmod go-w {shlex.quote(str(path))}`"
        )


def token_for(path: Path, owner: tuple[int, int]) -> str:
    """The lab's token (hex), created on first use in a file only the notebook user can read."""
    if os.path.lexists(path):
        token = read_private(path, owner[0]).strip()
        if token and not re.fullmatch(r"[0-9a-f]+", token):
            raise LabError(f"{path} is not a token pyrlab wrote (hex digits only): remove it, and a new one is made")
        if token:
            return token
    token = secrets.token_hex(24)
    write_private(path, token, owner)
    return token


def prepare_config_dir(config: Path, owner: tuple[int, int], lab: str = "") -> None:
    """The configuration directory (DOCKER) is created private to the notebook user; it and the files
    the lab reads from it must be that user's and writable by nobody else, or another user could
    plant a token or a script (and the lab, running as that user, could not read them)."""
    if not os.path.lexists(config):
        try:
            config.mkdir(mode=0o700, parents=True)
            if os.geteuid() == 0:
                os.chown(config, *owner)
        except OSError as error:
            raise LabError(
                f"cannot create DOCKER={config}: {error.strerror}; create it yourself or set DOCKER to a folder "
                "you can write"
            ) from error
    if config.is_symlink() or not config.is_dir():
        raise LabError(f"DOCKER={config} is not a directory: set DOCKER to a directory for pyrlab's configuration")
    check_private(config, config.stat(), owner[0])
    if not os.access(config, os.W_OK | os.X_OK):
        raise LabError(f"DOCKER={config} is not writable by you: `chmod u+rwx {shlex.quote(str(config))}`")
    names = [password_file(config).name, "userlab.sh", "ssl", "ssl/cert.pem", "ssl/key.pem"]
    names += [token_file(config, lab).name, f"{lab}.env", f"{lab}.sh"] if lab else []
    for name in names:
        if os.path.lexists(config / name):
            status = (config / name).lstat()
            if stat.S_ISLNK(status.st_mode):
                raise LabError(f"{config / name} is a symbolic link: replace it with the file itself")
            if name != "ssl" and not stat.S_ISREG(status.st_mode):  # a FIFO would hang the lab's start
                raise LabError(f"{config / name} is not a regular file: remove it, or replace it with a file")
            check_private(config / name, status, owner[0])
