/* SPDX-License-Identifier: MIT */
/*
 * The time slice workers ask the kernel for (crew_config.slice_us,
 * CREW_SLICE_US, slice_self in src/pool.c): parsing and limits, what each
 * worker runs with (read with sched_getattr in on_thread_start, which runs
 * after the request), the automatic choice by oversubscription, that the
 * request keeps the policy and nice value, and that a worker spawned by a
 * worker of another pool does not keep that pool's slice.
 *
 * Linux 6.12 and later report a fair thread's slice in sched_runtime;
 * earlier kernels ignore the request and report 0.  The tests probe which
 * on a scratch thread and assert the matching outcome: the slice where it
 * is supported, an unchanged thread and slice_workers == 0 where not.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crew.h"
#include "internal.h"
#include "support.h"

TestSuite(slice, .timeout = 60);

struct sattr {
	uint32_t size;
	uint32_t policy;
	uint64_t flags;
	int32_t nice;
	uint32_t prio;
	uint64_t runtime;
	uint64_t deadline;
	uint64_t period;
};

static struct sattr
attr_now(void)
{
	struct sattr a;

	memset(&a, 0, sizeof(a));
	cr_assert_eq(syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof(a),
	    0u), 0, "sched_getattr: %s", strerror(errno));
	return a;
}

static void *
probe_fn(void *arg)
{
	struct sattr a = attr_now();

	a.size = (uint32_t)sizeof(a);
	a.flags = 0;
	a.runtime = 3000000;
	*(bool *)arg = syscall(SYS_sched_setattr, 0, &a, 0u) == 0 &&
	    attr_now().runtime == 3000000;
	return NULL;
}

/* Whether this kernel takes and reports a fair thread's slice. */
static bool
kernel_has_slices(void)
{
	pthread_t th;
	bool yes = false;

	cr_assert_eq(pthread_create(&th, NULL, probe_fn, &yes), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	return yes;
}

/* What each worker ran with as its start hook ran. */
#define NW 64
static struct sattr seen[NW];
static _Atomic unsigned started;

static void
record_start(void *ctx, unsigned index)
{
	(void)ctx;
	if (index < NW)
		seen[index] = attr_now();
	atomic_fetch_add(&started, 1);
}

struct job {
	crew_task task;
	crew_wg *wg;
};

static void
nap_fn(crew_task *t)
{
	struct job *j = crew_container_of(t, struct job, task);
	struct timespec ts = { 0, 2000000 };

	nanosleep(&ts, NULL);
	crew_wg_done(j->wg);
}

/* A pool of n workers with slice_us, all started (tasks that nap keep the
 * first ones busy while the notifications spawn the rest). */
static crew_pool *
pool_started(unsigned n, unsigned slice_us)
{
	crew_config cfg;
	crew_pool *p = NULL;
	crew_stats st;

	cr_assert(n <= NW);
	memset(seen, 0, sizeof(seen));
	atomic_store(&started, 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = n;
	cfg.slice_us = slice_us;
	cfg.on_thread_start = record_start;
	cr_assert_eq(crew_pool_create(&p, &cfg), 0);
	t_watchdog(55);
	t_watch_pool(p);
	for (int tries = 0; tries < 200; tries++) {
		crew_wg wg = CREW_WG_INIT;
		struct job jobs[2 * NW];

		crew_pool_stats(p, &st);
		if (st.threads_spawned >= n)
			break;
		crew_wg_add(&wg, 2 * n);
		for (unsigned i = 0; i < 2 * n; i++) {
			jobs[i] = (struct job){ CREW_TASK_INIT(nap_fn), &wg };
			cr_assert_eq(crew_submit(p, &jobs[i].task), 0);
		}
		crew_wg_wait(&wg);
	}
	crew_pool_stats(p, &st);
	cr_assert_eq(st.threads_spawned, n, "only %llu of %u workers started",
	    (unsigned long long)st.threads_spawned, n);
	/* the hooks ran before the workers' first tasks */
	cr_assert_eq(atomic_load(&started), n);
	return p;
}

static void
pool_done(crew_pool *p)
{
	t_watchdog_off();
	cr_assert_eq(crew_pool_destroy(p), 0);
}

Test(slice, config_default_env_and_limits)
{
	const char *bad[] = { "", "x", "0", "99", "100001", "-100", " 500",
		"autox", "99999999999999999999" };
	const unsigned refused[] = { 1, 99, CREW_SLICE_US_MAX + 1,
		CREW_SLICE_US_KEEP - 1 };
	const unsigned taken[] = { CREW_SLICE_US_AUTO, CREW_SLICE_US_KEEP,
		CREW_SLICE_US_MIN, CREW_SLICE_US_MAX, 4000 };
	crew_config cfg;
	crew_pool *p = NULL;

	cr_assert_eq(unsetenv("CREW_SLICE_US"), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.slice_us, CREW_SLICE_US_AUTO);
	cr_assert_eq(setenv("CREW_SLICE_US", "keep", 1), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.slice_us, CREW_SLICE_US_KEEP);
	cr_assert_eq(setenv("CREW_SLICE_US", "AUTO", 1), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.slice_us, CREW_SLICE_US_AUTO);
	cr_assert_eq(setenv("CREW_SLICE_US", "100", 1), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.slice_us, 100);
	cr_assert_eq(setenv("CREW_SLICE_US", "100000", 1), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.slice_us, 100000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(setenv("CREW_SLICE_US", bad[i], 1), 0);
		cr_assert_eq(crew_config_init(&cfg), 0);
		cr_assert_eq(cfg.slice_us, CREW_SLICE_US_AUTO,
		    "CREW_SLICE_US=\"%s\"", bad[i]);
	}
	cr_assert_eq(unsetenv("CREW_SLICE_US"), 0);

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		cfg.slice_us = refused[i];
		cr_assert_eq(crew_pool_create(&p, &cfg), CREW_EINVAL,
		    "slice_us %u", refused[i]);
		cr_assert_null(p);
	}
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		cfg.slice_us = taken[i];
		cr_assert_eq(crew_pool_create(&p, &cfg), 0, "slice_us %u",
		    taken[i]);
		cr_assert_eq(crew_pool_destroy(p), 0);
		p = NULL;
	}
}

/* An explicit slice: every worker runs with it, policy and nice kept (the
 * workers inherit SCHED_BATCH and nice 3 from the creating thread). */
Test(slice, explicit_slice_on_every_worker_keeps_policy_and_nice)
{
	bool has = kernel_has_slices();
	struct sched_param sp = { 0 };
	struct sattr before;
	crew_stats st;
	crew_pool *p;

	cr_assert_eq(pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp),
	    0);
	cr_assert_eq(setpriority(PRIO_PROCESS, (id_t)gettid(), 3), 0);
	before = attr_now();
	cr_assert_eq(before.policy, SCHED_BATCH);
	cr_assert_eq(before.nice, 3);
	p = pool_started(3, 7000);
	crew_pool_stats(p, &st);
	cr_assert_eq(st.slice_us, 7000);
	cr_assert_eq(st.slice_workers, has ? 3 : 0);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(seen[i].policy, SCHED_BATCH, "worker %u", i);
		cr_assert_eq(seen[i].nice, 3, "worker %u", i);
		cr_assert_eq(seen[i].runtime, has ? 7000000 : before.runtime,
		    "worker %u runs with a %llu ns slice", i,
		    (unsigned long long)seen[i].runtime);
	}
	pool_done(p);
}

/* Automatic: the long slice only where workers outnumber the CPUs (two of
 * them at most: the test narrows its affinity, which the pools count). */
Test(slice, automatic_slice_only_when_oversubscribed)
{
	bool has = kernel_has_slices();
	unsigned ncpu, over;
	uint64_t mine = attr_now().runtime;
	cpu_set_t set, two;
	crew_stats st;
	crew_pool *p;
	int kept = 0;

	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	CPU_ZERO(&two);
	for (int c = 0; c < CPU_SETSIZE && kept < 2; c++)
		if (CPU_ISSET(c, &set)) {
			CPU_SET(c, &two);
			kept++;
		}
	cr_assert_eq(sched_setaffinity(0, sizeof(two), &two), 0);
	ncpu = crew__default_threads();
	cr_assert(ncpu >= 1 && ncpu <= 2, "%u CPUs", ncpu);
	over = 4 * ncpu;
	p = pool_started(over, CREW_SLICE_US_AUTO);
	crew_pool_stats(p, &st);
	cr_assert_eq(st.slice_us, CREW_SLICE_US_OVERSUB);
	cr_assert_eq(st.slice_workers, has ? over : 0);
	for (unsigned i = 0; i < over; i++)
		cr_assert_eq(seen[i].runtime, has ?
		    (uint64_t)CREW_SLICE_US_OVERSUB * 1000 : mine,
		    "oversubscribed worker %u: %llu ns", i,
		    (unsigned long long)seen[i].runtime);
	pool_done(p);

	p = pool_started(ncpu, CREW_SLICE_US_AUTO);
	crew_pool_stats(p, &st);
	cr_assert_eq(st.slice_us, 0);
	cr_assert_eq(st.slice_workers, 0);
	for (unsigned i = 0; i < ncpu; i++)
		cr_assert_eq(seen[i].runtime, mine, "worker %u: %llu ns", i,
		    (unsigned long long)seen[i].runtime);
	pool_done(p);
}

/* A task of pool A (slice 20 ms) submits to a fresh pool B, whose first
 * worker the A worker's thread creates and so inherits 20 ms from.  B on
 * automatic (not oversubscribed) goes back to the kernel's default; B on
 * keep keeps what it inherited. */
static crew_pool *pool_b;
static struct sattr b_seen;
static _Atomic int b_ran;

static void
b_fn(crew_task *t)
{
	(void)t;
	b_seen = attr_now();
	atomic_store(&b_ran, 1);
}

static crew_task b_task;
static _Atomic int b_submit_rc;

static void
a_fn(crew_task *t)
{
	(void)t;
	b_task = (crew_task)CREW_TASK_INIT(b_fn);
	atomic_store(&b_submit_rc, crew_submit(pool_b, &b_task));
}

static void
inherit_case(unsigned b_slice, bool has, uint64_t want)
{
	crew_config cfg;
	crew_pool *a = NULL;
	crew_task t = CREW_TASK_INIT(a_fn);

	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = 1;
	cfg.slice_us = 20000;
	cr_assert_eq(crew_pool_create(&a, &cfg), 0);
	cfg.slice_us = b_slice;
	pool_b = NULL;
	cr_assert_eq(crew_pool_create(&pool_b, &cfg), 0);
	atomic_store(&b_ran, 0);
	atomic_store(&b_submit_rc, -1);
	t_watchdog(55);
	cr_assert_eq(crew_submit(a, &t), 0);
	cr_assert_eq(crew_pool_shutdown(a), 0);
	cr_assert_eq(crew_pool_shutdown(pool_b), 0);
	t_watchdog_off();
	cr_assert_eq(atomic_load(&b_submit_rc), 0);
	cr_assert_eq(atomic_load(&b_ran), 1);
	cr_assert_eq(b_seen.runtime, has ? want : 0,
	    "B (slice_us %u) runs with %llu ns", b_slice,
	    (unsigned long long)b_seen.runtime);
	cr_assert_eq(crew_pool_destroy(a), 0);
	cr_assert_eq(crew_pool_destroy(pool_b), 0);
}

Test(slice, worker_spawned_by_a_sliced_worker)
{
	bool has = kernel_has_slices();
	uint64_t mine = attr_now().runtime;

	inherit_case(CREW_SLICE_US_AUTO, has, mine);
	inherit_case(CREW_SLICE_US_KEEP, has, 20000000);
	inherit_case(500, has, 500000);
}
