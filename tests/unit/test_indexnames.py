"""After a failed build: the lines of the Python lists that name no project of the index."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pyrlab import indexnames

PROJECTS = ("numpy", "pandas", "six", "numpydoc")


class Index(BaseHTTPRequestHandler):
    """A PEP 691 index of four projects, served on 127.0.0.1."""

    def do_GET(self) -> None:
        if self.path == "/simple/":
            body = {"meta": {"api-version": "1.1"}, "projects": [{"name": name} for name in PROJECTS]}
        elif self.path.strip("/").split("/")[-1] in PROJECTS:
            body = {"meta": {"api-version": "1.1"}, "name": self.path.strip("/").split("/")[-1], "files": []}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(indexnames, "CACHE", tmp_path / "cache")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    server.shutdown()
    server.server_close()


def test_a_misspelled_project_is_named_with_its_line_and_the_closest_names(tmp_path: Path, index: str) -> None:
    lines = "# data\nnumpy\nnmupy>=2  # typo\npandas[excel]\nsix ; python_version>'3'\n"
    (tmp_path / "requirements.txt").write_text(lines)
    (problem,) = indexnames.unknown_projects(tmp_path, "pylab", index)
    assert (problem.path.name, problem.line) == ("requirements.txt", 3)
    assert f"'nmupy' is not on the package index ({index})" in str(problem)
    assert "did you mean numpy" in str(problem)


def test_a_locked_list_is_not_asked_about(tmp_path: Path, index: str) -> None:
    (tmp_path / "requirements.txt").write_text("nmupy\n")
    (tmp_path / "requirements.lock").write_text("# pyrlab-lock: requirements.txt=0\n")
    assert indexnames.unknown_projects(tmp_path, "pylab", index) == []


def test_a_name_with_nothing_close_asks_only_for_a_correction(tmp_path: Path, index: str) -> None:
    (tmp_path / "requirements.txt").write_text("zzzzzz\n")
    (problem,) = indexnames.unknown_projects(tmp_path, "pylab", index)
    assert "did you mean" not in problem.fix
    assert "correct the name" in problem.fix


def test_a_swap_of_neighbours_is_one_typo_and_the_same_length_ranks_first() -> None:
    assert indexnames.typo_distance("nmupy", "numpy") == 1
    assert indexnames.closest("nmupy", ["nupy", "mupy", "numpy", "pandas"])[0] == "numpy"
    assert indexnames.closest("zzzzzz", ["numpy", "pandas"]) == []
