"""A user of the team server as a browser is: logged in through the login form, with its XSRF
cookie, asking the hub's REST API for a server. The hub tests and `make bench` use it."""

from __future__ import annotations

import json
import time
from typing import Any

import requests


class HubClientError(Exception):
    """The hub refused or did not answer; the message has its answer."""


class HubUser:
    """A browser's session of one user: logged in through the login form, with its XSRF cookie."""

    def __init__(self, url: str, name: str, password: str) -> None:
        self.url, self.name = url, name
        self.session = requests.Session()
        self.session.get(f"{url}/hub/login", timeout=10)
        answer = self.session.post(
            f"{url}/hub/login",
            data={"username": name, "password": password, "_xsrf": self.session.cookies.get("_xsrf", "")},
            allow_redirects=False,
            timeout=10,
        )
        if answer.status_code != 302 or "/hub/login" in answer.headers.get("Location", ""):
            raise HubClientError(f"{name} could not log in (HTTP {answer.status_code}): {answer.text[:300]}")

    def api(self, method: str, path: str, **options: Any) -> requests.Response:
        headers = {"X-XSRFToken": self.session.cookies.get("_xsrf", "")}
        return self.session.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **options)

    def servers(self) -> dict[str, Any]:
        servers: dict[str, Any] = self.api("GET", f"/users/{self.name}").json()["servers"]
        return servers

    def spawn(self, image: str, timeout: float = 150) -> None:
        """Ask for a server of that image and wait until the hub says it is ready, following the
        spawn's progress events as the spawn page does."""
        answer = self.api("POST", f"/users/{self.name}/server", json={"image": image})
        if answer.status_code not in (201, 202):
            raise HubClientError(f"spawning {image} for {self.name}: HTTP {answer.status_code} {answer.text}")
        if answer.status_code == 201:
            return
        headers = {"X-XSRFToken": self.session.cookies.get("_xsrf", ""), "Accept": "text/event-stream"}
        progress = f"{self.url}/hub/api/users/{self.name}/server/progress"
        with self.session.get(progress, headers=headers, stream=True, timeout=timeout) as events:
            for line in events.iter_lines(decode_unicode=True):
                if not line.startswith("data:"):
                    continue
                event = json.loads(line.removeprefix("data:"))
                if event.get("ready"):
                    return
                if event.get("failed"):
                    raise HubClientError(f"{self.name}'s {image} server failed: {event.get('message', event)}")
        if not self.servers().get("", {}).get("ready"):
            raise HubClientError(f"{self.name}'s {image} server was not ready: the hub's progress events ended")

    def stop(self, timeout: float = 60) -> None:
        answer = self.api("DELETE", f"/users/{self.name}/server")
        if answer.status_code not in (202, 204):
            raise HubClientError(f"stopping {self.name}'s server: HTTP {answer.status_code} {answer.text}")
        deadline = time.monotonic() + timeout
        while self.servers():
            if time.monotonic() > deadline:
                raise HubClientError(f"{self.name}'s server did not stop within {timeout:.0f} s")
            time.sleep(0.5)

    def token(self) -> str:
        """An API token of this user's, for its server's REST and websocket API."""
        answer = self.api("POST", f"/users/{self.name}/tokens", json={"note": "pyrlab"})
        if answer.status_code != 201:
            raise HubClientError(f"a token for {self.name}: HTTP {answer.status_code} {answer.text}")
        return str(answer.json()["token"])
