/* SPDX-License-Identifier: MIT */
/*
 * Topology, pin plans and victim orders (src/topo.c), and pinned pools.
 *
 * Synthetic topologies (hwloc_topology_set_synthetic, through the internal
 * hook crew__topo_plan_synthetic) check every place and every victim order
 * against numbers computed here from the shape, for each mode and for
 * 1, 2, 3, exactly-the-places and more-than-the-places workers.  On this
 * machine, real pools check that workers run where the plan says, that
 * tasks run exactly once, and that failures (a topology that cannot be
 * loaded, a refused binding, both injected through the linker wrappers
 * below) leave workers unpinned and counted.  CREW_PIN parsing and the
 * public query's argument checks close the file.
 *
 * Each Criterion test runs in its own process, so the process-wide
 * topology cache, the environment and the affinity mask start fresh.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <hwloc.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crew.h"
#include "internal.h"
#include "support.h"

TestSuite(topo, .timeout = 60);

/* ------------------------------------------------------------------ */
/* Failure injection (linked with --wrap, see the Makefile).           */

static atomic_int fail_load;        /* hwloc_topology_load fails */
static atomic_uint bind_calls;      /* hwloc_set_cpubind calls so far */
static atomic_uint fail_bind_at;    /* this call fails (1-based; 0: none) */
static atomic_int fail_bind_all;    /* every call fails */

int __real_hwloc_topology_load(hwloc_topology_t t);
int __wrap_hwloc_topology_load(hwloc_topology_t t);
int __real_hwloc_set_cpubind(hwloc_topology_t t, hwloc_const_cpuset_t set,
    int flags);
int __wrap_hwloc_set_cpubind(hwloc_topology_t t, hwloc_const_cpuset_t set,
    int flags);

int
__wrap_hwloc_topology_load(hwloc_topology_t t)
{
	if (atomic_load(&fail_load))
		return -1;
	return __real_hwloc_topology_load(t);
}

int
__wrap_hwloc_set_cpubind(hwloc_topology_t t, hwloc_const_cpuset_t set,
    int flags)
{
	unsigned n = atomic_fetch_add(&bind_calls, 1) + 1;

	if (atomic_load(&fail_bind_all) || n == atomic_load(&fail_bind_at))
		return -1;
	return __real_hwloc_set_cpubind(t, set, flags);
}

/* ------------------------------------------------------------------ */
/* Synthetic plans.                                                    */

#define TOPO_A "pack:2 numa:2 l3:2 core:4 pu:2" /* 4 nodes, 8 L3, 32 cores */
#define TOPO_B "pack:1 core:2 pu:1"             /* this machine's shape */
#define TOPO_C "pack:4 numa:1 l3:1 core:8 pu:2" /* node = L3 = package */
#define TOPO_D "pack:1 l3:1 l2:2 core:2 pu:2"   /* an L2 shared by 2 cores */

/* Where worker i must be, computed from the shape (not from topo.c). */
struct want {
	int cpu, ncpus, core, l2, l3, numa;
};

typedef struct want (*want_fn)(unsigned i);

static struct want
a_cores(unsigned i)
{
	int p = (int)(i % 32);

	return (struct want){ 2 * p, 2, p, -1, p / 4, p / 8 };
}

static struct want
a_pus(unsigned i)
{
	int p = (int)(i % 64);

	return (struct want){ p, 1, p / 2, -1, p / 8, p / 16 };
}

static struct want
a_numa(unsigned i)
{
	int p = (int)(i % 4);

	return (struct want){ 16 * p, 16, -1, -1, -1, p };
}

static struct want
b_cores(unsigned i)
{
	int p = (int)(i % 2);

	return (struct want){ p, 1, p, -1, -1, 0 };
}

static struct want
b_numa(unsigned i)
{
	(void)i;
	return (struct want){ 0, 2, -1, -1, -1, 0 };
}

static struct want
c_cores(unsigned i)
{
	int p = (int)(i % 32);

	return (struct want){ 2 * p, 2, p, -1, p / 8, p / 8 };
}

static struct want
c_pus(unsigned i)
{
	int p = (int)(i % 64);

	return (struct want){ p, 1, p / 2, -1, p / 16, p / 16 };
}

static struct want
c_numa(unsigned i)
{
	int p = (int)(i % 4);

	return (struct want){ 16 * p, 16, -1, -1, p, p };
}

static struct want
d_pus(unsigned i)
{
	int p = (int)(i % 8);

	return (struct want){ p, 1, p / 2, p / 4, 0, 0 };
}

static bool
same(int a, int b)
{
	return a >= 0 && a == b;
}

/* The victim class the specification gives two places. */
static int
want_class(struct want a, struct want b)
{
	if (same(a.core, b.core) || same(a.l2, b.l2))
		return CREW__V_L2;
	if (same(a.l3, b.l3))
		return CREW__V_L3;
	if (same(a.numa, b.numa))
		return CREW__V_NUMA;
	return CREW__V_REST;
}

static struct crew__plan *
synth(const char *desc, const char *usable, enum crew_pin mode, unsigned n)
{
	struct crew__plan *pl = NULL;

	cr_assert_eq(crew__topo_plan_synthetic(&pl, desc, usable, mode, n), 0,
	    "synthetic plan \"%s\" refused", desc);
	cr_assert_not_null(pl);
	return pl;
}

/*
 * Every worker's order is a permutation of the other workers, class by
 * class nearest first, round-robin after itself within a class; with
 * `want` the classes must be those of the shape.
 */
static void
check_orders(const struct crew__plan *pl, unsigned n, want_fn want)
{
	uint16_t *v = calloc(n, sizeof(*v));
	unsigned *u = calloc(n, sizeof(*u));
	bool *seen = calloc(n, sizeof(*seen));

	cr_assert(v && u && seen);
	for (unsigned i = 0; i < n; i++) {
		unsigned len = crew__topo_victims(pl, i, n, v), prev_rr = 0;
		int prev_c = -1;

		cr_assert_eq(len, n - 1, "worker %u: %u victims of %u", i, len,
		    n);
		cr_assert_eq(crew__topo_victims_u(pl, i, n, u, n), n - 1);
		memset(seen, 0, n * sizeof(*seen));
		for (unsigned k = 0; k < len; k++) {
			unsigned j = v[k], rr = (j + n - i) % n;
			int c = crew__topo_class(pl, i, j);

			cr_assert_eq(u[k], j, "the two forms of the order differ");
			cr_assert(j < n && j != i && !seen[j],
			    "worker %u: victim %u repeated or out of range", i, j);
			seen[j] = true;
			if (want != NULL)
				cr_assert_eq(c, want_class(want(i), want(j)),
				    "worker %u, victim %u: class %d", i, j, c);
			cr_assert(c > prev_c || (c == prev_c && rr > prev_rr),
			    "worker %u: victim %u (class %d) out of order", i,
			    j, c);
			prev_c = c;
			prev_rr = rr;
		}
	}
	free(v);
	free(u);
	free(seen);
}

static void
check_places(const struct crew__plan *pl, unsigned n, want_fn want,
    bool pinned)
{
	for (unsigned i = 0; i < n; i++) {
		struct crew__place p;
		struct want w = want(i);

		crew__topo_place(pl, i, &p);
		cr_assert_eq(p.pinned, pinned, "worker %u pinned %d", i,
		    p.pinned);
		cr_assert(p.cpu == w.cpu && p.ncpus == w.ncpus &&
		    p.core == w.core && p.l2 == w.l2 && p.l3 == w.l3 &&
		    p.numa == w.numa,
		    "worker %u: cpu %d ncpus %d core %d l2 %d l3 %d numa %d, "
		    "want %d %d %d %d %d %d", i, p.cpu, p.ncpus, p.core, p.l2,
		    p.l3, p.numa, w.cpu, w.ncpus, w.core, w.l2, w.l3, w.numa);
	}
}

/* Checks desc/mode for 1, 2, 3, exactly nplaces and nplaces + 5 workers. */
static void
check_shape(const char *desc, enum crew_pin mode, want_fn want,
    unsigned nplaces)
{
	const unsigned counts[] = { 1, 2, 3, nplaces, nplaces + 5 };

	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		unsigned n = counts[k];
		struct crew__plan *pl = synth(desc, NULL, mode, n);

		cr_assert_eq(crew__topo_mode(pl), mode);
		cr_assert_not(crew__topo_failed(pl));
		cr_assert_eq(crew__topo_nplaces(pl), nplaces,
		    "%s: %u places, want %u", desc, crew__topo_nplaces(pl),
		    nplaces);
		check_places(pl, n, want, mode != CREW_PIN_NONE);
		check_orders(pl, n, want);
		crew__topo_plan_free(pl);
	}
}

Test(topo, plan_a_cores, .timeout = 30)
{
	check_shape(TOPO_A, CREW_PIN_CORES, a_cores, 32);
}

Test(topo, plan_a_pus, .timeout = 30)
{
	check_shape(TOPO_A, CREW_PIN_PUS, a_pus, 64);
}

Test(topo, plan_a_numa, .timeout = 30)
{
	check_shape(TOPO_A, CREW_PIN_NUMA, a_numa, 4);
}

Test(topo, plan_a_none_orders_as_cores, .timeout = 30)
{
	check_shape(TOPO_A, CREW_PIN_NONE, a_cores, 32);
}

Test(topo, plan_b_all_modes, .timeout = 30)
{
	check_shape(TOPO_B, CREW_PIN_CORES, b_cores, 2);
	check_shape(TOPO_B, CREW_PIN_PUS, b_cores, 2);
	check_shape(TOPO_B, CREW_PIN_NUMA, b_numa, 1);
	check_shape(TOPO_B, CREW_PIN_NONE, b_cores, 2);
}

Test(topo, plan_c_all_modes, .timeout = 30)
{
	check_shape(TOPO_C, CREW_PIN_CORES, c_cores, 32);
	check_shape(TOPO_C, CREW_PIN_PUS, c_pus, 64);
	check_shape(TOPO_C, CREW_PIN_NUMA, c_numa, 4);
	check_shape(TOPO_C, CREW_PIN_NONE, c_cores, 32);
}

Test(topo, plan_d_shared_l2, .timeout = 30)
{
	check_shape(TOPO_D, CREW_PIN_PUS, d_pus, 8);
}

/* Orders written out by hand. */
static void
expect_order(const struct crew__plan *pl, unsigned self, unsigned n,
    const unsigned *want, unsigned len)
{
	uint16_t got[128];

	cr_assert(n <= 128);
	cr_assert_eq(crew__topo_victims(pl, self, n, got), len);
	for (unsigned k = 0; k < len; k++)
		cr_assert_eq(got[k], want[k], "worker %u of %u: victim %u is "
		    "%u, want %u", self, n, k, got[k], want[k]);
}

Test(topo, exact_orders, .timeout = 30)
{
	struct crew__plan *pl = synth(TOPO_A, NULL, CREW_PIN_PUS, 16);
	/* PU 0: its core's sibling, then its L3, then its node. */
	static const unsigned a0[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
		13, 14, 15 };
	/* PU 5: sibling 4; L3 round-robin after 5: 6 7 0 1 2 3; node. */
	static const unsigned a5[] = { 4, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11, 12,
		13, 14, 15 };
	/* Workers not started yet are left out; self >= n lists them all. */
	static const unsigned p2[] = { 3, 0, 1 }, p9[] = { 0, 1, 2, 3 };
	/* Cores, 40 workers (wraps at 32): worker 33 sits on core 1. */
	static const unsigned c33[] = { 1, 34, 35, 0, 2, 3, 32, 36, 37, 38, 39,
		4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
		22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };
	/* This machine's shape, 5 workers on 2 cores. */
	static const unsigned b1[] = { 3, 2, 4, 0 };

	expect_order(pl, 0, 16, a0, 15);
	expect_order(pl, 5, 16, a5, 15);
	expect_order(pl, 2, 4, p2, 3);
	expect_order(pl, 9, 4, p9, 4);
	crew__topo_plan_free(pl);
	pl = synth(TOPO_A, NULL, CREW_PIN_CORES, 40);
	expect_order(pl, 33, 40, c33, 39);
	crew__topo_plan_free(pl);
	pl = synth(TOPO_B, NULL, CREW_PIN_CORES, 5);
	expect_order(pl, 1, 5, b1, 4);
	crew__topo_plan_free(pl);
}

Test(topo, usable_cpus_limit_the_places, .timeout = 30)
{
	struct crew__plan *pl = synth(TOPO_A, "4-7,16", CREW_PIN_PUS, 6);
	struct crew__place p;
	static const int cpus[] = { 4, 5, 6, 7, 16, 4 };

	cr_assert_eq(crew__topo_nplaces(pl), 5);
	for (unsigned i = 0; i < 6; i++) {
		crew__topo_place(pl, i, &p);
		cr_assert_eq(p.cpu, cpus[i], "worker %u on cpu %d", i, p.cpu);
	}
	crew__topo_place(pl, 4, &p);
	cr_assert(p.core == 8 && p.l3 == 2 && p.numa == 1);
	check_orders(pl, 6, NULL);
	crew__topo_plan_free(pl);

	/* A core cut to its usable PU. */
	pl = synth(TOPO_A, "1,2", CREW_PIN_CORES, 2);
	crew__topo_place(pl, 0, &p);
	cr_assert(p.cpu == 1 && p.ncpus == 1 && p.core == 0);
	crew__topo_place(pl, 1, &p);
	cr_assert(p.cpu == 2 && p.ncpus == 1 && p.core == 1);
	crew__topo_plan_free(pl);

	/* Only node 1 has usable CPUs. */
	pl = synth(TOPO_A, "20-23", CREW_PIN_NUMA, 3);
	cr_assert_eq(crew__topo_nplaces(pl), 1);
	for (unsigned i = 0; i < 3; i++) {
		crew__topo_place(pl, i, &p);
		cr_assert(p.cpu == 20 && p.ncpus == 4 && p.numa == 1);
	}
	crew__topo_plan_free(pl);
}

Test(topo, no_usable_cpu_fails_to_unpinned, .timeout = 30)
{
	static const unsigned rr[] = { 2, 3, 0 };
	struct crew__plan *pl = synth(TOPO_A, "200", CREW_PIN_CORES, 4);
	struct crew__place p;

	cr_assert(crew__topo_failed(pl));
	cr_assert_eq(crew__topo_mode(pl), CREW_PIN_NONE);
	cr_assert_eq(crew__topo_nplaces(pl), 0);
	crew__topo_place(pl, 3, &p);
	cr_assert(!p.pinned && p.cpu == -1 && p.ncpus == 0 && p.core == -1 &&
	    p.l2 == -1 && p.l3 == -1 && p.numa == -1);
	cr_assert_eq(crew__topo_bind(pl, 0), -1, "a failed plan counts");
	expect_order(pl, 1, 4, rr, 3);
	check_orders(pl, 4, NULL);
	crew__topo_plan_free(pl);

	pl = synth(TOPO_A, "200", CREW_PIN_NONE, 4);
	cr_assert_not(crew__topo_failed(pl), "nothing was asked for");
	cr_assert_eq(crew__topo_bind(pl, 0), 0);
	crew__topo_plan_free(pl);
}

Test(topo, synthetic_errors, .timeout = 30)
{
	struct crew__plan *pl = (struct crew__plan *)1;

	cr_assert_eq(crew__topo_plan_synthetic(&pl, "pack:x", NULL,
	    CREW_PIN_CORES, 2), CREW_EINVAL);
	cr_assert_null(pl);
	cr_assert_eq(crew__topo_plan_synthetic(&pl, NULL, NULL,
	    CREW_PIN_CORES, 2), CREW_EINVAL);
	cr_assert_eq(crew__topo_plan_synthetic(&pl, TOPO_B, "zz",
	    CREW_PIN_CORES, 2), CREW_EINVAL);
	cr_assert_null(pl);
}

Test(topo, synthetic_plans_never_bind, .timeout = 30)
{
	struct crew__plan *pl = synth(TOPO_B, NULL, CREW_PIN_CORES, 2);
	bool mem_bound = true;
	void *m;

	atomic_store(&bind_calls, 0);
	cr_assert_eq(crew__topo_bind(pl, 0), -1);
	cr_assert_eq(atomic_load(&bind_calls), 0, "hwloc was asked to bind");
	m = crew__topo_alloc(pl, 0, 4096, &mem_bound);
	cr_assert_not_null(m);
	cr_assert_not(mem_bound);
	memset(m, 1, 4096);
	crew__topo_free(pl, m, 4096, mem_bound);
	crew__topo_plan_free(pl);
}

Test(topo, format_lists_every_kind, .timeout = 30)
{
	struct crew__plan *pl = synth(TOPO_A, "0-15", CREW_PIN_CORES, 2);
	int len = crew__topo_format(pl, NULL, 0);
	char *buf = malloc((size_t)len + 1), small[16];
	static const char *const want[] = { "Package L#1 cpus 32-63",
		"NUMANode P#3 cpus 48-63", "L3 L#7 cpus 56-63",
		"Core L#31 cpus 62-63", "PU L#15 P#15\n",
		"PU L#16 P#16 (not usable)", "usable cpus: 0-15" };

	cr_assert(len > 0 && buf != NULL);
	cr_assert_eq(crew__topo_format(pl, buf, (size_t)len + 1), len);
	cr_assert_eq(strlen(buf), (size_t)len);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_not_null(strstr(buf, want[i]), "missing \"%s\" in:\n%s",
		    want[i], buf);
	/* Truncation keeps the snprintf contract. */
	cr_assert_eq(crew__topo_format(pl, small, sizeof(small)), len);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	free(buf);
	crew__topo_plan_free(pl);
}

/* ------------------------------------------------------------------ */
/* Real pools on this machine.                                         */

struct rec {
	crew_task task;
	crew_pool *pool;
	_Atomic unsigned runs;
	int worker;
	int cpu;
	bool mask_ok;   /* the thread's affinity is what it should be */
};

static atomic_uint started;   /* workers that ran on_thread_start */
static unsigned want_started; /* tasks wait (a while) for this many */
static cpu_set_t creator_mask; /* the pool creator's affinity */

static void
on_start(void *ctx, unsigned index)
{
	(void)ctx;
	(void)index;
	atomic_fetch_add(&started, 1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Whether the calling worker's affinity is right: exactly its planned
 * place when it is bound, else the creator's whole mask (unpinned), and
 * sched_getcpu() inside it.
 */
static bool
mask_ok(const crew_pin_place *pl, int cpu)
{
	cpu_set_t set;
	int first = -1;

	if (sched_getaffinity(0, sizeof(set), &set) != 0 || cpu < 0 ||
	    !CPU_ISSET(cpu, &set))
		return false;
	if (!pl->bound)
		return CPU_EQUAL(&set, &creator_mask);
	for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
		if (CPU_ISSET(c, &set))
			first = c;
	return CPU_COUNT(&set) == pl->ncpus && first == pl->cpu;
}

static void
rec_fn(crew_task *t)
{
	struct rec *r = crew_container_of(t, struct rec, task);
	crew_pin_place pl;
	double end = now_s() + 2;

	/* Hold the first tasks until every worker has started, so all of
	 * them get work (a hint: gives up after 2 s). */
	while (atomic_load(&started) < want_started && now_s() < end)
		sched_yield();
	r->worker = crew_worker_index(r->pool);
	r->cpu = sched_getcpu();
	r->mask_ok = crew_pool_pin_plan(r->pool, (unsigned)r->worker, &pl,
	    NULL, 0) >= 0 && mask_ok(&pl, r->cpu);
	atomic_fetch_add(&r->runs, 1);
}

static crew_pool *
pinned_pool(enum crew_pin pin, unsigned threads)
{
	crew_config cfg;
	crew_pool *p = NULL;

	cr_assert_eq(sched_getaffinity(0, sizeof(creator_mask), &creator_mask),
	    0);
	atomic_store(&started, 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.pin = pin;
	cfg.max_threads = threads;
	cfg.on_thread_start = on_start;
	cr_assert_eq(crew_pool_create(&p, &cfg), 0);
	return p;
}

/*
 * Runs n tasks from outside and drains the pool; each must have run
 * exactly once on a worker with the right affinity.  Counts the tasks
 * each worker ran in ran[] (max_threads entries).
 */
static void
run_tasks(crew_pool *p, size_t n, unsigned *ran)
{
	struct rec *r = calloc(n, sizeof(*r));
	crew_stats s;

	cr_assert_not_null(r);
	crew_pool_stats(p, &s);
	want_started = s.max_threads;
	for (size_t i = 0; i < n; i++) {
		r[i].task = (crew_task)CREW_TASK_INIT(rec_fn);
		r[i].pool = p;
		cr_assert_eq(crew_submit(p, &r[i].task), 0);
	}
	cr_assert_eq(crew_pool_shutdown(p), 0);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(atomic_load(&r[i].runs), 1, "task %zu ran %u times",
		    i, atomic_load(&r[i].runs));
		cr_assert(r[i].worker >= 0 && (unsigned)r[i].worker <
		    s.max_threads);
		cr_assert(r[i].mask_ok, "task %zu: worker %d on cpu %d has the "
		    "wrong affinity", i, r[i].worker, r[i].cpu);
		ran[r[i].worker]++;
	}
	free(r);
}

/* Whether this kernel lets us bind memory to a node (mbind). */
static bool
membind_works(void)
{
	hwloc_topology_t t;
	hwloc_obj_t node;
	void *m;
	bool ok = false;

	if (hwloc_topology_init(&t) != 0)
		return false;
	if (__real_hwloc_topology_load(t) == 0 &&
	    (node = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, 0)) != NULL &&
	    (m = hwloc_alloc_membind(t, 4096, node->nodeset, HWLOC_MEMBIND_BIND,
	    HWLOC_MEMBIND_STRICT | HWLOC_MEMBIND_BYNODESET)) != NULL) {
		ok = true;
		hwloc_free(t, m, 4096);
	}
	hwloc_topology_destroy(t);
	return ok;
}

/* Every started worker is bound where planned; the counters agree. */
static void
check_bound(crew_pool *p, enum crew_pin pin, const unsigned *ran)
{
	bool mb = membind_works();
	crew_pin_place pl;
	crew_stats s;

	crew_pool_stats(p, &s);
	cr_assert_eq(s.pin_mode, (unsigned)pin);
	cr_assert_eq(s.pin_failures, 0);
	cr_assert_eq(s.pinned_workers, s.threads_spawned,
	    "%lu of %lu workers pinned", (unsigned long)s.pinned_workers,
	    (unsigned long)s.threads_spawned);
	cr_assert(s.threads_spawned >= 1);
	for (unsigned i = 0; i < s.threads_spawned; i++) {
		cr_assert_eq(crew_pool_pin_plan(p, i, &pl, NULL, 0),
		    (int)s.max_threads - 1);
		cr_assert(pl.cpu >= 0 && pl.ncpus >= 1, "worker %u unplanned",
		    i);
		cr_assert_eq(pl.bound, 1, "worker %u not bound", i);
		if (mb && pl.numa_node >= 0)
			cr_assert_eq(pl.mem_bound, 1, "worker %u memory not on "
			    "node %d", i, pl.numa_node);
		cr_log_info("worker %u: cpu %d (+%d) ran %u tasks", i, pl.cpu,
		    pl.ncpus - 1, ran[i]);
	}
}

static unsigned ran_[CREW_MAX_THREADS];

Test(topo, pool_cores_runs_exactly_once_bound, .timeout = 60)
{
	crew_pool *p = pinned_pool(CREW_PIN_CORES, 0);

	run_tasks(p, 10000, ran_);
	check_bound(p, CREW_PIN_CORES, ran_);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

Test(topo, pool_pus_and_numa_bound, .timeout = 60)
{
	const enum crew_pin modes[] = { CREW_PIN_PUS, CREW_PIN_NUMA };

	for (size_t k = 0; k < 2; k++) {
		crew_pool *p = pinned_pool(modes[k], 0);

		memset(ran_, 0, sizeof(ran_));
		run_tasks(p, 2000, ran_);
		check_bound(p, modes[k], ran_);
		cr_assert_eq(crew_pool_destroy(p), 0);
	}
}

Test(topo, pool_wraps_around_places, .timeout = 60)
{
	crew_pool *p = pinned_pool(CREW_PIN_CORES, 5);
	unsigned places, v[4];
	crew_pin_place a, b;

	cr_assert_not_null(p->plan);
	places = crew__topo_nplaces(p->plan);
	run_tasks(p, 10000, ran_);
	check_bound(p, CREW_PIN_CORES, ran_);
	/* Worker 0 and worker `places` share a core, so each is the
	 * other's first victim.  The plan's places, not the CPU count: one
	 * core with two hardware threads is one place, and a cgroup quota
	 * lowers the count, not the places. */
	cr_assert(places >= 1);
	if (places < 5) {
		cr_assert_eq(crew_pool_pin_plan(p, 0, &a, v, 4), 4);
		cr_assert_eq(crew_pool_pin_plan(p, places, &b, NULL, 0), 4);
		cr_assert_eq(a.cpu, b.cpu);
		cr_assert_eq(v[0], places);
	}
	cr_assert_eq(crew_pool_destroy(p), 0);
}

Test(topo, pool_unpinned_keeps_topology_order, .timeout = 60)
{
	crew_pool *p = pinned_pool(CREW_PIN_NONE, 4);
	struct crew__plan *cores;
	unsigned v[3], u[3];
	crew_pin_place pl;
	crew_stats s;

	run_tasks(p, 2000, ran_);
	crew_pool_stats(p, &s);
	cr_assert_eq(s.pin_mode, CREW_PIN_NONE);
	cr_assert_eq(s.pinned_workers, 0);
	cr_assert_eq(s.pin_failures, 0);
	cr_assert_eq(crew__topo_plan(&cores, CREW_PIN_CORES, 4, NULL), 0);
	for (unsigned i = 0; i < 4; i++) {
		struct crew__place c;

		cr_assert_eq(crew_pool_pin_plan(p, i, &pl, v, 3), 3);
		cr_assert(pl.cpu == -1 && pl.ncpus == 0 && pl.bound == 0 &&
		    pl.mem_bound == 0);
		crew__topo_place(cores, i, &c);
		cr_assert(pl.core == c.core && pl.l2 == c.l2 && pl.l3 == c.l3 &&
		    pl.numa_node == c.numa);
		cr_assert_eq(crew__topo_victims_u(cores, i, 4, u, 3), 3);
		cr_assert_arr_eq(v, u, sizeof(v), "worker %u: order differs "
		    "from the cores plan's", i);
	}
	crew__topo_plan_free(cores);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

/* The workers' own steal arrays hold the plan's order over the workers
 * they had seen when they last looked. */
Test(topo, workers_steal_in_plan_order, .timeout = 60)
{
	crew_pool *p = pinned_pool(CREW_PIN_CORES, 6);
	uint16_t want[8];

	run_tasks(p, 10000, ran_);
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct crew__worker *w = p->workers[i];
		unsigned len;

		cr_assert(w->nvictims_of <= p->nthreads);
		len = crew__topo_victims(p->plan, i, w->nvictims_of, want);
		cr_assert_eq(w->nvictims, len);
		for (unsigned k = 0; k < len; k++)
			cr_assert_eq(w->victims[k], want[k]);
	}
	cr_assert_eq(crew_pool_destroy(p), 0);
}

/* A plan stays within the creator's affinity mask: created on one CPU,
 * every worker goes there, and nothing counts as failed. */
Test(topo, pool_stays_in_affinity_mask, .timeout = 60)
{
	cpu_set_t all, one;
	crew_pin_place pl;
	crew_pool *p;
	int last = -1;

	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all))
			last = c;
	CPU_ZERO(&one);
	CPU_SET(last, &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	p = pinned_pool(CREW_PIN_PUS, 2);
	cr_assert_eq(sched_setaffinity(0, sizeof(all), &all), 0);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert_eq(crew_pool_pin_plan(p, i, &pl, NULL, 0), 1);
		cr_assert(pl.cpu == last && pl.ncpus == 1, "worker %u planned "
		    "on cpu %d, outside the mask {%d}", i, pl.cpu, last);
	}
	run_tasks(p, 2000, ran_);
	check_bound(p, CREW_PIN_PUS, ran_);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

/* Every binding refused: workers run unpinned (the creator's mask) and
 * are counted; the pool works on. */
Test(topo, refused_bindings_are_counted, .timeout = 60)
{
	crew_pin_place pl;
	crew_pool *p;
	crew_stats s;

	atomic_store(&fail_bind_all, 1);
	p = pinned_pool(CREW_PIN_CORES, 0);
	run_tasks(p, 2000, ran_);
	crew_pool_stats(p, &s);
	cr_assert_eq(s.pin_mode, CREW_PIN_CORES);
	cr_assert(s.threads_spawned >= 1);
	cr_assert_eq(s.pin_failures, s.threads_spawned);
	cr_assert_eq(s.pinned_workers, 0);
	for (unsigned i = 0; i < s.threads_spawned; i++) {
		crew_pool_pin_plan(p, i, &pl, NULL, 0);
		cr_assert_eq(pl.bound, 0);
		cr_assert(pl.cpu >= 0, "the plan still says where it was to go");
	}
	cr_assert_eq(crew_pool_destroy(p), 0);
}

/* One refused binding: that worker falls back to the creator's whole
 * mask (not its spawner's pinned one); the others are bound. */
Test(topo, one_refused_binding, .timeout = 60)
{
	crew_pool *p;
	crew_stats s;

	atomic_store(&bind_calls, 0);
	atomic_store(&fail_bind_at, 1);
	p = pinned_pool(CREW_PIN_CORES, 0);
	run_tasks(p, 10000, ran_);
	crew_pool_stats(p, &s);
	cr_assert(s.threads_spawned >= 1);
	cr_assert_eq(s.pin_failures, 1);
	cr_assert_eq(s.pinned_workers, s.threads_spawned - 1);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

/* No topology: nothing is pinned, every worker counts as a failure,
 * victims go round-robin, and the pool works. */
Test(topo, topology_failure_runs_unpinned, .timeout = 60)
{
	unsigned v[3];
	crew_pin_place pl;
	crew_pool *p;
	crew_stats s;

	atomic_store(&fail_load, 1);
	p = pinned_pool(CREW_PIN_CORES, 4);
	run_tasks(p, 2000, ran_);
	crew_pool_stats(p, &s);
	cr_assert_eq(s.pin_mode, CREW_PIN_NONE);
	cr_assert(s.threads_spawned >= 1);
	cr_assert_eq(s.pin_failures, s.threads_spawned);
	cr_assert_eq(s.pinned_workers, 0);
	cr_assert_eq(crew_pool_pin_plan(p, 1, &pl, v, 3), 3);
	cr_assert(pl.cpu == -1 && pl.ncpus == 0 && pl.core == -1 &&
	    pl.l2 == -1 && pl.l3 == -1 && pl.numa_node == -1 && !pl.bound &&
	    !pl.mem_bound);
	cr_assert(v[0] == 2 && v[1] == 3 && v[2] == 0);
	cr_assert_eq(crew_pool_destroy(p), 0);

	/* Unpinned by request: nothing failed. */
	p = pinned_pool(CREW_PIN_NONE, 2);
	run_tasks(p, 100, ran_);
	crew_pool_stats(p, &s);
	cr_assert_eq(s.pin_failures, 0);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

/* ------------------------------------------------------------------ */
/* Configuration and the public query.                                 */

static enum crew_pin
pin_of_env(const char *value)
{
	crew_config cfg;

	if (value != NULL)
		cr_assert_eq(setenv("CREW_PIN", value, 1), 0);
	else
		cr_assert_eq(unsetenv("CREW_PIN"), 0);
	memset(&cfg, 0xab, sizeof(cfg));
	cr_assert_eq(crew_config_init(&cfg), 0);
	for (size_t i = 0; i < sizeof(cfg.reserved) / sizeof(cfg.reserved[0]);
	    i++)
		cr_assert_null(cfg.reserved[i]);
	return cfg.pin;
}

Test(topo, crew_pin_env_parsing, .timeout = 30)
{
	cr_assert_eq(pin_of_env(NULL), CREW_PIN_NONE);
	cr_assert_eq(pin_of_env("none"), CREW_PIN_NONE);
	cr_assert_eq(pin_of_env("cores"), CREW_PIN_CORES);
	cr_assert_eq(pin_of_env("pus"), CREW_PIN_PUS);
	cr_assert_eq(pin_of_env("numa"), CREW_PIN_NUMA);
	cr_assert_eq(pin_of_env("NUMA"), CREW_PIN_NUMA);
	cr_assert_eq(pin_of_env("Cores"), CREW_PIN_CORES);
	cr_assert_eq(pin_of_env(""), CREW_PIN_NONE);
	cr_assert_eq(pin_of_env("garbage"), CREW_PIN_NONE);
	cr_assert_eq(pin_of_env("cores "), CREW_PIN_NONE);
	cr_assert_eq(pin_of_env("pu"), CREW_PIN_NONE);
}

Test(topo, env_reaches_pools_and_explicit_pin_wins, .timeout = 30)
{
	crew_config cfg;
	crew_pool *p;
	crew_stats s;

	cr_assert_eq(setenv("CREW_PIN", "pus", 1), 0);
	cr_assert_eq(crew_pool_create(&p, NULL), 0);
	crew_pool_stats(p, &s);
	cr_assert_eq(s.pin_mode, CREW_PIN_PUS);
	cr_assert_eq(crew_pool_destroy(p), 0);

	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.pin = CREW_PIN_NONE;
	cr_assert_eq(crew_pool_create(&p, &cfg), 0);
	crew_pool_stats(p, &s);
	cr_assert_eq(s.pin_mode, CREW_PIN_NONE);
	cr_assert_eq(crew_pool_destroy(p), 0);

	cr_assert_eq(crew_global_shutdown(), 0);
	cr_assert_not_null(crew_global());
	crew_pool_stats(crew_global(), &s);
	cr_assert_eq(s.pin_mode, CREW_PIN_PUS, "the global pool reads CREW_PIN");
	cr_assert_eq(crew_global_shutdown(), 0);
}

Test(topo, invalid_pin_is_einval, .timeout = 30)
{
	crew_config cfg;
	crew_pool *p = (crew_pool *)1;

	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.pin = (enum crew_pin)4;
	cr_assert_eq(crew_pool_create(&p, &cfg), CREW_EINVAL);
	cr_assert_null(p);
	cfg.pin = (enum crew_pin)-1;
	cr_assert_eq(crew_pool_create(&p, &cfg), CREW_EINVAL);
}

Test(topo, pin_plan_arguments, .timeout = 30)
{
	crew_pool *p = pinned_pool(CREW_PIN_CORES, 6);
	unsigned v[8] = { 77, 77, 77, 77, 77, 77, 77, 77 }, all[5];
	crew_pin_place pl;

	cr_assert_eq(crew_pool_pin_plan(NULL, 0, &pl, NULL, 0), CREW_EINVAL);
	cr_assert_eq(crew_pool_pin_plan(p, 6, &pl, NULL, 0), CREW_EINVAL);
	cr_assert_eq(crew_pool_pin_plan(p, UINT32_MAX, NULL, NULL, 0),
	    CREW_EINVAL);
	cr_assert_eq(crew_pool_pin_plan(p, 0, NULL, NULL, 1), CREW_EINVAL);
	cr_assert_eq(crew_pool_pin_plan(p, 5, NULL, NULL, 0), 5);
	/* Not started: planned, not bound. */
	cr_assert_eq(crew_pool_pin_plan(p, 5, &pl, all, 5), 5);
	cr_assert(pl.bound == 0 && pl.mem_bound == 0 && pl.cpu >= 0);
	for (size_t i = 0; i < sizeof(pl.reserved) / sizeof(pl.reserved[0]);
	    i++)
		cr_assert_eq(pl.reserved[i], 0);
	/* A short buffer gets the start of the order, nothing past it. */
	cr_assert_eq(crew_pool_pin_plan(p, 5, NULL, v, 2), 5);
	cr_assert(v[0] == all[0] && v[1] == all[1] && v[2] == 77);
	cr_assert_eq(crew_pool_destroy(p), 0);

	/* One worker: an empty order. */
	p = pinned_pool(CREW_PIN_CORES, 1);
	cr_assert_eq(crew_pool_pin_plan(p, 0, &pl, v, 8), 0);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

Test(topo, largest_pool_plans_cheaply, .timeout = 30)
{
	crew_pool *p = pinned_pool(CREW_PIN_PUS, CREW_MAX_THREADS);
	unsigned *v = malloc(sizeof(*v) * CREW_MAX_THREADS);
	bool *seen = calloc(CREW_MAX_THREADS, sizeof(*seen));
	int len;

	cr_assert(v && seen);
	len = crew_pool_pin_plan(p, CREW_MAX_THREADS - 1, NULL, v,
	    CREW_MAX_THREADS);
	cr_assert_eq(len, (int)CREW_MAX_THREADS - 1);
	for (int k = 0; k < len; k++) {
		cr_assert(v[k] < CREW_MAX_THREADS - 1 && !seen[v[k]]);
		seen[v[k]] = true;
	}
	free(v);
	free(seen);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

/* ------------------------------------------------------------------ */
/* cgroup v2 quotas (cpu.c): the smallest of the process's cgroup and its
 * ancestors, rounded up; "max", garbage or no file: no limit. */

static char cg_root[64];

static void
cg_write(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", cg_root, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void
cg_mkdir(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s", cg_root, rel);
	cr_assert_eq(mkdir(path, 0700), 0, "%s", path);
}

static unsigned
cg_cpus(void)
{
	char proc[256];

	snprintf(proc, sizeof(proc), "%s/self_cgroup", cg_root);
	return crew__cgroup_cpus_at(proc, cg_root);
}

Test(topo, cgroup_quota_of_cgroup_and_ancestors, .timeout = 30)
{
	char cmd[128];

	snprintf(cg_root, sizeof(cg_root), "/tmp/crew-cg-XXXXXX");
	cr_assert_not_null(mkdtemp(cg_root));
	cg_mkdir("/slice");
	cg_mkdir("/slice/app");
	/* v1 lines first, as on hybrid hosts; ours is the "0::" line. */
	cg_write("/self_cgroup", "12:cpu,cpuacct:/ignored\n0::/slice/app\n");
	cr_assert_eq(cg_cpus(), 0, "no cpu.max anywhere");
	cg_write("/slice/app/cpu.max", "max 100000\n");
	cr_assert_eq(cg_cpus(), 0, "max");
	cg_write("/slice/app/cpu.max", "150000 100000\n");
	cr_assert_eq(cg_cpus(), 2, "1.5 CPUs round up");
	cg_write("/slice/app/cpu.max", "50000 100000\n");
	cr_assert_eq(cg_cpus(), 1, "half a CPU");
	cg_write("/slice/app/cpu.max", "garbage\n");
	cr_assert_eq(cg_cpus(), 0, "garbage");
	cg_write("/slice/app/cpu.max", "");
	cr_assert_eq(cg_cpus(), 0, "empty");
	/* A parent's limit binds the child whose own is looser or none. */
	cg_write("/slice/app/cpu.max", "max 100000\n");
	cg_write("/slice/cpu.max", "200000 100000\n");
	cr_assert_eq(cg_cpus(), 2, "the parent's quota");
	cg_write("/slice/app/cpu.max", "300000 100000\n");
	cr_assert_eq(cg_cpus(), 2, "the smaller of parent and child");
	cg_write("/slice/app/cpu.max", "100000 100000\n");
	cr_assert_eq(cg_cpus(), 1, "the child's smaller quota");
	cg_write("/cpu.max", "50000 100000\n");
	cr_assert_eq(cg_cpus(), 1, "the mount root's half CPU");
	/* A namespaced process sees its cgroup as "/": the root only. */
	cg_write("/self_cgroup", "0::/\n");
	cg_write("/cpu.max", "400000 100000\n");
	cr_assert_eq(cg_cpus(), 4, "namespaced root");
	/* More CPUs than any pool has workers: no limit (a cast to unsigned
	 * made 2^32 + 1 CPUs one). */
	cg_write("/cpu.max", "4294967297000 1000\n");
	cr_assert_eq(cg_cpus(), 0, "2^32 + 1 CPUs");
	cg_write("/cpu.max", "9223372036854775807 1\n");
	cr_assert_eq(cg_cpus(), 0, "the largest quota");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", cg_root);
	cr_assert_eq(system(cmd), 0);
}
