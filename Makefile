# multus-thick: a thick-plugin CNI meta-plugin (multus-shim + multus-daemon) and its lab.
# `make help` lists the targets. Expensive tool builds are cached by version in $(MT_CACHE).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

MT_CACHE     ?= /var/cache/multus-thick
GO           ?= go
BIN          := $(CURDIR)/bin
ARTIFACTS    ?= $(CURDIR)/_artifacts
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT       ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# The commit's date, not the clock: identical sources give identical binaries, so a warm
# lab-up does not reload the daemon image and restart its pods after every build.
BUILD_DATE   ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
VERSION_PKG  := github.com/multus-thick/multus-thick/src/internal/version
LDFLAGS      := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(BUILD_DATE)
# grpcnotrace: grpc (the kubelet's pod-resources client) without golang.org/x/net/trace and the
# html/template it links; the daemon serves no grpc debug pages. 4.5 MB of the daemon's binary.
GOTAGS       := grpcnotrace

# The version pins (K8S_VERSION, CNI_PLUGINS_VERSION, FLANNEL_CNI_VERSION) live in one place,
# lab/internal/pins/pins.go, which the lab builds from too; this is that file printed as make
# assignments, remade when it changes. Override them as usual: make lab-up K8S_VERSION=...
include $(BIN)/.pins.mk
$(BIN)/.pins.mk: lab/internal/pins/pins.go lab/cmd/pins/main.go
	@mkdir -p $(BIN) && $(GO) run ./lab/cmd/pins > $@.tmp && mv $@.tmp $@

PLUGINS_DIR  := $(MT_CACHE)/cni-plugins-$(CNI_PLUGINS_VERSION)
REF_PLUGINS  := main/bridge main/macvlan main/ptp main/host-device ipam/host-local ipam/static meta/tuning meta/portmap meta/bandwidth
K8S_BIN      := $(MT_CACHE)/k8s-$(K8S_VERSION)/bin

export PATH := /usr/local/go/bin:$(PATH)

##@ General

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_.-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build multus-shim, multus-daemon, install_multus, passthru and cni-fault into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(GOTAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/ ./src/cmd/...

.PHONY: plugins
plugins: $(PLUGINS_DIR)/.done ## Build the reference CNI plugins and the flannel plugin into the cache

$(PLUGINS_DIR)/.done:
	mkdir -p $(PLUGINS_DIR)
	for p in $(REF_PLUGINS); do GOBIN=$(PLUGINS_DIR) CGO_ENABLED=0 $(GO) install -trimpath github.com/containernetworking/plugins/plugins/$$p@$(CNI_PLUGINS_VERSION); done
	GOBIN=$(PLUGINS_DIR) CGO_ENABLED=0 GOFLAGS=-mod=mod $(GO) install -trimpath github.com/containernetworking/plugins/plugins/meta/flannel@$(FLANNEL_CNI_VERSION)
	touch $@

# Every program the lab, this Makefile and the test tiers run on the host is declared once, in
# lab/internal/prereq; the preflight checks them all (milliseconds) and installs what is missing
# with one apt-get update + install. A unit test fails when an exec site runs an undeclared one.
.PHONY: preflight
preflight: ## Check the host prerequisites and apt-install the missing ones (runs first in lab-up and test)
	$(GO) run ./lab/cmd/preflight

##@ Test

.PHONY: test
test: ## Run every test tier (the README's test command; needs root): unit, fuzz, netns, integration, e2e
	$(MAKE) preflight verify test-unit fuzz-short test-netns test-integration e2e

.PHONY: test-unit
test-unit: ## Unit tier: no root, no cluster (src, lab, deployments, fixtures, the scenarios' helpers)
	$(GO) test -race -count=1 ./...
	$(GO) test -tags e2e -count=1 ./scenarios/internal/... ./scenarios/cmd/...

.PHONY: test-netns
test-netns: preflight build plugins ## Netns tier: real namespaces, real plugins, real shim and daemon (root)
	MT_BIN=$(BIN) MT_PLUGINS=$(PLUGINS_DIR) $(GO) test -tags netns -count=1 -p 1 ./src/...

.PHONY: fuzz-short
fuzz-short: ## Run each fuzz target briefly
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime 10s ./src/internal/server/
	$(GO) test -run '^$$' -fuzz '^FuzzMergeConfig$$' -fuzztime 10s ./src/internal/server/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./src/internal/netselect/
	$(GO) test -run '^$$' -fuzz '^FuzzNADConfig$$' -fuzztime 10s ./src/internal/resolve/

.PHONY: bench-go
bench-go: build ## Go benchmarks (shim process cost, ADD+DEL round trip)
	MT_BIN=$(BIN) $(GO) test -run '^$$' -bench . -benchmem -count 5 ./src/... | tee $(ARTIFACTS)/bench-go.txt

##@ Integration (real kube-apiserver via envtest)

.PHONY: k8s-bins
k8s-bins: ## Build kube-apiserver, kubectl, kubelet, kubeadm... $(K8S_VERSION) into the cache
	K8S_VERSION=$(K8S_VERSION) MT_CACHE=$(MT_CACHE) $(GO) run ./lab/cmd/lab k8s-bins

# envtest wants kube-apiserver, etcd and kubectl in one directory: link the cached
# Kubernetes build and Debian's etcd there. One package at a time (-p 1): each starts its own
# API server, and the 5,000-pod cache test is heavy enough alone.
.PHONY: test-integration
test-integration: preflight build k8s-bins ## Integration tier against a real kube-apiserver + etcd (envtest)
	mkdir -p $(ENVTEST_ASSETS)
	ln -sfn $(K8S_BIN)/kube-apiserver $(ENVTEST_ASSETS)/kube-apiserver
	ln -sfn $(K8S_BIN)/kubectl $(ENVTEST_ASSETS)/kubectl
	ln -sfn "$$(command -v etcd)" $(ENVTEST_ASSETS)/etcd
	KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) $(GO) test -tags integration -count=1 -p 1 -timeout 20m ./src/... ./lab/...

##@ Lab

.PHONY: lab-docker
lab-docker: preflight ## Start a docker engine able to run kind nodes (installs docker.io, runtime wrapper if needed)
	$(GO) run ./lab/cmd/lab docker

.PHONY: node-image
node-image: preflight ## Bake the kind node image offline (cold about 30 min, cached by version)
	K8S_VERSION=$(K8S_VERSION) MT_CACHE=$(MT_CACHE) $(GO) run ./lab/cmd/lab bake

# The lab command reads these; step logs go to $(ARTIFACTS)/lab/<step>.log, the kubeconfig to
# $(ARTIFACTS)/kubeconfig. LAB_CLUSTER (default mt-lab), LAB_NODE_IMAGE (an upstream kind
# node image instead of the local bake) and LAB_MANIFEST (ours, the default, or upstream:
# deployments/upstream/, upstream's DaemonSet shape with our image; lab-up and lab-deploy)
# pass through from the environment.
LAB := K8S_VERSION=$(K8S_VERSION) MT_CACHE=$(MT_CACHE) ARTIFACTS=$(ARTIFACTS) MT_LOG_DIR=$(ARTIFACTS)/lab $(GO) run ./lab/cmd/lab

.PHONY: lab-up
lab-up: preflight ## Bring up the offline kind lab, or repair it (bakes the node image on first run)
	$(LAB) up

.PHONY: lab-down
lab-down: ## Delete the lab cluster, the egress guard and the guard's network (nothing else)
	$(LAB) down

.PHONY: lab-status
lab-status: ## Nodes, daemon pods, NADs, pod attachments and the guard's reject counter
	$(LAB) status

.PHONY: lab-logs
lab-logs: ## kind export logs and the daemon's logs into $(ARTIFACTS)/logs
	$(LAB) logs

.PHONY: lab-load
lab-load: ## Rebuild our binaries and lab images and load them into the running lab
	$(LAB) load

.PHONY: lab-deploy
lab-deploy: ## lab-load, then apply deployments/ and wait for the daemon's rollout
	$(LAB) deploy

.PHONY: lab-manifests
lab-manifests: ## Regenerate deployments/multus-daemonset-thick.yml from the per-kind files
	$(LAB) manifests

##@ E2E

# Scenarios (scenarios/, e2e-framework) run against the lab's kubeconfig. E2E_ARGS passes
# e2e-framework flags, e.g. E2E_ARGS='--labels area=attach' or '--skip-labels disruptive=true'.
# SKIP_DISRUPTIVE=1 (MT_E2E_SKIP_DISRUPTIVE, or the suite's --skip-disruptive flag) leaves out
# the scenarios that restart the daemon or nodes, for shared clusters.
# MT_E2E_* variables (scenarios/internal/e2eutil/settings.go) point the suite at another cluster.
# MT_E2E_KUBECONFIG and MT_E2E_SKIP_DISRUPTIVE from the environment are kept, not overridden.
LAB_CLUSTER     ?= mt-lab
ifdef MT_E2E_KUBECONFIG
E2E_KUBECONFIG  ?= $(MT_E2E_KUBECONFIG)
endif
E2E_KUBECONFIG  ?= $(ARTIFACTS)/kubeconfig
E2E_TIMEOUT     ?= 40m
E2E_ARGS        ?=
SKIP_DISRUPTIVE ?= $(MT_E2E_SKIP_DISRUPTIVE)
E2E_TEST        := MT_E2E_SKIP_DISRUPTIVE=$(SKIP_DISRUPTIVE) MT_E2E_CLUSTER=$(LAB_CLUSTER) MT_E2E_KUBECONFIG=$(E2E_KUBECONFIG) \
  $(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -json
# The summary tool prints the table, writes the JUnit report and exits non-zero unless every
# selected scenario passed; pipefail (.SHELLFLAGS) keeps go test's own status as well.
E2E_SUMMARY    := $(GO) run ./scenarios/cmd/summary -stream
# The lab is "up" when its kubeconfig exists and its node containers run; lab-up is run otherwise.
# A cluster that is not kind (MT_E2E_NODE_ACCESS=pod) needs only its kubeconfig, and never lab-up.
E2E_ENSURE_LAB := if test "$${MT_E2E_NODE_ACCESS:-docker}" = pod; then test -s $(E2E_KUBECONFIG); else \
  { test -s $(E2E_KUBECONFIG) && docker ps -q --filter label=io.x-k8s.kind.cluster=$(LAB_CLUSTER) | grep -q .; } || $(MAKE) lab-up; fi

.PHONY: e2e
e2e: ## Run every scenario (both profiles) against the lab (brings it up if needed); summary table at the end
	$(E2E_ENSURE_LAB)
	mkdir -p $(ARTIFACTS)/e2e
	MT_E2E_ARTIFACTS=$(ARTIFACTS)/e2e $(E2E_TEST) ./scenarios/ -args $(E2E_ARGS) | tee $(ARTIFACTS)/e2e/test.json | $(E2E_SUMMARY) -junit $(ARTIFACTS)/e2e/junit.xml

.PHONY: conformance
conformance: ## Run the upstream profile (behaviour upstream Multus thick has too) against the lab; summary at the end
	$(E2E_ENSURE_LAB)
	mkdir -p $(ARTIFACTS)/e2e
	MT_E2E_ARTIFACTS=$(ARTIFACTS)/e2e $(E2E_TEST) ./scenarios/ -args --labels profile=upstream $(E2E_ARGS) | tee $(ARTIFACTS)/e2e/test.json | $(E2E_SUMMARY) -junit $(ARTIFACTS)/e2e/junit.xml

.PHONY: repro
repro: ## Run one scenario, keep its namespace and objects, logs to _artifacts/repro: make repro SCENARIO=DelegateFailure
	@test -n "$(SCENARIO)" || { echo "usage: make repro SCENARIO=<test name without Test, e.g. DelegateFailure; a regex works>" >&2; exit 2; }
	$(E2E_ENSURE_LAB)
	mkdir -p $(ARTIFACTS)/repro
	MT_E2E_KEEP=1 MT_E2E_ARTIFACTS=$(ARTIFACTS)/repro $(E2E_TEST) -run '^Test($(SCENARIO))$$' ./scenarios/ -args $(E2E_ARGS) | tee $(ARTIFACTS)/repro/test.json | $(E2E_SUMMARY) -junit $(ARTIFACTS)/repro/junit.xml

# Your delegate on the lab: PLUGIN (a CNI plugin binary; omitted: the node's), NAD (a
# NetworkAttachmentDefinition file), POD, NODE (a worker), COUNT (pods one after another),
# KEEP=1, TIMEOUT (per pod; default the daemon's delegateTimeout + 1m). Every delegate call
# of the repro namespace is recorded by bin/mt-repro-rec; evidence in $(ARTIFACTS)/repro/.
.PHONY: repro-delegate
repro-delegate: build ## Reproduce your delegate's failure: make repro-delegate PLUGIN=<binary> NAD=<nad.yaml> [POD= NODE= COUNT= KEEP=1]
	@test -n "$(NAD)" || { echo "usage: make repro-delegate NAD=<nad.yaml> [PLUGIN=<binary>] [POD=<pod.yaml>] [NODE=<worker>] [COUNT=N] [KEEP=1]" >&2; exit 2; }
	$(E2E_ENSURE_LAB)
	$(LAB) repro-delegate NAD='$(NAD)' PLUGIN='$(PLUGIN)' POD='$(POD)' NODE='$(NODE)' COUNT='$(COUNT)' KEEP='$(KEEP)' TIMEOUT='$(TIMEOUT)' RECORDER=$(BIN)/mt-repro-rec

.PHONY: repro-replay
repro-replay: ## Run a repro-delegate folder's calls again on its node, no Kubernetes: make repro-replay DIR=<folder> [PLUGIN=<new build>]
	@test -n "$(DIR)" || { echo "usage: make repro-replay DIR=_artifacts/repro/<name>-<time> [PLUGIN=<new build>] [NODE=<node>]" >&2; exit 2; }
	$(LAB) repro-replay DIR='$(DIR)' PLUGIN='$(PLUGIN)' NODE='$(NODE)'

.PHONY: e2e-list
e2e-list: ## List the scenarios (no cluster needed)
	$(GO) test -tags e2e -list . ./scenarios/ | grep '^Test'

.PHONY: e2e-vet
e2e-vet: ## Vet the scenarios and unit-test their helpers and the summary tool (no cluster needed)
	$(GO) vet -tags e2e ./scenarios/...
	$(GO) test -tags e2e -count=1 ./scenarios/internal/... ./scenarios/cmd/...

##@ Bench

# The node-level benchmark runs on the host (root): envtest's kube-apiserver + etcd, one netns per
# pod, the shim through libcni with the daemon's generated 00-multus.conf, and the same delegates
# directly through libcni (the floor). SHIM_BIN/DAEMON_BIN point it at any pair speaking the
# upstream socket protocol; BENCH_ARGS='-compare upstream=/path/shim:/path/daemon' adds another.
# Results: $(ARTIFACTS)/bench/{bench.json,bench.md,latency.svg} and the daemons' logs.
SHIM_BIN       ?= $(BIN)/multus-shim
DAEMON_BIN     ?= $(BIN)/multus-daemon
BENCH          ?= full
BENCH_ARGS     ?=
ENVTEST_ASSETS ?= $(MT_CACHE)/envtest-assets

.PHONY: bench
bench: preflight build plugins k8s-bins ## Node-level benchmark, ours vs the floor (BENCH=quick for < 2 min; root)
	$(BIN)/mt-bench -mode $(BENCH) -shim $(SHIM_BIN) -daemon $(DAEMON_BIN) -plugins $(PLUGINS_DIR) \
	  -assets $(ENVTEST_ASSETS):$(K8S_BIN) -out $(ARTIFACTS)/bench -commit $(COMMIT) $(BENCH_ARGS)

# The lab density benchmark (kube-burner node-density-cni style) runs against the lab that
# `make lab-up` made (LAB_KUBECONFIG, default $(ARTIFACTS)/kubeconfig): per phase BENCH_LAB_ARGS
# '-pods 60 -rate 10' pods created at a fixed rate and as one burst, for Multus with a macvlan
# attachment, Multus without, and flannel alone (00-multus.conf moved aside, restored after).
# Results: $(ARTIFACTS)/bench/{bench-lab.json,bench-lab.md,bench-lab.svg}. Take the lab lock.
BENCH_LAB_ARGS ?=
LAB_KUBECONFIG ?= $(ARTIFACTS)/kubeconfig

.PHONY: bench-lab
bench-lab: ## Lab density benchmark: pod-ready latency and daemon cost per node on the kind lab
	$(GO) run ./src/cmd/bench-lab -kubeconfig $(LAB_KUBECONFIG) \
	  -out $(ARTIFACTS)/bench -commit $(COMMIT) $(BENCH_LAB_ARGS)

##@ Lint

.PHONY: verify
verify: ## gofmt and go vet over every tier's build tags
	test -z "$$(gofmt -l src lab scenarios fixtures deployments 2>/dev/null)" || { gofmt -l src lab scenarios fixtures deployments; exit 1; }
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) vet -tags netns,integration,e2e ./...

.PHONY: clean
clean: ## Remove build outputs (not the version cache)
	rm -rf $(BIN) $(ARTIFACTS)
