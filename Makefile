# csi-viso — every target CI and developers use. `make test` is what CI runs.
SHELL        := /bin/bash
GO           ?= go
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS         := ./...
BIN          := bin/csi-viso
FUZZTIME     ?= 60s
EXAMPLE      ?= examples/cloud-init-seed/seed.viso

.PHONY: all build deps test unit lint fuzz bench example clean sanity

all: build

build:
	$(GO) build -o $(BIN) ./cmd/csi-viso

deps:
	./scripts/deps.sh

## test: everything CI runs (installs its own dependencies first): lint, every Go
## test, then the end-to-end run on a real single-node cluster (make e2e).
test: deps lint unit e2e

unit:
	$(GO) test -count=1 -timeout 30m $(PKGS)

## lint: gofmt, go vet and staticcheck must all be clean.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each (one at a time: the machine has 2 cores).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: the speed and memory benchmarks (numbers go into issue notes).
bench: bench-import
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS)

## bench-import: publishing cost of a VISO importing a sparse 4 GiB base vs a
## 40 MiB one (inspect --json time, ratio to a warm cat; fails on missed targets).
.PHONY: bench-import
bench-import:
	bench/import-cost.sh

## example: the README's no-cluster main job on a bundled example: show the
## parsed VISO, synthesise its image, and list the image with xorriso.
example: deps build
	./$(BIN) inspect $(EXAMPLE)
	./$(BIN) build $(EXAMPLE) -o bin/example.iso
	xorriso -abort_on NEVER -return_with WARNING 32 -indev bin/example.iso -pvd_info -find / -exec lsdl 2>/dev/null

## sanity: csi-sanity against the real csi-viso binary over a Unix socket (needs root).
sanity:
	$(GO) test -count=1 -timeout 15m -v ./test/sanity/

clean:
	rm -rf bin

## e2e-up: a single-node Kubernetes v1.34.4 cluster from parts (root; builds cached under
## $${CSI_VISO_CACHE:-~/.cache/csi-viso}); then `source /tmp/csi-viso-e2e/env`.
## e2e-down: tear it down and check that nothing is left.
.PHONY: e2e-up e2e-down
e2e-up:
	test/e2e/cluster/up.sh

e2e-down:
	test/e2e/cluster/down.sh

## images: the csi-viso and external-provisioner images as OCI image tarballs in bin/images,
## without Docker: static binaries (CGO_ENABLED=0) packed by test/e2e/images. Import them
## with test/e2e/cluster/load-image.sh or `ctr -n k8s.io images import`.
## chart-lint: helm lint of charts/csi-viso (defaults and the e2e values).
## chart-test: render tests of the chart and the plain manifests (test/chart).
.PHONY: images chart-lint chart-test
VERSION           ?= $(shell awk -F'"' '/^appVersion:/ {print $$2}' charts/csi-viso/Chart.yaml)
IMAGE_REPO        ?= csi-viso.local/csi-viso
PROVISIONER_REPO  ?= csi-viso.local/csi-provisioner
PROVISIONER_VER   := $(shell awk '$$1 == "require" && $$2 ~ /external-provisioner/ {print $$3}' test/e2e/provisioner/go.mod)
CSI_VISO_CACHE    ?= $(HOME)/.cache/csi-viso
HELM_VER          := $(shell awk '$$1 == "require" && $$2 == "helm.sh/helm/v3" {print $$3}' test/e2e/cluster/helmbuild/go.mod)
HELM              ?= $(CSI_VISO_CACHE)/helm-$(HELM_VER)/bin/helm

images:
	@mkdir -p bin/images
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/images/csi-viso ./cmd/csi-viso
	$(GO) run ./test/e2e/images -o bin/images/csi-viso.tar -name $(IMAGE_REPO):$(VERSION) -bin bin/images/csi-viso
	PROVISIONER_IMAGE=$(PROVISIONER_REPO):$(PROVISIONER_VER) test/e2e/provisioner/build.sh bin/images/csi-provisioner.tar

# helm from its Go module, where test/e2e/cluster/build.sh caches it (same flags).
$(HELM):
	cd test/e2e/cluster/helmbuild && CGO_ENABLED=0 $(GO) build -trimpath \
	  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VER) -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
	  -o $(HELM) helm.sh/helm/v3/cmd/helm

chart-lint: $(HELM)
	$(HELM) lint --strict charts/csi-viso
	$(HELM) lint --strict charts/csi-viso --values test/e2e/values-e2e.yaml

chart-test: $(HELM)
	HELM=$(HELM) $(GO) test -count=1 ./test/chart/

## e2e: the end-to-end test (root): images, a cluster from parts (test/e2e/cluster, cached
## builds), the images imported, deploy/kubernetes/ checked by a server-side dry run, the
## chart installed with helm from charts/, go test -tags e2e ./test/e2e/, then uninstall and
## a complete teardown, always (test/e2e/run.sh; test/e2e/README.md).
.PHONY: e2e
e2e: images
	test/e2e/run.sh
