"""The `docker build` of each image as pyrlab asks for it, built from the settings without an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrlab.images.build import build_command
from pyrlab.settings import Settings

pytestmark = pytest.mark.usefixtures("made_environment")


def command(folder: str, reference: str, caches: bool = True) -> list[str]:
    return build_command(Settings.from_environment(), folder, "parent:latest", reference, Path("x.id"), caches)


def value_after(words: list[str], flag: str) -> list[str]:
    return [words[index + 1] for index, word in enumerate(words) if word == flag]


def test_an_image_is_tagged_latest_and_with_the_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAG", "20261205")
    words = command("rlab-base", "me/rlab-base:latest")
    assert value_after(words, "--tag") == ["me/rlab-base:latest", "me/rlab-base:20261205"]
    assert "PARENT_IMAGE=parent:latest" in value_after(words, "--build-arg")
    assert value_after(words, "--file") == ["rlab-base/Dockerfile"]
    assert words[-1] == "."


def test_pylab_builds_its_cpu_or_its_cuda_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    assert value_after(command("pylab", "pylab:latest"), "--target") == ["cpu"]
    monkeypatch.setenv("CUDA_INSTALL", "yes")
    cuda = command("pylab", "pylab:latest-cuda13")
    assert value_after(cuda, "--target") == ["cuda"]
    assert "CUDA_VERSION=13" in value_after(cuda, "--build-arg")
    assert "pylab:20" in value_after(cuda, "--tag")[1]
    assert value_after(cuda, "--tag")[1].endswith("-cuda13")


def test_secrets_never_build_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("CA_CERTS", str(bundle))
    monkeypatch.setenv("APTPROXY", "http://127.0.0.1:3142")
    words = command("pyrlab-base", "pyrlab-base:latest")
    assert value_after(words, "--secret") == [f"id=ca_certs,src={bundle}", "id=aptproxy,src=.build/aptproxy"]
    assert not any("3142" in argument for argument in value_after(words, "--build-arg"))
    assert value_after(command("proxies", "pyrlab-proxies:latest", caches=False), "--secret") == [
        f"id=ca_certs,src={bundle}"
    ]


def test_rlab_compiles_r_sources_only_with_r_repos(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "R_SOURCES=no" in value_after(command("rlab", "rlab:latest"), "--build-arg")
    monkeypatch.setenv("R_REPOS", "file:///srv/cran")
    assert "R_SOURCES=yes" in value_after(command("rlab", "rlab:latest"), "--build-arg")


def test_the_dockerfiles_get_the_contracts_ports() -> None:
    assert "JUPYTER_PORT=8888" in value_after(command("pyrlab-base", "pyrlab-base:latest"), "--build-arg")
    pylab = value_after(command("pylab", "pylab:latest"), "--build-arg")
    assert {"DTALE_PORT=40000", "TENSORBOARD_PORT=6006"} <= set(pylab)
