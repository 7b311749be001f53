# Jupyter server settings shared by every pyrlab image.
# Authentication stays on: start.sh gives the token (JUPYTER_TOKEN or JUPYTER_TOKEN_FILE) to
# Jupyter in a private config file, or Jupyter makes one and prints it in the log. Nothing here
# turns it off.
import contextlib
import importlib
import importlib.util
import json
import os
import sys
import tempfile
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

# The umask start.sh set (NB_UMASK): a new file saved by Jupyter gets the mode it gives.
UMASK = os.umask(0)
os.umask(UMASK)

# Listen on every interface inside the container; the host publishes the port on
# 127.0.0.1 only (BIND_ADDRESS in the Makefile).
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = int(os.environ.get("JUPYTER_PORT", "8888"))
c.ServerApp.open_browser = False
# Jupyter answers only requests whose Host is a loopback name or address, so that a web page of
# another site cannot reach the lab through DNS rebinding. `make pylab` lifts this for a
# BIND_ADDRESS other machines use (PYRLAB_ALLOW_REMOTE_ACCESS=yes), and JupyterHub's proxy
# forwards the hub's own host name.
c.ServerApp.allow_remote_access = os.environ.get("PYRLAB_ALLOW_REMOTE_ACCESS") == "yes" or bool(
    os.environ.get("JUPYTERHUB_API_TOKEN")
)
# start.sh runs Jupyter as root only when NB_UID=0 asks for it explicitly.
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


class ReplacingFileManager(AsyncLargeFileManager):  # type: ignore[misc]
    """Saves a file by writing a new one beside it and renaming it over the old one.

    Jupyter's own atomic writing truncates the file and writes it in place (the old content kept in
    `.~name`): a crash in between leaves a broken file, and the next save copies that over the
    backup. Here a crash at any moment leaves either the old or the new file, whole.
    """

    @contextlib.contextmanager
    def atomic_writing(self, os_path: str, text: bool = True, encoding: str = "utf-8", **kwargs: Any) -> Iterator[IO[Any]]:
        with self.perm_to_403(os_path):
            path = os.path.realpath(os_path)  # save through a link to the file it points at
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
