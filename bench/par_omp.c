/* SPDX-License-Identifier: MIT */
/*
 * OpenMP (libgomp) on the structured-parallelism workloads: tasks with
 * taskwait for fib and qsort (created inside parallel + single), static
 * schedule for the memory-bound loop, dynamic schedule (chunk 256) for the
 * uneven one.  THREADS threads including the master.  fib_oversub: the
 * team size set with omp_set_num_threads() before each run (libgomp keeps
 * the threads of a larger team idle in its pool; they spin for
 * GOMP_SPINCOUNT, which libgomp lowers when threads outnumber CPUs, then
 * sleep; par_oversub_run leaves 10 ms between runs).
 */
#include "par_common.h"

#include <omp.h>

static struct par_cfg cfg;
static struct par_data data;

static uint64_t
fib(unsigned n)
{
	uint64_t x, y;

	if (n < 2)
		return n;
#pragma omp task shared(x)
	x = fib(n - 1);
	y = fib(n - 2);
#pragma omp taskwait
	return x + y;
}

static void
qs(int32_t *a, long lo, long hi)
{
	long p;

	if (hi - lo + 1 <= 32) {
		if (lo < hi)
			par_insertion(a, lo, hi);
		return;
	}
	p = par_partition(a, lo, hi);
#pragma omp task
	qs(a, lo, p - 1);
#pragma omp task
	qs(a, p + 1, hi);
#pragma omp taskwait
}

static double
run(uint64_t *fr)
{
	double t0 = par_now_ms();

	switch (cfg.w) {
	case PAR_FIB:
	case PAR_FIB_OVERSUB:
#pragma omp parallel
#pragma omp single
		*fr = fib(cfg.fib_n);
		break;
	case PAR_QSORT:
#pragma omp parallel
#pragma omp single
		qs(data.qs, 0, cfg.qsort_n - 1);
		break;
	case PAR_PFOR_MEM:
		for (int p = 0; p < cfg.mem_passes; p++) {
#pragma omp parallel for schedule(static)
			for (long i = 0; i < cfg.mem_n; i++)
				data.out[i] = sqrtf(data.in[i]) * 2.0f;
		}
		break;
	case PAR_PFOR_UNEVEN:
#pragma omp parallel for schedule(dynamic, 256)
		for (long i = 0; i < cfg.uneven_n; i++)
			data.uo[i] = par_uneven_item(i, cfg.uneven_n);
		break;
	}
	return par_now_ms() - t0;
}

/* Times the workload until par_more says stop; returns the median ms. */
static double
timed_runs(void)
{
	double v[PAR_MAX_REPS], spent = 0;
	uint64_t fr = 0;
	int k;

	for (k = 0; par_more(&cfg, k, spent); k++) {
		v[k] = run(&fr);
		if (!par_check(&cfg, &data, fr)) {
			fprintf(stderr, "omp %s: wrong result\n", cfg.name);
			exit(1);
		}
		spent += v[k];
	}
	return par_runs_median("parallel", v, k);
}

/* fib_oversub: one timed run with the team size of level l. */
static double
run_level(int l)
{
	uint64_t fr = 0;
	double ms;

	omp_set_num_threads(par_oversub_threads(&cfg, l));
	ms = run(&fr);
	if (!par_check(&cfg, &data, fr)) {
		fprintf(stderr, "omp %s: wrong result\n", cfg.name);
		exit(1);
	}
	return ms;
}

/* Sets the team size and starts every thread of it. */
static void
team_up(int n)
{
	uint64_t warm = 0;

	omp_set_num_threads(n);
#pragma omp parallel
#pragma omp single
	warm = fib(18);
	(void)warm;
}

int
main(int argc, char **argv)
{
	double serial;

	par_parse(&cfg, "omp", argc, argv);
	serial = par_serial(&cfg, &data);
	omp_set_dynamic(0);
	if (cfg.w == PAR_FIB_OVERSUB) {
		for (int l = PAR_OVERSUB_NLEVELS; l >= 0; l--)
			team_up(par_oversub_threads(&cfg, l));
		par_oversub_run(&cfg, run_level);
		return 0;
	}
	team_up(cfg.threads);
	par_report(&cfg, serial, timed_runs());
	return 0;
}
