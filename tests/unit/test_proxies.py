"""The check that a configured build cache answers, before a build starts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from harness.makefile import free_port
from pyrlab.images import proxies


class Refuses(BaseHTTPRequestHandler):
    """Answers every request with 406, as apt-cacher-ng does for its own root."""

    def do_GET(self) -> None:
        self.send_error(406)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), Refuses)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_any_http_answer_counts_as_answering(server: str) -> None:
    assert proxies.unanswered({"APTPROXY": server, "PIPPROXY": ""}) == []


def test_a_closed_port_names_the_variable_and_the_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    problems = proxies.unanswered({"PIPPROXY": url})
    assert len(problems) == 1
    assert problems[0].startswith(f"PIPPROXY={url} does not answer")
    assert "make proxies" in problems[0]
