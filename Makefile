# pyrlab: JupyterLab images for Python and R, built from plain package lists.
# This file is the build graph and the verbs' entry points; settings.mk declares every setting,
# and pyrlab's Python commands do the work. `make help` lists the targets and settings.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-builtin-variables

include settings.mk
TODAY := $(shell date -u +%Y%m%d)
# Every setting reaches pyrlab's commands through the environment (pyrlab.settings reads them): no
# shell quoting stands between a path with a quote, a colon or a newline and the program.
SETTINGS := $(shell sed -nE 's/^([A-Z0-9_]+) \?=.*/\1/p' settings.mk)
export $(SETTINGS)
# The settings that hold this make's own values (defaults, local.mk), not its caller's: a make the
# tests start gets the caller's alone (tests/harness/makefile.py) and derives the rest itself.
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
# The tests learn the chain's images and the hub's, with their references, from make.
export PYRLAB_IMAGES = $(foreach image,$(IMAGES),$(image)=$(call ref,$(image)))
export PYRLAB_HUB_IMAGE = $(call ref,pyrlab-hub)

##@ Build
.PHONY: build $(addprefix build-,$(IMAGES))
build: $(addprefix build-,$(IMAGES)) ## build every image; only what changed is rebuilt (`make -j2 build` works)

# The one preparing step (pyrlab.images.prepare): after the checks, it writes every file under
# .build/ that the builds read, each only when its content changes, and a digest of each build's
# inputs in .build/inputs/FOLDER. A build runs when its inputs' digest, its parent or its image changed.
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

# Debian by mmdebstrap (pyrlab.images.rootfs); an existing ROOTFS_IMAGE is adopted (its cached
# layers stay valid) unless `make rootfs` asks anew.
.PHONY: rootfs FORCE
rootfs: | check $(BUILD) ## build $(ROOTFS_IMAGE) anew from the Debian archive with mmdebstrap (for BASE=rootfs)
	$(PYRLAB) rootfs --anew > $(BUILD)/rootfs.id
$(BUILD)/rootfs.id: $(call stale,rootfs) | check $(BUILD)
	$(PYRLAB) rootfs > $@
$(BUILD):
	mkdir -p $@

.PHONY: check
check: $(TOOLS) ## check the settings, the package lists, that no list changed after its lock, and that the caches answer; every problem is named with file:line and a fix
	$(PYRLAB) check $(if $(filter lock upgrade,$(MAKECMDGOALS)),--no-locks)

# Debian's R package names, from rlab-base's apt index: `make check` then names an R package that
# neither Debian nor R_REPOS provides before rlab is built.
DEBIAN_R_NAMES := $(BUILD)/debian-r-packages.txt
build-rlab-base $(BUILD)/rlab.id: $(DEBIAN_R_NAMES)
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
.PHONY: registry registry-stop push pull sbom z2jh-values
registry: $(TOOLS) $(BUILD)/pyrlab-proxies.id ## start a registry on 127.0.0.1:REGISTRY_PORT (a container of pyrlab-proxies), its data in REGISTRY_DATA; logs Docker in
	$(PYRLAB) registry-start $(call ref,pyrlab-proxies)
registry-stop: $(TOOLS) ## stop the local registry; its images stay in REGISTRY_DATA
	$(PYRLAB) registry-stop
# Every image of the chain as built (pylab's CUDA build with CUDA_INSTALL=yes), by its manifest's name.
# PLATFORMS' suffixes (-arm64) are added by pyrlab.cluster.registry.
pushed_images = $(foreach image,$(IMAGES),$(image)$(call flavour,$(image))=$(IMAGE_PREFIX)$(image):latest$(call flavour,$(image)))
push: $(TOOLS) ## push every built image to REGISTRY: latest, date, commit and content tags (python-, lab-, r-, cudaNN); the digests go into the manifests
	$(PYRLAB) push $(pushed_images)
pull: $(TOOLS) ## fetch every image from REGISTRY, by the digest its manifest recorded at the push, and tag it as the local image
	$(PYRLAB) pull $(pushed_images)
sbom: $(TOOLS) ## write a CycloneDX SBOM (MANIFESTS/<image>.cdx.json) of every image from its manifest, checked against the schema
	$(PYRLAB) sbom
z2jh-values: $(TOOLS) ## write Z2JH_VALUES for Zero to JupyterHub's chart: a profile per HUB_IMAGES choice by pushed digest, uid/fsGroup, culler, authenticator
	$(PYRLAB) z2jh-values

##@ Team server (JupyterHub spawning pylab and rlab for each user, on HUB_BIND:HUB_PORT)
# HUB_IMAGES offers pylab's CUDA build when it is here.
hub_cuda_image = $(IMAGE_PREFIX)pylab:latest-cuda$(CUDA_VERSION)
hub_cuda_choice = $(if $(filter $(hub_cuda_image)=%,$(IMAGE_IDS)),$(comma)pylab-cuda$(CUDA_VERSION)=$(hub_cuda_image))
comma := ,
.PHONY: hub hub-stop hub-logs hub-status hub-user swarm-join
hub: $(TOOLS) $(BUILD)/pyrlab-hub.id ## start the team server (build it first when needed); prints its URL
	$(PYRLAB) hub-start $(call ref,pyrlab-hub)
hub-stop: ## stop the team server and its users' labs; their homes and the hub's state stay
hub-logs: ## follow the team server's log
hub-status: ## the team server and each user's lab: image, state (and node on a swarm), GPUs, idle time
hub-stop hub-logs hub-status: $(TOOLS)
	$(PYRLAB) $@
hub-user: $(TOOLS) ## add a user (NAME=alice) or authorize one who signed up; prints a new password
	$(PYRLAB) hub-user "$$NAME"
swarm-join: $(TOOLS) ## HUB_ENGINE=swarm: print what a new server runs to join this swarm as a node for labs (engine settings, join command, registry, homes); with SWARM_NODE=ssh://root@gpu2, join that server
	$(PYRLAB) swarm-join
export NAME

##@ Labs (each started detached; the URL to open is printed)
.PHONY: pylab rlab password stop status $(foreach lab,pylab rlab,$(lab)-stop $(lab)-logs $(lab)-shell)
pylab: $(TOOLS) ## start JupyterLab with Python on $(BIND_ADDRESS):$(PYPORT); D-Tale and TensorBoard behind it at /proxy/40000/ and /proxy/6006/
	$(PYRLAB) lab-start pylab $(call ref,pylab)
rlab: $(TOOLS) ## start JupyterLab with R and Python on $(BIND_ADDRESS):$(RPORT)
	$(PYRLAB) lab-start rlab $(call ref,rlab)
password: $(TOOLS) ## store a hashed password (argon2) in DOCKER; labs started afterwards ask for it instead of a token
	$(PYRLAB) lab-password $(call ref,pyrlab-base)
pylab-stop rlab-stop: ## stop and remove that lab's container
pylab-logs rlab-logs: ## follow that lab's log
pylab-shell rlab-shell: ## open a shell in that lab as the notebook user
pylab-stop rlab-stop pylab-logs rlab-logs pylab-shell rlab-shell: $(TOOLS)
	$(PYRLAB) lab-$(lastword $(subst -, ,$@)) $(firstword $(subst -, ,$@))
stop: pylab-stop rlab-stop ## stop both labs
status: $(TOOLS) ## list the lab containers, with the URL of each running one
	$(PYRLAB) lab-status

##@ Tests
# Each suite is the folder tests/SUITE, run once what it tests is built.
SUITES := make security browser hub swarm registry cluster rsources
.PHONY: test test-unit test-images lint screenshots test-proxies test-arm64 $(addprefix test-,$(IMAGES) $(SUITES))
test: lint test-unit test-images $(addprefix test-,$(SUITES)) test-arm64 ## what CI runs: lint, unit tests, each image's tests on real containers, the Makefile, the isolation attacks, the labs in a browser, the team server, the team server on a swarm, the registry, the cluster contract, R from sources, the arm64 chain
lint: $(TEST_TOOLS) ## ruff, mypy and shellcheck
	$(TOOLS_VENV)/bin/ruff check scripts hub tests
	$(TOOLS_VENV)/bin/ruff format --check scripts hub tests
	$(TOOLS_VENV)/bin/mypy scripts/pyrlab hub tests
	@command -v shellcheck >/dev/null || { echo "error: shellcheck is not installed: apt-get install shellcheck" >&2; exit 1; }
	shellcheck $(addprefix pyrlab-base/,start.sh bash.bashrc apt-install uv-install venv-install add-ca-certs build-ca record-debian-archive) proxies/serve .ci/run
test-unit: $(TEST_TOOLS) ## unit tests of scripts/ (no Docker)
	$(TOOLS_PY) -m pytest tests/unit
test-images: $(addprefix test-,$(IMAGES)) ## each image's tests, with the tests of its parents
$(addprefix test-,$(IMAGES)): test-%: build-% $(TEST_TOOLS)
	$(TOOLS_PY) -m pytest $(addprefix tests/images/,$(call lineage,$*)) --image $(call ref,$*) $(if $(CA_CERTS),--ca-certs $(CA_CERTS)) $(if $(PLATFORM),--platform $(PLATFORM))
test-make: build ## the Makefile itself: a no-op rebuild, `make pylab` and `make rlab` end to end
test-security: build-pylab ## attacks on the isolation of the labs (root, tokens, tools, saves), each in real containers; creates host users, so run as root
test-browser: build-pylab build-rlab ## the labs as a person uses them, in Debian's Chromium (apt-get install chromium); screenshots in test-output/screenshots
test-hub: build-pylab build-rlab ## the team server for real: make hub, users, spawns of pylab and rlab, cells through its proxy
test-swarm: build-pylab build-rlab $(BUILD)/pyrlab-proxies.id $(BUILD)/pyrlab-hub.id ## the team server on a real swarm of three Docker engines here (HUB_ENGINE=swarm): labs on two workers pulled from a registry, GPUs as generic resources, a worker lost
test-registry: build ## make registry, push and pull for real on 127.0.0.1; a lab from the pulled digest passes pylab's tests
test-cluster: build-pylab build-rlab $(BUILD)/pyrlab-hub.id ## the cluster contract: a real JupyterHub spawning the images as Zero to JupyterHub's KubeSpawner does
test-rsources: build-rlab-base ## R packages from R_REPOS for real: packages built with R CMD build, served on 127.0.0.1, compiled into a scratch rlab
test-proxies: ## builds through real caches on 127.0.0.1 and `make clean` (clears pyrlab's build cache; CI runs it after test)
$(addprefix test-,$(SUITES) proxies): test-%: $(TEST_TOOLS)
	$(TOOLS_PY) -m pytest tests/$*
# Under QEMU each test costs several times its native run: CI runs the arm64 subset of the image
# tests (the marker arm64, tests/README.md says why), then pushes both platforms as one index.
test-arm64: build $(TEST_TOOLS) ## the arm64 chain under QEMU (docs/arm64.md): the images of ARM64_TESTS built for linux/arm64 from its rootfs, each with the arm64 subset of its image tests; then a push of both platforms to a registry on 127.0.0.1 (tests/platforms)
	PYTEST_ADDOPTS="-m arm64" $(MAKE) --no-print-directory $(addprefix test-,$(ARM64_TESTS)) PLATFORM=linux/arm64 BASE=rootfs
	$(TOOLS_PY) -m pytest tests/platforms
# The pictures of README.md and docs/, taken by the browser tests.
SCREENSHOTS := pylab-plot rlab-ggplot hub-spawn
screenshots: test-browser ## take the screenshots of README.md and docs/ anew (docs/screenshots/) with the browser tests
	mkdir -p docs/screenshots
	cp $(foreach shot,$(SCREENSHOTS),test-output/screenshots/$(shot).png) docs/screenshots/

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
chain: ## print the image chain, IMAGE PARENT IMAGE-REFERENCE a line
	@$(foreach image,$(IMAGES),echo "$(image) $(call parent,$(image)) $(call ref,$(image))";)
docs: $(TOOLS) ## write docs/configuration.md from settings.mk; run it after adding or changing a setting
	$(TOOLS_PY) -m pyrlab.configdoc
help: ## show this help
	@PYTHONPATH=scripts python3 -m pyrlab.configdoc help $(CHAIN)
