#!/bin/sh
# Builds the libFuzzer harnesses of tests/fuzz/ with clang and runs each for
# FUZZ_TIME seconds (default 60) on its seed corpus in tests/fuzz/corpus/.
# The ring harness runs at capacities 4, 8 and 256.  Prints executions per
# harness; exits non-zero on any crash, leak, model mismatch or timeout
# (the failing input is written to build/fuzz/).
#   usage: tools/run-fuzz.sh [harness ...]    (default: all)
set -eu
cd "$(dirname "$0")/.."
T=${FUZZ_TIME:-60}
B=build/fuzz
CC=${FUZZ_CC:-clang}
mkdir -p "$B"
SRCS="src/api.c src/cpu.c src/park.c src/pool.c src/wg.c src/for.c src/global.c src/relay.c"
[ -f src/topo.c ] && SRCS="$SRCS src/topo.c"
LIBS="-lm -pthread"
if pkg-config --exists hwloc 2>/dev/null; then LIBS="$LIBS $(pkg-config --libs hwloc)"; fi
FLAGS="-g -O1 -std=c11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iinclude -Isrc"

build() { # name source extra-flags
	$CC $FLAGS $3 "tests/fuzz/$2" $SRCS $LIBS -o "$B/$1"
}
build fuzz_ring4 fuzz_ring.c -DCREW_RING_CAP=4u
build fuzz_ring8 fuzz_ring.c -DCREW_RING_CAP=8u
build fuzz_ring256 fuzz_ring.c ""
build fuzz_queue fuzz_queue.c ""
build fuzz_sync fuzz_sync.c ""
build fuzz_api fuzz_api.c -Wl,--wrap=pthread_create

want=${*:-"fuzz_ring4 fuzz_ring8 fuzz_ring256 fuzz_queue fuzz_sync fuzz_api"}
status=0
for h in $want; do
	corpus=tests/fuzz/corpus/$(echo "$h" | sed 's/^fuzz_//; s/[0-9]*$//')
	work=$B/corpus-$h
	rm -rf "$work"; mkdir -p "$work"
	timeout=5; [ "$h" = fuzz_api ] && timeout=20
	if (cd "$B" && ./"$h" -max_total_time="$T" -timeout="$timeout" \
	    -artifact_prefix="$h-" -print_final_stats=1 \
	    "corpus-$h" "../../$corpus") >"$B/$h.log" 2>&1; then
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/$h.log" | grep -o '[0-9]*$')
		echo "fuzz: $h: ok, ${execs:-?} executions in ${T} s"
	else
		echo "fuzz: $h: FAILED (see $B/$h.log)"
		tail -20 "$B/$h.log"
		status=1
	fi
done
exit $status
