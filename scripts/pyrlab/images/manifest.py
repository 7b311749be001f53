"""`make manifest` (and every `make build` that rebuilt an image): what is in each image, written as
manifests/<image>.json and manifests/<image>.md. The facts come from the engine (`image
inspect`) and from pyrlab.inside.inventory, run inside a container of the image without network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyrlab.engine import image_facts
from pyrlab.engine import run as run_cli
from pyrlab.inside.errors import UserError

INVENTORY = Path(__file__).parents[1] / "inside" / "inventory.py"


class ManifestError(UserError):
    """The image could not be described."""


def describe(cli: str, image: str, reference: str, parent: str) -> dict[str, Any]:
    """The manifest of one built image."""
    facts = json.loads(run_cli(cli, "image", "inspect", "--format", "{{json .}}", reference))
    parent_facts = image_facts(cli, parent) or {}
    inventory = json.loads(
        run_cli(
            cli,
            *("run", "--rm", "--interactive", "--network", "none", "--entrypoint", "/opt/venv/bin/python"),
            *(reference, "-"),
            stdin=INVENTORY.read_text(encoding="utf-8"),
        )
    )
    return {
        "image": image,
        "reference": reference,
        "id": facts["Id"],
        "platform": f"{facts['Os']}/{facts['Architecture']}",
        "size_bytes": facts["Size"],
        "built": facts["Created"],
        "base": parent,
        # What it was built on, by id and, for an image from a registry, by digest (base.lock pins it).
        "base_image": {"id": parent_facts.get("Id"), "digests": parent_facts.get("RepoDigests") or []},
        **inventory,
    }


def markdown(manifest: dict[str, Any]) -> str:
    """The same manifest for people: facts first, then one table per kind of package."""
    python, r = manifest["python"], manifest["r"]
    kernels = ", ".join(f"{name} ({spec['display_name']})" for name, spec in manifest["kernels"].items())
    lines = [
        f"# {manifest['image']}",
        "",
        "| | |",
        "|---|---|",
        f"| image | `{manifest['reference']}` |",
        f"| id | `{manifest['id']}` |",
        f"| platform | {manifest.get('platform', '')} |",
        f"| size | {manifest['size_bytes'] / 1e9:.2f} GB |",
        f"| built | {manifest['built']} |",
        f"| base | `{manifest['base']}` (`{manifest.get('base_image', {}).get('id')}`) |",
        f"| Python | {python['version']} (`{python['executable']}`) |",
        f"| R | {r['version'] if r else 'none'} |",
        f"| kernels | {kernels} |",
    ]
    if archive := manifest.get("debian_archive"):
        lines.append(f"| Debian archive | {'; '.join(f'{suite} of {date}' for suite, date in archive.items())} |")
    if pushed := manifest.get("pushed"):
        lines.append(f"| pushed | `{pushed['reference']}` ({', '.join(pushed['tags'])}) |")

    def section(title: str, packages: dict[str, str]) -> list[str]:
        rows = [f"| {name} | {version} |" for name, version in packages.items()]
        return ["", f"## {title} ({len(packages)})", "", "| package | version |", "|---|---|", *rows]

    lines += section("Python packages", python["packages"])
    if r:
        origins = r.get("origins", {})
        rows = [f"| {name} | {version} | {origins.get(name, '')} |" for name, version in r["packages"].items()]
        header = ["", f"## R packages ({len(rows)})", "", "| package | version | origin |", "|---|---|---|"]
        lines += [*header, *rows]
    lines += section("Debian packages", manifest["debian"])
    return "\n".join(lines) + "\n"


def write_manifest(out: Path, manifest: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    as_json, as_markdown = out / f"{manifest['image']}.json", out / f"{manifest['image']}.md"
    as_json.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    as_markdown.write_text(markdown(manifest), encoding="utf-8")
    return as_json, as_markdown
