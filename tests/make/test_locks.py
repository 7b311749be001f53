"""`make lock`, `make upgrade`, `make outdated` and the manifests, end to end in a scratch copy."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from harness.imagelab import run_once
from harness.indexserver import IndexHandler, serving
from harness.makerun import SCRATCH_PREFIX, append_lines, scratch_make
from pyrlab.inside.lockfile import LOCKS, debian_pins, header, python_pins

SIX_FILES = [
    ("six-1.16.0-py2.py3-none-any.whl", False),
    ("six-1.17.0-py2.py3-none-any.whl", False),
    ("six-1.18.0-py2.py3-none-any.whl", True),  # yanked: not a release to move to
    ("six-2.0b1-py2.py3-none-any.whl", False),  # a pre-release
]


def small_lists(root: Path) -> None:
    (root / "requirements.txt").write_text("six==1.16.0\n")
    (root / "base_debs.txt").write_text("less\n")
    (root / "r_debs.txt").write_text("r-cran-praise\n")
    (root / "r_packages.txt").write_text("jsonlite\n")


def read_manifest(root: Path, image: str) -> dict[str, Any]:
    manifest = json.loads((root / "manifests" / f"{image}.json").read_text())
    assert isinstance(manifest, dict)
    return manifest


def lock_pins(root: Path, lock: str) -> dict[str, str]:
    text = (root / lock).read_text()
    return python_pins(text) if lock.endswith(("requirements.lock", "jupyter.lock")) else debian_pins(text)


def test_build_from_locks_installs_exactly_the_locked_versions(scratch: Path, docker_client: Any) -> None:
    small_lists(scratch)
    locked = scratch_make(scratch, "lock")
    assert locked.returncode == 0, locked.stdout[-3000:] + locked.stderr[-3000:]
    for spec in LOCKS:  # the installers' and the mirror's locks are committed: those are kept or updated
        reported = rf"^{re.escape(spec.lock)}: (written|unchanged|[0-9]+ changes)"
        assert re.search(reported, locked.stdout, re.MULTILINE), spec
    requirements_lock = (scratch / "requirements.lock").read_text()
    assert "six==1.16.0 \\\n    --hash=sha256:" in requirements_lock
    assert "r-cran-jsonlite=" in (scratch / "r_packages.lock").read_text()
    assert re.search(r"^apt-cacher-ng=\S+", (scratch / "proxies/apt_debs.lock").read_text(), re.MULTILINE)
    assert re.search(r"^node-configurable-http-proxy=\S+", (scratch / "hub/hub_debs.lock").read_text(), re.MULTILINE)
    assert "dockerspawner==" in (scratch / "hub/hub_requirements.lock").read_text()

    built = scratch_make(scratch, "build-pylab", "build-rlab")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    pylab, rlab = read_manifest(scratch, "pylab"), read_manifest(scratch, "rlab")
    assert pylab["id"] == docker_client.images.get(f"{SCRATCH_PREFIX}pylab:latest").id
    assert pylab["python"]["packages"] == lock_pins(scratch, "requirements.lock")
    assert rlab["python"]["packages"] == lock_pins(scratch, "pyrlab-base/jupyter.lock")
    for image, locks in ((pylab, ["base_debs.lock"]), (rlab, ["base_debs.lock", "r_debs.lock", "r_packages.lock"])):
        for lock in locks:
            pins = lock_pins(scratch, lock)
            assert pins, lock
            assert {name: image["debian"].get(name) for name in pins} == pins, lock
    assert rlab["r"]["packages"]["jsonlite"]
    assert set(rlab["kernels"]) == {"ir", "python3"}
    markdown = (scratch / "manifests" / "pylab.md").read_text()
    assert "| six | 1.16.0 |" in markdown
    assert pylab["id"] in markdown

    # Hashes are required: a lock whose hash does not match the download fails the build.
    before = docker_client.images.get(f"{SCRATCH_PREFIX}pylab:latest").id
    six = re.compile(r"^six==1\.16\.0 \\\n(    --hash=sha256:\w+(?: \\)?\n)+", re.MULTILINE)
    (scratch / "requirements.lock").write_text(
        six.sub("six==1.16.0 \\\n    --hash=sha256:" + "0" * 64 + "\n", requirements_lock)
    )
    tampered = scratch_make(scratch, "build-pylab")
    assert tampered.returncode != 0
    assert "hash" in tampered.stderr.lower()
    assert docker_client.images.get(f"{SCRATCH_PREFIX}pylab:latest").id == before
    (scratch / "requirements.lock").write_text(requirements_lock)

    # A list edited after its lock: the build refuses before it starts, the image stays.
    (scratch / "requirements.txt").write_text("six\n")
    line = append_lines(scratch / "requirements.txt", "toolz")
    assert line == 2
    refused = scratch_make(scratch, "build-pylab")
    assert refused.returncode != 0
    assert "requirements.lock:1: requirements.txt was edited after this lock was written" in refused.stderr
    assert "fix: run make lock" in refused.stderr
    assert docker_client.images.get(f"{SCRATCH_PREFIX}pylab:latest").id == before

    # make lock keeps the pins it can and shows what it adds; make upgrade moves to the newest.
    relocked = scratch_make(scratch, "lock")
    assert relocked.returncode == 0, relocked.stderr[-3000:]
    assert "  + toolz " in relocked.stdout
    assert lock_pins(scratch, "requirements.lock")["six"] == "1.16.0"
    upgraded = scratch_make(scratch, "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    assert "    six 1.16.0 -> 1." in upgraded.stdout
    assert lock_pins(scratch, "requirements.lock")["six"] != "1.16.0"


class SimpleIndex(IndexHandler):
    """six's page of PEP 691, at devpi's path; the requests it had, for the test to read."""

    requests: list[tuple[str, str]] = []  # noqa: RUF012 (one list for the one server of a test)

    def do_GET(self) -> None:
        SimpleIndex.requests.append((self.path, self.headers.get("Accept", "")))
        if self.path != "/root/pypi/+simple/six/":
            self.send_error(404)
            return
        files = [{"filename": name, "url": name, "hashes": {}, "yanked": yanked} for name, yanked in SIX_FILES]
        self.answer({"name": "six", "files": files})


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def local_index() -> Iterator[str]:
    with serving(SimpleIndex) as url:
        yield url


def write_wheel(folder: Path, name: str, version: str) -> None:
    """A pure-Python wheel of `name` and a PEP 503 page linking it with its sha256."""
    filename, info = f"{name}-{version}-py3-none-any.whl", f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: pyrlab-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
        f"{len(text.encode())}\n"
        for path, text in files.items()
    )
    (folder / name).mkdir(parents=True)
    with zipfile.ZipFile(folder / name / filename, "w") as wheel:
        for path, text in {**files, f"{info}/RECORD": record + f"{info}/RECORD,,\n"}.items():
            wheel.writestr(path, text)
    digest = hashlib.sha256((folder / name / filename).read_bytes()).hexdigest()
    link = filename.replace("+", "%2B")
    (folder / name / "index.html").write_text(f'<a href="{link}#sha256={digest}">{filename}</a>\n')


@pytest.fixture
def torch_cpu_index(tmp_path: Path) -> Iterator[str]:
    """A CPU index on 127.0.0.1 with torch 99.0+cpu and six 99.0: six must never come from it."""
    index_folder = tmp_path / "index"
    write_wheel(index_folder / "cpu", "torch", "99.0+cpu")
    write_wheel(index_folder / "cpu", "six", "99.0")
    with serving(functools.partial(QuietFiles, directory=str(index_folder))) as url:  # type: ignore[arg-type]
        yield f"{url}/cpu/"


def installed_versions(docker_client: Any, *modules: str) -> list[str]:
    """The __version__ of each module in the scratch pylab."""
    program = f"import {', '.join(modules)}; print({', '.join(f'{module}.__version__' for module in modules)})"
    image = f"{SCRATCH_PREFIX}pylab:latest"
    return run_once(docker_client, image, ["python", "-c", program], network_mode="none").split()


def test_unlocked_pylab_takes_only_torch_from_the_cpu_index(scratch: Path, tmp_path: Path, docker_client: Any) -> None:
    """Without a lock, a package that both indexes have (the CPU index at a higher version) comes
    from the default index: the CPU index serves the torch projects alone, not as an extra index."""
    index_folder = tmp_path / "index"
    write_wheel(index_folder / "root/pypi/+simple", "pyrlabprobe", "1.0")
    write_wheel(index_folder / "cpu", "pyrlabprobe", "99.0")
    write_wheel(index_folder / "cpu", "torch", "99.0+cpu")
    small_lists(scratch)
    (scratch / "requirements.txt").write_text("pyrlabprobe\ntorch\n")
    # The parents come from PyPI as usual (the local index has only the test's packages).
    parents = scratch_make(scratch, "build-pyrlab-base")
    assert parents.returncode == 0, parents.stdout[-3000:] + parents.stderr[-3000:]
    with serving(functools.partial(QuietFiles, directory=str(index_folder))) as url:  # type: ignore[arg-type]
        settings = [f"PIPPROXY={url}", f"TORCH_CPU_INDEX={url}/cpu/", "BUILD_NETWORK=host"]
        built = scratch_make(scratch, "build-pylab", *settings)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert installed_versions(docker_client, "torch", "pyrlabprobe") == ["99.0+cpu", "1.0"]


def test_lock_takes_only_torch_from_the_cpu_index_and_pylab_installs_that_wheel(
    scratch: Path, torch_cpu_index: str, docker_client: Any
) -> None:
    """TORCH_CPU_INDEX serves torch to pylab's lock, pinned to its one wheel; six, which that index
    also has (at a higher version), still comes from the default index."""
    settings = [f"TORCH_CPU_INDEX={torch_cpu_index}", "BUILD_NETWORK=host"]
    small_lists(scratch)
    (scratch / "requirements.txt").write_text("six\ntorch\n")
    locked = scratch_make(scratch, "lock", *settings)
    assert locked.returncode == 0, locked.stdout[-3000:] + locked.stderr[-3000:]
    lock = (scratch / "requirements.lock").read_text()
    pins = python_pins(lock)
    assert pins["torch"] == "99.0+cpu"
    assert pins["six"] != "99.0"  # from the default index, not from the CPU index
    assert f"torch @ {torch_cpu_index}torch/torch-99.0%2Bcpu-py3-none-any.whl" in lock
    built = scratch_make(scratch, "build-pylab", *settings)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert installed_versions(docker_client, "torch", "six") == ["99.0+cpu", pins["six"]]


def test_outdated_reports_newer_releases_from_the_index_of_pipproxy(scratch: Path, local_index: str) -> None:
    small_lists(scratch)
    spec = next(spec for spec in LOCKS if spec.lock == "requirements.lock")
    body = "six==1.16.0 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    (scratch / spec.lock).write_text(header(scratch, spec, "a test") + body)
    SimpleIndex.requests.clear()
    report = scratch_make(scratch, "outdated", f"PIPPROXY={local_index}")
    assert report.returncode == 0, report.stderr
    rows = [line.split() for line in report.stdout.splitlines()]
    assert ["requirements.lock", "six", "1.16.0", "1.17.0"] in rows
    assert ("/root/pypi/+simple/six/", "application/vnd.pypi.simple.v1+json") in SimpleIndex.requests


def test_outdated_without_locks_says_how_to_make_them(scratch: Path) -> None:
    for spec in LOCKS:  # a project that has never run `make lock`
        (scratch / spec.lock).unlink(missing_ok=True)
    report = scratch_make(scratch, "outdated")
    assert report.returncode == 0, report.stderr
    assert "no lock files: `make lock` pins the lists first" in report.stdout


def test_lock_names_an_unknown_debian_package_with_file_and_line(scratch: Path) -> None:
    small_lists(scratch)
    line = append_lines(scratch / "base_debs.txt", "nosuchdebianpackage")
    failed = scratch_make(scratch, "lock")
    assert failed.returncode != 0
    assert f"base_debs.txt:{line}: 'nosuchdebianpackage' is not a package of this Debian release" in failed.stderr
    assert not (scratch / "base_debs.lock").exists()
