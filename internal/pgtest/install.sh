#!/bin/sh
# Installs the PostgreSQL server that internal/pgtest runs: Debian's package
# "postgresql" (the distribution's current major version, under
# /usr/lib/postgresql/VERSION/bin). Does nothing when a server is already there.
#
# The tests start servers of their own, so the package is kept from leaving a
# system cluster running: services may not start during the install, and a
# cluster the install creates is stopped and set to start only by hand
# (pg_ctlcluster VERSION main start).
set -eu

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "pgtest: the PostgreSQL server is not installed; run $0 as root (or apt-get install postgresql)" >&2
	exit 1
fi

echo "pgtest: installing Debian's PostgreSQL server" >&2
# policy-rc.d answering 101 tells invoke-rc.d and deb-systemd-invoke not to start
# services. Put one in place unless the machine has its own.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
before=$(ls -d /etc/postgresql/*/* 2>/dev/null || true)

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null

for conf in /etc/postgresql/*/*/start.conf; do
	[ -e "$conf" ] || continue
	cluster=$(dirname "$conf")
	case " $(echo $before) " in *" $cluster "*) continue ;; esac
	version=$(basename "$(dirname "$cluster")")
	name=$(basename "$cluster")
	if pg_lsclusters -h "$version" "$name" 2>/dev/null | grep -q online; then
		pg_ctlcluster "$version" "$name" stop
	fi
	echo manual >"$conf"
	echo "pgtest: the package created cluster $version/$name; it is stopped and starts only by hand" >&2
done

ls /usr/lib/postgresql/*/bin/initdb >/dev/null
