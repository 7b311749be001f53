"""base.lock: BASE=python's image pinned by its registry digest; nothing for BASE=rootfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrlab.images.lock import LockError, lock_base, pinned_reference

DIGEST = "sha256:" + "c" * 64


def test_the_pin_is_the_tag_and_the_registry_digest() -> None:
    digests = ["registry.example.org/python@sha256:" + "d" * 64, f"python@{DIGEST}"]
    assert pinned_reference("python:3.13-trixie", digests) == f"python:3.13-trixie@{DIGEST}"
    assert pinned_reference("python:3.13-trixie", [f"docker.io/library/python@{DIGEST}"]).endswith(DIGEST)


def test_an_image_without_a_registry_digest_is_named() -> None:
    with pytest.raises(LockError, match=r"no registry digest of python:3.13-trixie.*docker pull"):
        pinned_reference("python:3.13-trixie", [])


def test_rootfs_has_no_base_lock(tmp_path: Path) -> None:
    (tmp_path / "base.lock").write_text(f"python:3.13-trixie@{DIGEST}\n")
    report = lock_base(tmp_path, "docker", "rootfs", "python:3.13-trixie", upgrade=False)
    assert not (tmp_path / "base.lock").exists()
    assert "none for BASE=rootfs" in report


def test_a_valid_pin_is_kept_without_asking_the_engine(tmp_path: Path) -> None:
    (tmp_path / "base.lock").write_text(f"python:3.13-trixie@{DIGEST}\n")
    # An engine that cannot be called: a kept pin needs none.
    report = lock_base(tmp_path, "/nonexistent/docker", "python", "python:3.13-trixie", upgrade=False)
    assert report == f"base.lock: python:3.13-trixie@{DIGEST} kept"
