#!/bin/sh
# Model-checks crew's concurrency protocols with spin (test plan 4.8 item 32).
#
#   sh tools/check-models.sh            the CI set (about 100 s on 2 cores)
#   sh tools/check-models.sh --full     also the larger configurations
#                                       (about 35 min and 14 GB of memory,
#                                       one run at a time unless JOBS is
#                                       set; one of them uses bitstate, a
#                                       partial search)
#   sh tools/check-models.sh --trail MODEL [SPIN-FLAGS...]
#                                       replay a counterexample, condensed
#                                       (e.g. --trail park -DBUGGY=2,
#                                       --trail park -DSPIN -DBUGGY=5;
#                                       TRAIL_CFLAGS=-DP_REVERSE for
#                                       --trail park -DBURST -DMAXT=3
#                                       -DBUGGY=8)
#
# For every model in models/ it builds the verifier (spin -a, then gcc
# -DSAFETY: assertions and invalid end states; no liveness), runs it
# exhaustively and requires "errors: 0"; then it builds each seeded BUGGY
# variant and requires at least one error, an assertion violation, which
# shows the model can still see the bug it guards against.  A FIXED run
# whose search was cut by the depth bound fails too.  Every model's header
# says what it abstracts from src/ and what it leaves out (spin explores
# sequentially consistent interleavings only: no weak-memory bugs).
#
# Environment: JOBS (parallel runs, default 2, 1 with --full: its two
# largest runs take 13.2 and 10.6 GB), PAN_CFLAGS (default -O0:
# gcc -O2 spends longer compiling pan.c than the search saves at these
# sizes), DEPTH (pan -m, default 200000), KEEP=DIR (keep each failing
# variant's trail there).
# Exit status: 0 all as expected, 1 a model did not behave as expected,
# 2 spin or gcc missing.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODELS="$ROOT/models"
JOBS_SET=${JOBS:+yes}
JOBS=${JOBS:-2}
PAN_CFLAGS=${PAN_CFLAGS:--O0}
DEPTH=${DEPTH:-200000}
KEEP=${KEEP:-}

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "check-models: '$1' not found; install it (Debian: apt-get install $2)" >&2
	exit 2
}

now_ms() {
	t=$(date +%s%N 2>/dev/null)
	case $t in
	*N|'') echo $(($(date +%s) * 1000)) ;;
	*) echo $((t / 1000000)) ;;
	esac
}

# Copies the models into a fresh directory and builds pan there.
# build DIR MODEL CFLAGS SPIN-FLAGS...
build() {
	dir=$1 model=$2 cflags=$3
	shift 3
	cp "$MODELS"/*.pml "$MODELS"/*.inc "$dir"/ || return 1
	(cd "$dir" && spin "$@" -a "$model.pml" >spin.out 2>&1) || {
		echo "spin -a failed:"; cat "$dir/spin.out"; return 1; }
	# shellcheck disable=SC2086
	(cd "$dir" && gcc $PAN_CFLAGS $cflags -DSAFETY -w -o pan pan.c \
	    >gcc.out 2>&1) || {
		echo "gcc failed:"; cat "$dir/gcc.out"; return 1; }
}

# One verification run; writes one result line to $WORK/res.N:
# model|label|expect|states|errors|ms|ok|note
run_job() {
	n=$1
	line=$(sed -n "${n}p" "$WORK/jobs")
	IFS='|' read -r model label expect sflags cflags rflags <<EOF
$line
EOF
	dir="$WORK/job$n"
	mkdir -p "$dir"
	t0=$(now_ms)
	# shellcheck disable=SC2086
	if ! build "$dir" "$model" "$cflags" $sflags >"$dir/build.log" 2>&1; then
		echo "$model|$label|$expect|-|-|0|BAD|$(tr '\n' ' ' <"$dir/build.log" | cut -c1-300)" >"$WORK/res.$n"
		return 0
	fi
	# shellcheck disable=SC2086
	(cd "$dir" && ./pan -m"$DEPTH" -n $rflags >pan.out 2>&1)
	t1=$(now_ms)
	out="$dir/pan.out"
	errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | head -n 1)
	[ -n "$errors" ] || errors=-
	[ -n "$states" ] || states=-
	ok=BAD note=
	truncated=0
	grep -q 'max search depth too small' "$out" && truncated=1
	case $expect in
	pass)
		if [ "$errors" = 0 ] && [ $truncated = 0 ]; then ok=ok
		elif [ $truncated = 1 ]; then note="search cut by -m$DEPTH"
		else note=$(grep -m1 -E 'violated|invalid end state|error' "$out")
		fi ;;
	fail)
		if [ "$errors" != - ] && [ "$errors" -ge 1 ] &&
		    grep -q 'assertion violated' "$out"; then
			ok=ok
			note=$(grep -m1 'assertion violated' "$out" |
			    sed 's/ *(at depth \([0-9]*\))/ at depth \1/' | cut -c1-60)
			if [ -n "$KEEP" ]; then
				mkdir -p "$KEEP"
				cp "$dir/$model.pml.trail" \
				    "$KEEP/$model.$(echo "$label" | tr -c 'A-Za-z0-9=\n' '_').trail" \
				    2>/dev/null
			fi
		else
			note="expected an assertion violation, got errors: $errors"
		fi ;;
	esac
	echo "$model|$label|$expect|$states|$errors|$((t1 - t0))|$ok|$note" >"$WORK/res.$n"
}

# Replays a counterexample: only the steps that change a global, per
# process, so a human can follow the interleaving.
trail() {
	model=$1
	shift
	dir=$(mktemp -d)
	build "$dir" "$model" "${TRAIL_CFLAGS:-}" "$@" || exit 1
	(cd "$dir" && ./pan -m"$DEPTH" -n >pan.out 2>&1)
	grep -E 'errors:|violated|states, stored' "$dir/pan.out"
	if [ ! -f "$dir/$model.pml.trail" ]; then
		echo "no counterexample"
		rm -rf "$dir"
		return 0
	fi
	(cd "$dir" && spin "$@" -t -p -g "$model.pml" 2>&1) | awk '
	function flush(   k, s) {
		s = ""
		for (k in pend) {
			if (cur[k] != pend[k]) s = s " " k "=" pend[k]
			cur[k] = pend[k]
		}
		if (s != "" && proc != "") printf "%5d %-14s%s\n", step, proc, s
		split("", pend)
	}
	/^ *[0-9]+:[ \t]+proc +[0-9]+ \(/ {
		flush()
		step = $1; sub(":", "", step)
		p = $0; sub(/^[^(]*\(/, "", p); sub(/:.*/, "", p); sub(/\).*/, "", p)
		proc = p "#" $3
		next
	}
	/^\t\t[A-Za-z_][A-Za-z_0-9]*(\[[0-9]+\])? = -?[0-9]+$/ {
		v = $0; gsub(/\t/, "", v); split(v, a, " = "); pend[a[1]] = a[2]
		next
	}
	/assertion violated|trail ends|invalid end state/ { flush(); print }
	END { flush() }'
	rm -rf "$dir"
}

need spin spin
need gcc gcc

FULL=0
case ${1:-} in
--job)
	run_job "$2"
	exit 0 ;;
--trail)
	shift
	[ $# -ge 1 ] || { echo "usage: $0 --trail MODEL [SPIN-FLAGS...]" >&2; exit 2; }
	trail "$@"
	exit 0 ;;
--full)
	FULL=1
	[ -n "$JOBS_SET" ] || JOBS=1 ;;
'') ;;
*)
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2 ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/crew-models.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
export WORK PAN_CFLAGS DEPTH KEEP

# model|label|expect|spin flags|pan cc flags|pan run flags
# Heavier runs first so that the two lanes finish together.
# The ABA runs (-DSPIN -DTWO_PRODUCERS, shutdown -DSPIN) found a lost
# wake-up in polling (park.pml, "Found by this model"); BUGGY=7 restores
# that code.
# The fan-out runs (-DFANOUT; BUGGY 8-11 imply it) model the permits of
# crew__event_fan_out (park.pml, "Option -DFANOUT").  BUGGY=8 is only
# found late in pan's default order (41 M states); in reverse process
# order at 3 M.  FANOUT includes the poll after a permit (crew.inc,
# FAN_POLL; -DNO_FAN_POLL leaves it out, CREW_FAN_POLL_US=0); with HOT=0
# only fanned workers poll, and BUGGY=5 (a poller counted in `spinning`
# past its idle commit) is then found through that poll alone.  In --full
# the two largest runs go first: with the poll, park's BURST run has 278 M
# states (13.2 GB with pan -DCOLLAPSE, 16 min here) and shutdown's 208 M
# (10.6 GB, 9.5 min), so --full runs one job at a time by default (they
# were 85 M and 61 M, 7 GB together, before it).
: >"$WORK/jobs"
if [ $FULL = 1 ]; then
	cat >>"$WORK/jobs" <<'EOF'
park|FIXED,FANOUT,BURST,MAXT=3|pass|-DFANOUT -DBURST -DMAXT=3|-DCOLLAPSE|
shutdown|FIXED,FANOUT|pass|-DFANOUT|-DCOLLAPSE|
EOF
fi
cat >>"$WORK/jobs" <<'EOF'
shutdown|FIXED|pass|-DBUGGY=0||
shutdown|FIXED,FANOUT,NFAIL=0,FANCAP=2|pass|-DFANOUT -DNFAIL=0 -DFANCAP=2|-DCOLLAPSE|
shutdown|FIXED,FANOUT,NO_FAN_POLL,NFAIL=0,FANCAP=2|pass|-DFANOUT -DNO_FAN_POLL -DNFAIL=0 -DFANCAP=2||
ovfq|FIXED|pass|-DBUGGY=0||
park|FIXED|pass|-DBUGGY=0||
park|FIXED,SPIN|pass|-DSPIN||
park|FIXED,FORK2,MAXT=3|pass|-DFORK2 -DMAXT=3||
park|FIXED,BURST,MAXT=3|pass|-DBURST -DMAXT=3||
park|FIXED,FANOUT,SPIN|pass|-DFANOUT -DSPIN||
park|BUGGY=8,BURST,MAXT=3|fail|-DBURST -DMAXT=3 -DBUGGY=8|-DP_REVERSE|
park|FIXED,FANOUT|pass|-DFANOUT||
park|FIXED,FANOUT,NO_FAN_POLL|pass|-DFANOUT -DNO_FAN_POLL||
park|BUGGY=5,FANOUT,HOT=0|fail|-DFANOUT -DSPIN -DHOT=0 -DBUGGY=5||
park|FIXED,TWO_PRODUCERS,MAXT=1|pass|-DTWO_PRODUCERS -DMAXT=1||
park|FIXED,SPIN,TWO_PRODUCERS,MAXT=1|pass|-DSPIN -DTWO_PRODUCERS -DMAXT=1||
park|BUGGY=7,SPIN,TWO_PRODUCERS,MAXT=1|fail|-DSPIN -DTWO_PRODUCERS -DMAXT=1 -DBUGGY=7||
park|BUGGY=1|fail|-DBUGGY=1||
park|BUGGY=2|fail|-DBUGGY=2||
park|BUGGY=3,BURST,MAXT=3|fail|-DBURST -DMAXT=3 -DBUGGY=3||
park|BUGGY=4|fail|-DBUGGY=4||
park|BUGGY=5,SPIN|fail|-DSPIN -DBUGGY=5||
park|BUGGY=6,SPIN|fail|-DSPIN -DBUGGY=6||
park|FIXED,FANOUT,SPIN,TWO_PRODUCERS,MAXT=1|pass|-DFANOUT -DSPIN -DTWO_PRODUCERS -DMAXT=1||
park|FIXED,FANOUT,TWO_PRODUCERS,MAXT=1|pass|-DFANOUT -DTWO_PRODUCERS -DMAXT=1||
park|BUGGY=10|fail|-DBUGGY=10||
shutdown|FIXED,SPIN|pass|-DSPIN||
ovfq|BUGGY=1|fail|-DBUGGY=1||
ovfq|BUGGY=2|fail|-DBUGGY=2||
ovfq|BUGGY=3|fail|-DBUGGY=3||
shutdown|BUGGY=1|fail|-DBUGGY=1||
shutdown|BUGGY=2|fail|-DBUGGY=2||
shutdown|BUGGY=11|fail|-DBUGGY=11||
EOF
if [ $FULL = 1 ]; then
	cat >>"$WORK/jobs" <<'EOF'
park|FIXED,MAXT=3|pass|-DMAXT=3||
park|FIXED,SPIN,FORK2,MAXT=3|pass|-DSPIN -DFORK2 -DMAXT=3||
park|FIXED,SPIN,HOT=1|pass|-DSPIN -DHOT=1||
ovfq|FIXED,SPIN|pass|-DSPIN||
ovfq|FIXED,BUSY_RETRIES=1|pass|-DBUSY_RETRIES=1||
shutdown|FIXED,CHILD|pass|-DCHILD||
shutdown|BUGGY=3(benign)|pass|-DBUGGY=3||
shutdown|FIXED,TWO_SUBMITTERS(bitstate)|pass|-DTWO_SUBMITTERS|-DBITSTATE|-w31
park|FIXED,FANOUT,SPIN,FORK2,MAXT=3|pass|-DFANOUT -DSPIN -DFORK2 -DMAXT=3|-DCOLLAPSE|
park|FIXED,FANOUT,FORK2,MAXT=3|pass|-DFANOUT -DFORK2 -DMAXT=3||
shutdown|FIXED,FANOUT,SPIN,NFAIL=0,FANCAP=2|pass|-DFANOUT -DSPIN -DNFAIL=0 -DFANCAP=2|-DCOLLAPSE|
shutdown|BUGGY=9(benign),NFAIL=0,FANCAP=2|pass|-DBUGGY=9 -DNFAIL=0 -DFANCAP=2||
EOF
fi

T0=$(now_ms)
njobs=$(wc -l <"$WORK/jobs")
seq 1 "$njobs" | xargs -P "$JOBS" -I{} sh "$0" --job {}
T1=$(now_ms)

status=0
for model in park ovfq shutdown; do
	line="" mstatus=ok ms=0
	for n in $(seq 1 "$njobs"); do
		IFS='|' read -r m label expect states errors t ok note <"$WORK/res.$n"
		[ "$m" = "$model" ] || continue
		ms=$((ms + t))
		case $label in
		FIXED*) item="$label: $states states, errors $errors" ;;
		*) item="$label: errors $errors" ;;
		esac
		[ "$ok" = ok ] || { mstatus=FAIL; item="$item [$expect expected: $note]"; }
		line="${line:+$line; }$item"
	done
	[ $mstatus = ok ] || status=1
	printf '%-9s %-4s %s (%d.%ds)\n' "$model" "$mstatus" "$line" \
	    $((ms / 1000)) $((ms % 1000 / 100))
done
printf 'check-models: %d runs, %s, %d.%ds wall\n' "$njobs" \
    "$([ $status = 0 ] && echo 'all as expected' || echo 'MISMATCH')" \
    $(((T1 - T0) / 1000)) $(((T1 - T0) % 1000 / 100))
exit $status
