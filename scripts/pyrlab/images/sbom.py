"""`make sbom`: a CycloneDX SBOM (JSON) per image, from its manifest: every Python, R and Debian
package with its version and package URL, the image itself (by id, and by pushed digest when it
was pushed) as what the SBOM describes. Written with cyclonedx-python-lib, checked against the
CycloneDX schema before it is kept.
"""

from __future__ import annotations

import json
import uuid
import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyrlab.inside.errors import UserError

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component

# cyclonedx-python-lib is imported where an SBOM is made: its JSON schema validator takes about a
# second to import, which every other command (`make pylab`) would pay.


class SbomError(UserError):
    """An SBOM could not be written; the message names the manifest."""


def package_components(manifest: dict[str, Any]) -> list[Component]:
    """The image's packages: Python (the environment's), R, and Debian's."""
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    kinds = [("pypi", manifest["python"]["packages"])]
    if manifest.get("r"):
        kinds.append(("cran", manifest["r"]["packages"]))
    kinds.append(("deb", manifest["debian"]))
    components = []
    # A Debian package's version can differ between architectures (a +b1 rebuild): its purl names
    # the image's architecture, as the manifest recorded it.
    arch = str(manifest.get("platform", "")).rpartition("/")[2]
    for kind, packages in kinds:
        for name, version in sorted(packages.items()):
            namespace = "debian" if kind == "deb" else None
            qualifiers = {"arch": arch} if kind == "deb" and arch else None
            purl = PackageURL(type=kind, namespace=namespace, name=name, version=version, qualifiers=qualifiers)
            components.append(
                Component(name=name, version=version, type=ComponentType.LIBRARY, purl=purl, bom_ref=purl.to_string())
            )
    return components


def build_time(text: str) -> datetime:
    """The engine's creation time (RFC 3339, UTC, up to nanoseconds) as a datetime."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{seconds}.{(fraction or '0')[:6]}+00:00")


def bom_for(manifest: dict[str, Any]) -> Bom:
    """The SBOM of one manifest; the same manifest always gives the same document."""
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    # A pushed image is named by its package URL: the registry's repository and the digest.
    pushed = manifest.get("pushed")
    purl = None
    if pushed:
        name = pushed["repository"].rsplit("/", 1)[-1]
        qualifiers = {"repository_url": pushed["repository"]}
        purl = PackageURL(type="oci", name=name, version=pushed["digest"], qualifiers=qualifiers)
    image = Component(
        name=manifest["image"], version=manifest["id"], type=ComponentType.CONTAINER, bom_ref=manifest["id"], purl=purl
    )
    built = build_time(manifest["built"])
    bom = Bom(
        serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"pyrlab:{manifest['id']}"),
        metadata=BomMetaData(component=image, timestamp=built),
    )
    packages = package_components(manifest)
    bom.components.update(packages)
    bom.register_dependency(image, packages)
    return bom


def write_sbom(manifest_path: Path) -> tuple[Path, int]:
    """Write <image>.cdx.json beside the manifest; return it and its number of packages."""
    from cyclonedx.output.json import JsonV1Dot6
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    with warnings.catch_warnings():
        # The packages' own dependencies are not in the manifests: the graph stops at the image.
        warnings.simplefilter("ignore", UserWarning)
        bom = bom_for(manifest)
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    schema = SchemaVersion.V1_6
    error = JsonStrictValidator(schema).validate_str(text)
    if error is not None:
        raise SbomError(f"the SBOM of {manifest_path} does not follow CycloneDX {schema.to_version()}: {error}")
    out = manifest_path.with_suffix(".cdx.json")
    out.write_text(text + "\n", encoding="utf-8")
    return out, len(bom.components)


def write_all(manifests: Path) -> list[str]:
    written = []
    for path in sorted(manifests.glob("*.json")):
        if path.name.endswith(".cdx.json"):
            continue
        out, count = write_sbom(path)
        written.append(f"wrote {out} ({count} packages)")
    if not written:
        raise SbomError(f"no manifest in {manifests}: run `make build` or `make manifest` first")
    return written
