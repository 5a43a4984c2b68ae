#!/bin/sh
# Runs every load figure of bench/README.md and writes what wrk printed, with the CPU
# accounting of each run, into OUT; prints a summary (median of the repetitions, with the
# lowest and highest) at the end. Run from the repository's root as root, after
# "make bin/notary bin/btcd", with wrk and Debian's PostgreSQL server installed.
#
#   sh bench/run.sh OUT
#
# Two stacks run side by side and their runs alternate, so that a change in what else the
# machine does falls on both alike:
#   PostgreSQL on 127.0.0.1:15432; A = notary dev (writer) on :18580, B = notary serve
#   (follower) on :18581, both on that database;
#   S = notary dev on SQLite on :18582.
# btcd's RPC takes a free loopback port. Everything it starts is stopped at the end.
#
# Settings (environment): DURATION (20s), REPS (3), THREADS (wrk threads per wrk process, 1),
# CONNS (connections in all for single submissions, 64), BATCHES (digests per batch,
# "10000 1000"), BATCH_CONNS (4), DRAIN (most seconds to wait, before a batch run, for
# the digest index to catch up with the log; 300), STEADY (length of the last run, 60s,
# batches to the writer with the log's size sampled every 5 s; 0 for none), QUIET (0.3),
# QUIET_WAIT (60), OTHERS (4) and TRIES (2): see load below.
set -eu
out=${1:?usage: run.sh OUT}
duration=${DURATION:-20s}
reps=${REPS:-3}
threads=${THREADS:-1}
conns=${CONNS:-64}
batches=${BATCHES:-10000 1000}
batch_conns=${BATCH_CONNS:-4}
drain=${DRAIN:-300}
steady=${STEADY:-60s}
quiet=${QUIET:-0.3}
quiet_wait=${QUIET_WAIT:-60}
max_others=${OTHERS:-4}
tries=${TRIES:-2}
A=127.0.0.1:18580
B=127.0.0.1:18581
S=127.0.0.1:18582
bench=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d /tmp/notary-bench.XXXXXX)
chmod 755 "$tmp"
pg=$tmp/pg
# The binaries are copied: a rebuild in the work tree during the runs changes nothing.
mkdir "$tmp/bin"
cp bin/notary bin/btcd "$tmp/bin/"
export NOTARY="$tmp/bin/notary" NOTARY_BTCD="$tmp/bin/btcd"
wp=$tmp/pg-stack
ws=$tmp/sqlite-stack

cleanup() {
	[ -d "$wp" ] && sh "$bench/stack.sh" stop "$wp" || true
	[ -d "$ws" ] && sh "$bench/stack.sh" stop "$ws" || true
	[ -f "$pg/data/postmaster.pid" ] && sh "$bench/postgres.sh" stop "$pg" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# names: cpuwatch labels for the processes of both stacks and PostgreSQL.
names() {
	for x in "A $wp/a.pid" "B $wp/b.pid" "S $ws/a.pid"; do
		set -- $x
		[ -f "$2" ] || continue
		pid=$(cat "$2")
		printf -- '--name %s=%s ' "$1" "$pid"
		btcd=$(ps --ppid "$pid" -o pid=,comm= | awk '$2 == "btcd" { print $1 }')
		[ -n "$btcd" ] && printf -- '--name btcd(%s)=%s ' "$1" "$btcd"
	done
	[ -f "$pg/data/postmaster.pid" ] && printf -- '--name postgres=%s ' "$(head -1 "$pg/data/postmaster.pid")"
	return 0
}

metric() { curl -s "http://$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

# load NAME SCRIPT CONNS-PER-URL URL...: one wrk per URL, all at once; their outputs go to
# OUT/NAME.PORT.txt, the CPU accounting to OUT/NAME.cpu.txt. The machine is shared: each
# attempt first waits for the other processes to be quiet (below QUIET cores, at most
# QUIET_WAIT seconds), and an attempt during which they took more than OTHERS core-seconds
# is kept aside (NAME.busyK.*) and made again, up to TRIES attempts in all.
load() {
	lname=$1 script=$2 c=$3
	shift 3
	cmd=""
	for u in "$@"; do
		port=${u#http://127.0.0.1:}
		port=${port%%/*}
		cmd="$cmd wrk -t$threads -c$c -d$duration --timeout 10s --latency -s $bench/$script $u >$out/$lname.$port.txt &"
	done
	try=1
	while :; do
		# shellcheck disable=SC2046
		gate=$(python3 "$bench/cpuwatch.py" $(names) --quiet "$quiet" "$quiet_wait")
		# shellcheck disable=SC2046
		python3 "$bench/cpuwatch.py" $(names) -- sh -c "$cmd wait" >"$out/$lname.cpu.txt"
		echo "$gate" >>"$out/$lname.cpu.txt"
		others=$(sed -n 's/.*of which others \([0-9.]*\)).*/\1/p' "$out/$lname.cpu.txt")
		if [ "$try" -ge "$tries" ] || awk -v o="$others" -v m="$max_others" 'BEGIN { exit !(o <= m) }'; then
			break
		fi
		echo "    $lname: other processes took $others core-s during the run; made again"
		for u in "$@" cpu; do
			port=${u#http://127.0.0.1:}
			port=${port%%/*}
			mv "$out/$lname.$port.txt" "$out/$lname.busy$try.$port.txt"
		done
		try=$((try + 1))
	done
	for u in "$@"; do
		port=${u#http://127.0.0.1:}
		port=${port%%/*}
		printf '%-28s %s  %s\n' "$lname.$port" "$(grep -h '^accepted' "$out/$lname.$port.txt")" "$(grep -h '^latency\|^batch latency' "$out/$lname.$port.txt")"
		grep -h 'non-2xx' "$out/$lname.$port.txt" | grep -v 'non-2xx/3xx 0,\|non-2xx/3xx 0 (' | sed 's/^/    /' || true
	done
	sed 's/^/    /' "$out/$lname.cpu.txt"
	for x in "A $wp/a.pid" "B $wp/b.pid" "S $ws/a.pid"; do
		set -- $x
		if [ -f "$2" ] && ! kill -0 "$(cat "$2")" 2>/dev/null; then
			echo "    PROCESS $1 HAS STOPPED"
		fi
	done
}

# drained ADDR: waits (at most DRAIN seconds) for the writer at ADDR to have its digest
# index within 65,536 entries (one chunk) of the log, and says how long that took.
drained() {
	lag0=$(metric "$1" notary_digest_index_lag)
	t0=$(date +%s)
	lag=$lag0
	while [ "${lag:-0}" -gt 65536 ] && [ $(($(date +%s) - t0)) -lt "$drain" ]; do
		sleep 1
		lag=$(metric "$1" notary_digest_index_lag)
	done
	t=$(($(date +%s) - t0))
	[ "$t" -gt 0 ] && echo "    digest index of $1: lag $lag0 -> $lag entries in $t s"
	return 0
}

# mem LABEL PIDFILE: VmRSS and VmHWM of a notary process.
mem() {
	[ -f "$2" ] || return 0
	pid=$(cat "$2")
	echo "$1 (pid $pid): $(grep VmRSS /proc/$pid/status | tr -s ' \t' ' '), $(grep VmHWM /proc/$pid/status | tr -s ' \t' ' ')"
}

# logs FILE...: the warnings and errors the processes logged, counted.
logs() {
	grep -h 'level=WARN\|level=ERROR' "$@" | grep -v 'part=btcd' | sed 's/^time=[^ ]* //' | sort | uniq -c | sort -rn | head -20 || true
}

# answers FILE: the answers counted by /metrics, by route and status.
answers() {
	grep '^notary_http_request_duration_seconds_count' "$1" | sed 's/notary_http_request_duration_seconds_count//' || true
}

logsize() { curl -s "http://$1/v1/status" | grep -o '"log_size":[0-9]*' | head -1 | cut -d: -f2; }

warmup() {
	d=$duration t=$tries
	duration=5s tries=1
	load "$@" >/dev/null
	duration=$d tries=$t
}

{
	echo "== $(date -u +%FT%TZ) $(uname -r), $(nproc) cores; bin/notary of $(date -u -r bin/notary +%FT%TZ), sha256 $(sha256sum bin/notary | cut -c1-16); HEAD $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "duration $duration, reps $reps, wrk threads per wrk process $threads, connections $conns, batches $batches with $batch_conns connections"
	echo "a run is made again (up to $tries attempts) when other processes take more than $max_others core-s during it; each attempt waits up to $quiet_wait s for them to use less than $quiet cores"
	uptime
	dsn=$(sh "$bench/postgres.sh" start "$pg")
	echo "== PostgreSQL $dsn: A writer $A, B follower $B"
	sh "$bench/stack.sh" replicas "$wp" "$dsn"
	echo "== SQLite: S $S"
	ADDR_A=$S sh "$bench/stack.sh" sqlite "$ws"

	echo "== single submissions"
	half=$((conns / 2))
	warmup pg-single.warmup submit.lua "$half" "http://$A/v1/timestamps" "http://$B/v1/timestamps"
	warmup sqlite-single.warmup submit.lua "$conns" "http://$S/v1/timestamps"
	rep=1
	while [ "$rep" -le "$reps" ]; do
		load "pg-single.$rep" submit.lua "$half" "http://$A/v1/timestamps" "http://$B/v1/timestamps"
		load "sqlite-single.$rep" submit.lua "$conns" "http://$S/v1/timestamps"
		# The writer alone, every connection to it: what forwarding through B costs.
		threads=$((threads * 2))
		load "pg-single-writer.$rep" submit.lua "$conns" "http://$A/v1/timestamps"
		threads=$((threads / 2))
		rep=$((rep + 1))
	done
	echo "after single submissions: PostgreSQL log $(logsize $A) entries, SQLite log $(logsize $S) entries"

	for n in $batches; do
		echo "== batches of $n digests"
		export BATCH=$n
		drained "$A"
		warmup "pg-batch$n-writer.warmup" batch.lua "$batch_conns" "http://$A/v1/timestamps/batch"
		warmup "sqlite-batch$n.warmup" batch.lua "$batch_conns" "http://$S/v1/timestamps/batch"
		rep=1
		while [ "$rep" -le "$reps" ]; do
			drained "$A"
			load "pg-batch$n-writer.$rep" batch.lua "$batch_conns" "http://$A/v1/timestamps/batch"
			echo "    digest index lag after the run: $(metric $A notary_digest_index_lag)"
			drained "$A"
			load "pg-batch$n-both.$rep" batch.lua "$((batch_conns / 2))" "http://$A/v1/timestamps/batch" "http://$B/v1/timestamps/batch"
			echo "    digest index lag after the run: $(metric $A notary_digest_index_lag)"
			drained "$S"
			load "sqlite-batch$n.$rep" batch.lua "$batch_conns" "http://$S/v1/timestamps/batch"
			rep=$((rep + 1))
		done
	done

	if [ "$steady" != 0 ]; then
		echo "== batches of 10000 digests to the writer for $steady: is the rate sustained?"
		export BATCH=10000
		drained "$A"
		# shellcheck disable=SC2046
		python3 "$bench/cpuwatch.py" $(names) --quiet "$quiet" "$quiet_wait" | sed 's/^/    /'
		d=$duration t=$tries w=$quiet_wait
		duration=$steady tries=1 quiet_wait=0
		(
			i=0
			while [ $i -lt $((${steady%s} / 5 + 1)) ]; do
				echo "$(date +%s) log_size $(metric $A notary_log_size) digest_index_lag $(metric $A notary_digest_index_lag)"
				sleep 5
				i=$((i + 1))
			done
		) >"$out/pg-steady.samples" &
		load pg-steady.1 batch.lua "$batch_conns" "http://$A/v1/timestamps/batch"
		wait
		duration=$d tries=$t quiet_wait=$w
		sed 's/^/    /' "$out/pg-steady.samples"
		awk '{ t = $1; s = $3 }
			$5 > 900000 && !h { h = 1; th = $1; sh = $3 }
			END { if (h && t > th) printf "    once the index lag passed 900,000: %.0f digests/s logged over the last %d s\n", (s - sh) / (t - th), t - th }' "$out/pg-steady.samples"
	fi

	echo "== after the runs"
	drained "$A"
	drained "$S"
	mem "A, PostgreSQL writer" "$wp/a.pid"
	mem "B, PostgreSQL follower" "$wp/b.pid"
	mem "S, SQLite" "$ws/a.pid"
	size=$(logsize $A)
	db=$(psql -X -At -h 127.0.0.1 -p 15432 -U notary -d bench -c "select pg_database_size('bench')")
	echo "PostgreSQL: log $size entries, pg_database_size $db bytes, $((db / size)) bytes per entry"
	psql -X -h 127.0.0.1 -p 15432 -U notary -d bench -c "select relname, pg_size_pretty(pg_total_relation_size(oid)) from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace order by pg_total_relation_size(oid) desc limit 4"
	size=$(logsize $S)
	db=$(du -sb --exclude=btcd "$ws/a" | cut -f1)
	echo "SQLite: log $size entries, data directory (database, index; without btcd) $db bytes, $((db / size)) bytes per entry"
	curl -s "http://$A/metrics" >"$out/A.metrics"
	curl -s "http://$B/metrics" >"$out/B.metrics"
	curl -s "http://$S/metrics" >"$out/S.metrics"
	for x in A B S; do
		echo "answers of $x (its /metrics):"
		answers "$out/$x.metrics"
	done
	sh "$bench/stack.sh" stop "$wp"
	ADDR_A=$S sh "$bench/stack.sh" stop "$ws"
	cp "$wp/a.err" "$out/A.log"
	cp "$wp/b.err" "$out/B.log"
	cp "$ws/a.err" "$out/S.log"
	for x in A B S; do
		echo "warnings and errors $x logged (count, message):"
		logs "$out/$x.log"
	done
	uptime
} 2>&1 | tee "$out/run.txt"
sh "$bench/summary.sh" "$out" | tee "$out/summary.txt"
