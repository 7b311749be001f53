"""pylab's lock takes the torch projects from TORCH_CPU_INDEX, each pinned to its one wheel."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyrlab.inside import resolve

TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def cpu_index(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """An index with torch 9.0+cpu for this interpreter and for another one."""
    folder = tmp_path / "cpu" / "torch"
    folder.mkdir(parents=True)
    digests, links = {}, []
    for python in (TAG, "cp27"):
        name = f"torch-9.0%2Bcpu-{python}-{python}-manylinux_2_28_{os.uname().machine}.whl"
        (folder / name.replace("%2B", "+")).write_bytes(python.encode())
        digests[python] = hashlib.sha256(python.encode()).hexdigest()
        links.append(f'<a href="{name}#sha256={digests[python]}">{name}</a>')
    (folder / "index.html").write_text("".join(links))
    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cpu/", digests
    server.shutdown()
    server.server_close()


def test_the_torch_line_becomes_the_wheel_this_image_installs(cpu_index: tuple[str, dict[str, str]]) -> None:
    index, digests = cpu_index
    lock = (
        f"six==1.17.0 \\\n    --hash=sha256:{'b' * 64}\n    # from https://pypi.org/simple\n"
        f"torch==9.0+cpu \\\n    --hash=sha256:{digests['cp27']} \\\n    --hash=sha256:{digests[TAG]}\n"
        f"    # via pyrlab-lock (pyproject.toml)\n    # from {index}\n"
    )
    rewritten = resolve.direct_urls(lock, index)
    assert f"torch @ {index}torch/torch-9.0%2Bcpu-{TAG}-{TAG}-manylinux_2_28_" in rewritten
    assert f"--hash=sha256:{digests[TAG]}" in rewritten
    assert digests["cp27"] not in rewritten
    assert rewritten.startswith("six==1.17.0")


def test_wheels_for_other_interpreters_or_machines_do_not_fit() -> None:
    machine = os.uname().machine
    assert resolve.wheel_fits(f"torch-9.0-{TAG}-{TAG}-manylinux_2_28_{machine}.whl")
    assert resolve.wheel_fits("six-1.17.0-py2.py3-none-any.whl")
    assert not resolve.wheel_fits(f"torch-9.0-cp27-cp27mu-manylinux1_{machine}.whl")
    assert not resolve.wheel_fits(f"torch-9.0-{TAG}-{TAG}-win_amd64.whl")
