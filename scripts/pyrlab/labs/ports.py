"""Ports on this host: a container port published there and whether it is free, whether only this
machine reaches an address, and whether a server pyrlab started answers (a lab, the hub)."""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass

from pyrlab.labs.errors import LabError


@dataclass(frozen=True)
class Publish:
    """A container port published on the host, and the Make variable that sets the host port."""

    variable: str
    host_port: int
    container_port: int


def address_literal(address: str) -> str:
    """An address as a URL and `docker run --publish` write it: IPv6 in brackets (::1 -> [::1])."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def is_loopback(bind: str) -> bool:
    """Only this machine reaches the address (localhost, 127.x, ::1)."""
    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False


def check_port_free(bind: str, publish: Publish) -> None:
    """Fail with the variable to change when something on the host holds the port."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET  # BIND_ADDRESS=::1 is IPv6's loopback
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind.strip("[]") or "0.0.0.0", publish.host_port))  # noqa: S104 - the user's BIND_ADDRESS
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise LabError(
                    f"cannot use {bind}:{publish.host_port} ({error.strerror}); check BIND_ADDRESS"
                ) from error
            raise LabError(
                f"port {publish.host_port} on {bind} is already in use ({publish.variable}={publish.host_port}). "
                f"Stop what listens there (`make status` shows labs), or choose another port: "
                f"`make ... {publish.variable}={publish.host_port + 1}`"
            ) from None


@functools.cache
def own_certificate_context() -> ssl.SSLContext:
    """TLS to a server pyrlab started itself (a lab, the hub), whose certificate may be self-signed.

    Nothing is verified, so no CA bundle is loaded (that alone took 0.016 s of every `make pylab`).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# What answer_status raises when nothing answers (yet): refused, reset, timed out, a TLS handshake
# with a server that speaks plain HTTP.
NO_ANSWER = (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError)


def answer_status(url: str, headers: dict[str, str], timeout: float) -> int:
    """The HTTP status a server of ours answers a GET with; one of NO_ANSWER when none."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) to a lab or the hub
    context = own_certificate_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
