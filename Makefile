# crew: plain GNU make.  `make` builds the libraries; `make check` is CI.
# See README.md for every target.

VERSION_MAJOR := 0
VERSION_MINOR := 5
VERSION_PATCH := 3
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CC ?= cc
CXX ?= c++
ifeq ($(origin CC),default)
CC := gcc
endif
OPT ?= -O2 -g
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wcast-align -Wundef -Wwrite-strings -Wformat=2
WERROR ?=
# hwloc (topology and pinning, src/topo.c only).  Recursive (=) so that
# pkg-config runs after check-deps-lib may have installed it.
HWLOC_CFLAGS = $(shell pkg-config --cflags hwloc 2>/dev/null)
HWLOC_LIBS = $(shell pkg-config --libs hwloc 2>/dev/null || echo -lhwloc)
CFLAGS_BASE = -std=c11 $(OPT) $(WARN) $(WERROR) -pthread -Iinclude -Isrc \
	$(HWLOC_CFLAGS) -fvisibility=hidden -MMD -MP
LDLIBS = $(HWLOC_LIBS) -lm -pthread

B := build
SRCS := src/api.c src/cpu.c src/park.c src/pool.c src/wg.c src/for.c src/global.c src/relay.c \
	src/topo.c
LIBNAME := $(B)/libcrew.so.$(VERSION)
# Before 1.0 a minor version may change the ABI: the soname names it.
ifeq ($(VERSION_MAJOR),0)
SONAME := libcrew.so.0.$(VERSION_MINOR)
else
SONAME := libcrew.so.$(VERSION_MAJOR)
endif

.PHONY: all lib tools install uninstall test check stress bench clean deps \
	check-deps-lib check-deps-test check-deps-bench check-exports \
	check-header check-atomics check-tools test-asan test-tsan help \
	stress-long test-fault fuzz check-models test-valgrind
.DEFAULT_GOAL := all

all: lib tools
lib: $(B)/libcrew.a $(LIBNAME) $(B)/crew.pc
tools: $(B)/crew-topo

# ---------------------------------------------------------------- library
# The release objects are PIC so one set serves both libraries.
$(B)/obj/%.o: src/%.c | $(B)/obj check-deps-lib
	$(CC) $(CFLAGS_BASE) -fPIC -c $< -o $@

$(B)/libcrew.a: $(SRCS:src/%.c=$(B)/obj/%.o)
	rm -f $@; ar rcs $@ $^

$(LIBNAME): $(SRCS:src/%.c=$(B)/obj/%.o)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDLIBS)
	ln -sf libcrew.so.$(VERSION) $(B)/$(SONAME)
	ln -sf $(SONAME) $(B)/libcrew.so

# crew.pc with the PREFIX, LIBDIR and INCLUDEDIR of this make run: `make
# install` writes its own copy, so that a PREFIX given only there counts.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'
$(B)/crew.pc: crew.pc.in Makefile | $(B)
	$(PC_SED) $< > $@

# build/crew-topo: the topology, pin plan and victim orders crew uses
# (tools/crew-topo runs it).  Statically linked: it calls internal crew__
# functions (the synthetic-topology hook among them).
$(B)/crew-topo: tools/crew-topo.c $(B)/libcrew.a
	$(CC) $(CFLAGS_BASE) -MF $(B)/obj/crew-topo.d $< $(B)/libcrew.a -o $@ $(LDLIBS)

$(B) $(B)/obj:
	mkdir -p $@

help:
	@echo "make                 libraries (build/libcrew.a, build/libcrew.so.*, build/crew.pc) and build/crew-topo"
	@echo "make lib | tools     only the libraries | only build/crew-topo"
	@echo "make install         PREFIX=/usr/local (LIBDIR, INCLUDEDIR, PKGCONFIGDIR, DESTDIR); then ldconfig"
	@echo "make uninstall       the same variables"
	@echo "make check           everything CI runs (.ci/run)"
	@echo "make test            the Criterion suite in the dbg, cap4, cap8 and wrap builds"
	@echo "make test-asan | test-tsan | test-chaos | test-valgrind | test-fault"
	@echo "make stress          the short stress suite; make stress-long: hours at 10^7 tasks"
	@echo "make check-models    the spin models; make fuzz FUZZ_TIME=60: the libFuzzer harnesses"
	@echo "make check-exports | check-header | check-atomics | check-tools"
	@echo "make bench           the benchmark suite against the peers (QUICK=1, BENCH=, RUNTIMES=, THREADS=, ROUNDS=)"
	@echo "make deps            install every package (tools/install-deps.sh, as root)"
	@echo "make clean           remove build/"

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/crew.h $(DESTDIR)$(INCLUDEDIR)/crew.h
	install -m 644 $(B)/libcrew.a $(DESTDIR)$(LIBDIR)/libcrew.a
	install -m 755 $(LIBNAME) $(DESTDIR)$(LIBDIR)/libcrew.so.$(VERSION)
	ln -sf libcrew.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libcrew.so
	$(PC_SED) crew.pc.in > $(B)/crew.pc.install
	install -m 644 $(B)/crew.pc.install $(DESTDIR)$(PKGCONFIGDIR)/crew.pc
	rm -f $(B)/crew.pc.install

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/crew.h $(DESTDIR)$(LIBDIR)/libcrew.a \
	    $(DESTDIR)$(LIBDIR)/libcrew.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/libcrew.so $(DESTDIR)$(PKGCONFIGDIR)/crew.pc

# ------------------------------------------------------------ dependencies
# A target that needs a package checks for it; missing ones are installed by
# tools/install-deps.sh when we are root, else we stop with the command.
define need_pkgs
	@missing=""; for p in $(1); do pkg-config --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "deps: missing$$missing; installing"; sh tools/install-deps.sh; \
	  else echo "deps: missing$$missing; run: sudo sh tools/install-deps.sh" >&2; exit 1; fi; fi
endef

deps:
	@command -v pkg-config >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && sh tools/install-deps.sh; } || \
	  { echo "deps: run: sudo sh tools/install-deps.sh" >&2; exit 1; }
check-deps-lib: deps
	$(call need_pkgs,hwloc)
check-deps-test: deps
	$(call need_pkgs,criterion ck hwloc)
	@if ! command -v valgrind >/dev/null 2>&1 || \
	    ! echo '#include <valgrind/valgrind.h>' | $(CC) -E -x c - >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then sh tools/install-deps.sh; \
	  else echo "deps: valgrind missing; run: sudo sh tools/install-deps.sh" >&2; exit 1; fi; fi
check-deps-bench: deps
	$(call need_pkgs,ck hwloc)
	@if ! command -v gnuplot >/dev/null 2>&1 || ! [ -e /usr/include/oneapi/tbb.h ] && ! [ -e /usr/include/tbb/task_group.h ]; then \
	  if [ "$$(id -u)" = 0 ]; then sh tools/install-deps.sh || true; \
	  else echo "bench: optional peers missing; run: sudo sh tools/install-deps.sh" >&2; fi; fi

# ------------------------------------------------------------ test variants
# Each variant builds the library sources with its own flags into
# build/<variant>/ and links the tests against them statically.
#   dbg   -O2 with assertions       cap4/cap8  tiny rings (constant overflow)
#   wrap  ring indices start near UINT32_MAX     chaos  yields at racy points
#   asan  ASan+UBSan                tsan       ThreadSanitizer
VAR_dbg :=
VAR_cap4 := -DCREW_RING_CAP=4u
VAR_cap8 := -DCREW_RING_CAP=8u
VAR_wrap := -DCREW_RING_INDEX_START=0xFFFFFED4u
VAR_chaos := -DCREW_CHAOS
VAR_asan := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
VAR_tsan := -O1 -fsanitize=thread -fno-omit-frame-pointer
VARIANTS := dbg cap4 cap8 wrap chaos asan tsan

TEST_CFLAGS = $(CFLAGS_BASE) -Werror -Itests $(VAR_$(1))
TEST_LDFLAGS = $(VAR_$(1)) -Wl,--wrap=pthread_create,--wrap=mmap

# Unit tests (Criterion): each file of UNIT runs in every variant in UNIT_VARS.
UNIT := test_ring test_queue test_sync test_api test_conc test_topo test_slice
UNIT_VARS := dbg cap4 cap8 wrap asan
TEST_SUPPORT := tests/support.c tests/conc.c

# test_topo injects hwloc failures (topology load, thread binding) through
# these wrappers, defined in tests/test_topo.c.
TOPO_WRAP := -Wl,--wrap=hwloc_topology_load -Wl,--wrap=hwloc_set_cpubind

define variant_rules
$(B)/$(1)/%.o: src/%.c | $(B)/$(1) check-deps-lib
	@echo "  CC $(1)/$$(@F)"; $$(CC) $$(call TEST_CFLAGS,$(1)) -c $$< -o $$@
$(B)/$(1)/t_%.o: tests/%.c | $(B)/$(1)
	@echo "  CC $(1)/$$(@F)"; $$(CC) $$(call TEST_CFLAGS,$(1)) -c $$< -o $$@
$(B)/$(1)/libcrew.a: $(SRCS:src/%.c=$(B)/$(1)/%.o)
	rm -f $$@; ar rcs $$@ $$^
$(B)/$(1)/test_%: $(B)/$(1)/t_test_%.o $(B)/$(1)/t_support.o $(B)/$(1)/t_conc.o $(B)/$(1)/t_conc_par.o $(B)/$(1)/libcrew.a
	$$(CC) $$^ -o $$@ $$(call TEST_LDFLAGS,$(1)) $$(if $$(filter test_topo,$$(@F)),$$(TOPO_WRAP)) -lcriterion $$(LDLIBS)
$(B)/$(1):
	mkdir -p $$@
endef
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))

$(B)/tsan/tsan_runner: $(B)/tsan/t_tsan_runner.o $(B)/tsan/t_support.o $(B)/tsan/t_conc.o $(B)/tsan/t_conc_par.o $(B)/tsan/libcrew.a
	$(CC) $^ -o $@ $(call TEST_LDFLAGS,tsan) $(LDLIBS)
$(B)/chaos/conc_runner: $(B)/chaos/t_tsan_runner.o $(B)/chaos/t_support.o $(B)/chaos/t_conc.o $(B)/chaos/t_conc_par.o $(B)/chaos/libcrew.a
	$(CC) $^ -o $@ $(call TEST_LDFLAGS,chaos) $(LDLIBS)

CRITERION_OPTS ?= --jobs 2

# `make test`: the Criterion suite in the plain and small-ring variants.
test: check-deps-test
	@$(MAKE) -j2 --no-print-directory test-build VARS="dbg cap4 cap8 wrap"
	@set -e; for v in dbg cap4 cap8 wrap; do for t in $(UNIT); do \
	  echo "== $$v/$$t"; $(B)/$$v/$$t $(CRITERION_OPTS); done; done

test-build: $(foreach v,$(VARS),$(foreach t,$(UNIT),$(B)/$(v)/$(t)))

test-asan: check-deps-test
	@$(MAKE) -j2 --no-print-directory test-build VARS=asan
	@set -e; for t in $(UNIT); do echo "== asan/$$t"; \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:malloc_context_size=2 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(B)/asan/$$t $(CRITERION_OPTS); done

test-tsan:
	@$(MAKE) -j2 --no-print-directory $(B)/tsan/tsan_runner
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tools/tsan.supp CREW_TEST_SCALE=5 $(B)/tsan/tsan_runner

test-chaos:
	@$(MAKE) -j2 --no-print-directory $(B)/chaos/conc_runner
	CREW_TEST_SCALE=10 $(B)/chaos/conc_runner

# ------------------------------------------------------------ stress
# stress/ programs (release flags), the white-box ring stress at an 8-slot
# ring, a chaos build that yields at the racy points, and ASan/TSan builds
# (which shrink the sizes they are given, see stress.c).
STRESS_B := $(B)/stress
$(STRESS_B):
	mkdir -p $@
$(STRESS_B)/stress: stress/stress.c $(B)/dbg/libcrew.a | $(STRESS_B)
	$(CC) $(call TEST_CFLAGS,dbg) $< $(B)/dbg/libcrew.a -o $@ $(LDLIBS)
$(STRESS_B)/stress_chaos: stress/stress.c $(B)/chaos/libcrew.a | $(STRESS_B)
	$(CC) $(call TEST_CFLAGS,chaos) $< $(B)/chaos/libcrew.a -o $@ $(LDLIBS)
$(STRESS_B)/stress_ring: stress/stress_ring.c $(B)/cap8/libcrew.a | $(STRESS_B)
	$(CC) $(call TEST_CFLAGS,cap8) $< $(B)/cap8/libcrew.a -o $@ $(LDLIBS)
$(STRESS_B)/stress_asan: stress/stress.c $(B)/asan/libcrew.a | $(STRESS_B)
	$(CC) $(call TEST_CFLAGS,asan) $< $(B)/asan/libcrew.a -o $@ $(VAR_asan) $(LDLIBS)
$(STRESS_B)/stress_tsan: stress/stress.c $(B)/tsan/libcrew.a | $(STRESS_B)
	$(CC) $(call TEST_CFLAGS,tsan) $< $(B)/tsan/libcrew.a -o $@ $(VAR_tsan) $(LDLIBS)
STRESS_PROGS := $(STRESS_B)/stress $(STRESS_B)/stress_chaos $(STRESS_B)/stress_ring \
	$(STRESS_B)/stress_asan $(STRESS_B)/stress_tsan

# `make stress`: the short run (part of `make check`); `make stress-long`
# runs 10^7-task sizes, 20 repetitions (hours).
stress: check-deps-test
	@$(MAKE) -j2 --no-print-directory $(STRESS_PROGS)
	STRESS_BIN=$(STRESS_B) sh tools/run-stress.sh short
stress-long: check-deps-test
	@$(MAKE) -j2 --no-print-directory $(STRESS_PROGS)
	STRESS_BIN=$(STRESS_B) sh tools/run-stress.sh long

# Valgrind memcheck on a few stress lines, relays included (crew registers
# its relay stacks with Valgrind, compiled in when valgrind/valgrind.h is
# there: check-deps-test makes sure it is; without it memcheck reports
# false errors in relayed waits, so this fails rather than pass vacuously).
VALGRIND := valgrind -q --error-exitcode=9 --fair-sched=yes --leak-check=full \
	--errors-for-leak-kinds=definite
VALGRIND_RUNS := "deep 2 3000 1" "lifecycle 4 10000 20" "queued 4 10000 1" \
	"bulk 4 20000 1"
test-valgrind: check-deps-test
	@$(MAKE) -j2 --no-print-directory $(STRESS_B)/stress
	@set -e; for a in $(VALGRIND_RUNS); do echo "== valgrind stress $$a"; \
	  $(VALGRIND) $(STRESS_B)/stress $$a; done

# Allocation-failure injection (every allocation crew makes can fail),
# under ASan so a leak on any error path fails the run.
$(B)/asan/fault_alloc: tests/fault_alloc.c $(B)/asan/libcrew.a
	$(CC) $(call TEST_CFLAGS,asan) $< $(B)/asan/libcrew.a -o $@ \
	    $(VAR_asan) -Wl,--wrap=malloc,--wrap=calloc,--wrap=aligned_alloc $(LDLIBS)
test-fault:
	@$(MAKE) -j2 --no-print-directory $(B)/asan/fault_alloc
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(B)/asan/fault_alloc

# libFuzzer harnesses (clang): FUZZ_TIME seconds each (default 60).
FUZZ_TIME ?= 60
CHECK_FUZZ_TIME ?= 20
fuzz:
	FUZZ_TIME=$(FUZZ_TIME) sh tools/run-fuzz.sh

# spin models of park/notify, the try-lock queue and shutdown: each real
# model must show 0 errors, each seeded buggy variant at least one.
check-models:
	@if [ -x tools/check-models.sh ] || [ -f tools/check-models.sh ]; then \
	  sh tools/check-models.sh; else echo "check-models: no models"; fi

# Only crew_* symbols may leave the shared library.
check-exports: $(LIBNAME)
	@bad=$$(nm -D --defined-only $(LIBNAME) | awk '{print $$3}' | grep -v '^crew_' || true); \
	if [ -n "$$bad" ]; then echo "check-exports: stray symbols:"; echo "$$bad"; exit 1; fi; \
	echo "check-exports: only crew_* exported ($$(nm -D --defined-only $(LIBNAME) | wc -l) symbols)"

# The header compiles on its own as C11 and as C++.
check-header: | $(B)
	@printf '#include "crew.h"\nint main(void){crew_task t = CREW_TASK_INIT(0); crew_config c; crew_pin_place p; (void)t; (void)p;\n crew_config_init(&c); c.pin = CREW_PIN_CORES; return crew_version() == 0 && c.pin == CREW_PIN_NUMA;}\n' > $(B)/hdr.c
	$(CC) -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude -c $(B)/hdr.c -o $(B)/hdr_c.o
	$(CXX) -x c++ -std=c++11 -Wall -Wextra -Werror -Iinclude -c $(B)/hdr.c -o $(B)/hdr_cxx.o
	@echo "check-header: crew.h compiles alone as C11 and C++11"

# build/crew-topo runs on this machine and on a synthetic topology.
check-tools: $(B)/crew-topo
	@$(B)/crew-topo --pin cores > /dev/null
	@$(B)/crew-topo --pin numa --threads 9 --synthetic "pack:2 numa:2 l3:2 core:4 pu:2" > /dev/null
	@printf 'workload,runtime,median,min,max,unit,better,crew_ratio,best_peer,clean_median,n,contended,significant\nfib,crew,9,8,10,ms,lower,0.20,tbb,9,5,0,yes\nfib,tbb,45,44,46,ms,lower,5.00,,45,5,0,\nqsort_speedup,crew,1.9,1.8,2,x,higher,1.01,tbb,1.9,5,0,no\nqsort_speedup,tbb,1.88,1.8,2,x,higher,1.01,,1.88,5,0,\n' > $(B)/md.csv
	@tools/bench-mdtable $(B)/md.csv | grep -q '^| fib | ms | 9 |  |  | 45 |  |  | 0.20 vs tbb |$$'
	@tools/bench-mdtable $(B)/md.csv | grep -q '^| qsort_speedup | x | 1.9 |  |  | 1.88 |  |  | 1.01 vs tbb (n.s.) |$$'
	@echo "check-tools: crew-topo and bench-mdtable run"

# Every atomic operation carries a comment on its line or the one above.
check-atomics:
	@sh tools/check-atomics.sh src/*.c src/*.h

check: check-deps-test
	$(MAKE) --no-print-directory clean-build
	$(MAKE) --no-print-directory WERROR=-Werror lib tools
	$(MAKE) --no-print-directory check-exports check-header check-atomics check-tools
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory test-chaos
	$(MAKE) --no-print-directory test-fault
	$(MAKE) --no-print-directory stress
	$(MAKE) --no-print-directory test-valgrind
	$(MAKE) --no-print-directory check-models
	$(MAKE) --no-print-directory fuzz FUZZ_TIME=$(CHECK_FUZZ_TIME)
	@echo "check: all passed"

clean-build:
	rm -rf $(B)

clean:
	rm -rf $(B)

# ------------------------------------------------------------ bench
BENCH_CFLAGS = -std=gnu11 -O2 -g -pthread -Iinclude -Isrc -Ibench
# The library and the programs build with a job per CPU (run.sh's own
# `make -C bench` then finds them current).
BENCH_JOBS = $(shell nproc 2>/dev/null || echo 2)
bench: check-deps-bench
	@$(MAKE) --no-print-directory -j$(BENCH_JOBS) lib
	@$(MAKE) --no-print-directory -j$(BENCH_JOBS) -C bench
	@sh bench/run.sh

-include $(wildcard $(B)/*/*.d)
