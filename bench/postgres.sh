#!/bin/sh
# Starts (or stops) a throwaway PostgreSQL server for the load runs, listening on
# 127.0.0.1:$PGPORT (default 15432), with a database "bench" owned by user notary.
#
#   sh bench/postgres.sh start DIR     # DIR: an empty directory; the cluster goes in DIR/data
#   sh bench/postgres.sh reset DIR     # drop and re-create the database "bench"
#   sh bench/postgres.sh stop DIR
#
# PostgreSQL will not run as root: the server runs as user postgres. Needs Debian's server
# (sh internal/pgtest/install.sh). Settings are the defaults (fsync on, synchronous_commit
# on) but for max_connections and shared_buffers; PG_OPTS adds server options, e.g.
# PG_OPTS="-c shared_preload_libraries=pg_stat_statements" (then "create extension
# pg_stat_statements" in the database shows what each statement costs).
set -eu
cmd=${1:?usage: postgres.sh start|reset|stop DIR}
dir=${2:?usage: postgres.sh start|reset|stop DIR}
port=${PGPORT:-15432}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_() { psql -X -q -h 127.0.0.1 -p "$port" -U notary "$@"; }

case $cmd in
start)
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	as_pg "$bin/initdb" -A trust -U notary -D "$dir/data" >"$dir/initdb.log"
	as_pg "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/log" start -o \
		"-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB ${PG_OPTS:-}" >/dev/null
	psql_ -d postgres -c 'create database bench'
	echo "postgres://notary@127.0.0.1:$port/bench?sslmode=disable"
	;;
reset)
	psql_ -d postgres -c 'drop database if exists bench with (force)' -c 'create database bench'
	;;
stop)
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	;;
*)
	echo "usage: postgres.sh start|reset|stop DIR" >&2
	exit 2
	;;
esac
