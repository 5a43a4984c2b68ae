# notary: build, run the local stack, test.
GO ?= go

# The btcd node the tests and the local stack run: built from the version pinned in go.mod.
export NOTARY_BTCD := $(CURDIR)/bin/btcd

.PHONY: all build run test test-deps bench clean FORCE
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
	$(GO) test -run '^$$' -bench . -benchtime 2s ./merkle ./notary ./service ./store

clean:
	rm -rf bin
