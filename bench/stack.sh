#!/bin/sh
# Starts notary for the load runs, in the work directory W, and stops it.
#
#   sh bench/stack.sh replicas W DSN   # two processes on one PostgreSQL database:
#                                      #   A = notary dev  on 127.0.0.1:18580 (btcd regtest, a block every 3 s; it is elected writer)
#                                      #   B = notary serve on 127.0.0.1:18581 (follows A, forwards submissions to it)
#   sh bench/stack.sh sqlite W         # one process on SQLite: notary dev on 127.0.0.1:18580
#   sh bench/stack.sh stop W           # Ctrl-C to every process started in W, and wait for it
#
# notary dev limits no one. B is started with --anon-rate 0 (no limit); forwarded
# submissions count against the client's address on A, which limits no one either.
# Run from the repository's root after "make bin/notary bin/btcd".
set -eu
cmd=${1:?usage: stack.sh replicas W DSN | sqlite W | stop W}
w=${2:?usage: stack.sh replicas W DSN | sqlite W | stop W}
notary=${NOTARY:-./bin/notary}
a=${ADDR_A:-127.0.0.1:18580}
b=${ADDR_B:-127.0.0.1:18581}

# wait_status ADDR [PATTERN]: until /v1/status answers (and matches PATTERN).
wait_status() {
	i=0
	until curl -sf "http://$1/v1/status" 2>/dev/null | grep -q "${2:-log_size}"; do
		i=$((i + 1))
		if [ $i -gt 120 ]; then
			echo "stack: $1 did not come up; see $w/*.err" >&2
			exit 1
		fi
		sleep 0.5
	done
}

# start_dev [--db DSN]: notary dev as process A, once it prints its banner.
start_dev() {
	setsid "$notary" dev --data "$w/a" --addr "$a" "$@" >"$w/a.out" 2>"$w/a.err" &
	echo $! >"$w/a.pid"
	i=0
	until grep -q 'notary is running' "$w/a.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 240 ] || ! kill -0 "$(cat "$w/a.pid")" 2>/dev/null; then
			echo "stack: notary dev did not start; see $w/a.err" >&2
			exit 1
		fi
		sleep 0.5
	done
	wait_status "$a"
}

case $cmd in
replicas)
	dsn=${3:?usage: stack.sh replicas W DSN}
	mkdir -p "$w"
	start_dev --db "$dsn"
	# The node's RPC URL, with the credentials dev made up, from dev's banner.
	node=$(grep -o 'http://[0-9a-f]*:[0-9a-f]*@127\.0\.0\.1:[0-9]*' "$w/a.out" | head -1)
	mkdir -p "$w/b"
	chmod 700 "$w/b"
	cp -p "$w/a/log.key" "$w/a/bitcoin.key" "$w/a/webhook.key" "$w/b/"
	NOTARY_DB=$dsn setsid "$notary" serve --data "$w/b" --addr "$b" --network regtest \
		--node "$node" --anon-rate 0 >"$w/b.out" 2>"$w/b.err" &
	echo $! >"$w/b.pid"
	wait_status "$b" '"writer":{"url"'
	for x in "$a" "$b"; do
		printf '%s: ' "$x"
		curl -s "http://$x/v1/status" | grep -o '"writer":{[^}]*}'
	done
	;;
sqlite)
	mkdir -p "$w"
	start_dev
	printf '%s: ' "$a"
	curl -s "http://$a/v1/status" | grep -o '"writer":{[^}]*}' || echo "(no writer field: single process)"
	;;
stop)
	for p in b a; do
		[ -f "$w/$p.pid" ] || continue
		pid=$(cat "$w/$p.pid")
		kill -INT "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null; do
			i=$((i + 1))
			if [ $i -gt 60 ]; then
				echo "stack: process $pid did not stop in 30 s; killing it" >&2
				kill -KILL "$pid" 2>/dev/null || true
			fi
			sleep 0.5
		done
		rm -f "$w/$p.pid"
	done
	;;
*)
	echo "usage: stack.sh replicas W DSN | sqlite W | stop W" >&2
	exit 2
	;;
esac
