/* SPDX-License-Identifier: MIT */
/*
 * crew on the structured-parallelism workloads (see par_common.h).  The
 * workload runs as one root task on a pool of THREADS workers; the main
 * thread sleeps on a wait group meanwhile, so THREADS threads compute.
 * Fork-join uses the README pattern: child task + wait group, other half
 * inline, helping wait.  The loops use crew_for with automatic grain.
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

int
main(int argc, char **argv)
{
	crew_config cc;
	struct root r;
	double serial;

	par_parse(&cfg, "crew", argc, argv);
	serial = par_serial(&cfg, &data);
	crew_config_init(&cc);
	cc.max_threads = (unsigned)cfg.threads;
	if (crew_pool_create(&pool, &cc) != 0)
		return 1;
	double v[32];

	run_root(1);
	run_root(1);
	for (int k = 0; k < cfg.reps; k++) {
		r = run_root(0);
		if (!par_check(&cfg, &data, r.fib)) {
			fprintf(stderr, "crew %s: wrong result\n", cfg.name);
			return 1;
		}
		v[k] = r.ms;
	}
	par_report(&cfg, serial, par_median(v, cfg.reps));
	if (getenv("BENCH_STATS")) {
		crew_stats st;

		crew_pool_stats(pool, &st);
		fprintf(stderr, "stats: run %llu stolen %llu steal_attempts %llu "
		    "parks %llu local %llu\n", (unsigned long long)st.tasks_run,
		    (unsigned long long)st.tasks_stolen,
		    (unsigned long long)st.steal_attempts,
		    (unsigned long long)st.parks,
		    (unsigned long long)st.local_pushes);
	}
	crew_pool_destroy(pool);
	return 0;
}
