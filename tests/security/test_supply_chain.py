"""Supply chain: every installer pinned by version and hash, no moving URL in a list unless asked
for, and a build-only CA that no image keeps."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.attack import Project
from harness.makefile import copy_project, make_environment
from pyrlab.inside.lists import logical_lines

PINNED = re.compile(r"^[A-Za-z0-9._-]+(\[[^\]]*\])?==\S+( ; [^-]+)?( --hash=sha256:[0-9a-f]{64})+$")


@pytest.mark.parametrize("lock", ["pyrlab-base/bootstrap.lock", "proxies/devpi.lock"])
def test_installers_and_the_mirror_are_pinned_by_version_and_hash(project: Project, lock: str) -> None:
    path = project.root / lock
    assert path.is_file(), f"{lock} is missing: pip and uv (and devpi) would install whatever is newest"
    requirements = logical_lines(path.read_text())
    assert requirements
    assert [line for line in requirements if not PINNED.match(line)] == []


def test_image_has_the_installers_of_the_lock(project: Project, docker_client: Any) -> None:
    pins = dict(
        re.findall(r"^(pip|uv)==(\S+)", (project.root / "pyrlab-base/bootstrap.lock").read_text(), re.MULTILINE)
    )
    versions = docker_client.containers.run(
        project.images["pyrlab-base"],
        ["bash", "-c", "pip --version | cut -d' ' -f2; uv --version | cut -d' ' -f2"],
        entrypoint=[],
        remove=True,
    ).decode()
    assert versions.split() == [pins["pip"], pins["uv"]]


@pytest.mark.parametrize("reference", ["git+https://example.org/pkg.git@v1", "https://example.org/pkg-1.0.tar.gz"])
def test_make_check_refuses_a_direct_reference_unless_allowed(project: Project, tmp_path: Path, reference: str) -> None:
    copy = copy_project(project.root, tmp_path / "copy")
    with (copy / "requirements.txt").open("a") as requirements:
        requirements.write(f"pkg @ {reference}\n")
    line = len((copy / "requirements.txt").read_text().splitlines())
    tools = f"TOOLS_VENV={project.root / '.venv'}"
    refused = subprocess.run(
        ["make", "-C", str(copy), tools, "check"], env=make_environment(), capture_output=True, text=True, check=False
    )
    assert refused.returncode != 0
    assert f"requirements.txt:{line}: 'pkg @ {reference}' is a direct reference" in refused.stderr
    allowed = subprocess.run(
        ["make", "-C", str(copy), tools, "check", "ALLOW_DIRECT_URLS=yes"],
        env=make_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert allowed.returncode == 0, allowed.stderr


def test_build_only_ca_is_in_no_layer_of_the_image(project: Project, docker_client: Any, tmp_path: Path) -> None:
    """A CA of the test's own joins the proxy's: the build must use the bundle (it reaches the
    package index through the proxy) and the image must not keep it, in its files or its layers."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pyrlab build-only CA",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "ca.pem")],
        capture_output=True, check=True,
    )  # fmt: skip
    own_ca = (tmp_path / "ca.pem").read_text()
    marker = own_ca.splitlines()[5]  # a line of the certificate's body, found nowhere else
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(Path(os.environ.get("CA_CERTS") or "/etc/ssl/certs/ca-certificates.crt").read_text() + own_ca)
    copy = copy_project(project.root, tmp_path / "copy")
    image = "pyrlab-scratch/ca-build-only:test"
    built = subprocess.run(
        ["make", "-C", str(copy), f"TOOLS_VENV={project.root / '.venv'}", "IMAGE_PREFIX=pyrlab-scratch/",
         f"CA_CERTS={bundle}", "CA_CERTS_KEEP=no", "build-pyrlab-base", f"TAG=ca-{os.getpid()}"],
        env=make_environment(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        docker_client.images.get("pyrlab-scratch/pyrlab-base:latest").tag(image)
        store = docker_client.containers.run(
            image, ["cat", "/etc/ssl/certs/ca-certificates.crt"], entrypoint=[], remove=True
        ).decode()
        assert marker not in store
        tail = b""
        for chunk in docker_client.images.get(image).save(chunk_size=1 << 20):  # every layer, uncompressed
            assert marker.encode() not in tail + chunk
            tail = chunk[-len(marker) :]
    finally:
        for reference in (image, "pyrlab-scratch/pyrlab-base:latest", f"pyrlab-scratch/pyrlab-base:ca-{os.getpid()}"):
            docker_client.images.remove(reference)
