# Jupyter server settings shared by every pyrlab image.
# Authentication stays on: the token (JUPYTER_TOKEN, or the file JUPYTER_TOKEN_FILE names) or the
# password hash of `make password` (PYRLAB_PASSWORD_FILE) is read here, in Jupyter's own process,
# and kept out of the environment its kernels inherit; without either, Jupyter makes a token and
# prints it in the log. Nothing here turns authentication off.
import contextlib
import errno
import importlib
import importlib.util
import json
import os
import re
import stat
import sys
import tempfile
import threading
import time
import types
from collections.abc import Iterator
from typing import IO, Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded


class DeferredModule(types.ModuleType):
    """Stands in for a module until one of its names is used, then imports it for real.

    jupyter-server-proxy imports aiohttp when it loads, for servers on Unix sockets only; aiohttp's
    import (about 0.06 s, its TLS contexts included) was the largest part of a lab's start that no
    request had asked for. Its TCP proxy (D-Tale, TensorBoard) never uses it.
    """

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def defer_import(name: str) -> None:
    if name not in sys.modules and importlib.util.find_spec(name) is not None:
        placeholder = DeferredModule(name)
        placeholder.__spec__ = None  # `import name` takes it as loaded
        sys.modules[name] = placeholder


defer_import("aiohttp")

# A secret file is at most this long; a longer one is not pyrlab's.
SECRET_MAX_BYTES = 4096  # pyrlab.inside.contract.SECRET_MAX_BYTES (a unit test checks)
ENV_FILE_MAX_BYTES = 65536


def read_own_file(path: str, max_bytes: int) -> bytes:
    """A file of the configuration folder, which must be a regular file of its folder's owner with
    no other hard link, at most max_bytes long. It is opened without following a link and without
    blocking (a FIFO in its place would hang the start); anything else stops the start with one
    line naming the file."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SystemExit(f"pyrlab: error: {path} is a symbolic link: replace it with the file itself") from None
        raise SystemExit(f"pyrlab: error: cannot read {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        folder_owner = os.stat(os.path.dirname(path) or ".").st_uid
        problem = ""
        if not stat.S_ISREG(status.st_mode):
            problem = "is not a regular file"
        elif status.st_uid != folder_owner:
            problem = f"belongs to uid {status.st_uid}, not to the owner of its folder (uid {folder_owner})"
        elif status.st_nlink != 1:
            problem = "has other hard links"
        elif status.st_size > max_bytes:
            problem = f"is larger than {max_bytes} bytes"
        if problem:
            raise SystemExit(f"pyrlab: error: {path} {problem}: remove it, or replace it with a file of yours")
        return handle.read(max_bytes + 1)


def read_secret_file(path: str) -> str:
    """A token or password hash: one line of printable ASCII."""
    text = read_own_file(path, SECRET_MAX_BYTES).decode("ascii", errors="replace").strip()
    if not text or not text.isprintable():
        raise SystemExit(f"pyrlab: error: {path} is empty or holds other than printable ASCII: remove it")
    return text


def lab_secrets() -> dict[str, str]:
    """The token and password hash, read once per process (Jupyter may load this file twice) and
    removed from the environment, so that kernels and terminals do not inherit them."""
    cache = sys.modules.setdefault("pyrlab_lab_secrets", types.ModuleType("pyrlab_lab_secrets"))
    if not hasattr(cache, "values"):
        values = {}
        token = os.environ.pop("JUPYTER_TOKEN", "")
        token_file = os.environ.pop("JUPYTER_TOKEN_FILE", "")
        if token_file and not token:
            token = read_secret_file(token_file)
            if not re.fullmatch(r"[0-9a-fA-F]+", token):
                raise SystemExit(f"pyrlab: error: {token_file} is not a hex token: remove it (`make pylab` writes a new one)")
        if token:
            values["token"] = token
        password_file = os.environ.pop("PYRLAB_PASSWORD_FILE", "")
        if password_file:
            values["hashed_password"] = read_secret_file(password_file)
        cache.values = values
    return dict(cache.values)


SECRETS = lab_secrets()
if "token" in SECRETS:
    c.IdentityProvider.token = SECRETS["token"]
if "hashed_password" in SECRETS:
    c.PasswordIdentityProvider.hashed_password = SECRETS["hashed_password"]

# Keys the env file may not set, even for kernels: what start.sh decides how the lab starts from,
# and Jupyter's and pyrlab's own settings (named in the log, so that nobody expects an effect).
DECIDED = {"NB_USER", "NB_UID", "NB_GID", "NB_GROUP", "NB_UMASK", "NB_PREFIX", "NB_ALLOW_ORIGIN", "NOTEBOOK_ARGS",
           "GRANT_SUDO", "CHOWN_HOME", "CHOWN_HOME_OPTS", "CHOWN_EXTRA", "CHOWN_EXTRA_OPTS", "GEN_CERT",
           "RESTARTABLE", "DOCKER_STACKS_JUPYTER_CMD", "HOME", "USER", "LOGNAME", "TMPDIR"}  # fmt: skip
ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)")


def read_env_file(path: str) -> dict[str, str]:
    """The env file: KEY=VALUE lines (# comments), taken as they are, never evaluated. Its
    variables are for the notebook's processes, its kernels and terminals; the server itself never
    takes them, so nothing in it (PATH, PYTHONPATH, LD_PRELOAD, NB_PREFIX, ...) decides how Jupyter
    starts or whom it lets in."""
    variables = {}
    text = read_own_file(path, ENV_FILE_MAX_BYTES).decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENV_LINE.fullmatch(line)
        if match is None:
            print(f"pyrlab: {path}:{number}: ignored, not KEY=VALUE", file=sys.stderr)
        elif match[1] in DECIDED or match[1].startswith(("PYRLAB_", "JUPYTER_", "JUPYTERHUB_")):
            print(
                f"pyrlab: {path}:{number}: {match[1]} is not passed on: how the lab starts comes from make "
                "(AUTH, DOCKER_ARGS), not the env file",
                file=sys.stderr,
            )
        else:
            variables[match[1]] = match[2]
    print(f"pyrlab: the variables of {path} go to the kernels and terminals", file=sys.stderr)
    return variables


def give_env_file_to_kernels_and_terminals(variables: dict[str, str]) -> None:
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_server_terminals.terminalmanager import TerminalManager

    class EnvFileKernelSpecManager(KernelSpecManager):  # type: ignore[misc]
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            spec = super().get_kernel_spec(kernel_name)
            spec.env = {**variables, **spec.env}  # the kernel's own settings win
            return spec

    class EnvFileTerminalManager(TerminalManager):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            kwargs["extra_env"] = {**variables, **(kwargs.get("extra_env") or {})}
            super().__init__(**kwargs)

    c.ServerApp.kernel_spec_manager_class = EnvFileKernelSpecManager
    c.TerminalsExtensionApp.terminal_manager_class = EnvFileTerminalManager


ENV_FILE = os.environ.pop("PYRLAB_ENV_FILE", "")
if ENV_FILE and os.path.lexists(ENV_FILE):
    give_env_file_to_kernels_and_terminals(read_env_file(ENV_FILE))

# The umask start.sh set (NB_UMASK): a new file saved by Jupyter gets the mode it gives.
UMASK = os.umask(0)
os.umask(UMASK)

# Listen on every interface inside the container; the host publishes the port on
# 127.0.0.1 only (BIND_ADDRESS in the Makefile).
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = int(os.environ["JUPYTER_PORT"])  # the image's ENV, or the container's
c.ServerApp.open_browser = False
# Jupyter answers only requests whose Host is a loopback name or address, so that a web page of
# another site cannot reach the lab through DNS rebinding. `make pylab` lifts this for a
# BIND_ADDRESS other machines use (PYRLAB_ALLOW_REMOTE_ACCESS=yes), and JupyterHub's proxy
# forwards the hub's own host name.
c.ServerApp.allow_remote_access = os.environ.get("PYRLAB_ALLOW_REMOTE_ACCESS") == "yes" or bool(
    os.environ.get("JUPYTERHUB_API_TOKEN")
)
# Jupyter runs as root only where asked: NB_UID=0, or a lab of a root-owned NOTEBOOKS.
c.ServerApp.allow_root = os.getuid() == 0
# A container has no desktop trash can: delete files for real.
c.FileContentsManager.delete_to_trash = False
# jupyter-lsp comes with JupyterLab but no language server does: it would only search for them
# at every start. Install one (e.g. python-lsp-server) and set this to True to use it.
c.ServerApp.jpserver_extensions = {"jupyter_lsp": False}


def classic_only_extensions() -> set[str] | None:
    """The extensions enabled for the classic notebook server only (NotebookApp.nbserver_extensions,
    not ServerApp.jpserver_extensions), which notebook_shim exists to load; None when a config file
    cannot be read (then nothing is decided here)."""
    from jupyter_core.paths import jupyter_config_path

    enabled: dict[str, set[str]] = {"NotebookApp": set(), "ServerApp": set()}
    sections = {"jupyter_notebook_config": ("NotebookApp", "nbserver_extensions"),
                "jupyter_server_config": ("ServerApp", "jpserver_extensions")}  # fmt: skip
    for folder in jupyter_config_path():
        for stem, (app, key) in sections.items():
            drop_ins = os.path.join(folder, f"{stem}.d")
            names = sorted(os.listdir(drop_ins)) if os.path.isdir(drop_ins) else []
            for path in [os.path.join(folder, f"{stem}.json"), *(os.path.join(drop_ins, name) for name in names)]:
                if not path.endswith(".json") or not os.path.isfile(path):
                    continue
                try:
                    with open(path, encoding="utf-8") as file:
                        listed = json.load(file).get(app, {}).get(key, {})
                except (OSError, ValueError, AttributeError):
                    return None
                enabled[app].update(name for name, on in listed.items() if on)
    return enabled["NotebookApp"] - enabled["ServerApp"]


# notebook_shim loads classic notebook server extensions; linking it costs every start about
# 0.035 s (it imports IPython and copies the classic server's settings over). It is switched off
# while no classic-only extension is configured, and on again as soon as one is.
if classic_only_extensions() == set():
    c.ServerApp.jpserver_extensions["notebook_shim"] = False
# Offline by default: no news feed and no update check from the internet.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"


# What a save writes beside the file before renaming it over it: `.~NAME.` + mkstemp's 8 characters.
SAVE_IN_PROGRESS = re.compile(r"\.~.+\.[a-z0-9_]{8}\.tmp")


def remove_crashed_saves(root: str, started: float, log: Any) -> None:
    """Delete what saves killed mid-write left (older than this server, so no save of its own)."""
    for folder, folders, files in os.walk(root, onerror=lambda error: log.debug("not searched: %s", error)):
        folders[:] = [name for name in folders if not os.path.islink(os.path.join(folder, name))]
        for name in files:
            path = os.path.join(folder, name)
            if SAVE_IN_PROGRESS.fullmatch(name) and os.lstat(path).st_mtime < started:
                log.info("removing %s, left by a save that did not finish", path)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


class ReplacingFileManager(AsyncLargeFileManager):  # type: ignore[misc]
    """Saves a file by writing a new one beside it and renaming it over the old one.

    Jupyter's own atomic writing truncates the file and writes it in place (the old content kept in
    `.~name`): a crash in between leaves a broken file, and the next save copies that over the
    backup. Here a crash at any moment leaves either the old or the new file, whole. A file you
    made read-only is refused (403), as Jupyter refuses it; what crashed saves left is removed in
    the background at the start.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cleaner = threading.Thread(target=remove_crashed_saves, args=(self.root_dir, time.time(), self.log), daemon=True)
        cleaner.start()

    @contextlib.contextmanager
    def atomic_writing(self, os_path: str, text: bool = True, encoding: str = "utf-8", **kwargs: Any) -> Iterator[IO[Any]]:
        with self.perm_to_403(os_path):
            path = os.path.realpath(os_path)  # save through a link to the file it points at
            if os.path.exists(path) and not os.access(path, os.W_OK):
                raise PermissionError(errno.EACCES, "the file is read-only", path)
            folder, name = os.path.split(path)
            descriptor, temporary = tempfile.mkstemp(prefix=f".~{name}.", suffix=".tmp", dir=folder)
            try:
                os.fchmod(descriptor, 0o666 & ~UMASK)  # a new file: the mode open() would give it
                with contextlib.suppress(FileNotFoundError):  # an existing one keeps its mode and owner
                    old = os.stat(path)
                    os.fchmod(descriptor, old.st_mode & 0o7777)
                    with contextlib.suppress(PermissionError):  # another owner's file, in a shared folder
                        os.fchown(descriptor, old.st_uid, old.st_gid)
                if text:
                    kwargs.setdefault("newline", "\n")
                    handle = open(descriptor, "w", encoding=encoding, **kwargs)  # noqa: SIM115
                else:
                    handle = open(descriptor, "wb", **kwargs)  # noqa: SIM115
                with handle:
                    yield handle
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise
            folder_descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder_descriptor)  # the rename itself survives a crash of the machine
            finally:
                os.close(folder_descriptor)


c.ServerApp.contents_manager_class = ReplacingFileManager
