#!/bin/sh
# Fails if an atomic operation has no comment on its own line or within the
# three lines above it (house style rule 11: say the order, why, and the
# partner).  atomic_init and comment-only lines are exempt.
status=0
for f in "$@"; do
	awk -v F="$f" '
	{ line[NR] = $0 }
	/atomic_(load|store|exchange|compare_exchange|fetch_)[a-z_]*\(/ {
		ok = 0
		for (i = NR; i > NR - 4 && i > 0; i--)
			if (line[i] ~ /\/\*|\*\// || line[i] ~ /^[ \t]*\*/) { ok = 1; break }
		if (!ok) { printf("%s:%d: atomic without an order comment\n", F, NR); bad = 1 }
	}
	END { exit bad }' "$f" || status=1
done
[ $status -eq 0 ] && echo "check-atomics: every atomic operation is commented"
exit $status
