#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tools/device-bundle.sh [DIR]: packs the benchmark, stress and topology
# programs built here, with every shared library they load and this
# machine's dynamic loader, into DIR (default .devbundle), so that they run
# unchanged on another x86-64 Linux machine that has neither the -dev
# packages nor a compiler (a lent many-core machine, whose glibc may be
# older or newer than ours).
#
#   DIR/real/NAME   the program as built
#   DIR/lib/        its libraries and ld-linux-x86-64.so.2
#   DIR/bin/NAME    a wrapper: DIR/lib/ld-linux... --library-path DIR/lib
#                   DIR/real/NAME "$@"
#
# bench/run.sh runs from the bundle with BENCH_BIN=DIR/bin BENCH_NOBUILD=1
# CREW_TOPO=DIR/bin/crew-topo; tools/device-run.sh does all of that.
set -eu
cd "$(dirname "$0")/.."
D=${1:-.devbundle}

make -s lib tools >&2
make -s -C bench >&2
make -s build/stress/stress build/stress/stress_chaos >&2

rm -rf "$D"
mkdir -p "$D/real" "$D/lib" "$D/bin"

progs=""
for p in bench/bin/* build/crew-topo build/stress/stress \
    build/stress/stress_chaos; do
	[ -x "$p" ] && [ -f "$p" ] && progs="$progs $p"
done
lstopo=$(command -v lstopo-no-graphics 2>/dev/null || true)
[ -n "$lstopo" ] && progs="$progs $lstopo"

for p in $progs; do
	name=$(basename "$p")
	cp "$p" "$D/real/$name"
	# "libX.so.N => /path (addr)" and the loader's "/lib64/ld-linux... (addr)"
	ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		cp -L "$lib" "$D/lib/$(basename "$lib")"
	done
	cat >"$D/bin/$name" <<EOF
#!/bin/sh
d=\$(cd "\$(dirname "\$0")/.." && pwd)
exec "\$d/lib/ld-linux-x86-64.so.2" --library-path "\$d/lib" "\$d/real/$name" "\$@"
EOF
	chmod +x "$D/bin/$name"
done
{
	echo "built on $(uname -n) ($(. /etc/os-release && echo "$PRETTY_NAME")), $(date '+%Y-%m-%d %H:%M:%S %z')"
	echo "crew $(git rev-parse --short HEAD)$(git status --porcelain --untracked-files=no | grep -q . && echo -dirty)"
	echo "$(${CC:-gcc} --version | head -n 1)"
	echo "tbb $(dpkg-query -W -f '${Version}' libtbb-dev 2>/dev/null || echo -)," \
	    "ck $(dpkg-query -W -f '${Version}' libck-dev 2>/dev/null || echo -)," \
	    "hwloc $(dpkg-query -W -f '${Version}' libhwloc-dev 2>/dev/null || echo -)"
} >"$D/BUILDINFO"
[ -f "$D/lib/ld-linux-x86-64.so.2" ] || {
	echo "device-bundle: no ld-linux-x86-64.so.2 found" >&2
	exit 1
}
echo "device-bundle: $(ls "$D/real" | wc -l) programs, $(du -sh "$D" | cut -f1) in $D" >&2
