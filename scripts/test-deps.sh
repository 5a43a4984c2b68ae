#!/bin/sh
# Installs what the tests need beyond Go, from Debian's packages, when it is missing:
# gcc (SQLite through cgo), the OpenTimestamps reference implementation (interop tests,
# run with /usr/bin/python3), chromium and npm (the browser tests, which take axe-core from
# npm into the user's cache directory), openssl, osslsigncode and jarsigner (the RFC 3161
# clients of the TSA's tests), systemd-analyze (the unit file's test), openssh-client
# (ssh-agent, ssh-add and ssh-keygen hold the key of the litewitness the witness tests run)
# and the PostgreSQL server (internal/pgtest). Does nothing when everything is there;
# `make test` runs it.
set -eu

missing=""
command -v gcc >/dev/null || missing="$missing gcc libc6-dev"
/usr/bin/python3 -c 'import opentimestamps' 2>/dev/null || missing="$missing python3-opentimestamps"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v openssl >/dev/null || missing="$missing openssl"
command -v osslsigncode >/dev/null || missing="$missing osslsigncode"
command -v jarsigner >/dev/null || missing="$missing default-jdk-headless"
command -v npm >/dev/null || missing="$missing npm"
command -v systemd-analyze >/dev/null || missing="$missing systemd"
command -v ssh-agent >/dev/null && command -v ssh-add >/dev/null && command -v ssh-keygen >/dev/null || missing="$missing openssh-client"

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "test-deps: missing:$missing; install them (apt-get install$missing) or run make test as root" >&2
		exit 1
	fi
	echo "test-deps: installing$missing" >&2
	apt-get update -qq
	# shellcheck disable=SC2086 # the list is words
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
exec sh "$(dirname "$0")/../internal/pgtest/install.sh"
