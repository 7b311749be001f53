"""`make clean-images` and `make clean-rootfs`: pyrlab's images go, by name and tag (never by id:
an id can also carry names that are not pyrlab's), with the stamps that recorded them."""

from __future__ import annotations

from pyrlab.engine import image_facts, run
from pyrlab.images.prepare import BUILD


def remove_images(cli: str, images: dict[str, str]) -> list[str]:
    """Every tag of each repository (image -> repository, e.g. pylab -> me/pylab); the tags removed."""
    removed: list[str] = []
    for image, repository in images.items():
        tags = run(cli, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repository).split()
        if tags:
            run(cli, "image", "rm", *tags)
            removed += tags
        (BUILD / f"{image}.id").unlink(missing_ok=True)
    return removed


def remove_rootfs(cli: str, reference: str) -> bool:
    (BUILD / "rootfs.id").unlink(missing_ok=True)
    if image_facts(cli, reference) is None:
        return False
    run(cli, "image", "rm", reference)
    return True


def debian_r_names(cli: str, rlab_base: str) -> str:
    """The names of Debian's R packages, as rlab-base's apt index had them at its build."""
    return run(cli, "run", "--rm", "--network", "none", "--entrypoint", "cat", rlab_base,
               "/usr/local/share/pyrlab/debian-r-packages.txt")  # fmt: skip
