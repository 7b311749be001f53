"""The tags `make push` gives an image, and the Zero to JupyterHub values of `make z2jh-values`,
from manifests as `make push` leaves them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyrlab.cluster import registry, z2jh
from pyrlab.platforms import Platform
from pyrlab.settings import HubSettings

DIGEST = "sha256:" + "a" * 64


def manifest(image: str, reference: str, r_version: str | None = None) -> dict[str, Any]:
    return {
        "image": image,
        "reference": reference,
        "id": "sha256:" + "b" * 64,
        "built": "2026-11-24T06:00:00Z",
        "python": {"version": "3.13.5", "packages": {"jupyterlab": "4.6.6", "numpy": "2.3.0"}},
        "r": {"version": r_version, "packages": {}} if r_version else None,
        "pushed": {
            "repository": f"registry.example.org/team/{image.split('-cuda')[0]}",
            "digest": DIGEST,
            "reference": f"registry.example.org/team/{image.split('-cuda')[0]}@{DIGEST}",
            "tags": ["latest", "20261124"],
        },
    }


def test_tags_follow_docker_stacks() -> None:
    pylab = manifest("pylab", "pylab:latest")
    assert registry.tags_for(pylab, "", "0123456789ab") == [
        "latest",
        "20261124",
        "0123456789ab",
        "python-3.13.5",
        "lab-4.6.6",
    ]
    rlab = manifest("rlab", "rlab:latest", "4.5.0")
    assert registry.content_tags(rlab, "") == ["python-3.13.5", "lab-4.6.6", "r-4.5.0"]
    assert registry.tags_for(pylab, "-cuda13", None) == [
        "latest-cuda13",
        "20261124-cuda13",
        "python-3.13.5-cuda13",
        "lab-4.6.6-cuda13",
        "cuda13",
    ]


def test_a_built_image_names_its_repository_and_flavour() -> None:
    built = registry.Built.parse("pylab-cuda13=me/pylab:latest-cuda13")
    assert (built.repository, built.flavour) == ("pylab", "-cuda13")
    assert registry.Built.parse("rlab=rlab:latest").flavour == ""


def test_a_foreign_platforms_build_keeps_its_flavour_and_takes_the_platforms_names() -> None:
    arm64 = Platform.parse("linux/arm64", host_name="linux/amd64")
    built = registry.Built.parse("pylab-cuda13=me/pylab:latest-cuda13").on(arm64)
    assert built == registry.Built("pylab-cuda13-arm64", "pylab", "me/pylab:latest-cuda13-arm64", "-cuda13")
    host = Platform.parse("", host_name="linux/amd64")
    assert registry.Built.parse("rlab=rlab:latest").on(host) == registry.Built.parse("rlab=rlab:latest")


@pytest.mark.parametrize("setting", ["https://example.org/team", "Example.org/team", "example.org/team:latest", ""])
def test_a_bad_registry_is_refused(setting: str) -> None:
    with pytest.raises(registry.RegistryError, match="REGISTRY"):
        registry.check_registry(setting)


def settings(tmp_path: Path, images: str, auth: str = "native") -> HubSettings:
    return HubSettings(
        bind="127.0.0.1",
        port=8000,
        data=tmp_path,
        homes=tmp_path,
        shared="",
        admin="alice",
        images=images,
        mem_limit="8G",
        cpu_limit="2",
        idle_timeout=1800,
        uid_base=20000,
        gpu_pool="0,1",
        gpus_per_user=2,
        auth=auth,
        config=tmp_path / "config",
        engine="docker",
        swarm_registry="",
        swarm_homes="shared",
        swarm_node="",
        manifests=tmp_path / "manifests",
    )


def write_manifests(folder: Path, *documents: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    for document in documents:
        (folder / f"{document['image']}.json").write_text(json.dumps(document))
    return folder


def test_values_carry_the_team_server_over(tmp_path: Path) -> None:
    folder = write_manifests(
        tmp_path / "manifests",
        manifest("pylab", "pylab:latest"),
        manifest("rlab", "rlab:latest", "4.5.0"),
        manifest("pylab-cuda13", "pylab:latest-cuda13"),
    )
    choices = "pylab=pylab:latest,rlab=rlab:latest,pylab-cuda13=pylab:latest-cuda13"
    values = z2jh.values(settings(tmp_path, choices), folder)
    singleuser = values["singleuser"]
    assert (singleuser["uid"], singleuser["fsGid"], singleuser["cmd"]) == (1000, 100, "jupyterhub-singleuser")
    assert singleuser["allowPrivilegeEscalation"] is False
    assert singleuser["memory"] == {"limit": "8G"}
    assert singleuser["cpu"] == {"limit": 2.0}
    assert singleuser["image"] == {"name": "registry.example.org/team/pylab", "tag": "20261124"}
    profiles = {entry["display_name"]: entry for entry in singleuser["profileList"]}
    assert list(profiles) == ["pylab", "rlab", "pylab-cuda13"]
    assert profiles["pylab"]["default"] is True
    assert profiles["rlab"]["kubespawner_override"] == {"image": f"registry.example.org/team/rlab@{DIGEST}"}
    assert profiles["rlab"]["description"] == "R 4.5.0, Python 3.13.5, JupyterLab 4.6.6"
    assert profiles["pylab-cuda13"]["kubespawner_override"]["extra_resource_limits"] == {"nvidia.com/gpu": "2"}
    assert values["cull"] == {"enabled": True, "timeout": 1800, "every": 300}
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "native"
    assert values["hub"]["config"]["Authenticator"]["admin_users"] == ["alice"]
    assert values["hub"]["config"]["NativeAuthenticator"] == {"open_signup": False}


def test_oauth_settings_come_from_the_hubs_file(tmp_path: Path) -> None:
    folder = write_manifests(tmp_path / "manifests", manifest("pylab", "pylab:latest"))
    (tmp_path / "config" / "hub").mkdir(parents=True)
    oauth = {"client_id": "id", "client_secret": "secret", "callback_url": "https://hub/oauth_callback"}
    (tmp_path / "config" / "hub" / "oauth.json").write_text(json.dumps({**oauth, "allowed_organizations": ["team"]}))
    config = z2jh.values(settings(tmp_path, "pylab=pylab:latest", auth="github"), folder)["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "github"
    assert config["GitHubOAuthenticator"]["client_secret"] == "secret"
    assert config["GitHubOAuthenticator"]["allowed_organizations"] == ["team"]


def test_an_image_not_pushed_is_named(tmp_path: Path) -> None:
    unpushed = manifest("rlab", "rlab:latest", "4.5.0")
    del unpushed["pushed"]
    folder = write_manifests(tmp_path / "manifests", manifest("pylab", "pylab:latest"), unpushed)
    with pytest.raises(registry.RegistryError, match=r"rlab=rlab:latest, which has no pushed digest.*make push"):
        z2jh.values(settings(tmp_path, "pylab=pylab:latest,rlab=rlab:latest"), folder)


@pytest.mark.usefixtures("made_environment")
def test_the_values_file_is_yaml_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_manifests(tmp_path / "manifests", manifest("pylab", "pylab:latest"))
    for variable, value in {
        "HUB_DATA": str(tmp_path),
        "HUB_HOMES": str(tmp_path),
        "DOCKER": str(tmp_path),
        "HUB_ADMIN": "alice",
        "HUB_IMAGES": "pylab=pylab:latest",
    }.items():
        monkeypatch.setenv(variable, value)
    out = z2jh.write_values(tmp_path / "values.yaml", folder)
    assert out.stat().st_mode & 0o077 == 0
    parsed = yaml.safe_load(out.read_text())
    assert parsed["singleuser"]["profileList"][0]["kubespawner_override"]["image"].endswith(DIGEST)
