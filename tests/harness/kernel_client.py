"""Run one cell through a Jupyter server's own API: REST to start a kernel, its websocket to execute.

The tests run this inside the container with the image's Python, against the server there, so it
needs only what every pyrlab image has (tornado comes with jupyter_server).
Usage: python kernel_client.py PORT TOKEN KERNEL_NAME CODE [SECONDS INTERVAL]; prints {"status",
"output", "seconds"}, the seconds from asking for the kernel to the cell's reply. PORT may also be
HOST:PORT/PREFIX, a server behind JupyterHub's proxy (127.0.0.1:8000/user/alice). With SECONDS
and INTERVAL (`make bench`'s load), the cell then runs again every INTERVAL seconds for SECONDS,
and "round_trips" lists each one's seconds from sending it to its reply.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect


def execute_request(code: str) -> tuple[str, dict[str, Any]]:
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": "execute_request",
        "username": "pyrlab-test",
        "session": uuid.uuid4().hex,
        "version": "5.3",
        "date": "",
    }
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    return msg_id, {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}


async def execute(socket: Any, code: str) -> tuple[str, str]:
    """One cell through the kernel's websocket: its status and output, once the kernel is idle again."""
    msg_id, request = execute_request(code)
    await socket.write_message(json.dumps(request))
    output: list[str] = []
    status = ""
    idle = False
    while not (status and idle):
        raw = await socket.read_message()
        if raw is None:
            raise RuntimeError("the kernel's websocket closed before the cell finished")
        message = json.loads(raw)
        if message.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            output.append(content["text"])
        elif kind in ("execute_result", "display_data"):
            output.append(content["data"].get("text/plain", ""))
        elif kind == "error":
            output.append("\n".join(content["traceback"]))
        elif kind == "execute_reply":
            status = content["status"]
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
    return status, "".join(output)


async def run_cell(
    port: str, token: str, kernel_name: str, code: str, seconds: str = "0", interval: str = "1"
) -> dict[str, Any]:
    started = time.monotonic()
    base = f"127.0.0.1:{port}" if port.isdigit() else port.rstrip("/")
    headers = {"Authorization": f"token {token}"}
    http = AsyncHTTPClient()
    if not token:
        # No token (a gateway in front authenticates, as Kubeflow's): post as a browser does, with
        # the XSRF cookie a page of the server sets.
        page = await http.fetch(f"http://{base}/lab")
        xsrf = next(
            cookie.split(";")[0].split("=", 1)[1]
            for cookie in page.headers.get_list("Set-Cookie")
            if cookie.startswith("_xsrf=")
        )
        headers = {"X-XSRFToken": xsrf, "Cookie": f"_xsrf={xsrf}"}
    reply = await http.fetch(
        f"http://{base}/api/kernels", method="POST", headers=headers, body=json.dumps({"name": kernel_name})
    )
    kernel_id = json.loads(reply.body)["id"]
    try:
        # A kernel under QEMU (an arm64 image on amd64) takes far longer than tornado's 20 s to answer.
        channels = HTTPRequest(
            f"ws://{base}/api/kernels/{kernel_id}/channels", headers=headers, connect_timeout=120, request_timeout=120
        )
        socket = await websocket_connect(channels)
        status, output = await execute(socket, code)
        result: dict[str, Any] = {"status": status, "output": output, "seconds": time.monotonic() - started}
        round_trips = []
        until = time.monotonic() + float(seconds)
        while time.monotonic() < until:
            sent = time.monotonic()
            repeated, _ = await execute(socket, code)
            if repeated != "ok":
                raise RuntimeError(f"a repeated cell answered {repeated}")
            round_trips.append(time.monotonic() - sent)
            await asyncio.sleep(max(0.0, sent + float(interval) - time.monotonic()))
        if round_trips:
            result["round_trips"] = round_trips
        socket.close()
        return result
    finally:
        await http.fetch(f"http://{base}/api/kernels/{kernel_id}", method="DELETE", headers=headers)


if __name__ == "__main__":
    limit = 120 + float(sys.argv[5]) if len(sys.argv) > 5 else 120
    result = asyncio.run(asyncio.wait_for(run_cell(*sys.argv[1:]), timeout=limit))
    print(json.dumps(result))
