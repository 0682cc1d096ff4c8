/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the submit benchmarks: timing, arguments, the task
 * body, completion signalling, statistics and the output format.
 *
 * Every program is run as   <prog> <workload> <threads>
 * with workload one of submit_task, submit_batch, wake, idle_cpu, and
 * prints one machine-readable line per figure:
 *
 *   runtime=crew workload=submit_task threads=2 value=15.3 unit=Mtask/s better=higher
 *
 * followed by one line with the process's own CPU time, which run.sh uses
 * to tell our CPU from other processes' in /proc/stat:
 *
 *   cpu_ms=812.4
 *
 * Sizes come from the environment: QUICK=1 shrinks everything; NTASKS,
 * WAKE_SAMPLES, WAKE_WARMUP, IDLE_MS override single knobs.
 * BENCH_WAKE_DUMP=FILE makes the wake workload also write every sample
 * (us, one per line, in the order taken) to FILE, for run.sh's latency
 * distributions.
 *
 * Header-only and usable from C11 and C++17.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#ifdef __cplusplus
#include <atomic>
typedef std::atomic<long> bench_atomic_long;
#define BENCH_FETCH_ADD(p, v) (p)->fetch_add((v), std::memory_order_relaxed)
#define BENCH_STORE(p, v) (p)->store((v), std::memory_order_relaxed)
#define BENCH_LOAD(p) (p)->load(std::memory_order_relaxed)
#define BENCH_FETCH_SUB_ACQ_REL(p, v)                                         \
	(p)->fetch_sub((v), std::memory_order_acq_rel)
#else
#include <stdatomic.h>
typedef _Atomic long bench_atomic_long;
#define BENCH_FETCH_ADD(p, v)                                                 \
	atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define BENCH_STORE(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define BENCH_LOAD(p) atomic_load_explicit((p), memory_order_relaxed)
#define BENCH_FETCH_SUB_ACQ_REL(p, v)                                         \
	atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)
#endif

/* ------------------------------------------------------------- timing */

static inline double
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * CPU time of every thread of the process but the calling one, in ns, from
 * each thread's own CPU clock (the kernel's per-thread clock id for a tid,
 * as pthread_getcpuclockid builds it: ~tid << 3 | CPUCLOCK_PERTHREAD |
 * CPUCLOCK_SCHED), read for every tid in /proc/self/task.
 */
static inline double
bench_others_cpu_ns(void)
{
	long self = syscall(SYS_gettid);
	double sum = 0;
	struct dirent *e;
	struct timespec ts;
	DIR *d = opendir("/proc/self/task");

	if (d == NULL) {
		perror("/proc/self/task");
		exit(1);
	}
	while ((e = readdir(d)) != NULL) {
		long tid = strtol(e->d_name, NULL, 10);

		if (tid <= 0 || tid == self)
			continue;
		if (clock_gettime((clockid_t)((~(unsigned long)tid << 3) | 6),
		    &ts) == 0)
			sum += (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
	}
	closedir(d);
	return sum;
}

static inline void
bench_sleep_ms(double ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000.0);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000.0) * 1e6);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Busy work of about `ns` nanoseconds (warm-up tasks only). */
static inline void
bench_spin_ns(double ns)
{
	double end = bench_now_ns() + ns;

	while (bench_now_ns() < end)
		;
}

/* ---------------------------------------------------------- arguments */

enum bench_workload {
	BENCH_SUBMIT_TASK,
	BENCH_SUBMIT_BATCH,
	BENCH_WAKE,
	BENCH_IDLE_CPU
};

struct bench_cfg {
	const char *runtime;
	const char *workload_name;
	enum bench_workload workload;
	int threads;
	long ntasks;       /* tasks per burst (submit_*, idle_cpu) */
	int wake_samples;  /* wake latency samples per process */
	int wake_warmup;   /* wake-ups before them, not recorded */
	int wake_total;    /* wake_warmup + wake_samples */
	double wake_idle_ms; /* idle time before each wake sample */
	double idle_settle_ms; /* idle_cpu: pause after the burst */
	double idle_ms;    /* idle_cpu: measuring window */
};

/* A count from the environment: at least lo (0 or 1), def when unset. */
static inline long
bench_env_min(const char *name, long def, long lo)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return def;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo) {
		fprintf(stderr, "bad %s=%s\n", name, s);
		exit(2);
	}
	return v;
}

static inline long
bench_env_long(const char *name, long def)
{
	return bench_env_min(name, def, 1);
}

static inline int
bench_quick(void)
{
	const char *q = getenv("QUICK");

	return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

static inline void
bench_parse(struct bench_cfg *c, const char *runtime, int argc, char **argv)
{
	static const char *const names[] = { "submit_task", "submit_batch",
		"wake", "idle_cpu" };
	int quick = bench_quick();
	int i;

	memset(c, 0, sizeof(*c));
	c->runtime = runtime;
	if (argc != 3) {
		fprintf(stderr, "usage: %s submit_task|submit_batch|wake|idle_cpu "
		    "THREADS\n", argv[0]);
		exit(2);
	}
	for (i = 0; i < 4; i++)
		if (strcmp(argv[1], names[i]) == 0)
			break;
	if (i == 4) {
		fprintf(stderr, "%s: unknown workload %s\n", argv[0], argv[1]);
		exit(2);
	}
	c->workload = (enum bench_workload)i;
	c->workload_name = names[i];
	c->threads = atoi(argv[2]);
	if (c->threads < 1 || c->threads > 1024) {
		fprintf(stderr, "%s: bad thread count %s\n", argv[0], argv[2]);
		exit(2);
	}
	c->ntasks = bench_env_long("NTASKS", quick ? 200000 : 1000000);
	/* (10 +) 100 samples x 20 ms idle = 2.2 s a process; run.sh pools every
	 * sample of every round for the distribution. */
	c->wake_samples = (int)bench_env_long("WAKE_SAMPLES", quick ? 10 : 100);
	/* The first few wake-ups after the warm-up burst are slow for every
	 * runtime alike (2 vCPU KVM guest: 45-110 us instead of ~20 in 20-70%
	 * of processes at samples 1-4, none later; mc and a 1-worker crew pool
	 * show it too), which put up to two of the hundred samples above p99
	 * by when they happened rather than by the runtime.  So each process
	 * first runs WAKE_WARMUP idle-and-wake cycles it does not record. */
	c->wake_warmup = (int)bench_env_min("WAKE_WARMUP", quick ? 2 : 10, 0);
	c->wake_total = c->wake_warmup + c->wake_samples;
	c->wake_idle_ms = 20;
	c->idle_settle_ms = quick ? 50 : 100;
	c->idle_ms = (double)bench_env_long("IDLE_MS", quick ? 100 : 500);
}

/* ------------------------------------------------ the task body, done */

/*
 * Every runtime's task does exactly this.  The measured tasks (submit_task,
 * submit_batch, idle_cpu's burst) call bench_tick_at(i) with their index
 * i: one relaxed increment of the counter of i's block (BENCH_BLOCK
 * consecutive indices, each block's counter on its own cache line).  The
 * task that completes a block counts its group's blocks down (BENCH_GROUP
 * consecutive blocks, each group's count on its own line), the one that
 * completes a group counts the groups down (acq_rel, both: the last one
 * has seen every block's final count), and the one that completes the
 * last group posts bench_done if the runtime needs an explicit completion
 * signal (crew and the mutex/condvar pool; OpenMP and TBB use their own
 * barrier / task_group::wait and never arm it).
 *
 * Blocks rather than one counter: with one counter every task of every
 * parallel runtime bounced the same cache line between the cores, and the
 * figure measured that line, not the scheduler (1M crew tasks took 17.5
 * ms on 2 workers and 8 ms on 1).  Groups for the same reason, one level
 * up: with one count of blocks left, 1M tasks made 15.6K read-modify-
 * writes of one line, alternating between the threads of a parallel
 * runtime (0.6 ms of crew's 6 ms on 2 workers, in-process A/B).  A
 * runtime that runs the tasks on one thread (libgomp runs a taskloop of
 * more than 64 tasks per thread, and any task created while 64 per thread
 * are queued, undeferred on the creating thread) pays about the same per
 * task either way: it never waits for those lines.  Blocks of 64 still
 * share a line between runtimes that
 * hand neighbouring tasks to different threads, as real tasks writing
 * neighbouring outputs would.
 *
 * bench_tick() (warm-up tasks) counts on one shared counter.
 */
#define BENCH_BLOCK 64
#define BENCH_GROUP 64			/* blocks */
struct bench_block {
	bench_atomic_long n;
	char pad[64 - sizeof(long)];
};
static struct bench_block *bench_blocks;
static long bench_nblocks;		/* allocated */
static struct bench_block *bench_groups; /* n: blocks left to complete */
static long bench_ngroups;		/* allocated */
static bench_atomic_long bench_groups_left;
static long bench_last_block;		/* index of the last block in use */
static long bench_last_size;		/* and its size */
static bench_atomic_long bench_count;
static long bench_target;
static int bench_armed;
static sem_t bench_done;

static inline void
bench_tick(void)
{
	long c = BENCH_FETCH_ADD(&bench_count, 1) + 1;

	if (c == bench_target && bench_armed)
		sem_post(&bench_done);
}

static inline void
bench_tick_at(long i)
{
	long b = i / BENCH_BLOCK;
	long want = b == bench_last_block ? bench_last_size : BENCH_BLOCK;

	if (BENCH_FETCH_ADD(&bench_blocks[b].n, 1) + 1 == want &&
	    BENCH_FETCH_SUB_ACQ_REL(&bench_groups[b / BENCH_GROUP].n, 1) == 1 &&
	    BENCH_FETCH_SUB_ACQ_REL(&bench_groups_left, 1) == 1 && bench_armed)
		sem_post(&bench_done);
}

static inline struct bench_block *
bench_alloc_lines(long n)
{
	struct bench_block *a = (struct bench_block *)aligned_alloc(64,
	    (size_t)n * sizeof(*a));

	if (a == NULL) {
		perror("aligned_alloc");
		exit(1);
	}
	return a;
}

/*
 * Arms a new round of `n` ticks: bench_tick() n times, or bench_tick_at(i)
 * once for each i in [0, n).  Call with no task in flight.
 */
static inline void
bench_arm(long n, int use_sem)
{
	long nb = (n + BENCH_BLOCK - 1) / BENCH_BLOCK;
	long ng = (nb + BENCH_GROUP - 1) / BENCH_GROUP;

	if (nb > bench_nblocks) {
		free(bench_blocks);
		bench_blocks = bench_alloc_lines(nb);
		bench_nblocks = nb;
	}
	if (ng > bench_ngroups) {
		free(bench_groups);
		bench_groups = bench_alloc_lines(ng);
		bench_ngroups = ng;
	}
	for (long b = 0; b < bench_nblocks; b++)
		BENCH_STORE(&bench_blocks[b].n, 0);
	for (long g = 0; g < ng; g++)
		BENCH_STORE(&bench_groups[g].n, g < ng - 1 ? BENCH_GROUP :
		    nb - (ng - 1) * BENCH_GROUP);
	BENCH_STORE(&bench_groups_left, ng);
	bench_last_block = nb - 1;
	bench_last_size = n - (nb - 1) * BENCH_BLOCK;
	BENCH_STORE(&bench_count, 0);
	bench_target = n;
	bench_armed = use_sem;
}

static inline void
bench_wait_done(void)
{
	while (sem_wait(&bench_done) != 0 && errno == EINTR)
		;
}

static inline void
bench_check_count(const struct bench_cfg *c, long want)
{
	long got = BENCH_LOAD(&bench_count);

	for (long b = 0; b < bench_nblocks; b++)
		got += BENCH_LOAD(&bench_blocks[b].n);

	if (got != want) {
		fprintf(stderr, "%s %s: %ld tasks ran, expected %ld\n",
		    c->runtime, c->workload_name, got, want);
		exit(1);
	}
}

/* ------------------------------------------------------------ output */

static inline void
bench_emit(const struct bench_cfg *c, const char *workload, double value,
    const char *unit, const char *better)
{
	printf("runtime=%s workload=%s threads=%d value=%.4g unit=%s "
	    "better=%s\n", c->runtime, workload, c->threads, value, unit,
	    better);
	fflush(stdout);
}

/* Throughput of a burst of n tasks that took ns. */
static inline void
bench_emit_rate(const struct bench_cfg *c, long n, double ns)
{
	bench_emit(c, c->workload_name, (double)n / ns * 1e3, "Mtask/s",
	    "higher");
}

static inline int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of v[0..n) (sorts v). */
static inline double
bench_percentile(double *v, int n, double pct)
{
	int k;

	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	k = (int)((pct / 100.0) * n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

/* Wake latencies in ns: prints p50 and p99 in microseconds (and dumps
 * every sample to $BENCH_WAKE_DUMP when set). */
static inline void
bench_emit_wake(const struct bench_cfg *c, double *lat_ns, int n)
{
	const char *dump = getenv("BENCH_WAKE_DUMP");

	if (dump != NULL && *dump != '\0') {
		FILE *f = fopen(dump, "w");

		if (f == NULL) {
			perror(dump);
			exit(1);
		}
		for (int i = 0; i < n; i++)
			fprintf(f, "%.3f\n", lat_ns[i] / 1e3);
		if (fclose(f) != 0) {
			perror(dump);
			exit(1);
		}
	}
	double p50 = bench_percentile(lat_ns, n, 50);
	double p99 = bench_percentile(lat_ns, n, 99);

	bench_emit(c, "wake_p50", p50 / 1e3, "us", "lower");
	bench_emit(c, "wake_p99", p99 / 1e3, "us", "lower");
}

/* CPU the pool's threads burnt over the idle window, ms per wall second. */
static inline void
bench_emit_idle(const struct bench_cfg *c, double cpu_ns, double wall_ns)
{
	bench_emit(c, "idle_cpu", (cpu_ns / 1e6) / (wall_ns / 1e9), "ms/s",
	    "lower");
}

/*
 * The idle_cpu measurement after the burst: settle, then the CPU time of
 * every thread but the main one (the pool's threads) over idle_ms of wall
 * time while the main thread sleeps.  The main thread's own share (its
 * sleep and the clock reads, ~50 us a window whatever the runtime) is
 * left out: it is the same for every runtime and was most of the earlier
 * whole-process figure (0.10 ms/s for every runtime over 500 ms).
 */
static inline void
bench_idle_window(const struct bench_cfg *c)
{
	double c0, c1, w0, w1;

	bench_sleep_ms(c->idle_settle_ms);
	c0 = bench_others_cpu_ns();
	w0 = bench_now_ns();
	bench_sleep_ms(c->idle_ms);
	w1 = bench_now_ns();
	c1 = bench_others_cpu_ns();
	bench_emit_idle(c, c1 - c0, w1 - w0);
}

/* Last line: the process's own CPU time (user + system, all threads). */
static inline void
bench_emit_self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("cpu_ms=%.1f\n",
	    (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
	    (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3);
	fflush(stdout);
}

static inline void
bench_init(void)
{
	if (sem_init(&bench_done, 0, 0) != 0) {
		perror("sem_init");
		exit(1);
	}
}

static inline double *
bench_alloc_samples(int n)
{
	double *v = (double *)calloc((size_t)n, sizeof(double));

	if (v == NULL) {
		perror("calloc");
		exit(1);
	}
	return v;
}

#endif /* BENCH_COMMON_H */
