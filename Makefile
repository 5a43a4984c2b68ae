# notary: build, run the local stack, test.
GO ?= go

# The btcd node the tests and the local stack run: built from the version pinned in go.mod.
export NOTARY_BTCD := $(CURDIR)/bin/btcd

.PHONY: all build run test test-deps bench release clean FORCE
all: build

build: bin/notary

# The first build compiles SQLite's C code and btcd: it takes minutes, and -v prints each
# package as it is compiled. Later builds take seconds.
bin/notary: FORCE
	@test -x $@ || echo "Building bin/notary: the first build compiles SQLite (C) and takes a few minutes..."
	$(GO) build -v -o $@ ./cmd/notary

bin/btcd: go.mod go.sum
	@echo "Building bin/btcd, the Bitcoin node of the local stack and the tests (once; a minute or two)..."
	$(GO) build -v -o $@ github.com/btcsuite/btcd

# The whole local stack: btcd on regtest, blocks mined every few seconds, the notary on
# http://$(ADDR). Ctrl-C stops everything. Choose the address with ADDR, pin btcd's RPC
# address with BTCD_RPC, pass any other flag of "notary dev" in ARGS:
#   make run ADDR=127.0.0.1:9090 BTCD_RPC=127.0.0.1:18556 ARGS="--block-interval 10s"
ADDR ?= 127.0.0.1:8080
BTCD_RPC ?=
run: bin/notary bin/btcd
	./bin/notary dev --addr $(ADDR) $(if $(BTCD_RPC),--btcd-rpc $(BTCD_RPC)) $(ARGS)

# Every test, including the ones against a real btcd node, real SQLite files, real
# PostgreSQL servers, a real HTTP server, Debian's chromium and the OpenTimestamps
# reference. It installs what is missing first (test-deps), and builds the witness the tests
# run against (litewitness and witnessctl, pinned by go.mod's tool lines) before the tests
# that start it.
test: test-deps bin/btcd
	$(GO) vet ./...
	$(GO) tool -n filippo.io/torchwood/cmd/litewitness >/dev/null
	$(GO) tool -n filippo.io/torchwood/cmd/witnessctl >/dev/null
	$(GO) test -race -timeout 30m ./...

# What the tests need beyond Go: gcc, python3-opentimestamps, chromium, npm, openssl, osslsigncode, jarsigner, PostgreSQL.
test-deps:
	sh scripts/test-deps.sh

# Benchmarks (numbers in the issues' closing notes come from here).
bench: bin/btcd
	$(GO) test -run '^$$' -bench . -benchtime 2s ./merkle ./notary ./service ./store ./internal/runindex

# Release binaries in $(DIST): the verifier and client build (CGO_ENABLED=0, static, no
# database) for every platform a verifier may use, the server build for linux/amd64, and
# SHA256SUMS. -trimpath, no VCS stamping and an empty build ID make the bytes a function of
# the source, VERSION, COMMIT and the Go toolchain alone: two builds give the same files.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
DIST ?= dist
VERIFIER_TARGETS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
SERVER_TARGETS ?= linux/amd64
RELEASE_FLAGS = -trimpath -buildvcs=false -ldflags '-s -w -buildid= -X main.version=$(VERSION) -X main.commit=$(COMMIT)'

release:
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for t in $(VERIFIER_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		echo "CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -o $(DIST)/notary-$$os-$$arch$$ext"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build $(RELEASE_FLAGS) -o $(DIST)/notary-$$os-$$arch$$ext ./cmd/notary; \
	done
	@set -e; for t in $(SERVER_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; \
		echo "CGO_ENABLED=1 GOOS=$$os GOARCH=$$arch go build -o $(DIST)/notary-server-$$os-$$arch"; \
		CGO_ENABLED=1 GOOS=$$os GOARCH=$$arch $(GO) build $(RELEASE_FLAGS) -o $(DIST)/notary-server-$$os-$$arch ./cmd/notary; \
	done
	cd $(DIST) && sha256sum notary-* > SHA256SUMS

clean:
	rm -rf bin dist
