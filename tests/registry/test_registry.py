"""The registry for real: `make registry` runs Debian's docker-registry on 127.0.0.1, `make push`
puts every built image in it with docker-stacks' tags, `make pull` brings them back by digest, and
a lab started from the digest passes pylab's tests. Nobody without the registry's password reads
or writes it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests
import yaml
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from harness.chain import chain_images
from harness.makerun import REPO, make
from harness.registryserver import ORG, Registry, checked, running_registry
from pyrlab.cluster.registry import git_commit

CHAIN = chain_images()
CLI = os.environ.get("CONTAINER_CLI", "docker")
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as running:
        checked(make("manifest", *running.settings))
        yield running


@pytest.fixture(scope="module")
def pushed(registry: Registry) -> dict[str, str]:
    """image -> the digest `make push` recorded in its manifest."""
    checked(make("push", f"REGISTRY={registry.name}", *registry.settings))
    return {image: registry.manifest(image)["pushed"]["digest"] for image in CHAIN}


def test_the_registry_data_and_password_are_private(registry: Registry) -> None:
    assert registry.data.stat().st_mode & 0o077 == 0
    assert (registry.data / "registry-password").stat().st_mode & 0o077 == 0


def test_without_the_password_nothing_is_read(registry: Registry, pushed: dict[str, str]) -> None:
    assert requests.get(f"http://{registry.address}/v2/_catalog", timeout=10).status_code == 401
    wrong = requests.get(f"http://{registry.address}/v2/_catalog", auth=("pyrlab", "guess"), timeout=10)
    assert wrong.status_code == 401


def test_a_co_tenant_without_the_password_cannot_push(
    registry: Registry, pushed: dict[str, str], tmp_path: Path
) -> None:
    """The attack: a host user who reaches 127.0.0.1 pushes their own image over the team's pylab."""
    client = docker.from_env(version="auto")
    planted = f"{registry.name}/pylab:latest-evil"
    client.images.get(next(iter(CHAIN.values()))).tag(planted)
    try:
        # Another user's Docker client: a configuration folder of its own, with no credentials.
        attempt = subprocess.run(
            [CLI, "--config", str(tmp_path), "push", planted], capture_output=True, text=True, check=False
        )
    finally:
        client.images.remove(planted)
    assert attempt.returncode != 0
    assert "no basic auth credentials" in attempt.stderr or "unauthorized" in attempt.stderr, attempt.stderr
    tags = registry.get(f"{ORG}/pylab/tags/list").json()["tags"]
    assert "latest-evil" not in tags


def test_the_catalog_lists_every_image_with_its_tags(registry: Registry, pushed: dict[str, str]) -> None:
    catalog = registry.get("_catalog").json()["repositories"]
    assert sorted(catalog) == sorted(f"{ORG}/{image}" for image in CHAIN)
    # The commit tag names a clean checkout's commit; a checkout with changes gets none (CI's is clean).
    commit = git_commit(REPO)
    for image in CHAIN:
        manifest = registry.manifest(image)
        tags = set(registry.get(f"{ORG}/{image}/tags/list").json()["tags"])
        date = manifest["built"][:10].replace("-", "")
        assert {"latest", date, *([commit] if commit else [])} <= tags, (image, tags)
        assert set(manifest["pushed"]["tags"]) == tags


def test_the_content_tags_agree_with_the_manifests(registry: Registry, pushed: dict[str, str]) -> None:
    for image in CHAIN:
        manifest = registry.manifest(image)
        expected = {f"python-{manifest['python']['version']}", f"lab-{manifest['python']['packages']['jupyterlab']}"}
        if manifest["r"]:
            expected.add(f"r-{manifest['r']['version']}")
        content = {tag for tag in manifest["pushed"]["tags"] if tag.startswith(("python-", "lab-", "r-"))}
        assert content == expected, image
        # Every tag names the very image the manifest describes.
        for tag in manifest["pushed"]["tags"]:
            answer = registry.get(f"{ORG}/{image}/manifests/{tag}", headers={"Accept": MANIFEST_MEDIA_TYPE})
            assert answer.headers["Docker-Content-Digest"] == pushed[image], (image, tag)
            assert answer.json()["config"]["digest"] == manifest["id"], (image, tag)


def test_every_layer_is_in_the_registry(registry: Registry, pushed: dict[str, str]) -> None:
    for image in CHAIN:
        layers = registry.get(
            f"{ORG}/{image}/manifests/{pushed[image]}", headers={"Accept": MANIFEST_MEDIA_TYPE}
        ).json()["layers"]
        assert layers
        for layer in layers:
            password = (registry.data / "registry-password").read_text().strip()
            blob = requests.head(
                f"http://{registry.address}/v2/{ORG}/{image}/blobs/{layer['digest']}",
                auth=("pyrlab", password),
                timeout=30,
            )
            assert blob.status_code == 200, (image, layer["digest"])


def test_pushing_an_unchanged_image_again_gives_the_same_digest(registry: Registry, pushed: dict[str, str]) -> None:
    checked(make("push", f"REGISTRY={registry.name}", *registry.settings))
    assert {image: registry.manifest(image)["pushed"]["digest"] for image in CHAIN} == pushed


def test_a_lab_from_the_pulled_digest_passes_pylabs_tests(registry: Registry, pushed: dict[str, str]) -> None:
    client = docker.from_env(version="auto")
    image_id = client.images.get(CHAIN["pylab"]).id
    # pylab's own names go; its layers shared with other images stay, as on any machine.
    for tag in client.images.get(CHAIN["pylab"]).tags:
        client.images.remove(tag)
    pulled = checked(make("pull", f"REGISTRY={registry.name}", *registry.settings))
    reference = registry.manifest("pylab")["pushed"]["reference"]
    assert f"{CHAIN['pylab']} <- {reference}" in pulled
    assert client.images.get(CHAIN["pylab"]).id == image_id
    assert client.images.get(reference).id == image_id
    # pylab's tests, with those of the image it is built on (as `make test-pylab` runs them), on
    # the image named by its digest.
    tests = REPO / "tests" / "images"
    folders = [str(tests / "pyrlab-base"), str(tests / "pylab")]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *folders, "--image", reference, "-p", "no:cacheprovider"]
        + (["--ca-certs", os.environ["CA_CERTS"]] if os.environ.get("CA_CERTS") else []),
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:]
    assert " passed" in run.stdout


def test_a_bad_registry_setting_is_named(registry: Registry) -> None:
    refused = make("push", "REGISTRY=https://Example.org/Team", *registry.settings)
    assert refused.returncode != 0
    assert "REGISTRY=https://Example.org/Team is not host[:port]/org" in refused.stderr
    empty = make("push", "REGISTRY=", *registry.settings)
    assert "REGISTRY is empty" in empty.stderr


def test_a_stale_manifest_is_refused_before_anything_is_pushed(registry: Registry, tmp_path: Path) -> None:
    stale = tmp_path / "manifests"
    shutil.copytree(registry.manifests, stale)
    document = json.loads((stale / "pylab.json").read_text())
    document["id"] = "sha256:" + "0" * 64
    (stale / "pylab.json").write_text(json.dumps(document))
    refused = make("push", f"REGISTRY={registry.name}", f"MANIFESTS={stale}", f"REGISTRY_PORT={registry.port}")
    assert refused.returncode != 0
    assert f"{stale / 'pylab.json'} describes another build than" in refused.stderr
    assert "run `make manifest`" in refused.stderr


def test_z2jh_values_name_each_profile_by_its_pushed_digest(
    registry: Registry, pushed: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "values.yaml"
    images = CHAIN
    choices = f"HUB_IMAGES=pylab={images['pylab']},rlab={images['rlab']}"
    written = checked(make("z2jh-values", f"Z2JH_VALUES={out}", choices, "HUB_ADMIN=alice", *registry.settings))
    assert f"helm upgrade --install pyrlab jupyterhub/jupyterhub --values {out}" in written
    assert out.stat().st_mode & 0o077 == 0
    values = yaml.safe_load(out.read_text())
    profiles = {entry["display_name"]: entry for entry in values["singleuser"]["profileList"]}
    assert list(profiles) == ["pylab", "rlab"]
    for name, entry in profiles.items():
        assert entry["kubespawner_override"]["image"] == f"{registry.name}/{name}@{pushed[name]}"
        assert registry.manifest(name)["python"]["version"] in entry["description"]
    assert (values["singleuser"]["uid"], values["singleuser"]["fsGid"]) == (1000, 100)
    assert values["hub"]["config"]["Authenticator"]["admin_users"] == ["alice"]


def test_each_sbom_follows_cyclonedx_and_counts_the_manifests_packages(
    registry: Registry, pushed: dict[str, str]
) -> None:
    written = checked(make("sbom", *registry.settings))
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    for image in CHAIN:
        manifest = registry.manifest(image)
        path = registry.manifests / f"{image}.cdx.json"
        text = path.read_text()
        assert validator.validate_str(text) is None, image
        document = json.loads(text)
        packages = len(manifest["python"]["packages"]) + len(manifest["debian"])
        packages += len(manifest["r"]["packages"]) if manifest["r"] else 0
        assert len(document["components"]) == packages, image
        assert f"wrote {path} ({packages} packages)" in written
        component = document["metadata"]["component"]
        assert component["version"] == manifest["id"]
        assert component["purl"].startswith(f"pkg:oci/{image}@{pushed[image]}?repository_url=")
