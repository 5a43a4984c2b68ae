#!/bin/sh
# Summarizes the outputs of bench/run.sh in OUT: for each kind of run, the rate of every
# repetition (summed over the wrk processes that ran at once), its median, lowest and
# highest, the latencies of the median run, the answers that were not 2xx, and the CPU.
#
#   sh bench/summary.sh OUT
set -eu
out=${1:?usage: summary.sh OUT}
cd "$out"
for kind in $(ls *.txt | sed -n 's/^\([a-z0-9-]*\)\.[0-9]*\.[0-9]*\.txt$/\1/p' | sort -u); do
	for f in $(ls "$kind".[0-9]*.[0-9]*.txt | grep -v 'warmup\|busy'); do
		rep=$(echo "$f" | cut -d. -f2)
		port=$(echo "$f" | cut -d. -f3)
		awk -v rep="$rep" -v port="$port" '
			/^requests [0-9]+, non-2xx/ || /^batches [0-9]+ of/ { gsub(",", ""); total = $2; bad = ($1 == "batches") ? $7 : $4 }
			/socket errors/ { gsub(",", ""); for (i = 1; i <= NF; i++) if ($i ~ /^(connect|read|write|timeout)$/) sock += $(i + 1) }
			/^accepted/ { rate = $3 }
			/latency p50/ { for (i = 1; i <= NF; i++) { if ($i == "p50") p50 = $(i + 1); if ($i == "p99") p99 = $(i + 1) } }
			END { printf "%s %s %s %s %s %s %s\n", rep, port, rate, p50, p99, total, bad + sock }' "$f"
	done | awk -v kind="$kind" '
		{ rate[$1] += $3; lat[$1] = lat[$1] sprintf(" :%s p50 %s p99 %s ms", $2, $4, $5); n[$1] += $6; bad[$1] += $7 }
		END {
			k = 0
			for (r in rate) { k++; rs[k] = rate[r]; reps[k] = r }
			# sort by rate
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (rs[j] < rs[i]) { t = rs[i]; rs[i] = rs[j]; rs[j] = t; t = reps[i]; reps[i] = reps[j]; reps[j] = t }
			m = int((k + 1) / 2)
			all = ""; nn = 0; bb = 0
			for (r = 1; r <= 99; r++) if (r in rate) { all = all sprintf(" %.0f", rate[r]); nn += n[r]; bb += bad[r] }
			printf "%-22s median %8.0f/s (low %.0f, high %.0f; runs:%s)\n", kind, rs[m], rs[1], rs[k], all
			printf "%-22s median run %s:%s\n", "", reps[m], lat[reps[m]]
			printf "%-22s not 2xx or failed: %d of %d requests (%.3f%%)\n", "", bb, nn, nn ? 100 * bb / nn : 0
		}'
	for f in $(ls "$kind".[0-9]*.cpu.txt 2>/dev/null | grep -v busy | sort -t. -k2n); do
		printf '%-22s %s: %s\n' "" "$(echo "$f" | cut -d. -f2)" "$(tr '\n' ' ' <"$f" | sed 's/cpu: //; s/cpu core-s by process:/core-s:/')"
	done
	busy=$(ls "$kind".[0-9]*.busy[0-9]*.cpu.txt 2>/dev/null | wc -l)
	[ "$busy" -gt 0 ] && printf '%-22s %s attempt(s) set aside: other processes took too much CPU during them\n' "" "$busy"
	true
done
