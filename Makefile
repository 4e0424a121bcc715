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
generate: ## Regenerate deepcopy, CRDs, RBAC and webhook configurations from the markers.
	hack/generate.sh

.PHONY: verify-generated
verify-generated: ## Fail when a generated file is stale.
	hack/generate.sh --verify

.PHONY: vet
vet: ## go vet every package.
	go vet ./...

.PHONY: k8s-bin
k8s-bin: ## Build the pinned Kubernetes binaries (cached); prints their directory last.
	@hack/k8s-bin.sh kube-apiserver etcd kube-controller-manager kubectl

.PHONY: test
test: verify-generated vet ## Unit and integration tests (on a real kube-apiserver + etcd).
	assets=$$(hack/k8s-bin.sh kube-apiserver etcd kube-controller-manager kubectl | tail -1); \
	KUBEBUILDER_ASSETS=$$assets go test -count=1 ./...

.PHONY: build
build: ## Build the manager and agent binaries into bin/.
	go build -o bin/ ./cmd/...

.PHONY: run
run: ## Run the manager out of cluster against $$KUBECONFIG, without webhooks.
	ENABLE_WEBHOOKS=false go run ./cmd/manager

.PHONY: bench-agent
bench-agent: ## The agent vs wrk on a local nginx (64 connections, pinned, alternating rounds); last line: ratio=... rss_mib=...
	hack/bench-agent.sh
