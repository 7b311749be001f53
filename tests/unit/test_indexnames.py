"""After a failed build: the lines of the Python lists that name no project of the index."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.indexserver import IndexHandler, serving
from pyrlab.images import indexnames

PROJECTS = ("numpy", "pandas", "six", "numpydoc")


class Index(IndexHandler):
    """A PEP 691 index of four projects."""

    def do_GET(self) -> None:
        name = self.path.strip("/").split("/")[-1]
        if self.path == "/simple/":
            self.answer({"projects": [{"name": project} for project in PROJECTS]})
        elif name in PROJECTS:
            self.answer({"name": name, "files": []})
        else:
            self.send_error(404)


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(indexnames, "CACHE", tmp_path / "cache")
    with serving(Index) as url:
        yield f"{url}/simple/"


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


def test_an_intercepting_proxys_certificate_names_ca_certs(tmp_path: Path) -> None:
    """An index whose certificate no public CA signed (as behind a TLS-intercepting proxy): a
    failed build's note names CA_CERTS and the host's bundle."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, check=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hint = indexnames.intercepted_tls_hint(f"https://127.0.0.1:{server.server_address[1]}/simple/")
    finally:
        server.shutdown()
        server.server_close()
    assert "CA_CERTS=" in hint
    assert "a TLS-intercepting proxy" in hint


def test_a_plain_index_gives_no_certificate_note(index: str) -> None:
    assert indexnames.intercepted_tls_hint(index) == ""
