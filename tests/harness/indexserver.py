"""Package indexes the tests serve on 127.0.0.1: the answers of PEP 691's JSON simple API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


class IndexHandler(BaseHTTPRequestHandler):
    """A quiet handler that answers with PEP 691 documents."""

    def answer(self, document: dict[str, Any]) -> None:
        body = json.dumps({"meta": {"api-version": "1.1"}, **document}).encode()
        self.send_response(200)
        self.send_header("Content-Type", SIMPLE_JSON)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test reads what it needs from its own handler."""


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The handler on a free port of 127.0.0.1 while the block runs; yields http://127.0.0.1:PORT."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
