# pyrlab: JupyterLab images for Python and R, built from plain package lists.
# `make help` lists every target and variable; it is generated from the `##` comments below.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-builtin-variables

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
## Team server: memory limit of each user's lab, e.g. 8G (empty: none)
HUB_MEM_LIMIT ?=
## Team server: CPU limit of each user's lab, in cores, e.g. 2 (empty: none)
HUB_CPU_LIMIT ?=
## Team server: seconds without activity after which a user's lab is stopped
HUB_IDLE_TIMEOUT ?= 3600
## Team server: first host uid of the users' homes (each account gets the next one no account ever had)
HUB_UID_BASE ?= 20000
## Team server: GPU ids the CUDA image's users share, e.g. 0,1,2,3 (empty: none)
GPU_POOL ?=
## Team server: GPUs each user of the CUDA image gets
GPUS_PER_USER ?= 1
## Folder of the image manifests (<image>.json and <image>.md) that `make build` and `make manifest` write; git ignores it unless you remove its line from .gitignore
MANIFESTS ?= manifests
## yes: accept direct references (`name @ https://...`, `@ git+...`, `@ file://...`) in the Python lists; a lock cannot hash-check what such a URL points at
ALLOW_DIRECT_URLS ?= no
## Python environment of the test and check tools
TOOLS_VENV ?= .venv
## Images that `make test-arm64` builds for linux/arm64 under QEMU and tests (their arm64 subset): CI's choice fits its time (tests/README.md); `pyrlab-base pylab rlab` for all three
ARM64_TESTS ?= pyrlab-base rlab

TODAY := $(shell date -u +%Y%m%d)
# Every setting above reaches pyrlab's commands through the environment (pyrlab.settings reads
# them): no shell quoting stands between a path with a quote, a colon or a newline and the program.
SETTINGS := $(shell sed -nE 's/^([A-Z0-9_]+) \?=.*/\1/p' $(firstword $(MAKEFILE_LIST)))
export $(SETTINGS)
# Which of them hold this Makefile's values (defaults, local.mk), not the caller's: a make that the
# tests start drops those (tests/harness/makefile.py) and derives its own, e.g. BUILD_NETWORK from
# its R_REPOS.
export PYRLAB_MAKEFILE_SETTINGS := $(foreach setting,$(SETTINGS),$(if $(filter file,$(origin $(setting))),$(setting))) CHAIN_BASE

# The image chain, written once as IMAGE:PARENT (BASE: the base image above). Build order,
# rebuilds and the tests each image inherits from its parents all derive from it.
CHAIN := pyrlab-base:BASE pylab:pyrlab-base rlab-base:pyrlab-base rlab:rlab-base
IMAGES := $(foreach link,$(CHAIN),$(firstword $(subst :, ,$(link))))
# The images of the team server and of the caches, built the same way: IMAGE:PARENT:FOLDER.
SERVICES := pyrlab-hub:pyrlab-base:hub pyrlab-proxies:BASE:proxies
parent = $(word 2,$(subst :, ,$(filter $(1):%,$(CHAIN) $(SERVICES))))
folder = $(or $(word 3,$(subst :, ,$(filter $(1):%,$(SERVICES)))),$(1))
lineage = $(if $(filter BASE,$(call parent,$(1))),,$(call lineage,$(call parent,$(1)))) $(1)
# The image that CUDA_INSTALL changes; its CUDA build carries -cudaNN in its tags.
export CUDA_IMAGE := pylab
flavour = $(if $(and $(filter $(CUDA_IMAGE),$(1)),$(filter yes,$(CUDA_INSTALL))),-cuda$(CUDA_VERSION))
# A platform other than the host's: its tags end in -ARCH, its stamps are in .build/ARCH (pyrlab.platforms).
PLATFORM_SUFFIX := $(if $(PLATFORM),$(shell PYTHONPATH=scripts python3 -m pyrlab.platforms suffix '$(PLATFORM)'))
ref = $(IMAGE_PREFIX)$(1):latest$(call flavour,$(1))$(PLATFORM_SUFFIX)
# BASE=python: the digest `make lock` pinned in base.lock (one line), else the tag.
BASE_LOCK := $(strip $(file <base.lock))
# What the engine has, asked once a run: BASE=auto decided (no registry is asked), and one
# `docker image ls` telling which names carry which ids (for the stamps below). A run whose goals
# build nothing (start, stop or show a lab, write the docs) asks neither.
LAB_GOALS := pylab rlab pylab-stop rlab-stop stop status pylab-logs rlab-logs pylab-shell rlab-shell password help docs
ifneq ($(filter-out $(LAB_GOALS),$(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))),)
CHAIN_BASE := $(if $(filter auto,$(BASE)),$(shell $(CONTAINER_CLI) image inspect $(or $(BASE_LOCK),python:$(PYTHONBASE))$(PLATFORM_SUFFIX) >/dev/null 2>&1 \
	&& echo python || { command -v mmdebstrap >/dev/null && echo rootfs || echo python; }),$(BASE))
export CHAIN_BASE
IMAGE_IDS := $(shell $(CONTAINER_CLI) image ls --no-trunc --format '{{.Repository}}:{{.Tag}}={{.ID}}' 2>/dev/null)
endif
base_image = $(if $(filter rootfs,$(CHAIN_BASE)),$(ROOTFS_IMAGE)$(PLATFORM_SUFFIX),$(or $(BASE_LOCK),python:$(PYTHONBASE)))
from_image = $(if $(filter BASE,$(call parent,$(1))),$(base_image),$(call ref,$(call parent,$(1))))
# A stamp holds the id of the image it built; FORCE rebuilds when that image is gone or replaced.
BUILD := .build$(subst -,/,$(PLATFORM_SUFFIX))
stamped_ref = $(if $(filter rootfs,$(1)),$(ROOTFS_IMAGE)$(PLATFORM_SUFFIX),$(call ref,$(1)))
stale = $(if $(filter $(call stamped_ref,$(1))=$(strip $(file <$(BUILD)/$(1).id)),$(IMAGE_IDS)),,FORCE)
parent_stamp = $(if $(filter BASE,$(call parent,$(1))),$(if $(filter rootfs,$(CHAIN_BASE)),$(BUILD)/rootfs.id),$(BUILD)/$(call parent,$(1)).id)

TOOLS_PY := $(TOOLS_VENV)/bin/python
PYRLAB := $(TOOLS_PY) -m pyrlab
TOOLS := $(TOOLS_VENV)/.installed
TEST_TOOLS := $(TOOLS_VENV)/.test-installed
export DOCKER_BUILDKIT := 1

##@ Build
.PHONY: build
build: $(addprefix build-,$(IMAGES)) ## build every image; only what changed is rebuilt (`make -j2 build` works)

.PHONY: $(addprefix build-,$(IMAGES))

# The one preparing step (pyrlab.images.prepare): after the checks, it writes every file under
# .build/ that the builds read (what each list installs, snapshots, R_REPOS, the caches' secrets),
# each only when its content changes, and a digest of each build's inputs in .build/inputs/BUILD.
# make compares nothing else: a build runs when its inputs' digest, its parent or its image changed.
BUILDS := $(foreach image,$(IMAGES) $(SERVICES),$(call folder,$(firstword $(subst :, ,$(image)))))
.PHONY: preflight
preflight: check | $(BUILD)
	@$(PYRLAB) prepare $(if $(filter python,$(CHAIN_BASE)),--pull-base $(base_image)) $(BUILDS)
$(addprefix $(BUILD)/inputs/,$(BUILDS)): preflight ;

# Every image, by one rule; pyrlab.images.build says how.
.SECONDEXPANSION:
$(foreach image,$(IMAGES) $(SERVICES),$(BUILD)/$(firstword $(subst :, ,$(image))).id): $(BUILD)/%.id: \
		$$(BUILD)/inputs/$$(call folder,$$*) $$(call parent_stamp,$$*) $$(call stale,$$*)
	$(PYRLAB) build $(call folder,$*) $(call from_image,$*) $(call ref,$*) $@

# Each rebuilt image's manifest is written anew (pylab's CUDA build has its own, pylab-cudaNN).
manifest_of = $(MANIFESTS)/$(1)$(call flavour,$(1))$(PLATFORM_SUFFIX).json
image_of_manifest = $(patsubst %-cuda$(CUDA_VERSION),%,$(patsubst %$(PLATFORM_SUFFIX),%,$(1)))
write_manifest = $(PYRLAB) manifest $(1)$(call flavour,$(1))$(PLATFORM_SUFFIX) $(call ref,$(1)) $(call from_image,$(1))
$(addprefix build-,$(IMAGES)): build-%: $(BUILD)/%.id $$(call manifest_of,$$*)
$(foreach image,$(IMAGES),$(call manifest_of,$(image))): $(MANIFESTS)/%.json: $(BUILD)/$$(call image_of_manifest,$$*).id | $(TOOLS)
	@$(call write_manifest,$(call image_of_manifest,$*))

.PHONY: rootfs
rootfs: ## build $(ROOTFS_IMAGE) anew from the Debian archive with mmdebstrap (for BASE=rootfs)
	rm -f $(BUILD)/rootfs.id
	$(MAKE) --no-print-directory $(BUILD)/rootfs.id REBUILD_ROOTFS=yes

# Debian from the archive by mmdebstrap (pyrlab.images.rootfs); an existing $(ROOTFS_IMAGE) is
# adopted (its cached layers stay valid) unless `make rootfs` asks anew.
$(BUILD)/rootfs.id: $(call stale,rootfs) | check $(BUILD)
	$(PYRLAB) rootfs $(if $(REBUILD_ROOTFS),--anew) > $@

$(BUILD):
	mkdir -p $@

.PHONY: FORCE
FORCE:

.PHONY: check
check: $(TOOLS) ## check the settings, the package lists, that no list changed after its lock, and that the caches answer; every problem is named with file:line and a fix
	$(PYRLAB) check $(if $(filter lock upgrade,$(MAKECMDGOALS)),--no-locks)

# The names of Debian's R packages, as rlab-base's apt index had them: `make check` names an R
# package that neither Debian nor R_REPOS provides before rlab is built (once rlab-base exists).
DEBIAN_R_NAMES := $(BUILD)/debian-r-packages.txt
build-rlab-base: $(DEBIAN_R_NAMES)
$(BUILD)/rlab.id: $(DEBIAN_R_NAMES)
$(DEBIAN_R_NAMES): $(BUILD)/rlab-base.id
	$(PYRLAB) debian-r-names $(call ref,rlab-base) > $@

##@ Locks and manifests
.PHONY: lock upgrade outdated manifest
lock: $(TOOLS) $(call parent_stamp,pyrlab-base) ## pin every list (Python with hashes, Debian and R to versions) in .lock files beside them, and BASE=python's image by digest in base.lock; keeps the pins it can
	$(PYRLAB) lock $(base_image)
upgrade: $(TOOLS) $(call parent_stamp,pyrlab-base) ## like lock, to the newest versions; shows old -> new
	$(PYRLAB) lock --upgrade $(base_image)
outdated: $(TOOLS) ## report the pins that have newer releases (Python from the package index, Debian and R from apt); changes nothing
	$(PYRLAB) outdated $(base_image)
manifest: $(TOOLS) ## write MANIFESTS/<image>.json and .md for every built image: packages and versions, kernels, size
	$(foreach image,$(IMAGES),$(call write_manifest,$(image)) --if-built;)

# pyrlab's own commands need only the runtime tools; the tests and lint add theirs. Both at the
# versions of scripts/constraints.txt.
TOOLS_PIP := $(TOOLS_PY) -m pip install --quiet --disable-pip-version-check
$(TOOLS): scripts/requirements.txt scripts/constraints.txt
	python3 -m venv $(TOOLS_VENV)
	$(TOOLS_PIP) --requirement scripts/requirements.txt --constraint scripts/constraints.txt
	printf '%s\n' "$(CURDIR)/scripts" > "$$($(TOOLS_PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/pyrlab-scripts.pth"
	touch $@
$(TEST_TOOLS): tests/requirements.txt $(TOOLS)
	$(TOOLS_PIP) --requirement tests/requirements.txt --constraint scripts/constraints.txt
	touch $@
.PHONY: tools-upgrade
tools-upgrade: $(TEST_TOOLS) ## move pyrlab's own check and test tools to their newest releases and pin those in scripts/constraints.txt (then run make test)
	$(TOOLS_PIP) --upgrade --requirement scripts/requirements.txt --requirement tests/requirements.txt
	{ grep '^#' scripts/constraints.txt; $(TOOLS_PY) -m pip freeze --exclude-editable; } > scripts/constraints.txt.new
	mv scripts/constraints.txt.new scripts/constraints.txt

##@ Build caches (apt-cacher-ng and devpi-server on 127.0.0.1, for fast and offline-friendly builds)
.PHONY: proxies proxies-stop
proxies: $(TOOLS) $(BUILD)/pyrlab-proxies.id ## start both caches (containers of pyrlab-proxies), their data in PROXY_CACHE; prints the APTPROXY and PIPPROXY to set
	$(PYRLAB) proxies-start $(call ref,pyrlab-proxies)
proxies-stop: $(TOOLS) ## stop both caches; their data stays in PROXY_CACHE
	$(PYRLAB) proxies-stop

##@ Registry (the images for a cluster: Kubeflow Notebooks, Zero to JupyterHub)
.PHONY: registry registry-stop push pull
registry: $(TOOLS) $(BUILD)/pyrlab-proxies.id ## start a registry on 127.0.0.1:REGISTRY_PORT (a container of pyrlab-proxies), its data in REGISTRY_DATA; logs Docker in
	$(PYRLAB) registry-start $(call ref,pyrlab-proxies)
registry-stop: $(TOOLS) ## stop the local registry; its images stay in REGISTRY_DATA
	$(PYRLAB) registry-stop
# Every image of the chain as built (pylab's CUDA build with CUDA_INSTALL=yes), by its manifest's name.
pushed_images = $(foreach image,$(IMAGES),$(image)$(call flavour,$(image))=$(call ref,$(image)))
push: $(TOOLS) ## push every built image to REGISTRY: latest, date, commit and content tags (python-, lab-, r-, cudaNN); the digests go into the manifests
	$(PYRLAB) push $(pushed_images)
pull: $(TOOLS) ## fetch every image from REGISTRY, by the digest its manifest recorded at the push, and tag it as the local image
	$(PYRLAB) pull $(pushed_images)
.PHONY: sbom z2jh-values
sbom: $(TOOLS) ## write a CycloneDX SBOM (MANIFESTS/<image>.cdx.json) of every image from its manifest, checked against the schema
	$(PYRLAB) sbom
z2jh-values: $(TOOLS) ## write Z2JH_VALUES for Zero to JupyterHub's chart: a profile per HUB_IMAGES choice by pushed digest, uid/fsGroup, culler, authenticator
	$(PYRLAB) z2jh-values

##@ Team server (JupyterHub spawning pylab and rlab for each user, on HUB_BIND:HUB_PORT)
hub_cuda_image = $(IMAGE_PREFIX)pylab:latest-cuda$(CUDA_VERSION)
comma := ,
hub_cuda_choice = $(if $(filter $(hub_cuda_image)=%,$(IMAGE_IDS)),$(comma)pylab-cuda$(CUDA_VERSION)=$(hub_cuda_image))
.PHONY: hub hub-stop hub-logs hub-status hub-user
hub: $(TOOLS) $(BUILD)/pyrlab-hub.id ## start the team server (build it first when needed); prints its URL
	$(PYRLAB) hub-start $(call ref,pyrlab-hub)
hub-stop: $(TOOLS) ## stop the team server and its users' labs; their homes and the hub's state stay
	$(PYRLAB) hub-stop
hub-logs: $(TOOLS) ## follow the team server's log
	$(PYRLAB) hub-logs
hub-status: $(TOOLS) ## the team server and each user's lab: image, GPUs, state
	$(PYRLAB) hub-status
hub-user: $(TOOLS) ## add a user (NAME=alice) or authorize one who signed up; prints a new password
	$(PYRLAB) hub-user "$$NAME"
export NAME

##@ Labs (each started detached; the URL to open is printed)
.PHONY: pylab rlab
pylab: $(TOOLS) ## start JupyterLab with Python on $(BIND_ADDRESS):$(PYPORT); D-Tale and TensorBoard behind it at /proxy/40000/ and /proxy/6006/
	$(PYRLAB) lab-start pylab $(call ref,pylab)
rlab: $(TOOLS) ## start JupyterLab with R and Python on $(BIND_ADDRESS):$(RPORT)
	$(PYRLAB) lab-start rlab $(call ref,rlab)

.PHONY: password
password: $(TOOLS) ## store a hashed password (argon2) in DOCKER; labs started afterwards ask for it instead of a token
	$(PYRLAB) lab-password $(call ref,pyrlab-base)

.PHONY: pylab-stop rlab-stop pylab-logs rlab-logs pylab-shell rlab-shell stop status
pylab-stop rlab-stop: %-stop: $(TOOLS) ## stop and remove that lab's container
	$(PYRLAB) lab-stop $*
pylab-logs rlab-logs: %-logs: $(TOOLS) ## follow that lab's log
	$(PYRLAB) lab-logs $*
pylab-shell rlab-shell: %-shell: $(TOOLS) ## open a shell in that lab as the notebook user
	$(PYRLAB) lab-shell $*
stop: pylab-stop rlab-stop ## stop both labs
status: $(TOOLS) ## list the lab containers, with the URL of each running one
	$(PYRLAB) lab-status

##@ Tests
.PHONY: test test-unit test-images test-make test-security test-browser test-hub test-registry test-cluster test-rsources test-proxies lint screenshots test-arm64
test: lint test-unit test-images test-make test-security test-browser test-hub test-registry test-cluster test-rsources test-arm64 ## what CI runs: lint, unit tests, each image's tests on real containers, the Makefile, the isolation attacks, the labs in a browser, the team server, the registry, the cluster contract, R from sources, the arm64 chain

lint: $(TEST_TOOLS) ## ruff, mypy and shellcheck
	$(TOOLS_VENV)/bin/ruff check scripts hub tests
	$(TOOLS_VENV)/bin/ruff format --check scripts hub tests
	$(TOOLS_VENV)/bin/mypy scripts/pyrlab hub tests
	@command -v shellcheck >/dev/null || { echo "error: shellcheck is not installed: apt-get install shellcheck" >&2; exit 1; }
	shellcheck pyrlab-base/start.sh pyrlab-base/bash.bashrc pyrlab-base/apt-install pyrlab-base/uv-install pyrlab-base/venv-install pyrlab-base/add-ca-certs pyrlab-base/build-ca \
		pyrlab-base/record-debian-archive proxies/serve .ci/run

test-unit: $(TEST_TOOLS) ## unit tests of scripts/ (no Docker)
	$(TOOLS_PY) -m pytest tests/unit

test-images: $(addprefix test-,$(IMAGES)) ## each image's tests, with the tests of its parents

$(addprefix test-,$(IMAGES)): test-%: build-% $(TEST_TOOLS)
	$(TOOLS_PY) -m pytest $(addprefix tests/images/,$(call lineage,$*)) --image $(call ref,$*) $(if $(CA_CERTS),--ca-certs $(CA_CERTS)) $(if $(PLATFORM),--platform $(PLATFORM))

# Under QEMU a build and each test cost several times their native run: CI builds the images of
# ARM64_TESTS and runs the subset ARM64_SUBSET of tests/images/conftest.py (tests/README.md says why).
test-arm64: $(TEST_TOOLS) ## the arm64 chain under QEMU (docs/arm64.md): the images of ARM64_TESTS built for linux/arm64 from its rootfs, each with the arm64 subset of its image tests; every test: `make test-images PLATFORM=linux/arm64`
	PYTEST_ADDOPTS="-m arm64" $(MAKE) --no-print-directory $(addprefix test-,$(ARM64_TESTS)) PLATFORM=linux/arm64 BASE=rootfs

test-make: build $(TEST_TOOLS) ## the Makefile itself: a no-op rebuild, `make pylab` and `make rlab` end to end
	$(TOOLS_PY) -m pytest tests/make

test-security: build-pylab $(TEST_TOOLS) ## attacks on the isolation of the labs (root, tokens, tools, saves), each in real containers; creates host users, so run as root
	$(TOOLS_PY) -m pytest tests/security

test-browser: build-pylab build-rlab $(TEST_TOOLS) ## the labs as a person uses them, in Debian's Chromium (apt-get install chromium); screenshots in test-output/screenshots
	$(TOOLS_PY) -m pytest tests/browser

test-hub: build-pylab build-rlab $(TEST_TOOLS) ## the team server for real: make hub, users, spawns of pylab and rlab, cells through its proxy
	$(TOOLS_PY) -m pytest tests/hub

test-registry: build $(TEST_TOOLS) ## make registry, push and pull for real on 127.0.0.1; a lab from the pulled digest passes pylab's tests
	$(TOOLS_PY) -m pytest tests/registry

test-cluster: build-pylab build-rlab $(BUILD)/pyrlab-hub.id $(TEST_TOOLS) ## the cluster contract: a real JupyterHub spawning the images as Zero to JupyterHub's KubeSpawner does
	PYRLAB_HUB_IMAGE=$(call ref,pyrlab-hub) $(TOOLS_PY) -m pytest tests/cluster

test-rsources: build-rlab-base $(TEST_TOOLS) ## R packages from R_REPOS for real: packages built with R CMD build, served on 127.0.0.1, compiled into a scratch rlab
	$(TOOLS_PY) -m pytest tests/rsources

# The pictures of README.md and docs/, taken by the browser tests.
SCREENSHOTS := pylab-plot rlab-ggplot hub-spawn
screenshots: test-browser ## take the screenshots of README.md and docs/ anew (docs/screenshots/) with the browser tests
	mkdir -p docs/screenshots
	cp $(foreach shot,$(SCREENSHOTS),test-output/screenshots/$(shot).png) docs/screenshots/

test-proxies: $(TEST_TOOLS) ## builds through real caches on 127.0.0.1 and `make clean` (clears pyrlab's build cache; CI runs it after test)
	$(TOOLS_PY) -m pytest tests/proxies

##@ Benchmark
.PHONY: bench
bench: $(TEST_TOOLS) ## measure builds, start and first cells against the targets, in a scratch copy (clears Docker's build cache)
	PYTHONPATH=tests $(TOOLS_PY) -m harness.bench

##@ Housekeeping
.PHONY: clean clean-images clean-rootfs chain help docs
clean: clean-images $(TOOLS) ## remove pyrlab's images (every tag) and pyrlab's build cache (layers, cache mounts; other projects' stays); keeps the rootfs
	$(PYRLAB) clean-cache
clean-images: $(TOOLS) ## remove pyrlab's images (every tag), not the build cache
	$(PYRLAB) clean-images $(foreach image,$(IMAGES),$(image)=$(IMAGE_PREFIX)$(image))
clean-rootfs: $(TOOLS) ## remove the image of `make rootfs`
	$(PYRLAB) clean-rootfs

chain: ## print the image chain, IMAGE PARENT IMAGE-REFERENCE a line (read by the tests)
	@$(foreach image,$(IMAGES),echo "$(image) $(call parent,$(image)) $(call ref,$(image))";)

# One declaration of each setting (the `##` line over its `?=` line) gives both `make help` and docs/configuration.md.
docs: $(TOOLS) ## write docs/configuration.md from the Makefile's settings; run it after adding or changing one
	$(TOOLS_PY) -m pyrlab.configdoc

help: ## show this help
	@PYTHONPATH=scripts python3 -m pyrlab.configdoc help $(CHAIN)
