"""What the isolation tests share: the checkout under attack, host users, and `make pylab` run as one."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.makefile import free_port, make_environment

REPO = Path(__file__).parents[2]
LABEL = {"pyrlab.test": "security"}


@dataclass(frozen=True)
class Project:
    """The checkout under attack: where to run make, with which arguments, and its image references."""

    root: Path
    make_args: list[str]
    images: dict[str, str]
    shared_tools: Path  # a tools environment every host user can run (root's may sit in root's home)

    def make(self, *args: str, user: HostUser | None = None) -> subprocess.CompletedProcess[str]:
        """`make` in the project, as root or as a host user (with that user's ids and HOME, nothing else)."""
        command = ["make", "--no-print-directory", "-C", str(self.root), *self.make_args, *args]
        environment = make_environment()
        if user is not None:
            environment["HOME"] = str(user.home)
            command = [
                "setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups",
                *command, f"TOOLS_VENV={self.shared_tools}",
            ]  # fmt: skip
        return subprocess.run(command, env=environment, capture_output=True, text=True, check=False, cwd=self.root)


def shared_tools_environment(root: Path, folder: Path) -> Path:
    """What `make pylab` needs to run as any host user: the system's Python, the runtime packages
    (scripts/requirements.txt), and the project's scripts on its path, marked installed for the Makefile."""
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(folder)], check=True)
    runtime = ["install", "--quiet", "--requirement", str(root / "scripts" / "requirements.txt")]
    subprocess.run([folder / "bin/python", "-m", "pip", *runtime], check=True)
    site = subprocess.run(
        [folder / "bin/python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "pyrlab-scripts.pth").write_text(f"{root / 'scripts'}\n")
    (folder / ".installed").touch()
    return folder


def open_folder() -> Path:
    """A folder under /tmp that every host user can enter (pytest's own are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="pyrlab-security-"))
    folder.chmod(0o755)
    return folder


@dataclass(frozen=True)
class HostUser:
    name: str
    uid: int
    gid: int
    home: Path

    def folder(self, name: str, mode: int = 0o700) -> Path:
        """A folder of this user's, in its home."""
        path = self.home / name
        path.mkdir(mode=mode)
        os.chown(path, self.uid, self.gid)
        path.chmod(mode)
        return path

    def file(self, path: Path, text: str, mode: int = 0o600) -> Path:
        path.write_text(text)
        os.chown(path, self.uid, self.gid)
        path.chmod(mode)
        return path


@dataclass(frozen=True)
class MadeLab:
    """A lab that a host user started with `make pylab`."""

    result: subprocess.CompletedProcess[str]
    port: int
    settings: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        match = re.search(r"token=(\w+)", self.result.stdout)
        assert match, self.result.stdout + self.result.stderr
        return match.group(1)

    @property
    def name(self) -> str:
        return f"pylab-{self.port}"


def make_pylab(project: Project, user: HostUser, *settings: str) -> MadeLab:
    """`make pylab` as that user, its notebooks and configuration in its home (unless settings say)."""
    port = free_port()
    all_settings = [
        f"PYPORT={port}",
        f"NOTEBOOKS={user.home / 'notebooks'}",
        f"DOCKER={user.home / 'docker'}",
        "DOCKER_ARGS=--label pyrlab.test=security",
        *settings,
    ]
    return MadeLab(project.make("pylab", *all_settings, user=user), port, all_settings)
