"""R packages beyond Debian, for real: packages the test writes and builds with `R CMD build` (one of
R code, one with C code, one importing a package Debian has), served as a CRAN-like repository on
127.0.0.1, listed in r_packages.txt of a scratch copy and built into its rlab with R_REPOS. No
network beyond the Debian archive."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from harness import localcran
from harness.chain import chain_images
from harness.imagelab import KERNEL_CLIENT, exec_output, run_once, started
from harness.makefile import copy_project
from harness.makerun import REPO, append_lines, make

PREFIX = "pyrlab-rsources/"
RLAB = f"{PREFIX}rlab:latest"
CLI = "docker"
R_IMAGE = chain_images()["rlab-base"]
PACKAGES = {
    "purer": localcran.pure_r("purer"),
    "cadd": localcran.with_c("cadd"),
    "praiser": localcran.importing("praiser", "praise", 'praise::praise("You are ${adjective}!")'),
}


@dataclass
class Project:
    copy: Path
    cran: Path  # a CRAN-like folder: src/contrib/PACKAGES and the tarballs
    sources: Path  # the packages' source folders
    url: str

    def make(self, *args: str, repos: str = "") -> Any:
        settings = [f"IMAGE_PREFIX={PREFIX}", f"TOOLS_VENV={REPO / '.venv'}", f"R_REPOS={repos or self.url}"]
        return make(*settings, *args, cwd=self.copy)

    def publish(self, name: str, files: dict[str, str]) -> Path:
        """Add (or replace) a package in the repository, and index it anew."""
        shutil.rmtree(self.sources, ignore_errors=True)
        localcran.write_package(self.sources / name, files)
        contrib = self.cran / "src" / "contrib"
        (tarball,) = localcran.build_tarballs(CLI, R_IMAGE, self.sources, self.sources.parent / "built")
        target = contrib / tarball.name
        shutil.move(tarball, target)
        localcran.index_repository(CLI, R_IMAGE, self.cran)
        return target

    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads((self.copy / "manifests" / "rlab.json").read_text())
        return manifest


def output_of(result: Any) -> str:
    return str(result.stdout) + str(result.stderr)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("rsources")
    cran = folder / "cran"
    (cran / "src" / "contrib").mkdir(parents=True)
    for name, files in PACKAGES.items():
        localcran.write_package(folder / "sources" / name, files)
    localcran.build_tarballs(CLI, R_IMAGE, folder / "sources", cran / "src" / "contrib")
    localcran.index_repository(CLI, R_IMAGE, cran)
    copy = copy_project(REPO, folder / "pyrlab")
    append_lines(copy / "r_packages.txt", *PACKAGES)
    with localcran.serve(cran) as url:
        yield Project(copy, cran, folder / "one-source", url)
    client = docker.from_env(version="auto")
    for image in client.images.list(name=f"{PREFIX}*"):
        for tag in image.tags:
            if tag.startswith(PREFIX):
                client.images.remove(tag)


@pytest.fixture(scope="module")
def built(project: Project) -> str:
    result = project.make("build-rlab")
    assert result.returncode == 0, output_of(result)[-5000:]
    return output_of(result)


def test_sources_are_compiled_and_load_in_the_ir_kernel(built: str) -> None:
    for name in PACKAGES:
        assert f"{name} 0.1.0: compiled from http://127.0.0.1:" in built
    client = docker.from_env(version="auto")
    with started(client, RLAB) as lab:
        code = "library(purer); library(cadd); library(praiser)\n"
        code += "cat(greet('R'), add_c(2, 3), grepl('You are', cheer()))"
        output = exec_output(lab.container, ["python", "-c", KERNEL_CLIENT, "8888", lab.token, "ir", code], "jovyan")
    result = json.loads(output.splitlines()[-1])
    assert (result["status"], result["output"]) == ("ok", "hello R 5 TRUE")


def test_the_dependency_debian_has_comes_from_debian(built: str) -> None:
    client = docker.from_env(version="auto")
    status = ["--show", "--showformat", "${Status}", "r-cran-praise"]
    assert run_once(client, RLAB, status, entrypoint="dpkg-query") == "install ok installed"
    compiled = run_once(client, RLAB, ["/usr/local/lib/R/site-library"], entrypoint="ls")
    assert sorted(compiled.split()) == sorted(PACKAGES)


def test_the_manifest_names_each_origin(project: Project, built: str) -> None:
    origins = project.manifest()["r"]["origins"]
    assert {name: origins[name] for name in PACKAGES} == dict.fromkeys(PACKAGES, project.url)
    assert (origins["praise"], origins["ggplot2"], origins["stats"]) == ("debian", "debian", "R")
    assert f"| cadd | 0.1.0 | {project.url} |" in (project.copy / "manifests" / "rlab.md").read_text()


def test_the_final_image_has_no_compiler(built: str) -> None:
    client = docker.from_env(version="auto")
    script = "command -v gcc cc; dpkg-query --show --showformat '${Package}\\n' | grep -E '^(gcc|r-base-dev|.*-dev)$'"
    output = run_once(client, RLAB, ["-c", script + "; echo checked"], entrypoint="bash")
    assert output.strip() == "checked"


def test_a_name_nobody_provides_is_named_and_the_old_image_stays(project: Project, built: str) -> None:
    client = docker.from_env(version="auto")
    before = client.images.get(RLAB).id
    listed = (project.copy / "r_packages.txt").read_text()
    last = append_lines(project.copy / "r_packages.txt", "purre", "nosuchpackage")
    try:
        failed = project.make("build-rlab")
    finally:
        (project.copy / "r_packages.txt").write_text(listed)
    assert failed.returncode != 0
    output = output_of(failed)
    assert f"r_packages.txt:{last - 1}: 'purre' has no Debian package" in output
    close = r"'purre' has no Debian package .*, and no repository of R_REPOS has it \(did you mean [^)]*\bpurer\b"
    assert re.search(close, output)
    assert f"r_packages.txt:{last}: 'nosuchpackage' has no Debian package" in output
    # `make check` named them: no image was built.
    assert "pyrlab check" in output
    assert "--file rlab/Dockerfile" not in output
    assert client.images.get(RLAB).id == before


def test_adding_one_source_package_compiles_only_that_one(project: Project, built: str) -> None:
    project.publish("added", localcran.pure_r("added", greeting="welcome"))
    append_lines(project.copy / "r_packages.txt", "added")
    rebuilt = project.make("build-rlab")
    assert rebuilt.returncode == 0, output_of(rebuilt)[-5000:]
    output = output_of(rebuilt)
    assert "added 0.1.0: compiled from" in output
    for name in PACKAGES:
        assert f"{name} 0.1.0: from the cache of compiled packages" in output


def test_a_file_url_and_a_folder_of_tarballs_work(project: Project, built: str, tmp_path: Path) -> None:
    folder = tmp_path / "tarballs"
    localcran.write_package(tmp_path / "local-source" / "localonly", localcran.pure_r("localonly"))
    localcran.build_tarballs(CLI, R_IMAGE, tmp_path / "local-source", folder)
    listed = (project.copy / "r_packages.txt").read_text()
    append_lines(project.copy / "r_packages.txt", "localonly")
    try:
        rebuilt = project.make("build-rlab", repos=f"file://{project.cran} {folder}")
    finally:
        (project.copy / "r_packages.txt").write_text(listed)
    assert rebuilt.returncode == 0, output_of(rebuilt)[-5000:]
    origins = project.manifest()["r"]["origins"]
    assert origins["purer"] == f"file://{project.cran}"
    assert origins["localonly"] == str(folder)
    client = docker.from_env(version="auto")
    script = "library(localonly); library(cadd); cat(greet('there'), add_c(40, 2))"
    assert run_once(client, RLAB, ["-e", script], entrypoint="Rscript") == "hello there 42"


def test_the_lock_pins_each_tarball_and_a_tampered_one_fails_the_build(project: Project, built: str) -> None:
    published = project.publish("tampered", localcran.pure_r("tampered"))
    append_lines(project.copy / "r_packages.txt", "tampered")
    locks_before = set(project.copy.glob("**/*.lock"))
    locked = project.make("lock")
    assert locked.returncode == 0, output_of(locked)[-5000:]
    lock = (project.copy / "r_packages.lock").read_text()
    # The other lists' new locks would rebuild the chain below rlab: only this one is under test.
    for other in set(project.copy.glob("**/*.lock")) - locks_before - {project.copy / "r_packages.lock"}:
        other.unlink()
    for tarball in sorted((project.cran / "src" / "contrib").glob("*.tar.gz")):
        name, version = tarball.name.removesuffix(".tar.gz").split("_")
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        assert f"{name}=={version} sha256={digest} repo={project.url}\n" in lock
    assert re.search(r"^r-cran-praise=\S+  # R: praise, for praiser$", lock, re.MULTILINE), lock
    # The repository's tarball changes under the same name and version: the build refuses it.
    client = docker.from_env(version="auto")
    before = client.images.get(RLAB).id
    project.publish("tampered", localcran.pure_r("tampered", greeting="pwned"))
    assert hashlib.sha256(published.read_bytes()).hexdigest() not in lock
    failed = project.make("build-rlab")
    assert failed.returncode != 0
    output = output_of(failed)
    assert f"{project.url}/src/contrib/tampered_0.1.0.tar.gz has sha256" in output
    assert "r_packages.lock says" in output
    assert client.images.get(RLAB).id == before
