#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs the benchmarks: crew (unpinned, CREW_PIN=none) and crew-pin (the same
# programs with CREW_PIN=cores) against OpenMP (libgomp), oneTBB, a
# hand-rolled mutex+condvar pool (mc) and, for the queue micro-benchmark,
# Concurrency Kit (ck).  Every (runtime, workload) pair runs in its own
# process, ROUNDS times; round r runs the pairs in an order rotated by r so
# that no runtime always goes first or last.  Writes, under bench/results/,
# with STAMP = bench-<date>[-quick]:
#   STAMP-raw.csv      every sample (one line per figure and round; for
#                      crew and crew-pin also how many workers were pinned)
#   STAMP-wake.csv     every wake-latency sample (runtime, round, us)
#   STAMP-machine.txt  the machine, toolchain, crew commit and run settings
# then calls tools/bench-report on STAMP-raw.csv, which writes the table
# (STAMP.csv, STAMP.txt, printed too) and the charts (STAMP-*.png).
#
# Environment:
#   ROUNDS=5            rounds (3 with QUICK=1)
#   QUICK=1             fewer tasks and samples, 3 rounds; whole run < 30 s
#   BENCH=a,b           workloads: submit_task,submit_batch,wake,idle_cpu,
#                       fib,fib_oversub,qsort,pfor_mem,pfor_uneven,
#                       queue_spmc,queue_mpmc (see common.h, par_common.h,
#                       queue.c)
#   RUNTIMES=a,b        runtimes: crew,crew-pin,omp,tbb,mc,ck (those whose
#                       programs are not built are skipped)
#   THREADS=2           threads per pool (default: the CPUs we may use)
#   CONTENDED_PCT=20    foreign load (% of one core) that marks a sample
#   NTASKS, WAKE_SAMPLES, WAKE_WARMUP, IDLE_MS, QUEUE_N   passed through
#
#   RETRY=2             re-run a contended sample up to RETRY more times
#                       (0 with QUICK=1); only the last attempt is kept
#   SAMPLE_TIMEOUT=120  seconds before a hung sample is killed (run fails)
#   PAD_MS=100          idle lead-in before each submit_task and
#                       submit_batch sample (20 with QUICK=1); the other
#                       samples last 0.3 s or more and get at most 20 ms
#   CHARTS=0            skip the PNG charts (bench-report --no-charts)
#   BENCH_BIN=bench/bin where the programs are; BENCH_NOBUILD=1 builds
#                       nothing; CREW_TOPO=build/crew-topo (these three let
#                       tools/device-run.sh run a tools/device-bundle.sh
#                       bundle on a machine without compiler or packages)
#
# Foreign load: /proc/stat busy time (user+nice+system+irq+softirq+steal,
# all CPUs) is read PAD_MS before each sample starts and again after it
# ends; the program's own CPU (getrusage, printed as cpu_ms=) is subtracted;
# what is left was taken by other processes (or the hypervisor, as steal).
# /proc/stat and /proc/uptime count in 10 ms ticks and a submit sample can
# be as short as 20 ms, hence the lead-in: it makes the window long enough
# to see a neighbour's load (which rarely comes and goes within 100 ms).
# The other samples' windows are long enough without it (crew's fib, the
# shortest, takes about 0.4 s), so they get at most 20 ms: 100 ms before
# each of them made the default run 15 s longer.
# A sample is marked contended ('*') when the foreign time exceeds
# CONTENDED_PCT % of one core over the window and one tick per CPU.
set -eu

cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-bench/bin}
NOBUILD=${BENCH_NOBUILD:-0}
TOPO=${CREW_TOPO:-build/crew-topo}

case "${QUICK:-0}" in
0 | "") QUICK=0; ROUNDS=${ROUNDS:-5}; PAD_MS=${PAD_MS:-100}; RETRY=${RETRY:-2} ;;
*) QUICK=1; ROUNDS=${ROUNDS:-3}; PAD_MS=${PAD_MS:-20}; RETRY=${RETRY:-0} ;;
esac
pad=$(awk -v ms="$PAD_MS" 'BEGIN { printf "%.3f", ms / 1000 }')
pad_long=$(awk -v ms="$PAD_MS" 'BEGIN { if (ms > 20) ms = 20; printf "%.3f", ms / 1000 }')
export QUICK
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
THREADS=${THREADS:-$(nproc 2>/dev/null || echo 2)}
BENCH=${BENCH:-submit_task,submit_batch,wake,idle_cpu,fib,fib_oversub,qsort,pfor_mem,pfor_uneven,queue_spmc,queue_mpmc}
RUNTIMES=${RUNTIMES:-crew,crew-pin,omp,tbb,mc,ck}
CONTENDED_PCT=${CONTENDED_PCT:-20}
SAMPLE_TIMEOUT=${SAMPLE_TIMEOUT:-120}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
t_start=$(date +%s)

# Build (make does nothing when everything is current).
[ "$NOBUILD" = 1 ] || make -s -C bench >&2

# prog_of RUNTIME WORKLOAD: the program that runs that pair ("" if none:
# mc has only the submit workloads, ck only the queue ones, and the queue
# micro-benchmark involves no pool, so crew-pin has no queue rows).
prog_of() {
	case $2 in
	submit_task | submit_batch | wake | idle_cpu)
		case $1 in
		crew | crew-pin) echo submit ;;
		omp | tbb | mc) echo "submit_$1" ;;
		*) echo "" ;;
		esac ;;
	fib | fib_oversub | qsort | pfor_mem | pfor_uneven)
		case $1 in
		crew | crew-pin) echo par_crew ;;
		omp | tbb) echo "par_$1" ;;
		*) echo "" ;;
		esac ;;
	queue_spmc | queue_mpmc)
		case $1 in
		crew | ck) echo "queue_$1" ;;
		*) echo "" ;;
		esac ;;
	esac
}

# pin_of RUNTIME: the CREW_PIN value its processes get ("" = leave as is).
pin_of() {
	case $1 in
	crew) echo none ;;
	crew-pin) echo cores ;;
	*) echo "" ;;
	esac
}

workloads=""
for wl in $(echo "$BENCH" | tr ',' ' '); do
	case $wl in
	submit_task | submit_batch | wake | idle_cpu | fib | fib_oversub | qsort | \
	pfor_mem | pfor_uneven | queue_spmc | queue_mpmc)
		workloads="$workloads $wl" ;;
	*) echo "run.sh: unknown workload $wl" >&2; exit 2 ;;
	esac
done
runtimes=""
configs=""
for rt in $(echo "$RUNTIMES" | tr ',' ' '); do
	case $rt in
	crew | crew-pin | omp | tbb | mc | ck) ;;
	*) echo "run.sh: unknown runtime $rt" >&2; exit 2 ;;
	esac
	n=0
	for wl in $workloads; do
		p=$(prog_of "$rt" "$wl")
		[ -n "$p" ] || continue
		if [ ! -x "$BIN/$p" ]; then
			echo "run.sh: $BIN/$p not built; skipping $rt $wl" >&2
			continue
		fi
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] && runtimes="$runtimes $rt"
done
# Workload-major, so that a round's rotation interleaves the runtimes.
for wl in $workloads; do
	for rt in $runtimes; do
		p=$(prog_of "$rt" "$wl")
		[ -n "$p" ] && [ -x "$BIN/$p" ] && configs="$configs $rt:$wl"
	done
done
nconf=$(echo "$configs" | wc -w)
if [ "$nconf" -eq 0 ]; then
	echo "run.sh: nothing to run" >&2
	exit 2
fi

mkdir -p bench/results
stamp=$(date +%Y%m%d-%H%M%S)
suffix=""
[ "$QUICK" = 1 ] && suffix="-quick"
base=bench/results/bench-$stamp$suffix
raw=$base-raw.csv
wakef=$base-wake.csv
machine=$base-machine.txt
tmp=bench/results/.run-$$.tmp
rows=bench/results/.rows-$$.tmp
errf=bench/results/.err-$$.tmp
wtmp=bench/results/.wake-$$.tmp
trap 'rm -f "$tmp" "$rows" "$errf" "$wtmp"' EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ machine
# The commit the library was (most likely) built from, "-dirty" when
# tracked files differ from it (as git describe --dirty; results excluded).
# Untracked files are listed in the machine record but do not count.
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -v ' bench/results/' || true)
git status --porcelain --untracked-files=no 2>/dev/null |
	grep -v ' bench/results/' | grep -q . && rev="$rev-dirty"
# A bundle's programs were built elsewhere: its record names their commit.
if [ -f "$BIN/../BUILDINFO" ]; then
	rev=$(sed -n 's/^crew //p' "$BIN/../BUILDINFO")
	dirty=""
fi
{
	echo "date: $(date '+%Y-%m-%d %H:%M:%S %z')"
	echo "crew: $rev"
	if [ -n "$dirty" ]; then
		echo "$dirty" | sed 's/^/  git status: /'
	fi
	echo "settings: threads=$THREADS rounds=$ROUNDS quick=$QUICK cpus=$NCPU" \
	    "contended_pct=$CONTENDED_PCT retry=$RETRY pad_ms=$PAD_MS" \
	    "omp_wait_policy=${OMP_WAIT_POLICY:-default}" \
	    "gomp_spincount=${GOMP_SPINCOUNT:-default}" \
	    "crew_spin_us=${CREW_SPIN_US:-default}" \
	    "crew_slice_us=${CREW_SLICE_US:-default}" \
	    "crew_spread=${CREW_SPREAD:-default}" \
	    "crew_fanout=${CREW_FANOUT:-default}" \
	    "runtimes=$(echo $runtimes | tr ' ' ',')" \
	    "workloads=$(echo $workloads | tr ' ' ',')"
	echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
	echo "topology: $(lscpu 2>/dev/null | awk -F: '
	    /^Socket\(s\)/ { s = $2 } /^Core\(s\) per socket/ { c = $2 }
	    /^Thread\(s\) per core/ { t = $2 } /^L3 cache/ { l3 = $2 }
	    /^Hypervisor vendor/ { hv = $2 }
	    END { gsub(/^ +/, "", s); gsub(/^ +/, "", c); gsub(/^ +/, "", t)
		gsub(/^ +/, "", l3); gsub(/^ +/, "", hv)
		printf "%s socket(s), %s core(s) per socket, %s thread(s) per core, L3 %s%s",
		    s, c, t, l3, (hv != "" ? ", hypervisor " hv : "") }')"
	echo "kernel: $(uname -srm)"
	echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
	echo "gcc: $(${CC:-gcc} --version 2>/dev/null | head -n 1)"
	echo "tbb: $(dpkg-query -W -f '${Package} ${Version}' libtbb-dev 2>/dev/null ||
	    sed -n 's/^#define TBB_VERSION_STRING *//p' /usr/include/oneapi/tbb/version.h 2>/dev/null)"
	echo "ck: $(dpkg-query -W -f '${Package} ${Version}' libck-dev 2>/dev/null)"
	echo "gnuplot: $(gnuplot --version 2>/dev/null)"
	# A tools/device-bundle.sh bundle says where its programs were built
	# (the gcc, tbb and ck lines above are then this machine's, not theirs).
	if [ -f "$BIN/../BUILDINFO" ]; then
		sed 's/^/bundle: /' "$BIN/../BUILDINFO"
	fi
	# crew's pin plan for crew-pin, as crew sees the machine (crew-topo is
	# built by the top-level `make tools`; skipped when it cannot be).
	if { [ "$NOBUILD" = 1 ] || make -s tools >/dev/null 2>&1; } && [ -x "$TOPO" ]; then
		echo "crew-pin plan (crew-topo --pin cores --threads $THREADS):"
		"$TOPO" --pin cores --threads "$THREADS" 2>&1 |
			sed -n '/^plan:/,$p' | head -n 40 | sed 's/^/  /'
	fi
	echo "lstopo:"
	if command -v lstopo-no-graphics >/dev/null 2>&1; then
		lstopo-no-graphics --of console 2>/dev/null | head -n 30 | sed 's/^/  /'
	elif command -v hwloc-ls >/dev/null 2>&1; then
		hwloc-ls 2>/dev/null | head -n 30 | sed 's/^/  /'
	else
		echo "  (hwloc not installed)"
	fi
} >"$machine"

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

echo "runtime,workload,threads,value,unit,better,round,order,attempt,window_ms,cpu_ms,foreign_ms,foreign_pct,contended,pinned,pin_failures" >"$raw"
echo "runtime,round,sample,us" >"$wakef"

echo "crew bench: threads=$THREADS rounds=$ROUNDS quick=$QUICK" \
	"cpus=$NCPU configs=$nconf crew=$rev ($(date '+%Y-%m-%d %H:%M:%S'))" >&2
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	order=$(echo "$configs" | tr ' ' '\n' | grep . |
		awk -v r="$r" '{a[NR-1]=$0} END {for (i = 0; i < NR; i++) print a[(i + r) % NR]}')
	k=0
	for cfg in $order; do
		rt=${cfg%%:*}
		wl=${cfg#*:}
		p=$(prog_of "$rt" "$wl")
		pin=$(pin_of "$rt")
		attempt=0
		while :; do
			attempt=$((attempt + 1))
			rm -f "$wtmp"
			read_stat; b0=$BUSY; read_uptime; u0=$UP
			case $wl in
			submit_task | submit_batch) sleep "$pad" ;;
			*) sleep "$pad_long" ;;
			esac
			if [ -n "$pin" ]; then
				set -- env "CREW_PIN=$pin"
			else
				set -- env
			fi
			if ! BENCH_WAKE_DUMP="$wtmp" timeout "$SAMPLE_TIMEOUT" \
			    "$@" "$BIN/$p" "$wl" "$THREADS" >"$tmp" 2>"$errf"; then
				echo "run.sh: $rt: $p $wl $THREADS failed (or ran past ${SAMPLE_TIMEOUT} s):" >&2
				cat "$errf" >&2
				exit 1
			fi
			read_uptime; u1=$UP; read_stat; b1=$BUSY
			# The runtime column is the configuration's name (the
			# crew programs print "crew" for crew-pin too).
			awk -v r="$r" -v k="$k" -v db=$((b1 - b0)) -v du=$((u1 - u0)) \
			    -v hz="$HZ" -v ncpu="$NCPU" -v lim="$CONTENDED_PCT" \
			    -v att="$attempt" -v rt="$rt" '
			/^cpu_ms=/ { split($0, a, "="); cpu = a[2] + 0; next }
			/^pinned=/ {	# crew: "pinned=P workers=W pin_failures=F"
				split($1, a, "="); split($2, b, "="); split($3, c, "=")
				pinned = a[2] "/" b[2]; pfail = c[2]; next
			}
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
					printf "%s,%s,%s,%s,%s,%s,%d,%d,%d,%d,%.1f,%.1f,%.1f,%s,%s,%s\n",
					    rt, f["workload"], f["threads"], f["value"],
					    f["unit"], f["better"], r, k, att, wall, cpu, foreign,
					    pct, mark, pinned, pfail
				}
			}' "$tmp" >"$rows"
			awk -F, '{ printf "  round %d  %-8s %-19s %10s %-8s foreign %5.1f%%%s%s\n",
			    $7 + 1, $1, $2, $4, $5, $13, ($14 == "*" ? " *" : ""),
			    ($9 > 1 ? " (attempt " $9 ")" : "") }' "$rows" >&2
			# A contended sample is taken again, up to RETRY times.
			if [ "$attempt" -le "$RETRY" ] && grep -q ',\*,[^,]*,[^,]*$' "$rows"; then
				sleep 1
				continue
			fi
			cat "$rows" >>"$raw"
			if [ -s "$wtmp" ]; then
				awk -v rt="$rt" -v r="$r" '{ printf "%s,%d,%d,%s\n", rt, r, NR, $1 }' \
				    "$wtmp" >>"$wakef"
			fi
			break
		done
		k=$((k + 1))
	done
	r=$((r + 1))
done
t_end=$(date +%s)
echo "elapsed: $((t_end - t_start)) s (rounds, build and machine record)" >>"$machine"

# ------------------------------------------------------------------ report
if [ "${CHARTS:-1}" = 0 ]; then
	sh tools/bench-report --no-charts "$raw"
else
	sh tools/bench-report "$raw"
fi
echo "raw samples: $raw (wake samples: $wakef)"
echo "machine:     $machine"
