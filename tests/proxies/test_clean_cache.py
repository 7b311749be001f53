"""`make clean` removes pyrlab's build cache and leaves another project's on the same engine.
Run by `make test-proxies` (it empties the build cache that the other suites build from)."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from harness.makefile import copy_project
from harness.makerun import REPO, scratch_make
from pyrlab import engine
from pyrlab.images import buildcache

CLI = os.environ.get("CONTAINER_CLI", "docker")


def test_make_clean_removes_pyrlab_cache_and_leaves_another_projects(tmp_path: Path) -> None:
    token = secrets.token_hex(6)
    context = tmp_path / "another-project"
    context.mkdir()
    (context / "Dockerfile").write_text(
        "FROM pyrlab-rootfs:trixie\n"
        f"RUN --mount=type=cache,id=another-{token},target=/cache echo {token} > /cache/mark && echo {token} > /mark\n"
    )
    built = subprocess.run(
        [CLI, "build", "--tag", f"another-project:{token}", str(context)],
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    engine.run(CLI, "image", "rm", f"another-project:{token}")  # its cache is unused now, as pyrlab's may be
    theirs = {str(record["ID"]) for record in engine.build_cache_records(CLI) if token in record["Description"]}
    assert len(theirs) >= 2  # the layer and the cache mount
    assert any(buildcache.is_pyrlab_record(record) for record in engine.build_cache_records(CLI))
    try:
        cleaned = scratch_make(copy_project(REPO, tmp_path / "pyrlab"), "clean")
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
        assert "of pyrlab's build cache records" in cleaned.stdout
        left = engine.build_cache_records(CLI)
        assert theirs <= {str(record["ID"]) for record in left}
        assert [record for record in left if buildcache.is_pyrlab_record(record)] == []
    finally:
        engine.prune_build_cache(CLI, sorted(theirs))
