#!/bin/sh
# Runs the stress programs.  `tools/run-stress.sh short` is part of
# `make check` (a few minutes); `tools/run-stress.sh long` runs for hours.
# Each program prints its seed first; replay a failure with the same
# arguments and that seed.  Extra environments: everything again pinned to
# one CPU (taskset -c 0) and, when stress-ng is installed, under background
# CPU load.  Exits non-zero on the first failure.
set -eu
cd "$(dirname "$0")/.."
B=${STRESS_BIN:-build/stress}
mode=${1:-short}
if [ "$mode" = long ]; then
	N=10000000; IT=50; REPEAT=${STRESS_REPEAT:-20}
else
	N=1000000; IT=2; REPEAT=1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
	echo "== $*"
	if ! "$@" >"$log" 2>&1; then
		cat "$log"
		echo "stress: FAILED: $*"
		exit 1
	fi
	tail -2 "$log"
}
suite() {
	# 10^7 tasks from 4 outside producers (plus ~25% children) per run.
	for w in 1 2 4 8 32; do
		run "$B/stress" bulk "$w" 10000000 "$IT"
	done
	run "$B/stress" forkjoin 4 "$N" "$IT"
	run "$B/stress" pingpong 4 $((N / 10)) "$IT"
	run "$B/stress" lifecycle 4 100000 $((IT * 100))
	run "$B/stress" queued 4 "$N" "$IT"
	run "$B/stress" nested 4 "$N" "$IT"
	for w in 1 2 4; do
		run "$B/stress" overflow "$w" 4096 "$IT"
	done
	run "$B/stress" handoff 2 $((N / 50)) "$IT"
	for w in 2 4 8; do
		run "$B/stress" burst "$w" $((N / 5000)) "$IT"
	done
	for w in 1 2 4; do
		run "$B/stress" deep "$w" $((N / 50)) "$IT"
	done
	run "$B/stress_ring" steal 4 "$N" "$IT"
	run "$B/stress_ring" global 8 "$N" "$IT"
	run "$B/stress_chaos" bulk 4 $((N / 4)) "$IT"
	run "$B/stress_chaos" forkjoin 4 $((N / 4)) "$IT"
	run "$B/stress_chaos" overflow 2 4096 "$IT"
	run "$B/stress_chaos" handoff 2 $((N / 50)) "$IT"
	run "$B/stress_chaos" burst 4 $((N / 5000)) "$IT"
	run "$B/stress_chaos" deep 2 $((N / 50)) "$IT"
	# Workers that poll before parking (crew_config.spin_us), which
	# this 2-CPU machine's default leaves off: the hand-over paths.
	for a in "stress bulk 4 $((N * 2))" "stress burst 4 $((N / 5000))" \
	    "stress handoff 2 $((N / 50))" "stress pingpong 4 $((N / 10))" \
	    "stress forkjoin 4 $N" "stress_chaos burst 4 $((N / 5000))" \
	    "stress_chaos bulk 4 $((N / 4))" "stress_tsan burst 4 $((N / 1000))" \
	    "stress_tsan handoff 2 $((N / 50))"; do
		# shellcheck disable=SC2086
		CREW_SPIN_US=30 run "$B/"$a "$IT"
	done
	# Fan-out beyond this machine's 2 CPUs (CREW_FANOUT=1): crew_for's
	# splits kick extra sleepers, which race the hand-offs, the idle
	# commits and, at each pool's destroy, the shutdown.
	for a in "stress forkjoin 8 $N" "stress forkjoin 3 $N" \
	    "stress_chaos forkjoin 8 $((N / 4))" "stress_asan forkjoin 4 $N" \
	    "stress_tsan forkjoin 8 $N"; do
		# shellcheck disable=SC2086
		CREW_FANOUT=1 run "$B/"$a $((IT * 5))
	done
	# Sanitizer builds: the same lines, sizes shrunk by the program.
	for s in asan tsan; do
		run "$B/stress_$s" bulk 4 "$N" "$IT"
		run "$B/stress_$s" forkjoin 4 "$N" "$IT"
		run "$B/stress_$s" overflow 2 4096 "$IT"
		run "$B/stress_$s" handoff 2 $((N / 50)) "$IT"
		run "$B/stress_$s" burst 4 $((N / 1000)) "$IT"
		run "$B/stress_$s" lifecycle 4 100000 $((IT * 10))
		run "$B/stress_$s" deep 2 $((N / 50)) "$IT"
	done
}
i=0
while [ $i -lt $REPEAT ]; do
	suite
	if command -v taskset >/dev/null 2>&1; then
		echo "-- pinned to one CPU (taskset -c 0)"
		run taskset -c 0 "$B/stress" bulk 4 $((N / 4)) "$IT"
		run taskset -c 0 "$B/stress" pingpong 4 $((N / 20)) "$IT"
		run taskset -c 0 "$B/stress" queued 4 $((N / 4)) "$IT"
		run taskset -c 0 "$B/stress_ring" steal 4 $((N / 4)) "$IT"
		STRESS_TIME_SCALE=5 run taskset -c 0 "$B/stress" overflow 2 4096 "$IT"
		run taskset -c 0 "$B/stress" handoff 2 $((N / 100)) "$IT"
		run taskset -c 0 "$B/stress" burst 4 $((N / 5000)) "$IT"
	fi
	if command -v stress-ng >/dev/null 2>&1; then
		echo "-- under background load (stress-ng --cpu 2)"
		stress-ng --cpu 2 --timeout 600s --quiet &
		load=$!
		trap 'kill $load 2>/dev/null || true; rm -f "$log"' EXIT
		run "$B/stress" bulk 4 $((N / 4)) "$IT"
		run "$B/stress" pingpong 4 $((N / 20)) "$IT"
		run "$B/stress_ring" steal 4 $((N / 4)) "$IT"
		STRESS_TIME_SCALE=5 run "$B/stress" overflow 2 4096 "$IT"
		kill $load 2>/dev/null || true
		wait $load 2>/dev/null || true
		trap 'rm -f "$log"' EXIT
	fi
	i=$((i + 1))
done
echo "stress: all passed"
