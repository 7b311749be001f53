# Jupyter server settings shared by every pyrlab image.
# Authentication stays on: the token comes from JUPYTER_TOKEN or JUPYTER_TOKEN_FILE, or is
# generated and printed in the log. Nothing here turns it off.
import os

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded

# Listen on every interface inside the container; the host publishes the port on
# 127.0.0.1 only (BIND_ADDRESS in the Makefile).
c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = int(os.environ.get("JUPYTER_PORT", "8888"))
c.ServerApp.open_browser = False
# start.sh runs Jupyter as root only when NB_UID=0 asks for it explicitly.
c.ServerApp.allow_root = os.getuid() == 0
# A container has no desktop trash can: delete files for real.
c.FileContentsManager.delete_to_trash = False
# jupyter-lsp comes with JupyterLab but no language server does: it would only search for them
# at every start. Install one (e.g. python-lsp-server) and set this to True to use it.
c.ServerApp.jpserver_extensions = {"jupyter_lsp": False}
