"""`make check` for another platform: every Python package the builds install has a wheel for it,
else it is named with its file and line; with CUDA_INSTALL=yes, a framework whose build for it
brings no CUDA is named. Against a package index served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.indexserver import IndexHandler, serving
from harness.makerun import REPO, exported_settings
from pyrlab.images.wheels import dependencies, fits, missing_wheels
from pyrlab.platforms import Platform
from pyrlab.settings import Settings

ARM64 = Platform("linux/arm64", "linux/amd64")
AMD64 = Platform("linux/amd64", "linux/amd64")

# project -> {file name: METADATA (empty: none served)}
PROJECTS: dict[str, dict[str, str]] = {
    "puresome": {"puresome-1.0-py3-none-any.whl": ""},
    "numbers": {
        "numbers-2.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl": "",
        "numbers-2.0-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl": "",
        "numbers-2.0.tar.gz": "",
    },
    "x86only": {
        "x86only-3.1-cp313-cp313-manylinux_2_28_x86_64.whl": "",
        "x86only-3.1-cp313-cp313-win_amd64.whl": "",
        "x86only-3.1.tar.gz": "",
        # An older release had one: a lock pinning it passes.
        "x86only-3.0-cp313-cp313-manylinux_2_28_aarch64.whl": "",
    },
    "sdistonly": {"sdistonly-0.5.tar.gz": ""},
    "withextra": {
        "withextra-1.0-py3-none-any.whl": "Name: withextra\nRequires-Dist: x86only; extra == 'fast'\n",
    },
    "torch": {
        "torch-9.0-cp313-cp313-manylinux_2_28_x86_64.whl": (
            "Name: torch\nRequires-Dist: nvidia-cublas; platform_machine == 'x86_64'\n"
        ),
        "torch-9.0-cp313-cp313-manylinux_2_28_aarch64.whl": (
            "Name: torch\nRequires-Dist: nvidia-cublas; platform_machine == 'x86_64'\nRequires-Dist: filelock\n"
        ),
    },
    "nvidia-cublas": {"nvidia_cublas-13.0-py3-none-manylinux_2_27_x86_64.whl": ""},
}
PREFIX = "/root/pypi/+simple/"


def digest(filename: str) -> str:
    """The sha256 the index gives a file: here, of its name."""
    return hashlib.sha256(filename.encode()).hexdigest()


class Handler(IndexHandler):
    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/files/") and path.endswith(".metadata"):
            filename = path.removeprefix("/files/").removesuffix(".metadata")
            metadata = next((files[filename] for files in PROJECTS.values() if files.get(filename)), "")
            if not metadata:
                self.send_error(404)
                return
            body = metadata.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        name = path.removeprefix(PREFIX).strip("/")
        if not path.startswith(PREFIX) or name not in PROJECTS:
            self.send_error(404)
            return
        files = [
            {"filename": filename, "url": f"/files/{filename}", "hashes": {"sha256": digest(filename)}}
            for filename in PROJECTS[name]
        ]
        self.answer({"name": name, "files": files})


@pytest.fixture
def index() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


def project(tmp_path: Path, requirements: str, gpu: str = "") -> Path:
    """A project whose lists are pyrlab's but for requirements.txt (and requirements-gpu.txt)."""
    for name in (
        "pyrlab-base/bootstrap.txt",
        "pyrlab-base/jupyter.txt",
        "hub/hub_requirements.txt",
        "proxies/devpi.txt",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("puresome\n", encoding="utf-8")
    (tmp_path / "requirements.txt").write_text(requirements, encoding="utf-8")
    (tmp_path / "requirements-gpu.txt").write_text(gpu, encoding="utf-8")
    (tmp_path / "pylab").mkdir()
    shutil.copy(REPO / "pylab" / "Dockerfile", tmp_path / "pylab" / "Dockerfile")
    return tmp_path


def settings(index: str, platform: str = "linux/arm64", **changes: str) -> Settings:
    return Settings.from_environment({**exported_settings(), "PIPPROXY": index, "PLATFORM": platform, **changes})


def test_a_wheel_fits_its_machine_and_the_images_python() -> None:
    assert fits("a-1-py3-none-any.whl", ARM64)
    assert fits("a-1-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", ARM64)
    assert fits("a-1-cp39-abi3-manylinux_2_28_aarch64.whl", ARM64)
    assert not fits("a-1-cp313-cp313-manylinux_2_28_x86_64.whl", ARM64)
    assert fits("a-1-cp313-cp313-manylinux_2_28_x86_64.whl", AMD64)
    assert not fits("a-1-cp312-cp312-manylinux_2_28_aarch64.whl", ARM64)
    assert not fits("a-1-cp313-cp313-musllinux_1_2_aarch64.whl", ARM64)
    assert not fits("a-1-cp313-cp313-macosx_14_0_arm64.whl", ARM64)


def test_dependencies_follow_the_extras_and_the_machine() -> None:
    metadata = "Requires-Dist: a\nRequires-Dist: b; extra == 'fast'\nRequires-Dist: c; platform_machine == 'x86_64'\n"
    names = {requirement.name for requirement in dependencies(metadata, ["fast"], ARM64, extras_only=False)}
    assert names == {"a", "b"}
    assert {r.name for r in dependencies(metadata, ["fast"], ARM64, extras_only=True)} == {"b"}
    assert {r.name for r in dependencies(metadata, [], AMD64, extras_only=False)} == {"a", "c"}


def test_a_package_without_a_wheel_for_the_platform_is_named_with_its_line(tmp_path: Path, index: str) -> None:
    root = project(tmp_path, "puresome\nnumbers\n# a comment\nx86only\nsdistonly\n")
    problems = missing_wheels(root, settings(index))
    assert [(str(problem.path), problem.line) for problem in problems] == [("requirements.txt", 4)]
    assert "x86only 3.1 has no wheel for linux/arm64 on Python 3.13" in problems[0].message
    assert "manylinux_2_28_x86_64" in problems[0].message
    assert "pin a version that has one" in problems[0].fix
    assert missing_wheels(root, settings(index, "linux/amd64")) == []


def test_a_version_the_line_allows_is_what_is_checked(tmp_path: Path, index: str) -> None:
    assert missing_wheels(project(tmp_path, "x86only==3.0\n"), settings(index)) == []


def test_a_project_an_extra_brings_is_checked_too(tmp_path: Path, index: str) -> None:
    problems = missing_wheels(project(tmp_path, "withextra[fast]\n"), settings(index))
    assert [(str(problem.path), problem.line) for problem in problems] == [("requirements.txt", 1)]
    assert "x86only 3.1 (brought by withextra[fast])" in problems[0].message


def test_a_lock_is_checked_pin_by_pin_at_its_line(tmp_path: Path, index: str) -> None:
    root = project(tmp_path, "numbers\n")
    lock = "# pyrlab-lock: x\nnumbers==2.0 \\\n    --hash=sha256:00\nx86only==3.1 \\\n    --hash=sha256:00\n"
    (root / "requirements.lock").write_text(lock, encoding="utf-8")
    problems = missing_wheels(root, settings(index))
    assert [(str(problem.path), problem.line) for problem in problems] == [("requirements.lock", 4)]


def test_a_lock_without_the_platforms_hashes_is_named(tmp_path: Path, index: str) -> None:
    root = project(tmp_path, "numbers\n")
    x86 = digest("numbers-2.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    arm = digest("numbers-2.0-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl")
    (root / "requirements.lock").write_text(f"numbers==2.0 \\\n    --hash=sha256:{x86}\n", encoding="utf-8")
    problems = missing_wheels(root, settings(index))
    assert [str(problem) for problem in problems] == [
        "requirements.lock:1: numbers==2.0 has wheels for linux/arm64, but the lock carries none of their hashes\n"
        "    fix: run make lock: it records the hashes of every file of each pinned version"
    ]
    assert missing_wheels(root, settings(index, "linux/amd64")) == []
    both = f"numbers==2.0 \\\n    --hash=sha256:{x86} \\\n    --hash=sha256:{arm}\n"
    (root / "requirements.lock").write_text(both, encoding="utf-8")
    assert missing_wheels(root, settings(index)) == []


def test_a_framework_whose_build_for_the_platform_has_no_cuda_is_named(tmp_path: Path, index: str) -> None:
    root = project(tmp_path, "puresome\n", gpu="# GPU\ntorch\n")
    problems = missing_wheels(root, settings(index, CUDA_INSTALL="yes"))
    messages = [str(problem) for problem in problems]
    assert any(
        message.startswith("requirements-gpu.txt:2: torch on the package index has no CUDA build for linux/arm64")
        for message in messages
    ), messages
    # On amd64 its wheel brings NVIDIA's libraries.
    amd64 = missing_wheels(root, settings(index, "linux/amd64", CUDA_INSTALL="yes"))
    assert not any("no CUDA build" in str(problem) for problem in amd64)
