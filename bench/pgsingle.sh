#!/bin/sh
# Durable single submissions on PostgreSQL: a throwaway server, two notary processes on its
# database (A writes the log, B forwards to it), 32 wrk connections to each, three runs of
# 20 s after a 5 s warm-up. Prints each run's rates (their sum is the figure), latencies
# and where the CPU went, then both processes' resident memory.
#
#   sh bench/pgsingle.sh            # from the repository's root, after make bin/notary bin/btcd
set -eu
notary=${NOTARY:-./bin/notary}
bench=$(dirname "$0")
d=$(mktemp -d); chmod 755 "$d"
trap 'NOTARY=$notary sh "$bench/stack.sh" stop "$d/w" >/dev/null 2>&1 || true; sh "$bench/postgres.sh" stop "$d/pg" || true; rm -rf "$d"' EXIT
dsn=$(sh "$bench/postgres.sh" start "$d/pg")
NOTARY=$notary sh "$bench/stack.sh" replicas "$d/w" "$dsn" >/dev/null
a=$(cat "$d/w/a.pid") b=$(cat "$d/w/b.pid") pg=$(head -1 "$d/pg/data/postmaster.pid")
A=${ADDR_A:-127.0.0.1:18580} B=${ADDR_B:-127.0.0.1:18581}
wrk -t1 -c32 -d5s --timeout 10s -s "$bench/submit.lua" "http://$A/v1/timestamps" >/dev/null
for r in 1 2 3; do
	python3 "$bench/cpuwatch.py" --name A="$a" --name B="$b" --name PG="$pg" -- sh -c "
		wrk -t1 -c32 -d20s --timeout 10s --latency -s $bench/submit.lua http://$A/v1/timestamps >$d/a.txt &
		wrk -t1 -c32 -d20s --timeout 10s --latency -s $bench/submit.lua http://$B/v1/timestamps >$d/b.txt
		wait" >"$d/cpu.txt"
	echo "== run $r"
	grep -h 'accepted\|p99\|non-2xx' "$d/a.txt" "$d/b.txt"
	head -2 "$d/cpu.txt"
done
echo "resident memory: A $(grep VmRSS /proc/$a/status | tr -s ' \t' ' '), B $(grep VmRSS /proc/$b/status | tr -s ' \t' ' ')"
