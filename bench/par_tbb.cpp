// SPDX-License-Identifier: MIT
// oneTBB on the structured-parallelism workloads: task_group for fib and
// qsort (both halves run, then wait), parallel_for with the default
// (auto) partitioner for the loops; THREADS threads via global_control.
#include "par_common.h"

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
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

int
main(int argc, char **argv)
{
	par_parse(&cfg, "tbb", argc, argv);
	double serial = par_serial(&cfg, &data);
	tbb::global_control gc(tbb::global_control::max_allowed_parallelism,
	    (size_t)cfg.threads);
	uint64_t fr = fib(18);
	double v[32];
	for (int k = 0; k < cfg.reps; k++) {
	double t0 = par_now_ms();
	switch (cfg.w) {
	case PAR_FIB:
		fr = fib(cfg.fib_n);
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
	v[k] = par_now_ms() - t0;
	if (!par_check(&cfg, &data, fr)) {
		fprintf(stderr, "tbb %s: wrong result\n", cfg.name);
		return 1;
	}
	}
	par_report(&cfg, serial, par_median(v, cfg.reps));
	return 0;
}
