/* SPDX-License-Identifier: MIT */
/*
 * Allocation-failure injection.  Linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=aligned_alloc
 * against the library's objects, so every allocation crew makes can be
 * made to fail: the k-th one counted from a reset, or every m-th.  Checks
 * that create fails cleanly (CREW_ENOMEM, nothing leaked: run under ASan),
 * that a pool which cannot allocate a worker refuses with CREW_EAGAIN and
 * recovers, and that over many pool lifetimes with intermittent failures
 * every accepted task runs exactly once and nothing hangs.  Ends with
 * "N passed, N failed".
 */
#define _GNU_SOURCE
#include "crew.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_aligned_alloc(size_t, size_t);
void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_aligned_alloc(size_t, size_t);

static atomic_uint calls, fail_at, fail_every;
static atomic_int armed;

static bool
should_fail(void)
{
	unsigned n, at, every;

	if (!atomic_load(&armed))
		return false;
	n = atomic_fetch_add(&calls, 1) + 1;
	at = atomic_load(&fail_at);
	every = atomic_load(&fail_every);
	return (at && n == at) || (every && n % every == 0);
}

void *
__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t a, size_t b)
{
	return should_fail() ? NULL : __real_calloc(a, b);
}

void *
__wrap_aligned_alloc(size_t a, size_t n)
{
	return should_fail() ? NULL : __real_aligned_alloc(a, n);
}

static void
arm(unsigned at, unsigned every)
{
	atomic_store(&calls, 0);
	atomic_store(&fail_at, at);
	atomic_store(&fail_every, every);
	atomic_store(&armed, at || every);
}

#define CHECK(c, ...)                                                         \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "fault_alloc: %s: ", #c);             \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			arm(0, 0);                                            \
			return 1;                                             \
		}                                                             \
	} while (0)

static atomic_uint ran[256];

struct job {
	crew_task task;
	unsigned id;
};

static void
job_fn(crew_task *t)
{
	atomic_fetch_add(&ran[crew_container_of(t, struct job, task)->id], 1);
}

/* Fail each allocation of create in turn. */
static int
t_create(void)
{
	unsigned failures = 0;

	for (unsigned k = 1; k <= 64; k++) {
		crew_config cfg;
		crew_pool *p = (crew_pool *)1;
		int rc;

		crew_config_init(&cfg);
		cfg.max_threads = 4;
		cfg.pin = CREW_PIN_NONE;
		arm(k, 0);
		rc = crew_pool_create(&p, &cfg);
		arm(0, 0);
		CHECK(rc == 0 || rc == CREW_ENOMEM, "k=%u rc=%d", k, rc);
		if (rc != 0) {
			CHECK(p == NULL, "k=%u: *out not cleared", k);
			failures++;
			continue;
		}
		CHECK(crew_pool_destroy(p) == 0, "k=%u destroy", k);
		if (failures && k > failures + 1)
			break; /* past the last allocation of create */
	}
	CHECK(failures >= 1, "no allocation of create ever failed");
	printf("create: each of its %u allocations failed in turn: "
	    "CREW_ENOMEM, no leak\n", failures);
	return 0;
}

/* A pool that cannot allocate its first worker refuses, then recovers. */
static int
t_worker(void)
{
	crew_pool *p;
	struct job j = { CREW_TASK_INIT(job_fn), 0 };
	int rc;

	crew_config cfg;

	atomic_store(&ran[0], 0);
	/* Unpinned: a pinned worker's block comes from hwloc's node-bound
	 * mmap, which these wraps cannot make fail. */
	crew_config_init(&cfg);
	cfg.pin = CREW_PIN_NONE;
	CHECK(crew_pool_create(&p, &cfg) == 0, "create");
	arm(0, 1); /* every allocation fails */
	rc = crew_submit(p, &j.task);
	arm(0, 0);
	CHECK(rc == CREW_EAGAIN, "submit without memory: rc=%d", rc);
	CHECK(crew_submit(p, &j.task) == 0, "submit after recovery");
	CHECK(crew_pool_destroy(p) == 0, "destroy");
	CHECK(atomic_load(&ran[0]) == 1, "ran %u", atomic_load(&ran[0]));
	printf("worker: allocation failure -> CREW_EAGAIN, then recovery\n");
	return 0;
}

/* Intermittent failures over many lifetimes: exactly once, no hang. */
static int
t_intermittent(void)
{
	static struct job jobs[256];
	unsigned lifetimes = 0, refused = 0;

	for (unsigned cyc = 0; cyc < 300; cyc++) {
		crew_config cfg;
		crew_pool *p;
		bool acc[256];

		crew_config_init(&cfg);
		cfg.max_threads = 4;
		cfg.pin = CREW_PIN_NONE;
		arm(0, 2 + cyc % 5);
		if (crew_pool_create(&p, &cfg) != 0) {
			arm(0, 0);
			continue;
		}
		for (unsigned i = 0; i < 256; i++) {
			jobs[i] = (struct job){ CREW_TASK_INIT(job_fn), i };
			atomic_store(&ran[i], 0);
			acc[i] = crew_submit(p, &jobs[i].task) == 0;
			refused += !acc[i];
		}
		arm(0, 0);
		CHECK(crew_pool_destroy(p) == 0, "destroy");
		for (unsigned i = 0; i < 256; i++)
			CHECK(atomic_load(&ran[i]) == (unsigned)acc[i],
			    "cycle %u task %u ran %u accepted %d", cyc, i,
			    atomic_load(&ran[i]), acc[i]);
		lifetimes++;
	}
	CHECK(lifetimes > 0, "no pool was ever created");
	printf("intermittent: %u pool lifetimes, %u submits refused, all "
	    "accepted tasks ran once\n", lifetimes, refused);
	return 0;
}

static void
on_alarm(int sig)
{
	static const char m[] = "fault_alloc: watchdog: hang\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(3);
	_exit(2);
}

/*
 * crew_for(NULL, ...) when the global pool cannot be created (every
 * allocation fails): the caller runs the loop itself, every index once,
 * and still no call above the grain (it used to make one call of the
 * whole range).
 */
static atomic_uint nog_cover[1000];
static atomic_uint nog_over;

static void
nog_fn(void *ctx, size_t lo, size_t hi)
{
	(void)ctx;
	if (hi - lo > 10)
		atomic_fetch_add(&nog_over, 1);
	for (size_t i = lo; i < hi; i++)
		atomic_fetch_add(&nog_cover[i], 1);
}

static int
t_for_without_global(void)
{
	int rc;

	arm(0, 1);	/* every allocation fails */
	if (crew_global() != NULL) {
		arm(0, 0);
		CHECK(0, "the global pool was created: the path is not tested");
	}
	rc = crew_for(NULL, 0, 1000, 10, nog_fn, NULL);
	arm(0, 0);
	CHECK(rc == 0, "crew_for returned %d", rc);
	CHECK(atomic_load(&nog_over) == 0, "%u calls above the grain",
	    atomic_load(&nog_over));
	for (int i = 0; i < 1000; i++)
		CHECK(atomic_load(&nog_cover[i]) == 1, "index %d covered %u "
		    "times", i, atomic_load(&nog_cover[i]));
	printf("fault_alloc: crew_for without a global pool: 1000 indices "
	    "once each, no call above the grain\n");
	return 0;
}

int
main(void)
{
	int (*tests[])(void) = { t_create, t_worker, t_intermittent,
	    t_for_without_global };
	unsigned passed = 0, failed = 0;

	signal(SIGALRM, on_alarm);
	alarm(120);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		tests[i]() == 0 ? passed++ : failed++;
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
