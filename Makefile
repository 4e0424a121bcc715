# DiLO's commands. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
# Only the Go module proxy is reachable: never fall back to fetching from VCS hosts.
export GOPROXY ?= https://proxy.golang.org
export GOFLAGS ?= -buildvcs=false

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: generate
generate: ## Regenerate deepcopy, CRDs, RBAC and webhook configurations from the markers, dist/install.yaml and the Helm chart dist/chart.
	hack/generate.sh
	$(MAKE) -s dist
	hack/chart.sh

.PHONY: verify-generated
verify-generated: ## Fail when a generated file is stale.
	hack/generate.sh --verify
	hack/chart.sh --verify

.PHONY: vet
vet: ## go vet every package, cert-manager's mains (a module of their own) too.
	go vet ./...
	hack/certmanager/build-binaries.sh --vet

.PHONY: k8s-bin
k8s-bin: ## Build the pinned Kubernetes binaries (cached); prints their directory last.
	@hack/k8s-bin.sh kube-apiserver etcd kube-controller-manager kubectl

.PHONY: test
test: verify-generated vet ## Unit and integration tests (on a real kube-apiserver + etcd; the Helm chart with helm; the report in headless Chromium; kubectl dilo watch in tmux).
	assets=$$(hack/k8s-bin.sh kube-apiserver etcd kube-controller-manager kubectl | tail -1); \
	helm=$$(hack/helm.sh | tail -1); \
	chromium=$$(hack/chromium.sh | tail -1); \
	tmux=$$(hack/tmux.sh | tail -1); \
	KUBEBUILDER_ASSETS=$$assets HELM=$$helm CHROMIUM=$$chromium TMUX_BIN=$$tmux go test -count=1 ./...

.PHONY: build
build: ## Build the manager, agent, agent-bench, target and kubectl-dilo binaries into bin/.
	go build -o bin/ ./cmd/...

.PHONY: run
run: ## Run the manager out of cluster against $$KUBECONFIG, without webhooks.
	ENABLE_WEBHOOKS=false go run ./cmd/manager

.PHONY: bench-agent
bench-agent: ## The agent vs wrk and h2load on a local nginx (64 connections, pinned, alternating rounds): GET, then post_ratio, https_ratio, h2_ratio and ramp_max_dev lines; last line: ratio=... rss_mib=... (the GET's)
	hack/bench-agent.sh

# ---- Local cluster, images and end to end (hack/cluster, hack/image, hack/certmanager, e2e/) ----
# Caches live in $(DILO_CACHE) (default ~/.cache/dilo). cluster-up, deploy on it, e2e and demo need root.

.PHONY: images
images: ## Build the image localhost/dilo:dev (/manager, /agent, /target) as DILO_CACHE/images/dilo.tar.
	hack/image/build.sh

.PHONY: cluster-up
cluster-up: ## Start (or repair) the local single-node cluster; prints its admin kubeconfig last.
	@hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and restore the host (state kept for a fast restart).
	hack/cluster/down.sh

.PHONY: deploy
deploy: ## Install cert-manager (when missing) and DiLO into the cluster KUBECONFIG names.
	hack/cluster/deploy.sh

.PHONY: undeploy
undeploy: ## Remove DiLO (and its LoadTests) from the cluster KUBECONFIG names.
	hack/cluster/deploy.sh --undeploy

.PHONY: e2e
e2e: ## Local cluster, images, deploy, then the e2e suite (go test -tags e2e ./e2e/...).
	hack/image/build.sh >/dev/null
	hack/certmanager/build.sh >/dev/null
	kc=$$(hack/cluster/up.sh | tail -1); \
	KUBECONFIG=$$kc hack/cluster/deploy.sh; \
	chromium=$$(hack/chromium.sh | tail -1); \
	KUBECONFIG=$$kc CHROMIUM=$$chromium go test -tags e2e -count=1 -timeout 30m -v ./e2e/...

.PHONY: e2e-kind
e2e-kind: ## The e2e suite on a kind cluster built here (hack/kind: Debian's docker.io, DiLO's node image, no registry); deleted afterwards.
	@trap 'hack/kind/down.sh >/dev/null' EXIT; \
	kc=$$(hack/kind/up.sh | tail -1) && \
	KUBECONFIG=$$kc hack/cluster/deploy.sh && \
	chromium=$$(hack/chromium.sh | tail -1) && \
	KUBECONFIG=$$kc CHROMIUM=$$chromium DILO_KIND_NODE=$${KIND_CLUSTER:-dilo}-control-plane \
	  go test -tags e2e -count=1 -timeout 30m -v ./e2e/...

.PHONY: kind-down
kind-down: ## Delete the kind cluster of e2e-kind or DILO_KIND=1 demo, and stop the dockerd started for it.
	hack/kind/down.sh

.PHONY: demo
demo: ## Cluster (DILO_KIND=1: kind), cert-manager, DiLO, the demo target and the tutorial's LoadTest.
	hack/cluster/demo.sh

# A count of executions rather than a duration: Go 1.26's fuzz coordinator can report a
# duration's end as "context deadline exceeded", failing a target with no crashing input.
FUZZTIME ?= 10000x
FUZZ_TARGETS := internal/webhook:FuzzValidateLoadTest internal/webhook:FuzzValidateSimpleDeployment \
	internal/webhook:FuzzAdmissionReview \
	internal/agent:FuzzPrepareHTTP1 internal/agent/flagplan:FuzzParse \
	internal/report:FuzzParseFull internal/report/podreport:FuzzParseFull \
	internal/report:FuzzParse internal/report/podreport:FuzzParse internal/report/runplan:FuzzParse \
	internal/report/live:FuzzDecodeTimeline internal/report/live:FuzzRestore

.PHONY: fuzz
fuzz: ## Fuzz the admission webhooks (AdmissionReview decoding and validators), the agent's requests and agent-bench's flags, run plans, result parsing and the timeline ConfigMap's documents, $(FUZZTIME) (executions, or a duration such as 30s) per target (inputs shrunk for at most 100 runs, so short runs fuzz).
	for t in $(FUZZ_TARGETS); do \
	  go test -run='^$$' -fuzz="^$${t#*:}\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=100x ./$${t%%:*}/; \
	done

.PHONY: bench-scale
bench-scale: ## Scale benchmarks on envtest (tag scale): pod throughput vs the Job controller, webhook latency, manager RSS; prints ratio=, added_p99_ms=, rss_mib=.
	assets=$$(hack/k8s-bin.sh kube-apiserver etcd kube-controller-manager kubectl | tail -1); \
	KUBEBUILDER_ASSETS=$$assets go test -tags scale -count=1 -timeout 15m -v ./test/scale/ 2>&1 \
	  | grep -Ev '^(=== RUN|=== PAUSE|=== CONT)'

# ---- Release ----

.PHONY: dist
dist: ## Render config/default into dist/install.yaml: DiLO in one file (kubectl apply -f; needs cert-manager).
	kubectl=$$(hack/k8s-bin.sh kubectl | tail -1)/kubectl; \
	mkdir -p dist; \
	{ echo '# Generated by make dist from config/default: do not edit.'; $$kubectl kustomize config/default; } > dist/install.yaml.tmp; \
	mv dist/install.yaml.tmp dist/install.yaml
