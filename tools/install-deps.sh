#!/bin/sh
# Installs what building, testing and benchmarking crew need on Debian/Ubuntu.
# Run as root (or through sudo).  Safe to run again: apt-get skips what is there.
set -eu
PKGS="build-essential pkg-config libcriterion-dev libck-dev libhwloc-dev hwloc \
libtbb-dev gnuplot-nox valgrind clang libclang-rt-14-dev spin stress-ng \
util-linux"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: not root; run:  sudo apt-get install -y $PKGS" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends $PKGS; then
	apt-get update
	apt-get install -y --no-install-recommends $PKGS
fi
