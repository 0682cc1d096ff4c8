/* SPDX-License-Identifier: MIT */
/*
 * The public API (include/crew.h): every error path (NULL arguments,
 * malformed batches, EAGAIN when no thread can start, ESHUTDOWN after
 * shutdown, EDEADLK from inside a task), the batch helpers, strerror,
 * version, configuration defaults and clamping, lazy thread start, worker
 * index, thread names, hooks, stack size, self-resubmission, and the
 * counters after known workloads.
 *
 * Checks made on worker threads are recorded in atomics and asserted on
 * the test thread; pools are drained with crew_pool_shutdown() before
 * results are read.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crew.h"
#include "internal.h"
#include "support.h"

TestSuite(api, .timeout = 60);

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

struct ctask {
	crew_task task;
	_Atomic unsigned runs;
};

static void
count_fn(crew_task *t)
{
	struct ctask *c = crew_container_of(t, struct ctask, task);

	atomic_fetch_add(&c->runs, 1);
}

static void
ctask_init(struct ctask *c)
{
	c->task.fn = count_fn;
	c->task.next = NULL;
	atomic_init(&c->runs, 0);
}

static crew_pool *
pool_new(const crew_config *cfg)
{
	crew_pool *p = NULL;

	cr_assert_eq(crew_pool_create(&p, cfg), 0);
	cr_assert_not_null(p);
	t_watchdog(55);
	t_watch_pool(p);
	return p;
}

static crew_pool *
pool_with(unsigned max_threads)
{
	crew_config cfg;

	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = max_threads;
	return pool_new(&cfg);
}

static void
pool_free(crew_pool *p)
{
	t_watchdog_off();
	cr_assert_eq(crew_pool_destroy(p), 0);
}

static crew_stats
stats_of(crew_pool *p)
{
	crew_stats s;

	memset(&s, 0xab, sizeof(s));
	crew_pool_stats(p, &s);
	return s;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Waits (yielding) until *v >= want or `secs` pass; returns *v. */
static unsigned
wait_at_least(_Atomic unsigned *v, unsigned want, double secs)
{
	double end = now_s() + secs;
	unsigned x;

	while ((x = atomic_load(v)) < want && now_s() < end)
		sched_yield();
	return x;
}

/* Asserts that no worker thread exists and none was ever created. */
static void
expect_no_thread(crew_pool *p)
{
	crew_stats s = stats_of(p);

	cr_assert_eq(s.threads_spawned, 0, "a worker was started");
	cr_assert_eq(s.threads_live, 0);
	cr_assert_eq(t_create_calls(), 0, "pthread_create was called %u times",
	    t_create_calls());
}

/* ------------------------------------------------------------------ */
/* Creation and configuration.                                         */

Test(api, create_null_out_is_einval, .timeout = 60)
{
	crew_config cfg;

	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(crew_pool_create(NULL, NULL), CREW_EINVAL);
	cr_assert_eq(crew_pool_create(NULL, &cfg), CREW_EINVAL);
}

Test(api, create_with_null_cfg_uses_defaults, .timeout = 60)
{
	crew_pool *p;
	crew_stats s;

	t_fail_create(0, 0, 0);
	p = pool_new(NULL);
	s = stats_of(p);
	cr_assert_eq(s.max_threads, crew__default_threads());
	cr_assert(s.max_threads >= 1 && s.max_threads <= CREW_MAX_THREADS);
	expect_no_thread(p);
	pool_free(p);
}

Test(api, config_init_defaults, .timeout = 60)
{
	crew_config cfg;

	cr_assert_eq(crew_config_init(NULL), CREW_EINVAL);
	memset(&cfg, 0xab, sizeof(cfg));
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.max_threads, 0);
	cr_assert_eq(cfg.stack_size, 0);
	cr_assert_not_null(cfg.name_prefix);
	cr_assert_str_eq(cfg.name_prefix, "crew-");
	cr_assert_null(cfg.on_thread_start);
	cr_assert_null(cfg.on_thread_stop);
	cr_assert_null(cfg.hook_ctx);
	for (size_t i = 0; i < sizeof(cfg.reserved) / sizeof(cfg.reserved[0]); i++)
		cr_assert_null(cfg.reserved[i], "reserved[%zu] not zeroed", i);
}

/* spin_us: the default, CREW_SPIN_US overrides it
 * when it is a decimal in range, and pool creation refuses too much. */
Test(api, spin_us_default_env_and_limit, .timeout = 60)
{
	const char *bad[] = { "", "x", "12x", "-1", " 5", "1000001",
		"99999999999999999999" };
	unsigned want_default = CREW_SPIN_US_DEFAULT;
	crew_config cfg;
	crew_pool *p = NULL;

	cr_assert_eq(unsetenv("CREW_SPIN_US"), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.spin_us, want_default);
	cr_assert_eq(setenv("CREW_SPIN_US", "0", 1), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.spin_us, 0);
	cr_assert_eq(setenv("CREW_SPIN_US", "250", 1), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.spin_us, 250);
	cr_assert_eq(setenv("CREW_SPIN_US", "1000000", 1), 0);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cr_assert_eq(cfg.spin_us, CREW_SPIN_US_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(setenv("CREW_SPIN_US", bad[i], 1), 0);
		cr_assert_eq(crew_config_init(&cfg), 0);
		cr_assert_eq(cfg.spin_us, want_default, "CREW_SPIN_US=\"%s\"",
		    bad[i]);
	}
	cr_assert_eq(unsetenv("CREW_SPIN_US"), 0);

	cfg.spin_us = CREW_SPIN_US_MAX + 1;
	cr_assert_eq(crew_pool_create(&p, &cfg), CREW_EINVAL);
	cr_assert_null(p);
	cfg.spin_us = CREW_SPIN_US_MAX;
	cr_assert_eq(crew_pool_create(&p, &cfg), 0);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

Test(api, max_threads_is_clamped, .timeout = 60)
{
	const unsigned in[] = { 100000, CREW_MAX_THREADS + 1, UINT_MAX,
		CREW_MAX_THREADS, 3, 1 };
	const unsigned out[] = { CREW_MAX_THREADS, CREW_MAX_THREADS,
		CREW_MAX_THREADS, CREW_MAX_THREADS, 3, 1 };

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		crew_pool *p = pool_with(in[i]);

		cr_assert_eq(stats_of(p).max_threads, out[i],
		    "max_threads %u -> %u, want %u", in[i],
		    stats_of(p).max_threads, out[i]);
		pool_free(p);
	}
}

Test(api, max_threads_zero_means_cpus, .timeout = 60)
{
	crew_pool *p = pool_with(0);
	crew_stats s = stats_of(p);
	struct ctask c;

	cr_assert(s.max_threads >= 1, "max_threads 0 gave %u", s.max_threads);
	cr_assert(s.max_threads <= CREW_MAX_THREADS);
	cr_assert_eq(s.max_threads, crew__default_threads());
	/* ...and the pool works. */
	ctask_init(&c);
	cr_assert_eq(crew_submit(p, &c.task), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&c.runs), 1);
	pool_free(p);
}

Test(api, create_destroy_starts_no_thread, .timeout = 60)
{
	crew_pool *p;

	t_fail_create(0, 0, 0);
	p = pool_with(4);
	expect_no_thread(p);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	expect_no_thread(p);
	pool_free(p);
	cr_assert_eq(t_create_calls(), 0);
}

/* ------------------------------------------------------------------ */
/* Submission errors.                                                  */

Test(api, null_arguments_are_einval, .timeout = 60)
{
	crew_pool *p;
	struct ctask c;
	crew_task nofn = CREW_TASK_INIT(NULL);
	crew_batch b = CREW_BATCH_INIT;

	t_fail_create(0, 0, 0);
	p = pool_with(2);
	ctask_init(&c);
	cr_assert_eq(crew_batch_push(&b, &c.task), 0);
	/* (A NULL pool means the global pool: see null_pool_is_global.) */
	cr_assert_eq(crew_submit(p, NULL), CREW_EINVAL);
	cr_assert_eq(crew_submit(p, &nofn), CREW_EINVAL);
	cr_assert_eq(crew_submit(NULL, NULL), CREW_EINVAL);
	cr_assert_eq(crew_submit(NULL, &nofn), CREW_EINVAL);
	cr_assert_eq(crew_pool_shutdown(NULL), CREW_EINVAL);
	cr_assert_eq(crew_pool_destroy(NULL), CREW_EINVAL);
	cr_assert_eq(crew_worker_index(NULL), -1);
	/* Stats with NULL arguments do nothing (and do not crash). */
	crew_pool_stats(NULL, NULL);
	crew_pool_stats(p, NULL);
	{
		crew_stats s;

		memset(&s, 0x5a, sizeof(s));
		crew_pool_stats(NULL, &s);
		cr_assert_eq(s.tasks_run, 0x5a5a5a5a5a5a5a5aull);
	}
	expect_no_thread(p);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&c.runs), 0);
	pool_free(p);
}

/* A NULL pool argument to crew_submit / crew_schedule means crew_global(). */
struct gprobe {
	crew_task task;
	_Atomic int idx;
	char name[32];
};

static void
gprobe_fn(crew_task *t)
{
	struct gprobe *g = crew_container_of(t, struct gprobe, task);

	if (pthread_getname_np(pthread_self(), g->name, sizeof(g->name)) != 0)
		strcpy(g->name, "?");
	atomic_store(&g->idx, crew_worker_index(crew_global()));
}

Test(api, null_pool_is_global, .timeout = 60)
{
	struct gprobe g[3];
	struct ctask bad;
	crew_batch b = CREW_BATCH_INIT;
	crew_pool *gp;

	for (int i = 0; i < 3; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		g[i].task.fn = gprobe_fn;
		atomic_init(&g[i].idx, -2);
	}
	ctask_init(&bad);
	cr_assert_eq(crew_submit(NULL, &g[0].task), 0);
	cr_assert_eq(crew_batch_push(&b, &g[1].task), 0);
	cr_assert_eq(crew_batch_push(&b, &g[2].task), 0);
	cr_assert_eq(crew_schedule(NULL, b), 0);
	/* Malformed batches are still refused. */
	bad.task.next = &g[0].task;
	cr_assert_eq(crew_schedule(NULL, (crew_batch){ &bad.task, &bad.task, 1 }),
	    CREW_EINVAL);
	cr_assert_eq(crew_schedule(NULL, (crew_batch){ NULL, NULL, 1 }),
	    CREW_EINVAL);
	cr_assert_eq(crew_schedule(NULL, (crew_batch)CREW_BATCH_INIT), 0);
	gp = crew_global();
	cr_assert_not_null(gp);
	cr_assert_eq(crew_global(), gp, "crew_global() changed");
	cr_assert_eq(crew_pool_shutdown(gp), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert(atomic_load(&g[i].idx) >= 0,
		    "task %d did not run on a global worker", i);
		cr_assert_eq(strncmp(g[i].name, "crew-g", 6), 0,
		    "global worker named \"%s\"", g[i].name);
	}
	cr_assert_eq(stats_of(gp).tasks_run, 3);
	cr_assert_eq(atomic_load(&bad.runs), 0);
	cr_assert_eq(crew_global_shutdown(), 0);
}

/* crew_global_shutdown from a task of the global pool: CREW_EDEADLK, and
 * the pool goes on; from outside it then shuts down. */
struct gkill {
	crew_task task;
	atomic_int rc;
	_Atomic unsigned done;
};

static void
gkill_fn(crew_task *t)
{
	struct gkill *k = (struct gkill *)t;

	atomic_store(&k->rc, crew_global_shutdown());
	atomic_store(&k->done, 1);
}

Test(api, global_shutdown_from_global_task_is_edeadlk, .timeout = 30)
{
	struct gkill k;
	struct ctask after;

	memset(&k, 0, sizeof(k));
	k.task.fn = gkill_fn;
	atomic_init(&k.rc, 1);
	cr_assert_eq(crew_submit(NULL, &k.task), 0);
	cr_assert_eq(wait_at_least(&k.done, 1, 20), 1, "the task did not finish");
	cr_assert_eq(atomic_load(&k.rc), CREW_EDEADLK);
	ctask_init(&after);
	cr_assert_eq(crew_submit(NULL, &after.task), 0);
	cr_assert_eq(crew_global_shutdown(), 0);
	cr_assert_eq(atomic_load(&after.runs), 1);
}

Test(api, malformed_batches_are_einval, .timeout = 60)
{
	struct ctask a, b, c;
	crew_task nofn = CREW_TASK_INIT(NULL), nofn2 = CREW_TASK_INIT(NULL);
	crew_pool *p;
	crew_batch bad[13];
	size_t n = 0;

	t_fail_create(0, 0, 0);
	p = pool_with(2);
	ctask_init(&a);
	ctask_init(&b);
	ctask_init(&c);
	/* len > 0 with a NULL end. */
	bad[n++] = (crew_batch){ NULL, NULL, 1 };
	bad[n++] = (crew_batch){ NULL, &a.task, 1 };
	bad[n++] = (crew_batch){ &a.task, NULL, 1 };
	bad[n++] = (crew_batch){ NULL, &a.task, 2 };
	/* len 0 with a non-NULL end. */
	bad[n++] = (crew_batch){ &a.task, &a.task, 0 };
	bad[n++] = (crew_batch){ &a.task, NULL, 0 };
	bad[n++] = (crew_batch){ NULL, &a.task, 0 };
	/* len 1 with head != tail, len 2 with head == tail. */
	bad[n++] = (crew_batch){ &a.task, &b.task, 1 };
	bad[n++] = (crew_batch){ &a.task, &a.task, 2 };
	for (size_t i = 0; i < n; i++) {
		a.task.next = &b.task;
		b.task.next = NULL;
		cr_assert_eq(crew_schedule(p, bad[i]), CREW_EINVAL,
		    "malformed batch %zu accepted", i);
	}
	/* tail->next != NULL. */
	a.task.next = &b.task;
	b.task.next = &c.task;
	cr_assert_eq(crew_schedule(p, (crew_batch){ &a.task, &b.task, 2 }),
	    CREW_EINVAL);
	a.task.next = &c.task;
	cr_assert_eq(crew_schedule(p, (crew_batch){ &a.task, &a.task, 1 }),
	    CREW_EINVAL);
	/* A NULL fn at either end. */
	nofn.next = &a.task;
	a.task.next = NULL;
	cr_assert_eq(crew_schedule(p, (crew_batch){ &nofn, &a.task, 2 }),
	    CREW_EINVAL);
	a.task.next = &nofn2;
	cr_assert_eq(crew_schedule(p, (crew_batch){ &a.task, &nofn2, 2 }),
	    CREW_EINVAL);
	cr_assert_eq(crew_schedule(p, (crew_batch){ &nofn2, &nofn2, 1 }),
	    CREW_EINVAL);
	/* A NULL fn in the middle, and a len longer or shorter than the
	 * chain: the whole batch is checked, not only its ends. */
	a.task.next = &nofn;
	nofn.next = &b.task;
	b.task.next = NULL;
	cr_assert_eq(crew_schedule(p, (crew_batch){ &a.task, &b.task, 3 }),
	    CREW_EINVAL);
	a.task.next = &c.task;
	c.task.next = &b.task;
	cr_assert_eq(crew_schedule(p, (crew_batch){ &a.task, &b.task, 4 }),
	    CREW_EINVAL);
	cr_assert_eq(crew_schedule(p, (crew_batch){ &a.task, &b.task, 2 }),
	    CREW_EINVAL);
	/* Nothing was queued and no thread started. */
	expect_no_thread(p);
	cr_assert_eq(atomic_load(&a.runs) + atomic_load(&b.runs) +
	    atomic_load(&c.runs), 0);
	/* The caller still owns the tasks: a well-formed batch of them runs
	 * each exactly once. */
	{
		crew_batch ok = CREW_BATCH_INIT;

		cr_assert_eq(crew_batch_push(&ok, &a.task), 0);
		cr_assert_eq(crew_batch_push(&ok, &b.task), 0);
		cr_assert_eq(crew_batch_push(&ok, &c.task), 0);
		cr_assert_eq(crew_schedule(p, ok), 0);
	}
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&a.runs), 1);
	cr_assert_eq(atomic_load(&b.runs), 1);
	cr_assert_eq(atomic_load(&c.runs), 1);
	pool_free(p);
}

/*
 * crew_schedule checks a chain whose tasks sit at a constant stride by
 * computing each next address and comparing the link with it (pool.c,
 * batch_ok): every kind of break in such a chain must still be found,
 * wherever it is, and a chain in any order must still be accepted.
 */
static void
link_order(struct ctask *c, const size_t *order, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ctask_init(&c[order[i]]);
		c[order[i]].task.next = i + 1 < n ? &c[order[i + 1]].task : NULL;
	}
}

Test(api, schedule_checks_chains_in_any_layout, .timeout = 60)
{
	enum { N = 1000 };
	struct ctask *c = calloc(N, sizeof(*c));
	size_t *order = calloc(N, sizeof(*order));
	crew_pool *p;

	cr_assert(c != NULL && order != NULL);
	t_fail_create(0, 0, 0);
	p = pool_with(2);
	for (size_t i = 0; i < N; i++)
		order[i] = i;
	/* Breaks in an ascending chain, near its start, middle and end. */
	for (size_t at = 1; at < N - 1; at += 499) {
		link_order(c, order, N);
		c[at].task.fn = NULL;
		cr_assert_eq(crew_schedule(p, (crew_batch){ &c[0].task,
		    &c[N - 1].task, N }), CREW_EINVAL, "NULL fn at %zu", at);
		link_order(c, order, N);
		c[at].task.next = &c[at + 2].task;	/* skips one */
		cr_assert_eq(crew_schedule(p, (crew_batch){ &c[0].task,
		    &c[N - 1].task, N }), CREW_EINVAL, "skip at %zu", at);
		link_order(c, order, N);
		c[at].task.next = &c[at / 2].task;	/* a cycle */
		cr_assert_eq(crew_schedule(p, (crew_batch){ &c[0].task,
		    &c[N - 1].task, N }), CREW_EINVAL, "cycle at %zu", at);
		link_order(c, order, N);
		c[at].task.next = NULL;			/* ends early */
		cr_assert_eq(crew_schedule(p, (crew_batch){ &c[0].task,
		    &c[N - 1].task, N }), CREW_EINVAL, "end at %zu", at);
	}
	link_order(c, order, N);
	cr_assert_eq(crew_schedule(p, (crew_batch){ &c[0].task,
	    &c[N - 1].task, N + 1 }), CREW_EINVAL, "len too long");
	cr_assert_eq(crew_schedule(p, (crew_batch){ &c[0].task,
	    &c[N - 1].task, N - 1 }), CREW_EINVAL, "len too short");
	cr_assert_eq(crew_schedule(p, (crew_batch){ &c[0].task,
	    &c[N - 2].task, N - 1 }), CREW_EINVAL, "tail not at the end");
	expect_no_thread(p);
	/* Well formed: ascending, descending, and runs of alternating
	 * direction; each runs every task exactly once. */
	for (int shape = 0; shape < 3; shape++) {
		for (size_t i = 0; i < N; i++)
			order[i] = shape == 0 ? i : shape == 1 ? N - 1 - i :
			    (i / 10) * 10 + ((i / 10) % 2 ? 9 - i % 10 : i % 10);
		link_order(c, order, N);
		cr_assert_eq(crew_schedule(p, (crew_batch){ &c[order[0]].task,
		    &c[order[N - 1]].task, N }), 0, "shape %d", shape);
		for (size_t i = 0; i < N; i++)
			cr_assert_eq(wait_at_least(&c[i].runs, 1, 30), 1,
			    "shape %d: task %zu", shape, i);
	}
	pool_free(p);
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&c[i].runs), 1, "task %zu ran twice", i);
	free(order);
	free(c);
}

Test(api, empty_batch_is_ok_and_starts_nothing, .timeout = 60)
{
	crew_pool *p;

	t_fail_create(0, 0, 0);
	p = pool_with(2);
	cr_assert_eq(crew_schedule(p, (crew_batch)CREW_BATCH_INIT), 0);
	cr_assert_eq(crew_schedule(p, (crew_batch){ NULL, NULL, 0 }), 0);
	expect_no_thread(p);
	pool_free(p);
	cr_assert_eq(t_create_calls(), 0);
}

Test(api, eagain_when_no_thread_can_start, .timeout = 60)
{
	crew_pool *p;
	struct ctask a, b;
	crew_batch batch = CREW_BATCH_INIT;
	crew_stats s;

	p = pool_with(2);
	ctask_init(&a);
	ctask_init(&b);
	t_fail_create(1, 1, 0); /* every pthread_create fails */
	cr_assert_eq(crew_submit(p, &a.task), CREW_EAGAIN);
	cr_assert_eq(crew_batch_push(&batch, &a.task), 0);
	cr_assert_eq(crew_batch_push(&batch, &b.task), 0);
	cr_assert_eq(crew_schedule(p, batch), CREW_EAGAIN);
	s = stats_of(p);
	cr_assert_eq(s.threads_spawned, 0);
	cr_assert_eq(s.threads_live, 0, "a failed spawn kept its reservation");
	cr_assert_eq(s.spawn_failures, 2);
	cr_assert_eq(s.global_pushes, 0);
	cr_assert(t_create_calls() >= 2);
	/* Once threads can start again, the same tasks are accepted. */
	t_fail_create(0, 0, 0);
	batch = (crew_batch)CREW_BATCH_INIT;
	cr_assert_eq(crew_batch_push(&batch, &a.task), 0);
	cr_assert_eq(crew_batch_push(&batch, &b.task), 0);
	cr_assert_eq(crew_schedule(p, batch), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&a.runs), 1);
	cr_assert_eq(atomic_load(&b.runs), 1);
	s = stats_of(p);
	cr_assert(s.threads_spawned >= 1);
	cr_assert_eq(s.tasks_run, 2);
	pool_free(p);
}

/* ------------------------------------------------------------------ */
/* Batches.                                                            */

Test(api, batch_push_semantics, .timeout = 60)
{
	struct ctask a, b;
	crew_task nofn = CREW_TASK_INIT(NULL);
	crew_batch bt = CREW_BATCH_INIT;

	ctask_init(&a);
	ctask_init(&b);
	cr_assert_eq(crew_batch_push(NULL, &a.task), CREW_EINVAL);
	cr_assert_eq(crew_batch_push(&bt, NULL), CREW_EINVAL);
	cr_assert_eq(crew_batch_push(&bt, &nofn), CREW_EINVAL);
	cr_assert(bt.head == NULL && bt.tail == NULL && bt.len == 0,
	    "a refused push changed the batch");
	/* A stale next is cleared. */
	a.task.next = &b.task;
	cr_assert_eq(crew_batch_push(&bt, &a.task), 0);
	cr_assert(bt.head == &a.task && bt.tail == &a.task && bt.len == 1);
	cr_assert_null(a.task.next);
	b.task.next = &a.task;
	cr_assert_eq(crew_batch_push(&bt, &b.task), 0);
	cr_assert(bt.head == &a.task && bt.tail == &b.task && bt.len == 2);
	cr_assert_eq(a.task.next, &b.task);
	cr_assert_null(b.task.next);
	cr_assert_eq(crew_batch_push(&bt, &nofn), CREW_EINVAL);
	cr_assert(bt.head == &a.task && bt.tail == &b.task && bt.len == 2);
}

Test(api, batch_append_semantics, .timeout = 60)
{
	struct ctask t[5];
	crew_batch x = CREW_BATCH_INIT, y = CREW_BATCH_INIT;
	crew_batch empty = CREW_BATCH_INIT;
	crew_pool *p;

	for (int i = 0; i < 5; i++)
		ctask_init(&t[i]);
	cr_assert_eq(crew_batch_append(NULL, &x), CREW_EINVAL);
	cr_assert_eq(crew_batch_append(&x, NULL), CREW_EINVAL);
	/* empty + empty */
	cr_assert_eq(crew_batch_append(&x, &empty), 0);
	cr_assert(x.head == NULL && x.tail == NULL && x.len == 0);
	/* empty dst takes src whole */
	cr_assert_eq(crew_batch_push(&y, &t[0].task), 0);
	cr_assert_eq(crew_batch_push(&y, &t[1].task), 0);
	cr_assert_eq(crew_batch_append(&x, &y), 0);
	cr_assert(x.head == &t[0].task && x.tail == &t[1].task && x.len == 2);
	cr_assert(y.head == NULL && y.tail == NULL && y.len == 0,
	    "src not emptied");
	/* non-empty dst + empty src: unchanged */
	cr_assert_eq(crew_batch_append(&x, &y), 0);
	cr_assert(x.head == &t[0].task && x.tail == &t[1].task && x.len == 2);
	/* non-empty + non-empty: linked in order */
	cr_assert_eq(crew_batch_push(&y, &t[2].task), 0);
	cr_assert_eq(crew_batch_push(&y, &t[3].task), 0);
	cr_assert_eq(crew_batch_push(&y, &t[4].task), 0);
	cr_assert_eq(crew_batch_append(&x, &y), 0);
	cr_assert(x.head == &t[0].task && x.tail == &t[4].task && x.len == 5);
	cr_assert(y.head == NULL && y.tail == NULL && y.len == 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(t[i].task.next, &t[i + 1].task);
	cr_assert_null(t[4].task.next);
	/* The result is a well-formed batch. */
	p = pool_with(2);
	cr_assert_eq(crew_schedule(p, x), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(atomic_load(&t[i].runs), 1);
	pool_free(p);
}

/* Malformed batches given to the helpers: CREW_EINVAL, both batches left
 * as they were, never a crash or a silent drop (a batch appended to
 * itself used to become a cycle, then empty: schedule returned 0 and
 * nothing ran; a batch with a length but no tail crashed push/append). */
Test(api, batch_helpers_refuse_malformed, .timeout = 30)
{
	struct ctask t[3];
	crew_batch x = CREW_BATCH_INIT, y = CREW_BATCH_INIT;
	crew_batch bad_tail = { NULL, NULL, 3 }, bad_head = { NULL, NULL, 2 };
	crew_pool *p;

	for (int i = 0; i < 3; i++)
		ctask_init(&t[i]);
	cr_assert_eq(crew_batch_push(&x, &t[0].task), 0);
	cr_assert_eq(crew_batch_push(&x, &t[1].task), 0);
	cr_assert_eq(crew_batch_append(&x, &x), CREW_EINVAL, "self-append");
	cr_assert(x.head == &t[0].task && x.tail == &t[1].task && x.len == 2,
	    "self-append changed the batch");
	cr_assert_null(t[1].task.next, "self-append linked a cycle");
	cr_assert_eq(crew_batch_push(&bad_tail, &t[2].task), CREW_EINVAL);
	cr_assert_eq(bad_tail.len, 3);
	cr_assert_eq(crew_batch_append(&bad_tail, &x), CREW_EINVAL);
	cr_assert_eq(crew_batch_append(&y, &bad_head), CREW_EINVAL);
	bad_head.tail = &t[2].task;
	cr_assert_eq(crew_batch_append(&y, &bad_head), CREW_EINVAL);
	cr_assert(y.head == NULL && y.len == 0 && x.len == 2);
	/* x is still whole and runs once each. */
	p = pool_with(2);
	cr_assert_eq(crew_schedule(p, x), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&t[0].runs), 1);
	cr_assert_eq(atomic_load(&t[1].runs), 1);
	cr_assert_eq(atomic_load(&t[2].runs), 0);
	pool_free(p);
}

/* A stack size below PTHREAD_STACK_MIN is refused, not silently replaced
 * by the default. */
Test(api, tiny_stack_size_is_einval, .timeout = 30)
{
	crew_config cfg;
	crew_pool *p = NULL;

	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.stack_size = 1;
	cr_assert_eq(crew_pool_create(&p, &cfg), CREW_EINVAL);
	cr_assert_null(p);
	cfg.stack_size = (size_t)PTHREAD_STACK_MIN - 1;
	cr_assert_eq(crew_pool_create(&p, &cfg), CREW_EINVAL);
	cfg.stack_size = (size_t)PTHREAD_STACK_MIN;
	cr_assert_eq(crew_pool_create(&p, &cfg), 0);
	cr_assert_eq(crew_pool_destroy(p), 0);
}

/* ------------------------------------------------------------------ */
/* Errors and version.                                                 */

Test(api, strerror_every_code, .timeout = 60)
{
	static const struct {
		int code;
		const char *text;
	} known[] = {
		{ 0, NULL },
#define ROW(name, value, text) { CREW_##name, text },
		CREW_ERRNO_MAP(ROW)
#undef ROW
	};
	const size_t nk = sizeof(known) / sizeof(known[0]);
	const int unknown[] = { 1, -1, -2, -4096, 12345, INT_MIN, INT_MAX };
	const char *u0 = crew_strerror(unknown[0]);

	/* The codes are negative errno values. */
	cr_assert_eq(CREW_OK, 0);
	cr_assert_eq(CREW_EINVAL, -EINVAL);
	cr_assert_eq(CREW_ENOMEM, -ENOMEM);
	cr_assert_eq(CREW_EAGAIN, -EAGAIN);
	cr_assert_eq(CREW_ESHUTDOWN, -ESHUTDOWN);
	cr_assert_eq(CREW_EDEADLK, -EDEADLK);
	cr_assert_eq(nk, 6, "a new error code needs a test");
	for (size_t i = 0; i < nk; i++) {
		const char *s = crew_strerror(known[i].code);

		cr_assert_not_null(s, "strerror(%d) is NULL", known[i].code);
		cr_assert(s[0] != '\0', "strerror(%d) is empty", known[i].code);
		if (known[i].text != NULL)
			cr_assert_str_eq(s, known[i].text);
		cr_assert_str_neq(s, u0, "strerror(%d) is the unknown text",
		    known[i].code);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(s, crew_strerror(known[j].code),
			    "codes %d and %d share a text", known[i].code,
			    known[j].code);
	}
	cr_assert_not_null(u0);
	cr_assert(u0[0] != '\0');
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		cr_assert_str_eq(crew_strerror(unknown[i]), u0,
		    "code %d", unknown[i]);
}

Test(api, version, .timeout = 60)
{
	char want[32];

	cr_assert_eq(crew_version(), CREW_VERSION_HEX);
	cr_assert_eq(CREW_VERSION_HEX, (unsigned)((CREW_VERSION_MAJOR << 16) |
	    (CREW_VERSION_MINOR << 8) | CREW_VERSION_PATCH));
	snprintf(want, sizeof(want), "%d.%d.%d", CREW_VERSION_MAJOR,
	    CREW_VERSION_MINOR, CREW_VERSION_PATCH);
	cr_assert_not_null(crew_version_string());
	cr_assert_str_eq(crew_version_string(), want);
}

/* ------------------------------------------------------------------ */
/* Lifecycle.                                                          */

Test(api, submit_after_shutdown_never_started, .timeout = 60)
{
	crew_pool *p;
	struct ctask a, b;
	crew_batch batch = CREW_BATCH_INIT;

	t_fail_create(0, 0, 0);
	p = pool_with(2);
	ctask_init(&a);
	ctask_init(&b);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(crew_submit(p, &a.task), CREW_ESHUTDOWN);
	cr_assert_eq(crew_batch_push(&batch, &a.task), 0);
	cr_assert_eq(crew_batch_push(&batch, &b.task), 0);
	cr_assert_eq(crew_schedule(p, batch), CREW_ESHUTDOWN);
	/* An empty batch is still 0. */
	cr_assert_eq(crew_schedule(p, (crew_batch)CREW_BATCH_INIT), 0);
	expect_no_thread(p);
	cr_assert_eq(stats_of(p).global_pushes, 0);
	pool_free(p);
	cr_assert_eq(atomic_load(&a.runs), 0);
	cr_assert_eq(atomic_load(&b.runs), 0);
}

Test(api, submit_after_shutdown_after_work, .timeout = 60)
{
	crew_pool *p = pool_with(2);
	struct ctask first, late, late2;
	crew_batch batch = CREW_BATCH_INIT;
	crew_stats s;

	ctask_init(&first);
	ctask_init(&late);
	ctask_init(&late2);
	cr_assert_eq(crew_submit(p, &first.task), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&first.runs), 1);
	cr_assert_eq(crew_submit(p, &late.task), CREW_ESHUTDOWN);
	cr_assert_eq(crew_batch_push(&batch, &late.task), 0);
	cr_assert_eq(crew_batch_push(&batch, &late2.task), 0);
	cr_assert_eq(crew_schedule(p, batch), CREW_ESHUTDOWN);
	s = stats_of(p);
	cr_assert_eq(s.tasks_run, 1);
	cr_assert_eq(s.global_pushes, 1);
	cr_assert_eq(s.threads_live, 0, "workers still live after shutdown");
	pool_free(p);
	cr_assert_eq(atomic_load(&late.runs), 0);
	cr_assert_eq(atomic_load(&late2.runs), 0);
}

Test(api, shutdown_twice_returns_zero, .timeout = 60)
{
	crew_pool *p = pool_with(2);
	struct ctask a;

	ctask_init(&a);
	cr_assert_eq(crew_submit(p, &a.task), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&a.runs), 1);
	pool_free(p); /* destroy after shutdown: 0 */
}

/* EDEADLK: a task calls shutdown and destroy on its own pool. */
struct selfkill {
	crew_task task;
	crew_pool *pool, *other;
	_Atomic int rc_shutdown, rc_destroy, rc_other, idx;
	_Atomic unsigned done;
};

static void
selfkill_fn(crew_task *t)
{
	struct selfkill *k = crew_container_of(t, struct selfkill, task);

	atomic_store(&k->idx, crew_worker_index(k->pool));
	atomic_store(&k->rc_shutdown, crew_pool_shutdown(k->pool));
	atomic_store(&k->rc_destroy, crew_pool_destroy(k->pool));
	/* Another pool may be shut down from here. */
	if (k->other != NULL)
		atomic_store(&k->rc_other, crew_pool_shutdown(k->other));
	atomic_store(&k->done, 1);
}

Test(api, shutdown_and_destroy_from_own_task_are_edeadlk, .timeout = 60)
{
	crew_pool *p = pool_with(2), *other = NULL;
	struct selfkill k;
	struct ctask after;

	cr_assert_eq(crew_pool_create(&other, NULL), 0);
	memset(&k, 0, sizeof(k));
	k.task.fn = selfkill_fn;
	k.pool = p;
	k.other = other;
	atomic_init(&k.rc_shutdown, 1);
	atomic_init(&k.rc_destroy, 1);
	atomic_init(&k.rc_other, 1);
	atomic_init(&k.idx, -2);
	atomic_init(&k.done, 0);
	cr_assert_eq(crew_submit(p, &k.task), 0);
	cr_assert_eq(wait_at_least(&k.done, 1, 30), 1, "the task did not finish");
	cr_assert_eq(atomic_load(&k.rc_shutdown), CREW_EDEADLK);
	cr_assert_eq(atomic_load(&k.rc_destroy), CREW_EDEADLK);
	cr_assert_eq(atomic_load(&k.rc_other), 0);
	cr_assert(atomic_load(&k.idx) >= 0);
	/* The pool was neither shut down nor freed: it still takes work. */
	ctask_init(&after);
	cr_assert_eq(crew_submit(p, &after.task), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&after.runs), 1);
	cr_assert_eq(stats_of(p).tasks_run, 2);
	pool_free(p);
	cr_assert_eq(crew_submit(other, &after.task), CREW_ESHUTDOWN);
	cr_assert_eq(crew_pool_destroy(other), 0);
}

/* ------------------------------------------------------------------ */
/* Inside tasks: index, name, stack.                                   */

struct probe {
	crew_task task;
	crew_pool *pool, *other;
	_Atomic int idx, other_idx;
	char name[32];
	size_t stack;
	_Atomic unsigned done;
};

static void
probe_fn(crew_task *t)
{
	struct probe *pr = crew_container_of(t, struct probe, task);
	pthread_attr_t attr;

	atomic_store(&pr->idx, crew_worker_index(pr->pool));
	atomic_store(&pr->other_idx, crew_worker_index(pr->other));
	if (pthread_getname_np(pthread_self(), pr->name, sizeof(pr->name)) != 0)
		strcpy(pr->name, "?getname failed");
	pr->stack = 0;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		(void)pthread_attr_getstacksize(&attr, &pr->stack);
		pthread_attr_destroy(&attr);
	}
	atomic_store(&pr->done, 1);
}

static void
probe_init(struct probe *pr, crew_pool *p, crew_pool *other)
{
	memset(pr, 0, sizeof(*pr));
	pr->task.fn = probe_fn;
	pr->pool = p;
	pr->other = other;
	atomic_init(&pr->idx, -2);
	atomic_init(&pr->other_idx, -2);
	atomic_init(&pr->done, 0);
}

Test(api, worker_index_inside_and_outside, .timeout = 60)
{
	enum { N = 64, MAX = 3 };
	crew_pool *p = pool_with(MAX), *other = pool_with(1);
	struct probe *pr = calloc(N, sizeof(*pr));
	crew_batch b = CREW_BATCH_INIT;

	cr_assert_not_null(pr);
	t_watch_pool(p);
	cr_assert_eq(crew_worker_index(p), -1);
	cr_assert_eq(crew_worker_index(other), -1);
	for (int i = 0; i < N; i++) {
		probe_init(&pr[i], p, other);
		cr_assert_eq(crew_batch_push(&b, &pr[i].task), 0);
	}
	cr_assert_eq(crew_schedule(p, b), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	for (int i = 0; i < N; i++) {
		int idx = atomic_load(&pr[i].idx);

		cr_assert_eq(atomic_load(&pr[i].done), 1);
		cr_assert(idx >= 0 && idx < MAX, "task %d saw index %d", i, idx);
		cr_assert((uint64_t)idx < stats_of(p).threads_spawned);
		cr_assert_eq(atomic_load(&pr[i].other_idx), -1,
		    "a worker of one pool has an index in another");
	}
	cr_assert_eq(crew_worker_index(p), -1);
	free(pr);
	t_watchdog_off();
	cr_assert_eq(crew_pool_destroy(other), 0);
	pool_free(p);
}

static void
check_names(const char *prefix, const char *want_prefix, bool exact_index)
{
	enum { N = 16 };
	crew_config cfg;
	crew_pool *p;
	struct probe *pr = calloc(N, sizeof(*pr));
	crew_batch b = CREW_BATCH_INIT;

	cr_assert_not_null(pr);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = 4;
	if (prefix != NULL)
		cfg.name_prefix = prefix;
	p = pool_new(&cfg);
	for (int i = 0; i < N; i++) {
		probe_init(&pr[i], p, NULL);
		cr_assert_eq(crew_batch_push(&b, &pr[i].task), 0);
	}
	cr_assert_eq(crew_schedule(p, b), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	for (int i = 0; i < N; i++) {
		char want[64];

		cr_assert_eq(atomic_load(&pr[i].done), 1);
		cr_assert_eq(strncmp(pr[i].name, want_prefix, strlen(want_prefix)),
		    0, "thread name \"%s\" does not start with \"%s\"",
		    pr[i].name, want_prefix);
		cr_assert(strlen(pr[i].name) <= 15);
		if (exact_index) {
			snprintf(want, sizeof(want), "%s%d", want_prefix,
			    atomic_load(&pr[i].idx));
			cr_assert_str_eq(pr[i].name, want);
		}
	}
	free(pr);
	pool_free(p);
}

Test(api, thread_names_use_prefix, .timeout = 60)
{
	check_names("tst-", "tst-", true);
}

Test(api, thread_names_default_prefix, .timeout = 60)
{
	check_names(NULL, "crew-", true);
}

Test(api, thread_names_long_prefix_is_cut, .timeout = 60)
{
	check_names("abcdefghijklmnopqrstuvwxyz", "abcdefghijklmno", false);
}

Test(api, stack_size_is_honoured, .timeout = 60)
{
	const size_t want = (16u << 20) + (64u << 10);
	crew_config cfg;
	crew_pool *p;
	struct probe pr;

	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = 1;
	cfg.stack_size = want;
	p = pool_new(&cfg);
	probe_init(&pr, p, NULL);
	cr_assert_eq(crew_submit(p, &pr.task), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&pr.done), 1);
	cr_assert(pr.stack >= want, "worker stack %zu < requested %zu",
	    pr.stack, want);
	pool_free(p);
}

/*
 * Stack marks: a helping wait below stack_end (the last eighth of the
 * stack, at least 8 KiB) goes on on a relay at once, and it must also
 * count as deep there, since only deep waits relay.  On a 16 KiB stack
 * the deep mark sat at half, 2-3 KiB above stack_end, and a wait between
 * the two ran its child nested instead; the next wait landed so near the
 * bottom that the relay's first calls through the PLT overflowed
 * (conc/for_small_stacks, once in about 700 runs under load).  Here a
 * task descends to just below stack_end and waits for a child it pushed:
 * the wait must relay, on each stack size, and on the smallest the old
 * marks ran the child nested (no relay).  The relay path must also leave
 * most of the last 8 KiB to the tasks' frames, the first time too.
 */
struct mark_probe {
	crew_task task, child;
	crew_wg wg;
	uintptr_t half, end, frame, lo, lowest;
	_Atomic int child_ran;
	int depth;
};

/* The lowest address of the calling thread's stack; 0 if unknown. */
static uintptr_t
stack_bottom(void)
{
	pthread_attr_t a;
	void *lo;
	size_t size;
	uintptr_t r = 0;

	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &lo, &size) == 0)
			r = (uintptr_t)lo;
		pthread_attr_destroy(&a);
	}
	return r;
}

#define MARK_FILL 0xa5
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define MARK_ASAN 1
#endif

/* Fills the stack from `from` up to 256 bytes below its own frame: no
 * call (clang's ASan memset took 2.4 KiB of stack below its caller), no
 * instrumentation of those bytes. */
static __attribute__((noinline))
void
mark_fill(uintptr_t from)
{
	uintptr_t to = (uintptr_t)__builtin_frame_address(0) - 256;

	for (volatile unsigned char *b = (volatile unsigned char *)from;
	    (uintptr_t)b < to; b++)
		*b = MARK_FILL;
}

static void
mark_child_fn(crew_task *t)
{
	struct mark_probe *mp = crew_container_of(t, struct mark_probe, child);

	atomic_store(&mp->child_ran, 1);
	crew_wg_done(&mp->wg);
}

static __attribute__((noinline)) void
mark_descend(struct mark_probe *mp, int depth)
{
	volatile char pad[96];

	pad[0] = (char)depth;
	if ((uintptr_t)__builtin_frame_address(0) + 256 > mp->end) {
		mark_descend(mp, depth + 1);
	} else {
		mp->frame = (uintptr_t)__builtin_frame_address(0);
		mp->depth = depth;
		crew_wg_add(&mp->wg, 1);
		(void)crew_submit(crew__tls_worker->pool, &mp->child);
		(void)crew_wg_wait(&mp->wg);
	}
	pad[1] = pad[0];	/* no tail call: the frame stays */
}

static void
mark_fn(crew_task *t)
{
	struct mark_probe *mp = crew_container_of(t, struct mark_probe, task);

	mp->half = crew__tls_worker->stack_half;
	mp->end = crew__tls_worker->stack_end;
	if (mp->end == 0 || mp->half == 0)
		return;
	/* The stack below us, filled, then how deep the wait reached (not
	 * under ASan: its frames differ, and it polices the stack's bytes) */
#if !defined(MARK_ASAN)
	mp->lo = stack_bottom();
#endif
	if (mp->lo != 0)
		mark_fill(mp->lo + 64);
	mark_descend(mp, 0);
	if (mp->lo != 0) {
		uintptr_t x = mp->lo + 64;

		while (*(volatile unsigned char *)x == MARK_FILL)
			x++;
		mp->lowest = x;
	}
}

Test(api, wait_past_stack_end_relays, .timeout = 60)
{
	size_t stacks[3] = { (size_t)PTHREAD_STACK_MIN, 24576, 65536 };

	for (int s = 0; s < 3; s++) {
		crew_config cfg;
		crew_pool *p;
		struct mark_probe mp;
		crew_stats st;

		memset(&mp, 0, sizeof(mp));
		mp.task.fn = mark_fn;
		mp.child.fn = mark_child_fn;
		crew_wg_init(&mp.wg);
		cr_assert_eq(crew_config_init(&cfg), 0);
		cfg.max_threads = 1;
#if defined(MARK_ASAN)
		/* ASan's redzones make every frame about three times larger */
		cfg.stack_size = stacks[s] * 4;
#else
		cfg.stack_size = stacks[s];
#endif
		p = pool_new(&cfg);
		cr_assert_eq(crew_submit(p, &mp.task), 0);
		cr_assert_eq(crew_pool_shutdown(p), 0);
		cr_assert_neq(mp.end, 0, "stack %zu: marks unknown",
		    cfg.stack_size);
		cr_assert(mp.end <= mp.half, "stack %zu: relay-at-once mark "
		    "%#lx above the deep mark %#lx", cfg.stack_size,
		    (unsigned long)mp.end, (unsigned long)mp.half);
		cr_assert_eq(atomic_load(&mp.child_ran), 1);
		st = stats_of(p);
		cr_assert_eq(st.relays, 1, "stack %zu: a wait %lu bytes below "
		    "stack_end (%d frames down) relayed %llu times",
		    cfg.stack_size, (unsigned long)(mp.end - mp.frame),
		    mp.depth, (unsigned long long)st.relays);
#if !defined(MARK_ASAN) && !defined(__SANITIZE_THREAD__)
		/* What the wait, the relay's set-up and the switch took below
		 * the waiting frame, this process's first relay included:
		 * 0.6 KiB (gcc 12, x86-64); 3.7 KiB when that relay's first
		 * libc calls went through lazy binding, whose resolver saves
		 * the AVX-512 registers on the stack (crew__relay_warm). */
		cr_assert_neq(mp.lowest, 0, "stack bounds unknown");
		cr_assert(mp.frame - mp.lowest < 1536, "stack %zu: the relay "
		    "path took %lu bytes below the waiting frame",
		    cfg.stack_size, (unsigned long)(mp.frame - mp.lowest));
#endif
		pool_free(p);
	}
}

/*
 * stack_size is the room the worker's frames get, besides what glibc
 * takes from the thread's stack for its static TLS and descriptor: with
 * this program's 12 KiB of TLS (every thread of it has this array), a
 * 16 KiB stack left about 0 bytes, and any task overflowed.
 */
static __thread volatile char api_big_tls[12288];

struct room_probe {
	crew_task task;
	size_t room;
};

static void
room_fn(crew_task *t)
{
	struct room_probe *rp = crew_container_of(t, struct room_probe, task);
	uintptr_t lo = stack_bottom();

	api_big_tls[0] = 1;
	api_big_tls[sizeof(api_big_tls) - 1] = 1;
	if (lo != 0)
		rp->room = (uintptr_t)__builtin_frame_address(0) - lo;
}

Test(api, stack_size_is_room_beside_tls, .timeout = 60)
{
	crew_config cfg;
	crew_pool *p;
	struct room_probe rp = { CREW_TASK_INIT(room_fn), 0 };
	size_t want = (size_t)PTHREAD_STACK_MIN;

	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = 1;
	cfg.stack_size = want;
	p = pool_new(&cfg);
	cr_assert_eq(crew_submit(p, &rp.task), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	fprintf(stderr, "stack_size_is_room_beside_tls: %zu of %zu bytes "
	    "below the task's frame\n", rp.room, want);
	/* the frames from the thread's start to the task: under 3 KiB */
	cr_assert(rp.room + 3072 >= want, "%zu bytes of a %zu-byte stack "
	    "left below a task", rp.room, want);
	pool_free(p);
}

/* ------------------------------------------------------------------ */
/* Hooks.                                                              */

#define HOOK_MAX 4

struct hooks {
	crew_pool *pool;
	_Atomic unsigned start[HOOK_MAX + 1], stop[HOOK_MAX + 1];
	atomic_ulong bad;
	_Atomic unsigned arrived;
};

static _Thread_local int hook_started = -1;

static void
on_start(void *ctx, unsigned index)
{
	struct hooks *h = ctx;

	if (index >= HOOK_MAX || hook_started != -1 ||
	    crew_worker_index(h->pool) != (int)index) {
		atomic_fetch_add(&h->bad, 1);
		index = HOOK_MAX;
	}
	hook_started = (int)index;
	atomic_fetch_add(&h->start[index], 1);
}

static void
on_stop(void *ctx, unsigned index)
{
	struct hooks *h = ctx;

	if (index >= HOOK_MAX || hook_started != (int)index) {
		atomic_fetch_add(&h->bad, 1);
		index = HOOK_MAX;
	}
	hook_started = -2;
	atomic_fetch_add(&h->stop[index], 1);
}

struct hook_task {
	crew_task task;
	struct hooks *h;
};

static void
hook_task_fn(crew_task *t)
{
	struct hook_task *ht = crew_container_of(t, struct hook_task, task);

	/* The start hook ran on this thread, before this task. */
	if (hook_started != crew_worker_index(ht->h->pool) || hook_started < 0)
		atomic_fetch_add(&ht->h->bad, 1);
	/* Hold the thread briefly so more workers get started. */
	atomic_fetch_add(&ht->h->arrived, 1);
	(void)wait_at_least(&ht->h->arrived, HOOK_MAX, 0.2);
}

Test(api, thread_hooks_once_per_thread, .timeout = 60)
{
	static struct hooks h;
	struct hook_task ht[2 * HOOK_MAX];
	crew_config cfg;
	crew_pool *p;
	crew_batch b = CREW_BATCH_INIT;
	crew_stats s;

	memset(&h, 0, sizeof(h));
	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = HOOK_MAX;
	cfg.on_thread_start = on_start;
	cfg.on_thread_stop = on_stop;
	cfg.hook_ctx = &h;
	p = pool_new(&cfg);
	h.pool = p;
	for (int i = 0; i < 2 * HOOK_MAX; i++) {
		ht[i].task.fn = hook_task_fn;
		ht[i].h = &h;
		cr_assert_eq(crew_batch_push(&b, &ht[i].task), 0);
	}
	cr_assert_eq(crew_schedule(p, b), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	s = stats_of(p);
	cr_assert(s.threads_spawned >= 1 && s.threads_spawned <= HOOK_MAX);
	cr_assert_eq(atomic_load(&h.bad), 0, "%lu hook/thread mismatches",
	    atomic_load(&h.bad));
	for (unsigned i = 0; i <= HOOK_MAX; i++) {
		unsigned want = i < s.threads_spawned ? 1 : 0;

		cr_assert_eq(atomic_load(&h.start[i]), want,
		    "worker %u: start hook ran %u times", i,
		    atomic_load(&h.start[i]));
		cr_assert_eq(atomic_load(&h.stop[i]), want,
		    "worker %u: stop hook ran %u times", i,
		    atomic_load(&h.stop[i]));
	}
	cr_assert_eq(s.tasks_run, 2 * HOOK_MAX);
	cr_log_info("%lu threads started", (unsigned long)s.threads_spawned);
	pool_free(p);
}

/* A task submitted from on_thread_stop is refused, never left queued on
 * the exiting worker (where it used to be accepted and never run). */
static void *stop_submit_ctx;

struct stop_submit {
	crew_pool *pool;
	crew_task tasks[4];
	atomic_int rc[4];
	atomic_uint calls, ran, index_seen;
};

static void
stop_submit_task(crew_task *t)
{
	(void)t;
}

static void
stop_submit_ran(crew_task *t)
{
	(void)t;
	atomic_fetch_add(&((struct stop_submit *)stop_submit_ctx)->ran, 1);
}

static void
on_stop_submit(void *ctx, unsigned index)
{
	struct stop_submit *ss = ctx;
	unsigned k = atomic_fetch_add(&ss->calls, 1);

	if (crew_worker_index(ss->pool) != -1)
		atomic_fetch_add(&ss->index_seen, 1);
	(void)index;
	if (k < 4) {
		ss->tasks[k] = (crew_task)CREW_TASK_INIT(stop_submit_ran);
		atomic_store(&ss->rc[k], crew_submit(ss->pool, &ss->tasks[k]));
	}
}

Test(api, submit_from_stop_hook_refused, .timeout = 30)
{
	static struct stop_submit ss;
	crew_task warm[8];
	crew_config cfg;
	unsigned n;

	memset(&ss, 0, sizeof(ss));
	stop_submit_ctx = &ss;
	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = 2;
	cfg.on_thread_stop = on_stop_submit;
	cfg.hook_ctx = &ss;
	ss.pool = pool_new(&cfg);
	for (int i = 0; i < 8; i++) {
		warm[i] = (crew_task)CREW_TASK_INIT(stop_submit_task);
		cr_assert_eq(crew_submit(ss.pool, &warm[i]), 0);
	}
	cr_assert_eq(crew_pool_destroy(ss.pool), 0);
	n = atomic_load(&ss.calls);
	cr_assert(n >= 1 && n <= 2, "stop hook ran %u times", n);
	for (unsigned k = 0; k < n; k++)
		cr_assert_eq(atomic_load(&ss.rc[k]), CREW_ESHUTDOWN,
		    "submit from the stop hook returned %d",
		    atomic_load(&ss.rc[k]));
	cr_assert_eq(atomic_load(&ss.ran), 0);
	cr_assert_eq(atomic_load(&ss.index_seen), 0,
	    "crew_worker_index() saw a worker in on_thread_stop");
}

/*
 * Shutdown and destroy of a pool from its own thread hooks are
 * CREW_EDEADLK, never a hang: in on_thread_stop the thread is no longer a
 * worker, and a shutdown from there used to wait for the pool's life lock,
 * held by the shutdown that was joining this very thread.
 */
struct hook_kill {
	crew_pool *_Atomic pool;
	atomic_int rc_start_shutdown, rc_start_destroy;
	atomic_int rc_stop_shutdown, rc_stop_destroy;
	atomic_uint starts, stops;
};

static void
on_start_kill(void *ctx, unsigned index)
{
	struct hook_kill *hk = ctx;
	crew_pool *p;

	(void)index;
	/* The first start runs inside crew_pool_create's warm-up or the
	 * first submit; the pool pointer is published before any submit. */
	while ((p = atomic_load(&hk->pool)) == NULL)
		sched_yield();
	if (atomic_fetch_add(&hk->starts, 1) == 0) {
		atomic_store(&hk->rc_start_shutdown, crew_pool_shutdown(p));
		atomic_store(&hk->rc_start_destroy, crew_pool_destroy(p));
	}
}

static void
on_stop_kill(void *ctx, unsigned index)
{
	struct hook_kill *hk = ctx;
	crew_pool *p = atomic_load(&hk->pool);

	(void)index;
	if (atomic_fetch_add(&hk->stops, 1) == 0) {
		atomic_store(&hk->rc_stop_shutdown, crew_pool_shutdown(p));
		atomic_store(&hk->rc_stop_destroy, crew_pool_destroy(p));
	}
}

Test(api, shutdown_and_destroy_from_hooks_are_edeadlk, .timeout = 30)
{
	static struct hook_kill hk;
	struct ctask t[8];
	crew_config cfg;
	crew_pool *p = NULL;

	memset(&hk, 0, sizeof(hk));
	atomic_init(&hk.rc_start_shutdown, 1);
	atomic_init(&hk.rc_start_destroy, 1);
	atomic_init(&hk.rc_stop_shutdown, 1);
	atomic_init(&hk.rc_stop_destroy, 1);
	cr_assert_eq(crew_config_init(&cfg), 0);
	cfg.max_threads = 2;
	cfg.on_thread_start = on_start_kill;
	cfg.on_thread_stop = on_stop_kill;
	cfg.hook_ctx = &hk;
	cr_assert_eq(crew_pool_create(&p, &cfg), 0);
	atomic_store(&hk.pool, p);
	for (int i = 0; i < 8; i++) {
		ctask_init(&t[i]);
		cr_assert_eq(crew_submit(p, &t[i].task), 0);
	}
	cr_assert_eq(crew_pool_destroy(p), 0);
	cr_assert(atomic_load(&hk.starts) >= 1 && atomic_load(&hk.stops) ==
	    atomic_load(&hk.starts), "%u starts, %u stops",
	    atomic_load(&hk.starts), atomic_load(&hk.stops));
	cr_assert_eq(atomic_load(&hk.rc_start_shutdown), CREW_EDEADLK);
	cr_assert_eq(atomic_load(&hk.rc_start_destroy), CREW_EDEADLK);
	cr_assert_eq(atomic_load(&hk.rc_stop_shutdown), CREW_EDEADLK);
	cr_assert_eq(atomic_load(&hk.rc_stop_destroy), CREW_EDEADLK);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(atomic_load(&t[i].runs), 1);
}

/* ------------------------------------------------------------------ */
/* Resubmission and counters.                                          */

struct again {
	crew_task task;
	crew_pool *pool;
	unsigned limit;
	bool use_batch;
	_Atomic unsigned runs;
	atomic_ulong bad;
	struct ctask *foreign;
};

static void
again_fn(crew_task *t)
{
	struct again *a = crew_container_of(t, struct again, task);
	unsigned n = atomic_fetch_add(&a->runs, 1) + 1;
	int rc;

	if (n >= a->limit)
		return;
	/* A stale link from an earlier life must not matter. */
	t->next = &a->foreign->task;
	if (a->use_batch) {
		crew_batch b = CREW_BATCH_INIT;

		rc = crew_batch_push(&b, t);
		if (rc == 0)
			rc = crew_schedule(a->pool, b);
	} else {
		rc = crew_submit(a->pool, t);
	}
	if (rc != 0)
		atomic_fetch_add(&a->bad, 1);
}

static void
resubmit(bool use_batch)
{
	const unsigned n = 1000;
	crew_pool *p = pool_with(2);
	struct again a;
	struct ctask foreign;
	crew_stats s;

	ctask_init(&foreign);
	memset(&a, 0, sizeof(a));
	a.task.fn = again_fn;
	a.pool = p;
	a.limit = n;
	a.use_batch = use_batch;
	a.foreign = &foreign;
	atomic_init(&a.runs, 0);
	atomic_init(&a.bad, 0);
	a.task.next = &foreign.task; /* stale from the start too */
	cr_assert_eq(crew_submit(p, &a.task), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	cr_assert_eq(atomic_load(&a.bad), 0);
	cr_assert_eq(atomic_load(&a.runs), n);
	cr_assert_eq(atomic_load(&foreign.runs), 0, "a stale link ran a task");
	s = stats_of(p);
	cr_assert_eq(s.tasks_run, n);
	cr_assert_eq(s.global_pushes, 1);
	cr_assert_eq(s.local_pushes, n - 1, "resubmits from a worker are local");
	pool_free(p);
}

Test(api, task_resubmits_itself, .timeout = 60)
{
	resubmit(false);
}

Test(api, task_reschedules_itself_as_batch, .timeout = 60)
{
	resubmit(true);
}

Test(api, batch_of_1000_runs_each_once, .timeout = 60)
{
	enum { N = 1000 };
	struct ctask *t = calloc(N, sizeof(*t));
	crew_pool *p = pool_with(4);
	crew_batch b = CREW_BATCH_INIT;
	crew_stats s;

	cr_assert_not_null(t);
	for (int i = 0; i < N; i++) {
		ctask_init(&t[i]);
		t[i].task.next = &t[(i + 7) % N].task; /* stale garbage */
		cr_assert_eq(crew_batch_push(&b, &t[i].task), 0);
	}
	cr_assert_eq(b.len, N);
	cr_assert_eq(crew_schedule(p, b), 0);
	cr_assert_eq(crew_pool_shutdown(p), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&t[i].runs), 1, "task %d ran %u times",
		    i, atomic_load(&t[i].runs));
	s = stats_of(p);
	cr_assert_eq(s.tasks_run, N);
	cr_assert_eq(s.global_pushes, N);
	cr_assert_eq(s.local_pushes, 0);
	pool_free(p);
	free(t);
}

Test(api, stats_after_10000_tasks, .timeout = 60)
{
	enum { N = 10000 };
	struct ctask *t = calloc(N, sizeof(*t));
	crew_pool *p = pool_with(4);
	crew_stats s;

	cr_assert_not_null(t);
	s = stats_of(p);
	cr_assert_eq(s.tasks_run, 0);
	cr_assert_eq(s.global_pushes, 0);
	cr_assert_eq(s.max_threads, 4);
	for (int i = 0; i < N; i++) {
		ctask_init(&t[i]);
		cr_assert_eq(crew_submit(p, &t[i].task), 0);
	}
	cr_assert_eq(crew_pool_shutdown(p), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&t[i].runs), 1, "task %d ran %u times",
		    i, atomic_load(&t[i].runs));
	s = stats_of(p);
	cr_assert_eq(s.tasks_run, N);
	cr_assert_eq(s.global_pushes, N);
	cr_assert_eq(s.local_pushes, 0);
	cr_assert_eq(s.spawn_failures, 0);
	cr_assert(s.threads_spawned >= 1 && s.threads_spawned <= 4);
	cr_assert_eq(s.threads_live, 0, "threads live after shutdown");
	cr_assert_eq(s.threads_idle, 0);
	cr_assert_eq(s.max_threads, 4);
	cr_assert(s.wakeups <= s.parks);
	pool_free(p);
	free(t);
}

/*
 * crew_batch_push: the inline version crew.h defines and the exported
 * function (reached through its address) refuse the same bad input and
 * build the same chain.
 */
Test(api, batch_push_inline_and_exported, .timeout = 10)
{
	int (*exported)(crew_batch *, crew_task *) = crew_batch_push;
	crew_task nofn = CREW_TASK_INIT(NULL);
	crew_task t[6];

	for (int k = 0; k < 2; k++) {
		crew_batch b = CREW_BATCH_INIT;

		for (int i = 0; i < 3; i++)
			t[3 * k + i] = (crew_task)CREW_TASK_INIT(count_fn);
		if (k == 0) {
			cr_assert_eq(crew_batch_push(NULL, &t[0]), CREW_EINVAL);
			cr_assert_eq(crew_batch_push(&b, NULL), CREW_EINVAL);
			cr_assert_eq(crew_batch_push(&b, &nofn), CREW_EINVAL);
			for (int i = 0; i < 3; i++)
				cr_assert_eq(crew_batch_push(&b, &t[i]), 0);
		} else {
			cr_assert_eq(exported(NULL, &t[3]), CREW_EINVAL);
			cr_assert_eq(exported(&b, NULL), CREW_EINVAL);
			cr_assert_eq(exported(&b, &nofn), CREW_EINVAL);
			for (int i = 3; i < 6; i++)
				cr_assert_eq(exported(&b, &t[i]), 0);
		}
		cr_assert_eq(b.len, 3);
		cr_assert_eq(b.head, &t[3 * k]);
		cr_assert_eq(b.tail, &t[3 * k + 2]);
		cr_assert_eq(t[3 * k].next, &t[3 * k + 1]);
		cr_assert_eq(t[3 * k + 1].next, &t[3 * k + 2]);
		cr_assert_null(t[3 * k + 2].next);
	}
}
