# notary: build, run the local stack, test.
GO ?= go

# The btcd node the tests and the local stack run: built from the version pinned in go.mod.
export NOTARY_BTCD := $(CURDIR)/bin/btcd

.PHONY: all build run test test-deps bench clean FORCE
all: build

build: bin/notary

bin/notary: FORCE
	$(GO) build -o $@ ./cmd/notary

bin/btcd: go.mod go.sum
	$(GO) build -o $@ github.com/btcsuite/btcd

# The whole local stack: btcd on regtest, blocks mined every few seconds, the notary on
# http://127.0.0.1:8080. Ctrl-C stops everything.
run: bin/notary bin/btcd
	./bin/notary dev $(ARGS)

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
