"""The SBOM's package URLs: a Debian package names the image's architecture (its version can
differ between architectures), so the amd64 and arm64 SBOMs of one image never read the same."""

from __future__ import annotations

from typing import Any

from pyrlab.images.sbom import package_components

MANIFEST: dict[str, Any] = {
    "python": {"packages": {"numpy": "2.3.4"}},
    "r": {"packages": {"ggplot2": "3.5.2"}},
    "debian": {"r-cran-backports": "1.5.0-2+b2"},
}


def purls(manifest: dict[str, Any]) -> list[str]:
    return [str(component.purl) for component in package_components(manifest)]


def test_debian_packages_name_the_architecture_of_the_image() -> None:
    assert purls({**MANIFEST, "platform": "linux/arm64"}) == [
        "pkg:pypi/numpy@2.3.4",
        "pkg:cran/ggplot2@3.5.2",
        "pkg:deb/debian/r-cran-backports@1.5.0-2%2Bb2?arch=arm64",
    ]


def test_a_manifest_without_a_platform_gives_plain_debian_urls() -> None:
    assert purls(MANIFEST)[-1] == "pkg:deb/debian/r-cran-backports@1.5.0-2%2Bb2"
