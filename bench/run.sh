#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs the submit benchmarks: crew against OpenMP (libgomp), oneTBB and a
# hand-rolled mutex+condvar pool (mc).  Every (runtime, workload) pair runs
# in its own process, ROUNDS times; round r runs the pairs in an order
# rotated by r so that no runtime always goes first or last.  Prints a table
# and writes bench/results/submit-<date>[-quick].csv (table) and
# bench/results/submit-<date>[-quick]-raw.csv (every sample).
#
# Environment:
#   ROUNDS=5            rounds (3 with QUICK=1)
#   QUICK=1             fewer tasks and samples, 3 rounds; whole run < 30 s
#   BENCH=a,b           workloads: submit_task,submit_batch,wake,idle_cpu,
#                       fib,qsort,pfor_mem,pfor_uneven (see par_common.h)
#   RUNTIMES=a,b        runtimes: crew,omp,tbb,mc (tbb skipped if not built)
#   THREADS=2           threads per pool (default: the CPUs we may use)
#   CONTENDED_PCT=20    foreign load (% of one core) that marks a sample
#   NTASKS, WAKE_SAMPLES, IDLE_MS   passed through to the programs
#
#   RETRY=2             re-run a contended sample up to RETRY more times
#                       (0 with QUICK=1); only the last attempt is kept
#   SAMPLE_TIMEOUT=120  seconds before a hung sample is killed (run fails)
#   PAD_MS=100          idle lead-in before each sample (50 with QUICK=1)
#
# Foreign load: /proc/stat busy time (user+nice+system+irq+softirq+steal,
# all CPUs) is read PAD_MS before each sample starts and again after it
# ends; the program's own CPU (getrusage, printed as cpu_ms=) is subtracted;
# what is left was taken by other processes (or the hypervisor, as steal).
# /proc/stat and /proc/uptime count in 10 ms ticks and a submit sample can
# be as short as 20 ms, hence the lead-in: it makes the window long enough
# to see a neighbour's load (which rarely comes and goes within 100 ms).
# A sample is marked contended ('*') when the foreign time exceeds
# CONTENDED_PCT % of one core over the window and one tick per CPU.
set -eu

cd "$(dirname "$0")/.."
BIN=bench/bin

case "${QUICK:-0}" in
0 | "") QUICK=0; ROUNDS=${ROUNDS:-5}; PAD_MS=${PAD_MS:-100}; RETRY=${RETRY:-2} ;;
*) QUICK=1; ROUNDS=${ROUNDS:-3}; PAD_MS=${PAD_MS:-50}; RETRY=${RETRY:-0} ;;
esac
pad=$(awk -v ms="$PAD_MS" 'BEGIN { printf "%.3f", ms / 1000 }')
export QUICK
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
THREADS=${THREADS:-$(nproc 2>/dev/null || echo 2)}
BENCH=${BENCH:-submit_task,submit_batch,wake,idle_cpu,fib,qsort,pfor_mem,pfor_uneven}
RUNTIMES=${RUNTIMES:-crew,omp,tbb,mc}
CONTENDED_PCT=${CONTENDED_PCT:-20}
SAMPLE_TIMEOUT=${SAMPLE_TIMEOUT:-120}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Build (make does nothing when everything is current).
make -s -C bench >&2
# The commit the library was (most likely) built from; "-dirty" when src/
# or include/ differ from it.
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src include 2>/dev/null || rev="$rev-dirty"

# prog_of RUNTIME [WORKLOAD]: the program that runs that pair ("" if none:
# the mutex+condvar pool has no fork-join or parallel-for).
prog_of() {
	case ${2:-submit_task} in
	fib | qsort | pfor_mem | pfor_uneven)
		case $1 in
		crew | omp | tbb) echo "par_$1" ;;
		mc) echo "" ;;
		*) echo "run.sh: unknown runtime $1" >&2; exit 2 ;;
		esac
		return ;;
	esac
	case $1 in
	crew) echo submit ;;
	omp) echo submit_omp ;;
	tbb) echo submit_tbb ;;
	mc) echo submit_mc ;;
	*) echo "run.sh: unknown runtime $1" >&2; exit 2 ;;
	esac
}

runtimes=""
for rt in $(echo "$RUNTIMES" | tr ',' ' '); do
	p=$(prog_of "$rt")
	if [ ! -x "$BIN/$p" ]; then
		echo "run.sh: $BIN/$p not built; skipping runtime $rt" >&2
		continue
	fi
	runtimes="$runtimes $rt"
done
workloads=""
for wl in $(echo "$BENCH" | tr ',' ' '); do
	case $wl in
	submit_task | submit_batch | wake | idle_cpu | fib | qsort | pfor_mem | pfor_uneven)
		workloads="$workloads $wl" ;;
	*) echo "run.sh: unknown workload $wl" >&2; exit 2 ;;
	esac
done
if [ -z "$runtimes" ] || [ -z "$workloads" ]; then
	echo "run.sh: nothing to run" >&2
	exit 2
fi

configs=""
for wl in $workloads; do
	for rt in $runtimes; do
		p=$(prog_of "$rt" "$wl")
		[ -n "$p" ] && [ -x "$BIN/$p" ] && configs="$configs $rt:$wl"
	done
done
nconf=$(echo "$configs" | wc -w)

mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
suffix=""
[ "$QUICK" = 1 ] && suffix="-quick"
raw=bench/results/bench-$stamp$suffix-raw.csv
table=bench/results/bench-$stamp$suffix.csv
tmp=bench/results/.run-$$.tmp
errf=bench/results/.err-$$.tmp
trap 'rm -f "$tmp" "$tmp.csv" "$errf"' EXIT INT TERM

# busy and total ticks over all CPUs, from the first line of /proc/stat
read_stat() {
	read -r _cpu u n s _idle _iowait q sq st _rest </proc/stat
	BUSY=$((u + n + s + q + sq + st))
}
# wall clock in centiseconds from /proc/uptime (no fork)
read_uptime() {
	read -r up _idle </proc/uptime
	UP=$(echo "$up" | tr -d .)
}

echo "runtime,workload,threads,value,unit,better,round,order,attempt,window_ms,cpu_ms,foreign_ms,foreign_pct,contended" >"$raw"

echo "crew bench: threads=$THREADS rounds=$ROUNDS quick=$QUICK" \
	"cpus=$NCPU configs=$nconf ($(date '+%Y-%m-%d %H:%M:%S'))" >&2
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	order=$(echo "$configs" | tr ' ' '\n' | grep . |
		awk -v r="$r" '{a[NR-1]=$0} END {for (i = 0; i < NR; i++) print a[(i + r) % NR]}')
	k=0
	for cfg in $order; do
		rt=${cfg%%:*}
		wl=${cfg#*:}
		p=$(prog_of "$rt" "$wl")
		attempt=0
		while :; do
			attempt=$((attempt + 1))
			read_stat; b0=$BUSY; read_uptime; u0=$UP
			sleep "$pad"
			if ! timeout "$SAMPLE_TIMEOUT" "$BIN/$p" "$wl" "$THREADS" >"$tmp" 2>"$errf"; then
				echo "run.sh: $p $wl $THREADS failed (or ran past ${SAMPLE_TIMEOUT} s):" >&2
				cat "$errf" >&2
				exit 1
			fi
			read_uptime; u1=$UP; read_stat; b1=$BUSY
			awk -v r="$r" -v k="$k" -v db=$((b1 - b0)) -v du=$((u1 - u0)) \
			    -v hz="$HZ" -v ncpu="$NCPU" -v lim="$CONTENDED_PCT" -v att="$attempt" '
			/^cpu_ms=/ { split($0, a, "="); cpu = a[2] + 0; next }
			/^runtime=/ { lines[++n] = $0 }
			END {
				wall = du * 10; if (wall < 10) wall = 10
				foreign = db * 1000 / hz - cpu; if (foreign < 0) foreign = 0
				pct = foreign * 100 / wall
				slack = ncpu * 1000 / hz
				mark = (pct > lim && foreign > slack) ? "*" : ""
				for (i = 1; i <= n; i++) {
					delete f
					m = split(lines[i], kv, " ")
					for (j = 1; j <= m; j++) {
						e = index(kv[j], "=")
						f[substr(kv[j], 1, e - 1)] = substr(kv[j], e + 1)
					}
					printf "%s,%s,%s,%s,%s,%s,%d,%d,%d,%d,%.1f,%.1f,%.1f,%s\n",
					    f["runtime"], f["workload"], f["threads"], f["value"],
					    f["unit"], f["better"], r, k, att, wall, cpu, foreign,
					    pct, mark
				}
			}' "$tmp" >"$tmp.csv"
			awk -F, '{ printf "  round %d  %-5s %-13s %10s %-8s foreign %5.1f%%%s%s\n",
			    $7 + 1, $1, $2, $4, $5, $13, ($14 == "*" ? " *" : ""),
			    ($9 > 1 ? " (attempt " $9 ")" : "") }' "$tmp.csv" >&2
			# A contended sample is taken again, up to RETRY times.
			if [ "$attempt" -le "$RETRY" ] && grep -q '\*$' "$tmp.csv"; then
				sleep 1
				continue
			fi
			cat "$tmp.csv" >>"$raw"
			break
		done
		k=$((k + 1))
	done
	r=$((r + 1))
done

# ------------------------------------------------------------------ table
# One row per (figure, runtime): median/min/max over the rounds, the median
# of the uncontended samples only (clean_med), the samples themselves (a '*'
# after a contended one), and crew's ratio: on a peer's row crew's
# median / that peer's median; on crew's row crew / the best peer's median.
# Throughput: higher is better (ratio > 1 = crew ahead); latency and idle
# CPU: lower is better (ratio < 1 = crew ahead).
txt=${table%.csv}.txt
{
echo "crew bench $(date '+%Y-%m-%d %H:%M:%S'): threads=$THREADS rounds=$ROUNDS" \
	"quick=$QUICK cpus=$NCPU $(uname -sr) crew=$rev"
tail -n +2 "$raw" | awk -F, -v wls="$workloads" -v rts="$runtimes" -v csv="$table" '
function median(v, n,    i, j, t, w) {
	for (i = 1; i <= n; i++) w[i] = v[i]
	for (i = 2; i <= n; i++) { t = w[i]; for (j = i - 1; j >= 1 && w[j] > t; j--) w[j + 1] = w[j]; w[j + 1] = t }
	return (n % 2) ? w[(n + 1) / 2] : (w[n / 2] + w[n / 2 + 1]) / 2
}
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : (a > 0 ? "inf" : "1.00") }
{
	key = $2 SUBSEP $1
	c = ++cnt[key]; val[key, c] = $4 + 0
	smp[key] = smp[key] (c > 1 ? " " : "") $4 $14
	if ($14 == "*") nc[key]++
	else { q = ++ncl[key]; clean[key, q] = $4 + 0 }
	unit[$2] = $5; better[$2] = $6
	if (!($2 in seen)) { seen[$2] = 1; figs[++nf] = $2 }
}
END {
	nr = split(rts, rt, " ")
	printf "%-19s %-5s %9s %9s %9s %-8s %-15s %9s %-9s %s\n", "workload", "runtime",
	    "median", "min", "max", "unit", "crew_ratio", "clean_med", "contended", "samples"
	print "workload,runtime,median,min,max,unit,better,crew_ratio,best_peer,clean_median,n,contended" > csv
	for (fi = 1; fi <= nf; fi++) {
		fg = figs[fi]; hi = (better[fg] == "higher")
		best = ""; crewmed = ""
		for (i = 1; i <= nr; i++) {
			key = fg SUBSEP rt[i]; n = cnt[key]
			if (!n) continue
			delete v; mn = mx = val[key, 1]
			for (j = 1; j <= n; j++) { v[j] = val[key, j]; if (v[j] < mn) mn = v[j]; if (v[j] > mx) mx = v[j] }
			med[rt[i]] = median(v, n); lo[rt[i]] = mn; up[rt[i]] = mx
			if (rt[i] == "crew") { crewmed = med[rt[i]]; continue }
			if (best == "" || (hi ? med[rt[i]] > med[best] : med[rt[i]] < med[best])) best = rt[i]
		}
		for (i = 1; i <= nr; i++) {
			key = fg SUBSEP rt[i]; n = cnt[key]
			if (!n) continue
			if (crewmed == "") rs = "-"
			else if (rt[i] == "crew") rs = (best == "" ? "-" : ratio(crewmed, med[best]) " vs " best)
			else rs = ratio(crewmed, med[rt[i]])
			cs = nc[key] ? nc[key] "/" n " *" : "0/" n
			cm = "-"
			if (ncl[key]) {
				delete v
				for (j = 1; j <= ncl[key]; j++) v[j] = clean[key, j]
				cm = sprintf("%.4g", median(v, ncl[key]))
			}
			printf "%-19s %-5s %9.4g %9.4g %9.4g %-8s %-15s %9s %-9s %s\n", fg, rt[i],
			    med[rt[i]], lo[rt[i]], up[rt[i]], unit[fg], rs, cm, cs, smp[key]
			rc = rs; sub(/ vs .*/, "", rc)
			printf "%s,%s,%.4g,%.4g,%.4g,%s,%s,%s,%s,%s,%d,%d\n", fg, rt[i], med[rt[i]],
			    lo[rt[i]], up[rt[i]], unit[fg], better[fg], rc,
			    (rt[i] == "crew" ? best : ""), (cm == "-" ? "" : cm), n, nc[key] + 0 > csv
		}
	}
}'
echo
echo "higher is better for Mtask/s and x (speedup over the serial run in the same"
echo "process; crew_ratio > 1: crew ahead); lower is better for us, ms, ns and ms/s"
echo "(crew_ratio < 1: crew ahead).  fib_spawn = (time x threads - serial time) /"
echo "spawns.  '*': a sample during which"
echo "other processes used more than ${CONTENDED_PCT}% of a core; clean_med: median"
echo "of the samples without '*'."
echo "threads=$THREADS: crew and mc run THREADS workers besides the submitting"
echo "main thread; omp and tbb use THREADS threads including the main thread."
echo "omp wake = parallel-region start latency (see bench/submit_omp.c)."
echo "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-default}  GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-default}"
} | tee "$txt"
echo "raw samples: $raw"
echo "table:       $table (as text: $txt)"
