# A JupyterHub that starts pyrlab's images as Zero to JupyterHub's KubeSpawner starts them, with
# DockerSpawner standing in for Kubernetes (what is tested is the image's contract, not the
# cluster): the chart's defaults `singleuser.uid: 1000`, `singleuser.fsGid: 100`,
# `singleuser.cmd: jupyterhub-singleuser`, `allowPrivilegeEscalation: false`, and the user's home
# volume, empty at first, over /home/jovyan. No root stage: the container starts as 1000:100.
import os

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded

c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.hub_bind_url = "http://0.0.0.0:8081"
c.JupyterHub.hub_connect_url = f"http://{os.environ['HUB_CONTAINER']}:8081"
c.JupyterHub.db_url = "sqlite:////tmp/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/tmp/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "/tmp/jupyterhub-proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["TEST_PASSWORD"]
c.Authenticator.allow_all = True

c.JupyterHub.spawner_class = "docker"
c.DockerSpawner.allowed_images = dict(item.split("=", 1) for item in os.environ["TEST_IMAGES"].split(","))
c.DockerSpawner.network_name = os.environ["HUB_NETWORK"]
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.remove = True
c.DockerSpawner.name_template = os.environ["HUB_CONTAINER"] + "-{username}"
c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
c.DockerSpawner.port = 8888
c.DockerSpawner.extra_create_kwargs = {"user": "1000:100", "labels": {"pyrlab.test": "kubespawner"}}
c.DockerSpawner.extra_host_config = {"group_add": ["100"], "security_opt": ["no-new-privileges"]}
# The persistent volume claim of each user: a host folder, owned as Kubernetes' fsGroup leaves it.
c.DockerSpawner.volumes = {os.environ["TEST_HOMES"] + "/{username}": "/home/jovyan"}
c.DockerSpawner.notebook_dir = "/home/jovyan"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
