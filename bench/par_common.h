/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the structured-parallelism benchmarks (par_*.c/.cpp):
 * workloads, sizes, the serial baselines every program measures in its own
 * process, and the output format of common.h.
 *
 *   <prog> <workload> <threads>     workload: fib qsort pfor_mem pfor_uneven
 *                                             fib_oversub
 *
 *   fib          fib(30), a task per call, no cutoff.  Figures: time, and the
 *                cost per spawn: (parallel time x threads - serial time) /
 *                spawns, spawns = calls with n >= 2 = fib(31) - 1.
 *   qsort        10,000,000 int32, values 0..N-1 shuffled by xorshift32 from
 *                0xdeadbeef; Lomuto partition, last element as pivot, both
 *                halves spawned and joined, insertion sort at <= 32.
 *   pfor_mem     2^25 floats, out[i] = sqrtf(in[i]) * 2, 10 passes.
 *   pfor_uneven  2^19 items, item i runs i * 1024 / n steps of an LCG.
 *   fib_oversub  fib(30) as above at THREADS, 4 x THREADS and 8 x THREADS
 *                threads in the same process: a pool / arena / team size
 *                per level, all set up and warmed up (every thread exists)
 *                first, then rounds that run each level once, interleaved
 *                (par_oversub_run).  Figures fib_oversub<N> = median over
 *                the rounds of time(N) / time(THREADS), N the thread count
 *                (fib_oversub8 and fib_oversub16 with THREADS=2): 1.0 = no
 *                loss from running more threads than cores, lower is
 *                better.  fib_at<N>: the median time (ms) with N threads.
 *
 * Each program first runs the serial version of its workload (same code,
 * same compiler flags), then the parallel one, checks the result, and
 * prints the parallel time and the speedup over that serial run.
 * Repetitions are time-bounded (par_more): fib is timed until 1 s of
 * parallel time has been spent, at least 3 and at most 11 times (its
 * serial run alike; fib_oversub: 0.5 s at its slowest level), the two loops 3
 * times (their serial runs twice), qsort once; the medians are reported.
 * QUICK=1 shrinks every size, divides the time budgets by 10 and times the
 * loops once.
 *
 * Diagnosis, on stderr, never in the figures: BENCH_TIMES=1 prints every
 * timed run (and, for crew, how many workers were awake as each run
 * started); BENCH_STATS=1 prints crew's counters; BENCH_GAP_US=N (crew)
 * sleeps N us before each timed run.
 */
#ifndef BENCH_PAR_COMMON_H
#define BENCH_PAR_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double
par_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline double
par_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int
par_quick(void)
{
	const char *q = getenv("QUICK");

	return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

enum par_workload { PAR_FIB, PAR_QSORT, PAR_PFOR_MEM, PAR_PFOR_UNEVEN,
	PAR_FIB_OVERSUB };

/*
 * Thread levels of fib_oversub after THREADS, as multiples of THREADS
 * (figures fib_oversub<N>, N the thread count: 8 and 16 on 2 threads).
 */
#define PAR_OVERSUB_NLEVELS 2
static const int par_oversub_mult[PAR_OVERSUB_NLEVELS] = { 4, 8 };

struct par_cfg {
	const char *runtime;
	const char *name;
	enum par_workload w;
	int threads;
	unsigned fib_n;
	long qsort_n;
	long mem_n;
	int mem_passes;
	long uneven_n;
	/* Timed repetitions (the median is reported): at least min_reps, at
	 * most max_reps (<= PAR_MAX_REPS), and no more once budget_ms of
	 * timed work has been spent (par_more). */
	int min_reps, max_reps;
	double budget_ms;
	int serial_min, serial_max; /* the same for the serial run */
	double serial_budget_ms;
};

#define PAR_MAX_REPS 32

/* Whether to time another parallel run after k of them took spent_ms. */
static inline int
par_more(const struct par_cfg *c, int k, double spent_ms)
{
	if (k < c->min_reps)
		return 1;
	return k < c->max_reps && spent_ms < c->budget_ms;
}

/* The same for the serial baseline. */
static inline int
par_more_serial(const struct par_cfg *c, int k, double spent_ms)
{
	if (k < c->serial_min)
		return 1;
	return k < c->serial_max && spent_ms < c->serial_budget_ms;
}

/* Median of n doubles (sorts v). */
static inline double
par_median(double *v, int n)
{
	for (int i = 1; i < n; i++) {
		double t = v[i];
		int j = i - 1;

		for (; j >= 0 && v[j] > t; j--)
			v[j + 1] = v[j];
		v[j + 1] = t;
	}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median of n timed runs (ms); with BENCH_TIMES, first prints them in run
 * order under `what` ("serial" or "parallel"). */
static inline double
par_runs_median(const char *what, double *v, int n)
{
	if (getenv("BENCH_TIMES")) {
		fprintf(stderr, "times, %s:", what);
		for (int i = 0; i < n; i++)
			fprintf(stderr, " %.3f", v[i]);
		fprintf(stderr, "\n");
	}
	return par_median(v, n);
}

static inline void
par_parse(struct par_cfg *c, const char *runtime, int argc, char **argv)
{
	static const char *const names[] = { "fib", "qsort", "pfor_mem",
		"pfor_uneven", "fib_oversub" };
	int q = par_quick(), i;

	memset(c, 0, sizeof(*c));
	c->runtime = runtime;
	if (argc != 3) {
		fprintf(stderr, "usage: %s fib|qsort|pfor_mem|pfor_uneven|"
		    "fib_oversub THREADS\n", argv[0]);
		exit(2);
	}
	for (i = 0; i < 5; i++)
		if (strcmp(argv[1], names[i]) == 0)
			break;
	if (i == 5 || atoi(argv[2]) <= 0) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		exit(2);
	}
	c->w = (enum par_workload)i;
	c->name = names[i];
	c->threads = atoi(argv[2]);
	c->fib_n = q ? 25 : 30;
	c->qsort_n = q ? 500000 : 10000000;
	c->mem_n = q ? (1L << 22) : (1L << 25);
	c->mem_passes = 10;
	c->uneven_n = q ? (1L << 17) : (1L << 19);
	/* fib(30) takes ~10 ms with crew: one run is at the mercy of a
	 * single preemption, so time it up to 11 times; but libgomp needs
	 * ~450 ms a run, so stop after 1 s (0.5 s per level of fib_oversub)
	 * once 3 runs are in.  The loops' serial runs (0.35-0.5 s each) are
	 * timed twice, to keep `make bench` within its 5 minutes (pfor_uneven
	 * had 2^20 items, 0.7 s a serial run, until the default run took 5.5
	 * minutes on a 2 vCPU Xeon). */
	switch (c->w) {
	case PAR_FIB:
	case PAR_FIB_OVERSUB:
		c->min_reps = c->serial_min = 3;
		c->max_reps = c->serial_max = 11;
		c->budget_ms = c->serial_budget_ms =
		    c->w == PAR_FIB ? 1000 : 500;
		break;
	case PAR_QSORT:
		c->min_reps = c->max_reps = 1;
		c->serial_min = c->serial_max = 1;
		break;
	default:
		c->min_reps = c->max_reps = q ? 1 : 3;
		c->serial_min = c->serial_max = q ? 1 : 2;
		break;
	}
	if (q) {
		c->budget_ms /= 10;
		c->serial_budget_ms /= 10;
	}
}

static inline void
par_emit(const struct par_cfg *c, const char *figure, double value,
    const char *unit, const char *better)
{
	printf("runtime=%s workload=%s threads=%d value=%.6g unit=%s better=%s\n",
	    c->runtime, figure, c->threads, value, unit, better);
}

static inline void
par_emit_cpu(void)
{
	printf("cpu_ms=%.1f\n", par_cpu_ms());
}

/* ----------------------------------------------------------- workloads */

static inline uint64_t
par_fib_spawns(unsigned n)
{
	uint64_t a = 0, b = 1, t;

	for (unsigned i = 0; i < n + 1; i++) { /* fib(n + 1) */
		t = a + b;
		a = b;
		b = t;
	}
	return a - 1;
}

__attribute__((noinline)) static uint64_t
par_fib_seq(unsigned n)
{
	return n < 2 ? n : par_fib_seq(n - 1) + par_fib_seq(n - 2);
}

static inline int32_t *
par_qsort_input(long n)
{
	int32_t *a = (int32_t *)malloc((size_t)n * sizeof(int32_t));
	uint32_t x = 0xdeadbeef;

	if (a == NULL) {
		perror("malloc");
		exit(1);
	}
	for (long i = 0; i < n; i++)
		a[i] = (int32_t)i;
	for (long i = n - 1; i > 0; i--) {
		long j;
		int32_t t;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		j = (long)(x % (uint32_t)(i + 1));
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	return a;
}

static inline void
par_insertion(int32_t *a, long lo, long hi)
{
	for (long i = lo + 1; i <= hi; i++) {
		int32_t v = a[i];
		long j = i - 1;

		while (j >= lo && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

/* Lomuto, last element as pivot; returns the pivot's final index. */
static inline long
par_partition(int32_t *a, long lo, long hi)
{
	int32_t p = a[hi], t;
	long i = lo;

	for (long j = lo; j < hi; j++) {
		if (a[j] < p) {
			t = a[i];
			a[i] = a[j];
			a[j] = t;
			i++;
		}
	}
	t = a[i];
	a[i] = a[hi];
	a[hi] = t;
	return i;
}

static inline void
par_qsort_seq(int32_t *a, long lo, long hi)
{
	while (hi - lo + 1 > 32) {
		long p = par_partition(a, lo, hi);

		par_qsort_seq(a, lo, p - 1);
		lo = p + 1;
	}
	if (lo < hi)
		par_insertion(a, lo, hi);
}

static inline int
par_qsort_check(const int32_t *a, long n)
{
	for (long i = 0; i < n; i++)
		if (a[i] != (int32_t)i)
			return 0;
	return 1;
}

static inline void
par_mem_range(const float *in, float *out, long lo, long hi)
{
	for (long i = lo; i < hi; i++)
		out[i] = sqrtf(in[i]) * 2.0f;
}

static inline uint32_t
par_uneven_item(long i, long n)
{
	uint32_t x = (uint32_t)i;
	long steps = i * 1024 / n;

	for (long s = 0; s < steps; s++)
		x = x * 1664525u + 1013904223u;
	return x;
}

static inline void
par_uneven_range(uint32_t *out, long lo, long hi, long n)
{
	for (long i = lo; i < hi; i++)
		out[i] = par_uneven_item(i, n);
}

/* Runs the serial version; returns its time in ms.  Keeps the inputs. */
struct par_data {
	int32_t *qs;
	float *in, *out;
	uint32_t *uo;
	uint64_t fib;
};

static inline double
par_serial(const struct par_cfg *c, struct par_data *d)
{
	double t0, t1;
	int32_t *a;

	memset(d, 0, sizeof(*d));
	switch (c->w) {
	case PAR_FIB:
	case PAR_FIB_OVERSUB: {
		double v[PAR_MAX_REPS], spent = 0;
		int r;

		for (r = 0; par_more_serial(c, r, spent); r++) {
			t0 = par_now_ms();
			d->fib = par_fib_seq(c->fib_n);
			v[r] = par_now_ms() - t0;
			spent += v[r];
		}
		return par_runs_median("serial", v, r);
	}
	case PAR_QSORT:
		a = par_qsort_input(c->qsort_n);
		t0 = par_now_ms();
		par_qsort_seq(a, 0, c->qsort_n - 1);
		t1 = par_now_ms();
		if (!par_qsort_check(a, c->qsort_n)) {
			fprintf(stderr, "serial qsort wrong\n");
			exit(1);
		}
		free(a);
		d->qs = par_qsort_input(c->qsort_n);
		return t1 - t0;
	case PAR_PFOR_MEM:
		d->in = (float *)malloc((size_t)c->mem_n * sizeof(float));
		d->out = (float *)malloc((size_t)c->mem_n * sizeof(float));
		if (!d->in || !d->out)
			exit(1);
		for (long i = 0; i < c->mem_n; i++)
			d->in[i] = (float)(i % 1000);
		par_mem_range(d->in, d->out, 0, c->mem_n); /* fault pages in */
		{
			double v[PAR_MAX_REPS], spent = 0;
			int r;

			for (r = 0; par_more_serial(c, r, spent); r++) {
				t0 = par_now_ms();
				for (int p = 0; p < c->mem_passes; p++)
					par_mem_range(d->in, d->out, 0, c->mem_n);
				v[r] = par_now_ms() - t0;
				spent += v[r];
			}
			return par_runs_median("serial", v, r);
		}
	case PAR_PFOR_UNEVEN:
		d->uo = (uint32_t *)calloc((size_t)c->uneven_n, sizeof(uint32_t));
		if (!d->uo)
			exit(1);
		{
			double v[PAR_MAX_REPS], spent = 0;
			int r;

			for (r = 0; par_more_serial(c, r, spent); r++) {
				t0 = par_now_ms();
				par_uneven_range(d->uo, 0, c->uneven_n,
				    c->uneven_n);
				v[r] = par_now_ms() - t0;
				spent += v[r];
			}
			return par_runs_median("serial", v, r);
		}
	}
	return 0;
}

/* Checks the parallel result (the serial one is recomputed where cheap). */
static inline int
par_check(const struct par_cfg *c, struct par_data *d, uint64_t fib)
{
	switch (c->w) {
	case PAR_FIB:
	case PAR_FIB_OVERSUB:
		return fib == d->fib;
	case PAR_QSORT:
		return par_qsort_check(d->qs, c->qsort_n);
	case PAR_PFOR_MEM:
		for (long i = 0; i < c->mem_n; i += 4099)
			if (d->out[i] != sqrtf(d->in[i]) * 2.0f)
				return 0;
		return 1;
	case PAR_PFOR_UNEVEN:
		for (long i = 0; i < c->uneven_n; i += 1021)
			if (d->uo[i] != par_uneven_item(i, c->uneven_n))
				return 0;
		return d->uo[c->uneven_n - 1] ==
		    par_uneven_item(c->uneven_n - 1, c->uneven_n);
	}
	return 0;
}

/* Prints the figures of one run. */
static inline void
par_report(const struct par_cfg *c, double serial_ms, double par_ms)
{
	char fig[64];

	snprintf(fig, sizeof(fig), "%s_speedup", c->name);
	par_emit(c, c->name, par_ms, "ms", "lower");
	par_emit(c, fig, serial_ms / par_ms, "x", "higher");
	if (c->w == PAR_FIB)
		par_emit(c, "fib_spawn",
		    (par_ms * c->threads - serial_ms) * 1e6 /
			(double)par_fib_spawns(c->fib_n), "ns", "lower");
	par_emit_cpu();
}

/* Thread count of fib_oversub level l (0: THREADS). */
static inline int
par_oversub_threads(const struct par_cfg *c, int l)
{
	return l == 0 ? c->threads : par_oversub_mult[l - 1] * c->threads;
}

/*
 * fib_oversub, with every thread level set up beforehand (run_level(l) is
 * one timed fib at level l, checked; it returns ms).  Each round runs
 * every level once, the order rotated from round to round, each run after
 * a 10 ms idle gap so that the previous level's threads are asleep (crew
 * parks at once; libgomp and TBB spin for a while first).  Rounds go on
 * while par_more allows, counting the slowest level's time.  The figure
 * for a level is the median over the rounds of time(level) / time(THREADS)
 * in the same round: the host drifts by more than the effect measured
 * (crew's fib(30) on 2 threads moved between 8.5 and 11 ms within one
 * process), and a ratio of neighbouring runs cancels what a ratio of two
 * medians taken one level after the other does not.
 */
static inline void
par_oversub_run(const struct par_cfg *c, double (*run_level)(int l))
{
	enum { NL = 1 + PAR_OVERSUB_NLEVELS };
	static double t[NL][PAR_MAX_REPS];
	double spent[NL] = { 0 }, ratio[PAR_MAX_REPS], worst = 0;
	struct timespec gap = { 0, 10000000 };
	char fig[64];
	int k, l, j;

	for (k = 0; par_more(c, k, worst); k++) {
		for (j = 0; j < NL; j++) {
			l = (j + k) % NL;
			nanosleep(&gap, NULL);
			t[l][k] = run_level(l);
			spent[l] += t[l][k];
			if (spent[l] > worst)
				worst = spent[l];
		}
	}
	if (getenv("BENCH_TIMES"))
		for (l = 0; l < NL; l++) {
			fprintf(stderr, "times at %d threads:",
			    par_oversub_threads(c, l));
			for (j = 0; j < k; j++)
				fprintf(stderr, " %.3f", t[l][j]);
			fprintf(stderr, "\n");
		}
	for (int i = 0; i < PAR_OVERSUB_NLEVELS; i++) {
		for (j = 0; j < k; j++)
			ratio[j] = t[1 + i][j] / t[0][j];
		snprintf(fig, sizeof(fig), "fib_oversub%d",
		    par_oversub_mult[i] * c->threads);
		par_emit(c, fig, par_median(ratio, k), "x", "lower");
	}
	/* The times themselves: the ratios compare each runtime with
	 * itself, so a fixed cost of oversubscription weighs more on a
	 * faster fib.  fib_at<N>: median ms of fib with N threads. */
	for (int i = 0; i < PAR_OVERSUB_NLEVELS; i++) {
		snprintf(fig, sizeof(fig), "fib_at%d",
		    par_oversub_mult[i] * c->threads);
		par_emit(c, fig, par_median(t[1 + i], k), "ms", "lower");
	}
	par_emit_cpu();
}

#endif
