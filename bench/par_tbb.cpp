// SPDX-License-Identifier: MIT
// oneTBB on the structured-parallelism workloads: task_group for fib and
// qsort (both halves run, then wait), parallel_for with the default
// (auto) partitioner for the loops.  THREADS threads: a task_arena of
// THREADS slots (the main thread takes one in execute()) under a
// global_control max_allowed_parallelism of THREADS.  The explicit arena
// matters only above the CPU count: the implicit arena would stay at the
// CPU count whatever global_control allows.  fib_oversub: one arena per
// thread level under one global_control of the largest, all warmed up
// before the interleaved rounds (par_oversub_run).
#include "par_common.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

static struct par_cfg cfg;
static struct par_data data;

static uint64_t
fib(unsigned n)
{
	if (n < 2)
		return n;
	uint64_t x, y;
	tbb::task_group g;
	g.run([&] { x = fib(n - 1); });
	y = fib(n - 2);
	g.wait();
	return x + y;
}

static void
qs(int32_t *a, long lo, long hi)
{
	if (hi - lo + 1 <= 32) {
		if (lo < hi)
			par_insertion(a, lo, hi);
		return;
	}
	long p = par_partition(a, lo, hi);
	tbb::task_group g;
	g.run([=] { qs(a, lo, p - 1); });
	g.run([=] { qs(a, p + 1, hi); });
	g.wait();
}

// One timed run of the workload (inside the arena); returns ms.
static double
run(uint64_t *fr)
{
	double t0 = par_now_ms();
	switch (cfg.w) {
	case PAR_FIB:
	case PAR_FIB_OVERSUB:
		*fr = fib(cfg.fib_n);
		break;
	case PAR_QSORT:
		qs(data.qs, 0, cfg.qsort_n - 1);
		break;
	case PAR_PFOR_MEM:
		for (int p = 0; p < cfg.mem_passes; p++)
			tbb::parallel_for(tbb::blocked_range<long>(0, cfg.mem_n),
			    [](const tbb::blocked_range<long> &r) {
				    par_mem_range(data.in, data.out, r.begin(),
					r.end());
			    });
		break;
	case PAR_PFOR_UNEVEN:
		tbb::parallel_for(tbb::blocked_range<long>(0, cfg.uneven_n),
		    [](const tbb::blocked_range<long> &r) {
			    par_uneven_range(data.uo, r.begin(), r.end(),
				cfg.uneven_n);
		    });
		break;
	}
	return par_now_ms() - t0;
}

// n threads: warm up, then time until par_more says stop; the median ms.
static double
timed_runs(int n)
{
	tbb::global_control gc(tbb::global_control::max_allowed_parallelism,
	    (size_t)n);
	tbb::task_arena arena(n);
	double v[PAR_MAX_REPS], spent = 0, med;
	uint64_t fr = 0;
	int k;

	arena.execute([&] {
		fr = fib(18);
		fr = fib(18);
		for (k = 0; par_more(&cfg, k, spent); k++) {
			v[k] = run(&fr);
			if (!par_check(&cfg, &data, fr)) {
				fprintf(stderr, "tbb %s: wrong result\n", cfg.name);
				exit(1);
			}
			spent += v[k];
		}
	});
	med = par_runs_median("parallel", v, k);
	if (getenv("BENCH_STATS"))
		fprintf(stderr, "tbb: arena of %d, max_concurrency %d\n", n,
		    arena.max_concurrency());
	arena.terminate();
	return med;
}

// fib_oversub: one timed run in the arena of level l.
static tbb::task_arena *level_arena;

static double
run_level(int l)
{
	uint64_t fr = 0;
	double ms = 0;

	level_arena[l].execute([&] { ms = run(&fr); });
	if (!par_check(&cfg, &data, fr)) {
		fprintf(stderr, "tbb %s: wrong result\n", cfg.name);
		exit(1);
	}
	return ms;
}

int
main(int argc, char **argv)
{
	par_parse(&cfg, "tbb", argc, argv);
	double serial = par_serial(&cfg, &data);
	if (cfg.w == PAR_FIB_OVERSUB) {
		// global_control admits the largest level; each arena caps
		// its own concurrency (arena of 2: the main thread and one
		// worker; the market's other workers sleep meanwhile).
		tbb::global_control gc(
		    tbb::global_control::max_allowed_parallelism,
		    (size_t)par_oversub_threads(&cfg, PAR_OVERSUB_NLEVELS));
		tbb::task_arena arenas[1 + PAR_OVERSUB_NLEVELS];
		for (int l = PAR_OVERSUB_NLEVELS; l >= 0; l--) {
			uint64_t fr = 0;
			arenas[l].initialize(par_oversub_threads(&cfg, l));
			arenas[l].execute([&] {
				fr = fib(18);
				fr = fib(18);
			});
		}
		level_arena = arenas;
		par_oversub_run(&cfg, run_level);
		for (int l = 0; l <= PAR_OVERSUB_NLEVELS; l++) {
			if (getenv("BENCH_STATS"))
				fprintf(stderr, "tbb: arena of %d, "
				    "max_concurrency %d\n",
				    par_oversub_threads(&cfg, l),
				    arenas[l].max_concurrency());
			arenas[l].terminate();
		}
		return 0;
	}
	par_report(&cfg, serial, timed_runs(cfg.threads));
	return 0;
}
