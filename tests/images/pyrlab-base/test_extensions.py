"""The server extensions that a lab's start defers until they are used: each still works when it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from harness.imagelab import exec_output, started

# A web app on a Unix socket, which jupyter-server-proxy reaches through aiohttp.
SOCKET_APP = """
import http.server, socketserver, sys

class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"served over a unix socket"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):
        return "unix socket"

with socketserver.UnixStreamServer(sys.argv[1], Answer) as server:
    server.serve_forever()
"""

# A server extension written for the classic notebook server, enabled the classic way.
CLASSIC_EXTENSION = """
def load_jupyter_server_extension(serverapp):
    serverapp.log.info("pyrlab_classic_probe: loaded")
"""


def jupyter_maps(container: Any) -> str:
    """The files mapped into the Jupyter server's process (its loaded compiled modules among them)."""
    pid = exec_output(container, ["pgrep", "--exact", "jupyter-lab"])
    return exec_output(container, ["cat", f"/proc/{pid}/maps"])


def mounted_at_probe(folder: Path, **environment: str) -> dict[str, Any]:
    """Container options: FOLDER (made readable by the notebook user) read-only at /probe."""
    for path in (folder, *folder.rglob("*")):
        path.chmod(0o755)
    return {"environment": environment, "volumes": {str(folder): {"bind": "/probe", "mode": "ro"}}}


def test_aiohttp_loads_only_once_a_unix_socket_server_is_proxied(
    docker_client: Any, image: str, tmp_path: Path
) -> None:
    (tmp_path / "socket_app.py").write_text(SOCKET_APP, encoding="utf-8")
    command = ["python3", "/probe/socket_app.py", "{unix_socket}"]
    servers = {"socketapp": {"command": command, "unix_socket": True, "timeout": 30}}
    (tmp_path / "jupyter_server_config.json").write_text(json.dumps({"ServerProxy": {"servers": servers}}))
    with started(docker_client, image, **mounted_at_probe(tmp_path, JUPYTER_CONFIG_PATH="/probe")) as lab:
        assert "aiohttp" not in jupyter_maps(lab.container)
        answer = requests.get(f"{lab.url}/socketapp/", headers={"Authorization": f"token {lab.token}"}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.text == "served over a unix socket"
        assert "aiohttp/_http_parser" in jupyter_maps(lab.container)


def test_notebook_shim_is_not_linked_without_a_classic_extension(docker_client: Any, image: str) -> None:
    with started(docker_client, image) as lab:
        log = lab.container.logs().decode(errors="replace")
    assert "jupyterlab | extension was successfully loaded" in log
    assert "notebook_shim | extension" not in log


def test_a_classic_extension_still_loads_through_notebook_shim(docker_client: Any, image: str, tmp_path: Path) -> None:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "pyrlab_classic_probe.py").write_text(CLASSIC_EXTENSION, encoding="utf-8")
    (tmp_path / "config" / "jupyter_notebook_config.d").mkdir(parents=True)
    classic = {"NotebookApp": {"nbserver_extensions": {"pyrlab_classic_probe": True}}}
    (tmp_path / "config" / "jupyter_notebook_config.d" / "probe.json").write_text(json.dumps(classic))
    options = mounted_at_probe(tmp_path, JUPYTER_CONFIG_PATH="/probe/config", PYTHONPATH="/probe/python")
    with started(docker_client, image, **options) as lab:
        log = lab.container.logs().decode(errors="replace")
    assert "pyrlab_classic_probe | extension was found and enabled by notebook_shim" in log
    assert "notebook_shim | extension was successfully loaded" in log
