/* SPDX-License-Identifier: MIT */
/*
 * crew on the structured-parallelism workloads (see par_common.h).  The
 * workload runs as one root task on a pool of THREADS workers; the main
 * thread sleeps on a wait group meanwhile, so THREADS threads compute.
 * Fork-join uses the README pattern: child task + wait group, other half
 * inline, helping wait.  The loops use crew_for with automatic grain.
 * fib_oversub: a pool per thread level, each warmed up until every worker
 * is spawned, all up during the interleaved rounds (parked when idle).
 * CREW_PIN in the environment reaches crew_config_init() (run.sh sets it
 * per runtime); a "pinned=P workers=W pin_failures=F" line (summed over
 * the pools) tells run.sh whether it took effect.
 */
#include "par_common.h"

#include <crew.h>

static crew_pool *pool;
static struct par_cfg cfg;
static struct par_data data;

/* fib: a task per call. */
struct fib_job {
	crew_task task;
	unsigned n;
	uint64_t r;
	crew_wg *wg;
};

static uint64_t fib(unsigned n);

static void
fib_task(crew_task *t)
{
	struct fib_job *f = crew_container_of(t, struct fib_job, task);
	crew_wg *wg = f->wg;

	f->r = fib(f->n);
	crew_wg_done(wg);
}

static uint64_t
fib(unsigned n)
{
	crew_wg wg = CREW_WG_INIT;
	struct fib_job child;
	uint64_t b;

	if (n < 2)
		return n;
	child = (struct fib_job){ CREW_TASK_INIT(fib_task), n - 1, 0, &wg };
	crew_wg_add(&wg, 1);
	if (crew_submit(pool, &child.task) != 0)
		fib_task(&child.task);
	b = fib(n - 2);
	crew_wg_wait(&wg);
	return child.r + b;
}

/* qsort: both halves spawned and joined. */
struct qs_job {
	crew_task task;
	int32_t *a;
	long lo, hi;
	crew_wg *wg;
};

static void qs(int32_t *a, long lo, long hi);

static void
qs_task(crew_task *t)
{
	struct qs_job *q = crew_container_of(t, struct qs_job, task);
	crew_wg *wg = q->wg;

	qs(q->a, q->lo, q->hi);
	crew_wg_done(wg);
}

static void
qs(int32_t *a, long lo, long hi)
{
	crew_wg wg = CREW_WG_INIT;
	struct qs_job half[2];
	long p;

	if (hi - lo + 1 <= 32) {
		if (lo < hi)
			par_insertion(a, lo, hi);
		return;
	}
	p = par_partition(a, lo, hi);
	half[0] = (struct qs_job){ CREW_TASK_INIT(qs_task), a, lo, p - 1, &wg };
	half[1] = (struct qs_job){ CREW_TASK_INIT(qs_task), a, p + 1, hi, &wg };
	crew_wg_add(&wg, 2);
	for (int i = 0; i < 2; i++)
		if (crew_submit(pool, &half[i].task) != 0)
			qs_task(&half[i].task);
	crew_wg_wait(&wg);
}

static void
mem_fn(void *ctx, size_t lo, size_t hi)
{
	(void)ctx;
	par_mem_range(data.in, data.out, (long)lo, (long)hi);
}

static void
uneven_fn(void *ctx, size_t lo, size_t hi)
{
	(void)ctx;
	par_uneven_range(data.uo, (long)lo, (long)hi, cfg.uneven_n);
}

struct root {
	crew_task task;
	crew_wg *wg;
	double ms;
	uint64_t fib;
	int warm;
};

static void
root_fn(crew_task *t)
{
	struct root *r = crew_container_of(t, struct root, task);
	crew_wg *wg = r->wg;
	double t0 = par_now_ms();

	if (r->warm) {
		r->fib = fib(18); /* starts every worker */
	} else {
		switch (cfg.w) {
		case PAR_FIB:
		case PAR_FIB_OVERSUB:
			r->fib = fib(cfg.fib_n);
			break;
		case PAR_QSORT:
			qs(data.qs, 0, cfg.qsort_n - 1);
			break;
		case PAR_PFOR_MEM:
			for (int p = 0; p < cfg.mem_passes; p++)
				crew_for(pool, 0, (size_t)cfg.mem_n, 0, mem_fn, NULL);
			break;
		case PAR_PFOR_UNEVEN:
			crew_for(pool, 0, (size_t)cfg.uneven_n, 0, uneven_fn, NULL);
			break;
		}
	}
	r->ms = par_now_ms() - t0;
	crew_wg_done(wg);
}

static struct root
run_root(int warm)
{
	crew_wg wg = CREW_WG_INIT;
	struct root r = { CREW_TASK_INIT(root_fn), &wg, 0, 0, warm };

	crew_wg_add(&wg, 1);
	if (crew_submit(pool, &r.task) != 0) {
		fprintf(stderr, "crew_submit failed\n");
		exit(1);
	}
	crew_wg_wait(&wg);
	return r;
}

/* Warm-up task: blocks ~1 ms (a busy worker), so the pool spawns more. */
struct sleep_job {
	crew_task task;
	crew_wg *wg;
};

static void
sleep_fn(crew_task *t)
{
	struct sleep_job *j = crew_container_of(t, struct sleep_job, task);
	crew_wg *wg = j->wg;
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
	crew_wg_done(wg);
}

/*
 * A pool of n workers.  crew spawns workers lazily (when work waits and
 * no worker is idle), so bursts of 4n tasks that each sleep 1 ms are
 * submitted until all n exist (at most 50 bursts), then two fib(18)
 * warm-ups run.
 */
static void
pool_up(unsigned n)
{
	crew_config cc;
	crew_stats st;
	struct sleep_job *jobs = calloc(4 * (size_t)n, sizeof(*jobs));

	crew_config_init(&cc);
	cc.max_threads = n;
	if (jobs == NULL || crew_pool_create(&pool, &cc) != 0) {
		fprintf(stderr, "crew_pool_create failed\n");
		exit(1);
	}
	for (int tries = 0;; tries++) {
		crew_wg wg = CREW_WG_INIT;

		crew_pool_stats(pool, &st);
		if (st.threads_spawned >= n)
			break;
		if (tries == 50) {
			fprintf(stderr, "crew: only %llu of %u workers spawned "
			    "after warm-up\n",
			    (unsigned long long)st.threads_spawned, n);
			break;
		}
		crew_wg_add(&wg, 4 * n);
		for (unsigned i = 0; i < 4 * n; i++) {
			jobs[i] = (struct sleep_job){ CREW_TASK_INIT(sleep_fn), &wg };
			if (crew_submit(pool, &jobs[i].task) != 0)
				sleep_fn(&jobs[i].task);
		}
		crew_wg_wait(&wg);
	}
	free(jobs);
	run_root(1);
	run_root(1);
}

static int timed_count; /* runs of the last timed_runs(), for the stats */

/* Times the workload until par_more says stop; returns the median ms. */
static double
timed_runs(void)
{
	double v[PAR_MAX_REPS], spent = 0;
	struct root r;
	int k;

	const char *gap = getenv("BENCH_GAP_US"); /* diagnosis: idle gap */
	const char *tim = getenv("BENCH_TIMES");
	long gap_us = gap != NULL ? atol(gap) : 0;

	for (k = 0; par_more(&cfg, k, spent); k++) {
		if (gap_us > 0) {
			struct timespec ts = { gap_us / 1000000,
			    gap_us % 1000000 * 1000 };

			nanosleep(&ts, NULL);
		}
		if (tim != NULL) { /* workers not parked as the run starts */
			crew_stats st;

			crew_pool_stats(pool, &st);
			fprintf(stderr, "awake before run %d: %llu of %llu\n", k,
			    (unsigned long long)(st.threads_live -
			    st.threads_idle),
			    (unsigned long long)st.threads_live);
		}
		r = run_root(0);
		if (!par_check(&cfg, &data, r.fib)) {
			fprintf(stderr, "crew %s: wrong result\n", cfg.name);
			exit(1);
		}
		v[k] = r.ms;
		spent += r.ms;
	}
	timed_count = k;
	return par_runs_median("parallel", v, k);
}

/* fib_oversub: one pool per thread level, all up at once. */
static crew_pool *level_pool[1 + PAR_OVERSUB_NLEVELS];
static int level_runs[1 + PAR_OVERSUB_NLEVELS];

static double
run_level(int l)
{
	struct root r;

	pool = level_pool[l];
	r = run_root(0);
	if (!par_check(&cfg, &data, r.fib)) {
		fprintf(stderr, "crew %s: wrong result\n", cfg.name);
		exit(1);
	}
	level_runs[l]++;
	return r.ms;
}

/* Pinning over the pools of this process, for run.sh's pinned= line. */
static unsigned long long pin_ok, pin_workers, pin_failed;

static void
print_stats(void)
{
	crew_stats st;

	crew_pool_stats(pool, &st);
	pin_ok += st.pinned_workers;
	pin_workers += st.threads_spawned;
	pin_failed += st.pin_failures;
	if (!getenv("BENCH_STATS"))
		return;
	fprintf(stderr, "stats: timed runs %d (counters include warm-up) "
	    "spawned %llu run %llu stolen %llu steal_attempts %llu parks %llu "
	    "wakeups %llu local %llu pin_mode %u pinned %llu "
	    "pin_failures %llu spins %llu spin_hits %llu slice_us %u "
	    "slice_workers %llu fan_outs %llu fan_out_taken %llu "
	    "fan_out_hits %llu\n",
	    timed_count,
	    (unsigned long long)st.threads_spawned,
	    (unsigned long long)st.tasks_run,
	    (unsigned long long)st.tasks_stolen,
	    (unsigned long long)st.steal_attempts,
	    (unsigned long long)st.parks,
	    (unsigned long long)st.wakeups,
	    (unsigned long long)st.local_pushes, st.pin_mode,
	    (unsigned long long)st.pinned_workers,
	    (unsigned long long)st.pin_failures,
	    (unsigned long long)st.spins,
	    (unsigned long long)st.spin_hits, st.slice_us,
	    (unsigned long long)st.slice_workers,
	    (unsigned long long)st.fan_outs,
	    (unsigned long long)st.fan_out_taken,
	    (unsigned long long)st.fan_out_hits);
}

static void
print_pinned(void)
{
	printf("pinned=%llu workers=%llu pin_failures=%llu\n", pin_ok,
	    pin_workers, pin_failed);
}

int
main(int argc, char **argv)
{
	double serial, ms_main;

	par_parse(&cfg, "crew", argc, argv);
	serial = par_serial(&cfg, &data);
	if (cfg.w == PAR_FIB_OVERSUB) {
		for (int l = 0; l <= PAR_OVERSUB_NLEVELS; l++) {
			pool_up((unsigned)par_oversub_threads(&cfg, l));
			level_pool[l] = pool;
		}
		par_oversub_run(&cfg, run_level);
		for (int l = 0; l <= PAR_OVERSUB_NLEVELS; l++) {
			pool = level_pool[l];
			timed_count = level_runs[l];
			print_stats();
			crew_pool_destroy(pool);
		}
		print_pinned();
		return 0;
	}
	pool_up((unsigned)cfg.threads);
	ms_main = timed_runs();
	print_stats();
	print_pinned();
	par_report(&cfg, serial, ms_main);
	crew_pool_destroy(pool);
	return 0;
}
