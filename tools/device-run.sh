#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tools/device-run.sh OUTDIR: the many-core measurements, run from a
# tools/device-bundle.sh bundle on a machine with more cores than this one
# and no compiler or -dev packages.  Everything goes to OUTDIR: log.txt (all
# output) and results.tar.gz (every bench/results file written here), both
# refreshed after each step so that a run cut short still returns what it
# measured.  Steps, most wanted first; a step that would start after
# BUDGET_S seconds (default 400) is skipped:
#   1. the machine: nproc, lscpu, lstopo, crew-topo plans and victim orders
#   2. scaling at NCPU threads: fib, qsort, pfor_mem, pfor_uneven for crew,
#      crew-pin, omp, tbb
#   3. at NCPU threads: submit (task, batch), wake latency, idle CPU, queues
#   4. scaling at NCPU/2 and NCPU/4 threads (the same four workloads)
#   5. fib oversubscribed: 4 and 8 x NCPU threads against NCPU
#   6. stress (bulk, burst, handoff, overflow, chaos bulk) on NCPU workers
#   ab (only when named): crew alone at NCPU threads, interleaved, one
#      process per value in AB_VALUES of the environment variable AB_VAR
#      (default CREW_SPIN_US with SPIN_AB, else "0 50"; for example
#      AB_VAR=CREW_SLICE_US AB_VALUES="keep auto"): fib, qsort, the loops,
#      fib_oversub, submit_batch, submit_task, wake, or the AB_WORK list
#      ("par:pfor_mem sub:wake": program par_crew or submit, workload);
#      OUTDIR/ab.txt
#   diag (only when named): crew's counters and user/sys time for fib at
#      NCPU and 8 x NCPU workers, per level of fib_oversub (with every
#      timed run), and submit_batch's build and run times at NCPU
# STEPS picks and orders them (machine, sweep:THREADS, others, oversub, ab,
# diag, stress; default: machine sweep:NCPU others sweep:NCPU/2 sweep:NCPU/4
# oversub stress).  ROUNDS (default 3) rounds each; RETRY=0 (a shared host's load would only
# multiply the run time; contended samples are marked, as always).
set -u
cd "$(dirname "$0")/.."
D=${DEVBUNDLE:-.devbundle}
OUTD=${1:-${OUT:-/tmp/crew-device}}
BUDGET_S=${BUDGET_S:-400}
ROUNDS=${ROUNDS:-3}
mkdir -p "$OUTD"
LOG=$OUTD/log.txt
t0=$(date +%s)
PATH="$PWD/$D/bin:$PATH"
export PATH BENCH_NOBUILD=1 CHARTS=0 RETRY=0 SAMPLE_TIMEOUT=${SAMPLE_TIMEOUT:-60}
export BENCH_BIN="$D/bin" CREW_TOPO="$D/bin/crew-topo" ROUNDS
N=$(nproc)
before=$(ls bench/results)

save() {
	new=$(ls bench/results | grep -vxF "$before" || true)
	[ -n "$new" ] && (cd bench/results && tar czf "$OUTD/results.tar.gz" $new)
	return 0
}
step() {	# step NAME command...: runs it unless past the budget
	name=$1; shift
	el=$(($(date +%s) - t0))
	if [ "$el" -ge "$BUDGET_S" ]; then
		echo "=== $name: skipped (${el} s of ${BUDGET_S} s spent)"
		return 0
	fi
	echo "=== $name (at ${el} s)"
	"$@" || echo "=== $name: FAILED (exit $?)"
	save
}
machine() {
	echo "nproc: $N"; uname -srm
	(. /etc/os-release && echo "os: $PRETTY_NAME")
	lscpu
	grep -m1 'model name' /proc/cpuinfo
	free -g | head -n 2
	echo "affinity: $(taskset -p $$ 2>/dev/null)"
	cat "$D/BUILDINFO"
	lstopo-no-graphics --of console 2>&1 | head -n 60
	for pin in cores pus numa; do
		echo "--- crew-topo --pin $pin --threads $N"
		crew-topo --pin "$pin" --threads "$N" 2>&1 | head -n 80
	done
}
sweep() {	# sweep THREADS
	BENCH=fib,qsort,pfor_mem,pfor_uneven RUNTIMES=crew,crew-pin,omp,tbb \
	    THREADS=$1 sh bench/run.sh
}
others() {
	BENCH=submit_task,submit_batch,wake,idle_cpu,queue_spmc,queue_mpmc \
	    THREADS=$N sh bench/run.sh
}
oversub() {
	BENCH=fib_oversub RUNTIMES=crew,omp,tbb THREADS=$N sh bench/run.sh
}
diag() {	# scheduler counters behind the oversubscription figures
	for t in $N $((N * 8)); do
		echo "--- par_crew fib $t (counters summed over its runs)"
		BENCH_STATS=1 bash -c "time $D/bin/par_crew fib $t" 2>&1
	done
	echo "--- par_crew fib_oversub $N (every timed run)"
	BENCH_STATS=1 BENCH_TIMES=1 "$D/bin/par_crew" fib_oversub "$N" 2>&1
	for i in 1 2 3; do
		echo "--- submit submit_batch $N (build and run times)"
		BENCH_STATS=1 "$D/bin/submit" submit_batch "$N" 2>&1
	done
}
AB_VAR=${AB_VAR:-CREW_SPIN_US}
AB_VALUES=${AB_VALUES:-${SPIN_AB:-0 50}}
AB_WORK=${AB_WORK:-par:fib par:qsort par:pfor_mem par:pfor_uneven par:fib_oversub sub:submit_batch sub:submit_task sub:wake}
ab() {	# crew alone, one process per value of AB_VAR, interleaved
	for r in $(seq "$ROUNDS"); do
		for w in $AB_WORK; do
			for v in $AB_VALUES; do
				case $w in par:*) p=par_crew ;; *) p=submit ;; esac
				env "$AB_VAR=$v" timeout 120 "$D/bin/$p" \
				    "${w#*:}" "$N" 2>/dev/null | grep '^runtime' |
				    sed "s/^/round=$r $AB_VAR=$v /"
			done
		done
	done | tee "$OUTD/ab.txt"
}
stress() {
	s=$D/bin/stress
	c=$D/bin/stress_chaos
	for a in "$s bulk $N 10000000 1" "$s bulk $((N * 2)) 10000000 1" \
	    "$s burst $N 200 2" "$s handoff 2 20000 2" "$s overflow $N 4096 2" \
	    "$s forkjoin $N 1000000 2" "$c bulk $N 2500000 1"; do
		echo "== $a"
		# shellcheck disable=SC2086
		if timeout 120 $a >"$OUTD/.stress" 2>&1; then
			tail -n 2 "$OUTD/.stress"
		else
			tail -n 40 "$OUTD/.stress"
			echo "stress FAILED: $a"
		fi
	done
}
{
	for st in ${STEPS:-machine sweep:$N others sweep:$((N / 2)) sweep:$((N / 4)) oversub stress}; do
		case $st in
		machine) step machine machine ;;
		sweep:*) [ "${st#sweep:}" -ge 1 ] &&
			step "scaling ${st#sweep:}" sweep "${st#sweep:}" ;;
		others) step "submit/wake/idle/queue $N" others ;;
		oversub) step oversubscription oversub ;;
		diag) step "scheduler counters" diag ;;
		ab) step "A/B ($AB_VAR: $AB_VALUES)" ab ;;
		stress) step stress stress ;;
		*) echo "=== $st: unknown step" ;;
		esac
	done
	echo "=== done in $(($(date +%s) - t0)) s"
} 2>&1 | tee "$LOG"
rm -f "$OUTD/.stress"
save
