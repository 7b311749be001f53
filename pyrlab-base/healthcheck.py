"""Docker HEALTHCHECK: healthy when the Jupyter server of this container answers its API.

The server's own runtime file says where it listens (port, base_url, http or https), so a
custom JUPYTER_PORT, base_url or a certificate need nothing here. Proxy variables are ignored:
the request goes to this container's loopback.

Docker runs the check as the container's user: the notebook user for `make pylab`, root for a
container started as root. So it runs with the system's Python in isolated mode (`-I`: no PYTHON*
variables, no user site, not the notebook user's virtual environment), and reads the user's
runtime files without following links.
"""

import glob
import json
import os
import ssl
import sys
import urllib.request

RUNTIME_FILES = (
    "/home/*/.local/share/jupyter/runtime/jpserver-*.json",
    # start.sh's home for a uid that cannot write the image's (under TMPDIR, /tmp or /dev/shm)
    "/tmp/pyrlab-home-*/.local/share/jupyter/runtime/jpserver-*.json",
    "/dev/shm/pyrlab-home-*/.local/share/jupyter/runtime/jpserver-*.json",
    "/root/.local/share/jupyter/runtime/jpserver-*.json",
)


def main() -> int:
    servers = sorted((path for pattern in RUNTIME_FILES for path in glob.glob(pattern)), key=os.path.getmtime)
    if not servers:
        print("no Jupyter server is running", file=sys.stderr)
        return 1
    try:
        descriptor = os.open(servers[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(descriptor, encoding="utf-8") as runtime:
            server = json.loads(runtime.read(65536))
        port = int(server["port"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"{servers[-1]}: {error}", file=sys.stderr)
        return 1
    scheme = "https" if server.get("secure") else "http"
    url = f"{scheme}://127.0.0.1:{port}{server.get('base_url', '/')}api"
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE  # the server's own certificate may be self-signed
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=unverified))
    try:
        with opener.open(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
