# JupyterHub of `make hub`: settings come from the environment the Makefile passes (HUB_*).
# The hub's state (database, cookie secret, proxy token) lives in /srv/jupyterhub, the host's
# HUB_DATA, in files only root reads.
import json
import os
import secrets
import sys
from pathlib import Path

import gpus
from accounts import USER_NAME
from pyrlab.inside import contract

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded
DATA = Path(contract.HUB_STATE)
# Everything the hub writes in DATA (the database first) is root's alone.
os.umask(0o077)
for existing in DATA.glob(Path(contract.HUB_DATABASE).name + "*"):
    existing.chmod(0o600)


def private_secret(name: str) -> str:
    """A random secret kept in DATA (mode 0600): the same across restarts of the hub."""
    path = DATA / name
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


c.JupyterHub.bind_url = f"http://:{contract.HUB_PROXY_PORT}"
c.JupyterHub.hub_bind_url = f"http://0.0.0.0:{contract.HUB_API_PORT}"
c.JupyterHub.hub_connect_url = f"http://{os.environ['HUB_CONTAINER']}:{contract.HUB_API_PORT}"
c.JupyterHub.db_url = f"sqlite:///{contract.HUB_DATABASE}"
c.JupyterHub.cookie_secret_file = str(DATA / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.auth_token = private_secret("proxy_token")
# The proxy runs in this container and ends with it: a pid file from an earlier start (a restart,
# an upgrade) names a process that is gone, or by chance another process of this container,
# which JupyterHub would stop as a leftover proxy. This file is read once, at the hub's start.
PROXY_PID = Path("/run/jupyterhub-proxy.pid")
PROXY_PID.unlink(missing_ok=True)
c.ConfigurableHTTPProxy.pid_file = str(PROXY_PID)
# A restarted or upgraded hub finds its users' servers still running.
c.JupyterHub.cleanup_servers = False

# HUB_AUTH=native: users with their own passwords (hashed); the admin authorizes sign-ups, or
# adds users with `make hub-user NAME`. Nobody gets in without that. github, gitlab or generic
# (any OpenID Connect provider): OAuth, configured by DOCKER/hub/oauth.json (mounted read-only).
CONFIG = Path(contract.HUB_CONFIG)
AUTH = os.environ["HUB_AUTH"]
c.Authenticator.admin_users = {os.environ["HUB_ADMIN"]}
# One rule for every name, whatever the authenticator: it is a folder name and a label, so no
# control character, no path separator (`make hub-user` checks the same).
c.Authenticator.username_pattern = USER_NAME.pattern
c.JupyterHub.authenticator_class = contract.AUTHENTICATORS[AUTH]
if AUTH == "native":
    c.NativeAuthenticator.open_signup = False
    c.Authenticator.allow_all = True  # NativeAuthenticator lets only authorized users log in
    # Guessing: after 5 wrong passwords in a row a user waits 10 minutes (NativeAuthenticator's own
    # lockout); sign-up asks for 10 characters or more, none of the common passwords.
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 600
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True
else:
    oauth = json.loads((CONFIG / "hub" / "oauth.json").read_text())
    c.OAuthenticator.client_id = oauth["client_id"]
    c.OAuthenticator.client_secret = oauth["client_secret"]
    c.OAuthenticator.oauth_callback_url = oauth["callback_url"]
    # Only the users (or organizations, groups) the file names get in, never everyone.
    c.OAuthenticator.allowed_users = set(oauth.get("allowed_users", []))
    if AUTH == "github":
        c.GitHubOAuthenticator.allowed_organizations = set(oauth.get("allowed_organizations", []))
    if AUTH == "gitlab":
        c.GitLabOAuthenticator.allowed_gitlab_groups = set(oauth.get("allowed_groups", []))
        c.GitLabOAuthenticator.gitlab_url = oauth.get("gitlab_url", "https://gitlab.com")
    if AUTH == "generic":
        c.GenericOAuthenticator.authorize_url = oauth["authorize_url"]
        c.GenericOAuthenticator.token_url = oauth["token_url"]
        c.GenericOAuthenticator.userdata_url = oauth["userdata_url"]
        c.GenericOAuthenticator.username_claim = oauth.get("username_claim", "preferred_username")
        c.GenericOAuthenticator.scope = oauth.get("scope", ["openid", "profile", "email"])

# HTTPS with the labs' certificate and key (DOCKER/ssl/cert.pem, key.pem), when there are some.
if (CONFIG / "ssl" / "cert.pem").is_file() and (CONFIG / "ssl" / "key.pem").is_file():
    c.JupyterHub.ssl_cert = str(CONFIG / "ssl" / "cert.pem")
    c.JupyterHub.ssl_key = str(CONFIG / "ssl" / "key.pem")

# HUB_ENGINE=swarm: each lab a Swarm service on a node of the swarm this hub's host manages.
ON_SWARM = os.environ["HUB_ENGINE"] == "swarm"
c.JupyterHub.spawner_class = "pyrlab_swarm.PyrlabSwarmSpawner" if ON_SWARM else "pyrlab_hub.PyrlabSpawner"
IMAGES = contract.image_choices(os.environ["HUB_IMAGES"])
c.DockerSpawner.allowed_images = IMAGES
# The first choice is the default: a spawn that names none never falls back to DockerSpawner's own image.
c.DockerSpawner.image = next(iter(IMAGES.values()))
c.DockerSpawner.network_name = os.environ["HUB_NETWORK"]
c.DockerSpawner.use_internal_ip = True  # no published port: only the hub's proxy reaches a lab
c.DockerSpawner.remove = True  # the home persists on the host; the container does not
c.DockerSpawner.name_template = os.environ["HUB_CONTAINER"] + "-{username}"
c.DockerSpawner.notebook_dir = contract.WORK
c.PyrlabSpawner.homes = os.environ["HUB_HOMES"]
c.PyrlabSpawner.shared = os.environ["HUB_SHARED"]
c.PyrlabSpawner.uid_base = int(os.environ["HUB_UID_BASE"])
c.PyrlabSpawner.gpu_pool = gpus.parse_pool(os.environ["GPU_POOL"])
c.PyrlabSpawner.gpus_per_user = int(os.environ["GPUS_PER_USER"])
c.PyrlabSpawner.hub_name = os.environ["HUB_CONTAINER"]
if ON_SWARM:
    c.PyrlabSwarmSpawner.pinned = os.environ["SWARM_HOMES"] == "pinned"
# pyrlab's images start through start.sh (their entry point), which runs this with the hub's
# arguments, as the user's own uid; they have no CMD of their own.
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.Spawner.start_timeout = 600 if ON_SWARM else 120  # on a swarm, a node pulls an image at its first lab of it
c.Spawner.http_timeout = 90
# On a swarm the limits are reservations too: Swarm places a lab only on a node that has them unreserved.
if os.environ.get("HUB_MEM_LIMIT"):
    c.Spawner.mem_limit = os.environ["HUB_MEM_LIMIT"]
    if ON_SWARM:
        c.Spawner.mem_guarantee = os.environ["HUB_MEM_LIMIT"]
if os.environ.get("HUB_CPU_LIMIT"):
    c.Spawner.cpu_limit = float(os.environ["HUB_CPU_LIMIT"])
    if ON_SWARM:
        c.Spawner.cpu_guarantee = float(os.environ["HUB_CPU_LIMIT"])

# Idle servers are stopped by jupyterhub-idle-culler, a service of the hub.
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={os.environ['HUB_IDLE_TIMEOUT']}"],
    },
    {"name": "status", "api_token": private_secret("status_token")},
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
    # `make hub-status` reads each user's last activity, nothing else.
    {"name": "status", "scopes": ["list:users", "read:users:activity", "read:servers"], "services": ["status"]},
]
