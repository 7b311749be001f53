# pyrlab's settings: each one declared here once, a `## what it does` line over its
# `NAME ?= default` line. `make help` and docs/configuration.md (`make docs`) are made from them.

##@ Configuration (set on the command line, `make build BASE=rootfs`, or in local.mk)
## Untracked file of your own settings, one `VARIABLE = value` a line; read before the defaults below
LOCAL_CONFIG ?= local.mk
-include $(LOCAL_CONFIG)
## Base of the chain: python (python:$(PYTHONBASE), from a registry), rootfs (built by `make rootfs` from the Debian archive, no registry), or auto: python when that image is here, else rootfs where mmdebstrap is installed, else python (auto asks no registry; `make check` says which it took)
BASE ?= auto
## Tag of the official python image, for BASE=python
PYTHONBASE ?= 3.13-trixie
## Debian release of `make rootfs`
DEBIAN_SUITE ?= trixie
## Debian mirror of `make rootfs`
DEBIAN_MIRROR ?= http://deb.debian.org/debian
## Debian security mirror of `make rootfs`
DEBIAN_SECURITY_MIRROR ?= http://security.debian.org/debian-security
## Image that `make rootfs` builds
ROOTFS_IMAGE ?= pyrlab-rootfs:$(DEBIAN_SUITE)
## Platform of `make rootfs`, `make build` and all after them: linux/amd64 or linux/arm64 (empty: the host's); another than the host's builds under QEMU, and its local names end in -arm64 (docs/arm64.md)
PLATFORM ?=
## Prefix of the image names: `me/` names them me/pylab, me/rlab, ...
IMAGE_PREFIX ?=
## Tag of each new build, besides `latest`, so that an older build stays at hand (default: today's date, YYYYMMDD)
TAG ?= $(TODAY)
## CUDA in pylab: yes adds NVIDIA's CUDA wheels, requirements-gpu.txt and the frameworks' CUDA builds, tagged latest-cudaNN (rlab never has CUDA)
CUDA_INSTALL ?= no
## CUDA major version of CUDA_INSTALL=yes: 13 matches PyPI's torch today; 12 for tensorflow[and-cuda]
CUDA_VERSION ?= 13
## Index of PyTorch's CPU builds, for torch in requirements.txt with CUDA_INSTALL=no; empty: PyPI's torch (a CUDA build of several GB)
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
## Container CLI; it must build with BuildKit (Docker with buildx, or Debian's docker.io)
CONTAINER_CLI ?= docker
## More `docker build` arguments for every image
BUILD_ARGS ?=
## More `docker run` arguments for `make pylab` and `make rlab` (default with CUDA_INSTALL=yes: --gpus all)
DOCKER_ARGS ?= $(if $(filter yes,$(CUDA_INSTALL)),--gpus all)
## Host address of the labs' published ports: 127.0.0.1 (or ::1, IPv6's loopback; the URL then reads http://[::1]:…) lets only this machine in; another address lets other machines reach the lab, still behind its token, with a warning
BIND_ADDRESS ?= 127.0.0.1
## pylab's Jupyter port on the host
PYPORT ?= 8888
## pylab's D-Tale port on the host
DTPORT ?= 40000
## pylab's TensorBoard port on the host
TFPORT ?= 6006
## rlab's Jupyter port on the host
RPORT ?= 9999
## Folder of your notebooks, the labs' working directory
NOTEBOOKS ?= $(HOME)/notebooks
## Folder of pyrlab's configuration (tokens, settings), created private on first start
DOCKER ?= $(HOME)/docker
## Labs' authentication: token (a random token kept in DOCKER; `make password` sets a password instead) or none (anyone who reaches the port can run code as you)
AUTH ?= token
## yes: also publish D-Tale (DTPORT) and TensorBoard (TFPORT) on BIND_ADDRESS, without authentication; through Jupyter they are at /proxy/40000/ and /proxy/6006/, behind its token
PUBLISH_TOOLS ?= no
## apt cache for builds, `make rootfs` and `make lock`, e.g. http://127.0.0.1:3142 (apt-cacher-ng); never left in an image
APTPROXY ?=
## Python package cache for builds, `make lock` and `make outdated`: a devpi root URL, e.g. http://127.0.0.1:3141, whose index is …/root/pypi/+simple/; never left in an image
PIPPROXY ?=
## CA bundle (PEM) of a TLS-intercepting proxy, added to every image's trust store
CA_CERTS ?=
## yes: the CA_CERTS bundle stays in the images' trust store (for installs at run time); no: trusted by the build steps only, absent from every image
CA_CERTS_KEEP ?= yes
## R packages Debian lacks: CRAN-like repositories (https://…, file:///folder) and folders of tarballs, space-separated, searched in order after Debian; empty: Debian only
R_REPOS ?=
## Network of build steps: host when a proxy or R_REPOS is set, so that a server on 127.0.0.1 answers
BUILD_NETWORK ?= $(if $(APTPROXY)$(PIPPROXY)$(R_REPOS),host,default)
## Folder of the data of `make proxies` (apt-cacher-ng's packages, devpi's PyPI mirror), kept between runs
PROXY_CACHE ?= $(HOME)/.cache/pyrlab-proxies
## Port of the apt cache of `make proxies`, on 127.0.0.1 (then APTPROXY = http://127.0.0.1:3142)
APTCACHE_PORT ?= 3142
## Port of the devpi of `make proxies`, on 127.0.0.1 (then PIPPROXY = http://127.0.0.1:3141)
DEVPI_PORT ?= 3141
## yes: `make proxies` serves only what the caches hold, never fetching (builds of anything new fail)
PROXIES_OFFLINE ?= no
## Platforms of `make push`, comma-separated, e.g. linux/amd64,linux/arm64: each image goes to REGISTRY as one reference listing each platform's build (built first with PLATFORM=…); empty: PLATFORM's alone
PLATFORMS ?=
## Registry of `make push` and `make pull`: host[:port]/org, no scheme, lower case, e.g. registry.example.org/team (`make registry` prints the local one's)
REGISTRY ?=
## File that `make z2jh-values` writes: Helm values for Zero to JupyterHub (mode 0600 and ignored by git: it may hold the OAuth secret)
Z2JH_VALUES ?= z2jh-values.yaml
## Port of the local registry of `make registry`, on 127.0.0.1
REGISTRY_PORT ?= 5000
## Folder of the data of `make registry` (its images and password), kept between runs
REGISTRY_DATA ?= $(HOME)/.cache/pyrlab-registry
## Team server (`make hub`): host address of its port; 127.0.0.1 lets only this machine in (others through `ssh -L`)
HUB_BIND ?= 127.0.0.1
## Team server: its port on the host
HUB_PORT ?= 8000
## Team server: folder of its state (database, cookie secret, proxy token), private; keep it in backups
HUB_DATA ?= $(HOME)/pyrlab-hub/data
## Team server: folder of the users' homes (HUB_HOMES/<user>, each the user's own uid); keep it in backups
HUB_HOMES ?= $(HOME)/pyrlab-hub/homes
## Team server: optional folder every user reads (not writes) at ~/shared
HUB_SHARED ?=
## Team server: how users log in: native (their own passwords, the admin authorizes), github, gitlab or generic (OAuth, configured by DOCKER/hub/oauth.json)
HUB_AUTH ?= native
## Team server: its admin's user name, who authorizes sign-ups (yours, also where USER is unset: a service, cron)
HUB_ADMIN ?= $(or $(USER),$(LOGNAME),$(shell id -un))
## Team server: the images users may choose, name=reference, comma-separated (pylab's CUDA build too when it is built; a name with cuda gets GPUs of GPU_POOL)
HUB_IMAGES ?= pylab=$(IMAGE_PREFIX)pylab:latest,rlab=$(IMAGE_PREFIX)rlab:latest$(hub_cuda_choice)
## Team server: memory limit of each user's lab, e.g. 8G (empty: none); on a swarm also its reservation
HUB_MEM_LIMIT ?=
## Team server: CPU limit of each user's lab, in cores, e.g. 2 (empty: none); on a swarm also its reservation
HUB_CPU_LIMIT ?=
## Team server: seconds without activity after which a user's lab is stopped
HUB_IDLE_TIMEOUT ?= 3600
## Team server: first host uid of the users' homes (each account gets the next one no account ever had)
HUB_UID_BASE ?= 20000
## Team server: GPU ids the CUDA image's users share, e.g. 0,1,2,3 (empty: none)
GPU_POOL ?=
## Team server: GPUs each user of the CUDA image gets
GPUS_PER_USER ?= 1
## Team server: where the labs run: docker (containers on this host) or swarm (Swarm services on the nodes of the swarm this host manages, pulled from the registry by digest; docs/several-servers.md)
HUB_ENGINE ?= docker
## Team server on Swarm: the registry as the nodes reach it, host[:port]/org (empty: REGISTRY as `make push` recorded it)
SWARM_REGISTRY ?=
## Team server on Swarm: shared (HUB_HOMES is one folder mounted at the same path on every node, e.g. NFS) or pinned (no shared storage: each user's home is a Docker volume on the node of their first lab, and their labs always run there)
SWARM_HOMES ?= shared
## Team server on Swarm: the Docker engine of a server to add (ssh://root@gpu2, or any DOCKER_HOST): `make swarm-join` checks its engine settings and joins it, instead of printing the steps
SWARM_NODE ?=
## Folder of the image manifests (<image>.json and <image>.md) that `make build` and `make manifest` write; git ignores it unless you remove its line from .gitignore
MANIFESTS ?= manifests
## yes: accept direct references (`name @ https://...`, `@ git+...`, `@ file://...`) in the Python lists; a lock cannot hash-check what such a URL points at
ALLOW_DIRECT_URLS ?= no
## Python environment of the test and check tools
TOOLS_VENV ?= .venv
## Images that `make test-arm64` builds for linux/arm64 under QEMU and tests, each with the arm64 subset of its own and its parents' tests (pylab and rlab cover pyrlab-base and rlab-base); CI runs it with this default
ARM64_TESTS ?= pylab rlab
