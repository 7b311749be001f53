"""pylab under any uid, on a read-only root, with any home: it starts, runs a kernel, saves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.anyuid import STARTS, Start, start_runs_a_kernel_and_saves


@pytest.mark.parametrize("start", STARTS.values(), ids=STARTS.keys())
def test_python_lab_works_under_any_uid_and_root(docker_client: Any, image: str, start: Start, tmp_path: Path) -> None:
    start_runs_a_kernel_and_saves(docker_client, image, start, "python3", tmp_path)
