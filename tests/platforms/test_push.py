"""One reference for both platforms, for real: `make push PLATFORMS=linux/amd64,linux/arm64` puts
each image's amd64 and arm64 builds in a registry on 127.0.0.1 under one index; a pull on this
(amd64) machine gets the amd64 build, and the Zero to JupyterHub values pull by the index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from harness.chain import chain_images
from harness.makerun import make
from harness.registryserver import ORG, Registry, checked, running_registry
from pyrlab.platforms import Platform

CHAIN = chain_images()
BOTH = "PLATFORMS=linux/amd64,linux/arm64"
ARM64 = Platform.parse("linux/arm64")
INDEX_TYPES = "application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json"
IMAGE_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as running:
        checked(make("manifest", *running.settings))
        checked(make("manifest", f"PLATFORM={ARM64.name}", *running.settings))
        yield running


@pytest.fixture(scope="module")
def pushed(registry: Registry) -> str:
    return checked(make("push", f"REGISTRY={registry.name}", BOTH, *registry.settings))


def test_this_machine_is_amd64_so_that_arm64_is_the_foreign_build() -> None:
    assert ARM64.foreign
    assert ARM64.host == "linux/amd64"


def test_each_tag_names_one_index_of_both_platforms_builds(registry: Registry, pushed: str) -> None:
    for image in CHAIN:
        amd64, arm64 = registry.manifest(image), registry.manifest(f"{image}{ARM64.suffix}")
        index = amd64["pushed"]["index"]["digest"]
        assert arm64["pushed"]["index"]["digest"] == index
        assert f"{registry.name}/{image}@{index}" in pushed
        for tag in amd64["pushed"]["index"]["tags"]:
            answer = registry.get(f"{ORG}/{image}/manifests/{tag}", headers={"Accept": INDEX_TYPES})
            assert answer.status_code == 200, (image, tag, answer.text)
            assert answer.headers["Docker-Content-Digest"] == index, (image, tag)
            members = {(member["platform"]["architecture"], member["digest"]) for member in answer.json()["manifests"]}
            assert members == {("amd64", amd64["pushed"]["digest"]), ("arm64", arm64["pushed"]["digest"])}
        # Each member is that platform's build: its config is the image pyrlab built there.
        for manifest in (amd64, arm64):
            own = registry.get(
                f"{ORG}/{image}/manifests/{manifest['pushed']['digest']}", headers={"Accept": IMAGE_TYPE}
            )
            assert own.json()["config"]["digest"] == manifest["id"], image
        tags = set(registry.get(f"{ORG}/{image}/tags/list").json()["tags"])
        assert {"latest", "latest-amd64", "latest-arm64"} <= tags, (image, tags)


def test_a_pull_on_this_machine_gets_the_amd64_build(registry: Registry, pushed: str) -> None:
    pulled = checked(make("pull", f"REGISTRY={registry.name}", *registry.settings))
    client = docker.from_env(version="auto")
    for image, reference in CHAIN.items():
        amd64 = registry.manifest(image)
        index_reference = amd64["pushed"]["reference"]
        assert index_reference == f"{registry.name}/{image}@{amd64['pushed']['index']['digest']}"
        assert f"{reference} <- {index_reference}" in pulled
        got = client.images.get(index_reference)
        assert (got.attrs["Architecture"], got.id) == ("amd64", amd64["id"]), image


def test_the_cluster_values_pull_each_profile_by_its_index(registry: Registry, pushed: str, tmp_path: Path) -> None:
    out = tmp_path / "values.yaml"
    choices = f"HUB_IMAGES=pylab={CHAIN['pylab']},rlab={CHAIN['rlab']}"
    checked(make("z2jh-values", f"Z2JH_VALUES={out}", choices, "HUB_ADMIN=alice", *registry.settings))
    profiles = yaml.safe_load(out.read_text())["singleuser"]["profileList"]
    images = {profile["kubespawner_override"]["image"] for profile in profiles}
    assert images == {registry.manifest(image)["pushed"]["reference"] for image in ("pylab", "rlab")}
    assert all("@sha256:" in image for image in images)
