#!/bin/sh
# Proof lookups by digest on PostgreSQL: fill a log through batches once, then restart the
# service on it and measure GET /v1/timestamps/{digest} of random logged digests with 64
# clients: runs of 30 s after 20 s of warm-up, each started once the machine is quiet,
# with where the CPU went and the statements PostgreSQL spent its time on.
#
#   sh bench/pglookup.sh fill DIR [N]            # a new log of N entries (default 10^7) in DIR
#   sh bench/pglookup.sh lookup DIR [N [RUNS]]   # RUNS (default 3) runs against it; N as filled
#
# From the repository's root, after make bin/notary bin/btcd and
# go build -o bin/notaryload ./internal/cmd/notaryload. The service listens on
# 127.0.0.1:18590 (ADDR), btcd's RPC on 127.0.0.1:18591, PostgreSQL on 127.0.0.1:$PGPORT
# (default 15432). NOTARY picks another binary to measure against the same log.
set -eu
cmd=${1:?usage: pglookup.sh fill|lookup DIR [N [RUNS]]}
d=${2:?usage: pglookup.sh fill|lookup DIR [N [RUNS]]}
n=${3:-10000000} runs=${4:-3}
notary=${NOTARY:-./bin/notary} load=${NOTARYLOAD:-./bin/notaryload}
bench=$(dirname "$0")
addr=${ADDR:-127.0.0.1:18590} port=${PGPORT:-15432}
dsn="postgres://notary@127.0.0.1:$port/bench?sslmode=disable"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case $cmd in
fill)
	rm -rf "$d"; mkdir -p "$d"; chmod 755 "$d"
	PGPORT=$port sh "$bench/postgres.sh" start "$d/pg" >/dev/null
	;;
lookup)
	as_pg "$pgbin/pg_ctl" -D "$d/pg/data" -w -l "$d/pg/log" start -o \
		"-p $port -k $d/pg -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB -c shared_preload_libraries=pg_stat_statements" >/dev/null
	psql -X -q -h 127.0.0.1 -p "$port" -U notary -d bench -c 'create schema if not exists pss' \
		-c 'create extension if not exists pg_stat_statements schema pss' >/dev/null
	;;
*)
	echo "usage: pglookup.sh fill|lookup DIR [N [RUNS]]" >&2
	exit 2
	;;
esac
./bin/btcd --simnet --datadir="$d/btcd/data" --logdir="$d/btcd/logs" --rpclisten=127.0.0.1:18591 \
	--rpcuser=u --rpcpass=p --notls --nodnsseed --nolisten --utxocachemaxsize=8 >"$d/btcd.out" 2>&1 &
btcd=$!
trap 'kill $btcd 2>/dev/null || true; [ -n "${svc:-}" ] && kill -INT $svc 2>/dev/null; sleep 1; as_pg "$pgbin/pg_ctl" -D "$d/pg/data" -m fast -w stop >/dev/null || true' EXIT
sleep 2
"$notary" serve --network simnet --node http://u:p@127.0.0.1:18591 --data "$d/data" --db "$dsn" \
	--addr "$addr" --anon-rate 0 --anon-digest-rate 0 >"$d/serve.out" 2>"$d/serve.err" &
svc=$!
until curl -sf "http://$addr/readyz" >/dev/null; do sleep 0.2; done

if [ "$cmd" = fill ]; then
	"$load" fill -url "http://$addr" -n "$n" -batch 10000 -clients 8 | tail -2
	exit
fi
pg=$(head -1 "$d/pg/data/postmaster.pid")
"$load" lookup -url "http://$addr" -n "$n" -clients 64 -duration 20s >/dev/null
psql -X -q -h 127.0.0.1 -p "$port" -U notary -d bench -c 'select pss.pg_stat_statements_reset()' >/dev/null
for r in $(seq "$runs"); do
	python3 "$bench/cpuwatch.py" --name notary=$svc --name pg="$pg" --quiet 0.3 120 >/dev/null
	python3 "$bench/cpuwatch.py" --name notary=$svc --name pg="$pg" -- \
		"$load" lookup -url "http://$addr" -n "$n" -clients 64 -duration ${SECONDS_A_RUN:-30}s >"$d/run.txt" 2>&1 || true
	echo "== run $r"
	grep -v '^cpu core-s' "$d/run.txt"
	grep '^cpu core-s' "$d/run.txt" | awk -v ok="$(grep -o '[0-9]* ok' "$d/run.txt" | cut -d' ' -f1)" \
		'{ for (i = 1; i <= NF; i++) { if ($i == "notary") a = $(i+1); if ($i == "pg") b = $(i+1) }
		   gsub(",", "", a); gsub(",", "", b)
		   printf "CPU a lookup: notary %.0f us, PostgreSQL %.0f us\n", a * 1e6 / ok, b * 1e6 / ok }'
done
psql -X -h 127.0.0.1 -p "$port" -U notary -d bench -c "select calls, round((total_exec_time / calls * 1000)::numeric) as us_a_call, rows,
	left(regexp_replace(query, '\s+', ' ', 'g'), 70) as statement from pss.pg_stat_statements order by total_exec_time desc limit 4"
echo "resident memory: $(grep VmRSS /proc/$svc/status | tr -s ' \t' ' ')"
