"""`make z2jh-values`: a values file for Zero to JupyterHub's Helm chart that carries the team
server over to a cluster. Its profiles are the team server's image choices (HUB_IMAGES), each by
the digest `make push` recorded in its manifest; the CUDA image asks Kubernetes for GPUs; uid,
fsGroup, idle culling and the authenticator are the team server's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyrlab.cluster.registry import RegistryError
from pyrlab.inside.contract import HOME, image_choices
from pyrlab.labs.private import caller_ids, write_private
from pyrlab.settings import HubSettings

# KubeSpawner's defaults, which pyrlab's images are tested under (tests/cluster).
NOTEBOOK_UID = 1000
NOTEBOOK_GID = 100
# HUB_AUTH -> the chart's name of the authenticator class, and the traitlets class configured.
AUTHENTICATORS = {
    "native": ("native", "NativeAuthenticator"),
    "github": ("github", "GitHubOAuthenticator"),
    "gitlab": ("gitlab", "GitLabOAuthenticator"),
    "generic": ("generic-oauth", "GenericOAuthenticator"),
}


def manifests_by_reference(manifests: Path) -> dict[str, dict[str, Any]]:
    """Every manifest in the folder, by the local reference it describes (pylab:latest)."""
    found = {}
    for path in sorted(manifests.glob("*.json")):
        if path.name.endswith(".cdx.json"):  # the SBOMs of `make sbom`
            continue
        manifest = json.loads(path.read_text(encoding="utf-8"))
        found[manifest["reference"]] = manifest
    return found


def describe(manifest: dict[str, Any]) -> str:
    python = manifest["python"]
    parts = [f"R {manifest['r']['version']}"] if manifest.get("r") else []
    parts.append(f"Python {python['version']}")
    if "jupyterlab" in python["packages"]:
        parts.append(f"JupyterLab {python['packages']['jupyterlab']}")
    return ", ".join(parts)


def chosen_images(settings: HubSettings, manifests: Path) -> list[tuple[str, dict[str, Any]]]:
    """HUB_IMAGES's choices with their manifests; each must have been pushed."""
    known = manifests_by_reference(manifests)
    chosen = []
    for name, reference in image_choices(settings.images).items():
        manifest = known.get(reference)
        if manifest is None or "pushed" not in manifest:
            raise RegistryError(
                f"HUB_IMAGES names {name}={reference}, which has no pushed digest in {manifests}: "
                "run `make push REGISTRY=host/org` first (with CUDA_INSTALL=yes for the CUDA build)"
            )
        chosen.append((name, manifest))
    return chosen


def profile(name: str, manifest: dict[str, Any], gpus_per_user: int) -> dict[str, Any]:
    """A profile pulled by its pushed digest; a CUDA image's asks Kubernetes for GPUs."""
    override: dict[str, Any] = {"image": manifest["pushed"]["reference"]}
    if "cuda" in name.lower():
        override["extra_resource_limits"] = {"nvidia.com/gpu": str(gpus_per_user)}
    return {"display_name": name, "description": describe(manifest), "kubespawner_override": override}


def authentication(settings: HubSettings) -> dict[str, Any]:
    """The hub's authenticator as the chart's hub.config; OAuth from DOCKER/hub/oauth.json."""
    chart_name, section = AUTHENTICATORS[settings.auth]
    config: dict[str, Any] = {
        "JupyterHub": {"authenticator_class": chart_name},
        "Authenticator": {"admin_users": [settings.admin]},
    }
    if settings.auth == "native":
        config["Authenticator"]["allow_all"] = True  # NativeAuthenticator lets only authorized users in
        config["NativeAuthenticator"] = {"open_signup": False}
        return config
    oauth_file = settings.config / "hub" / "oauth.json"
    if not oauth_file.is_file():
        raise RegistryError(f"HUB_AUTH={settings.auth} needs {oauth_file}: see docs/team-server.md")
    oauth = json.loads(oauth_file.read_text(encoding="utf-8"))
    options: dict[str, Any] = {
        "client_id": oauth["client_id"],
        "client_secret": oauth["client_secret"],
        "oauth_callback_url": oauth["callback_url"],
        "allowed_users": oauth.get("allowed_users", []),
    }
    if settings.auth == "github":
        options["allowed_organizations"] = oauth.get("allowed_organizations", [])
    if settings.auth == "gitlab":
        options["allowed_gitlab_groups"] = oauth.get("allowed_groups", [])
        options["gitlab_url"] = oauth.get("gitlab_url", "https://gitlab.com")
    if settings.auth == "generic":
        for key in ("authorize_url", "token_url", "userdata_url"):
            options[key] = oauth[key]
        options["username_claim"] = oauth.get("username_claim", "preferred_username")
        options["scope"] = oauth.get("scope", ["openid", "profile", "email"])
    config[section] = options
    return config


def values(settings: HubSettings, manifests: Path) -> dict[str, Any]:
    chosen = chosen_images(settings, manifests)
    profile_list = [profile(name, manifest, settings.gpus_per_user) for name, manifest in chosen]
    profile_list[0]["default"] = True
    # The chart's own image setting takes name:tag only: the default profile's, by its build date
    # (every profile, the default too, pulls by digest: an index's when several platforms were pushed).
    pushed = chosen[0][1]["pushed"]
    tags = pushed.get("index", {}).get("tags") or pushed["tags"]
    singleuser: dict[str, Any] = {
        "image": {"name": pushed["repository"], "tag": tags[1]},
        "uid": NOTEBOOK_UID,
        "fsGid": NOTEBOOK_GID,
        # The images' entry point (tini, start.sh) runs this, as under the team server.
        "cmd": "jupyterhub-singleuser",
        "allowPrivilegeEscalation": False,
        "storage": {"homeMountPath": HOME},
        "profileList": profile_list,
    }
    if settings.mem_limit:
        singleuser["memory"] = {"limit": settings.mem_limit}
    if settings.cpu_limit:
        singleuser["cpu"] = {"limit": float(settings.cpu_limit)}
    return {
        "singleuser": singleuser,
        "cull": {"enabled": True, "timeout": settings.idle_timeout, "every": 300},
        "hub": {"config": authentication(settings)},
    }


def write_values(out: Path, manifests: Path) -> Path:
    """Write the values file, private: with OAuth it holds the client secret."""
    import yaml  # only this command writes YAML

    document = values(HubSettings.from_environment(), manifests)
    header = (
        "# Zero to JupyterHub values written by `make z2jh-values` from pyrlab's manifests; install with\n"
        f"#   helm upgrade --install pyrlab jupyterhub/jupyterhub --values {out.name}\n"
    )
    write_private(out, header + yaml.safe_dump(document, sort_keys=False), caller_ids())
    return out
