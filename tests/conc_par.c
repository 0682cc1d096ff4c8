/* SPDX-License-Identifier: MIT */
/*
 * Concurrency cases for structured parallelism: wait groups, fork-join,
 * crew_for / crew_each, the global pool and global-queue fairness.
 */
#define _GNU_SOURCE
#include "support.h"
#include "conc_list.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* crew_for covers every index exactly once.                           */

struct cover {
	atomic_uchar *hit;
	size_t begin;
	atomic_size_t calls;
	atomic_size_t bad;
	size_t grain;
};

/* Microseconds cover_fn sleeps per call (for_fans_out), else 0. */
static atomic_int cover_nap_us;

static void
cover_fn(void *ctx, size_t lo, size_t hi)
{
	struct cover *c = ctx;
	int nap = atomic_load_explicit(&cover_nap_us, memory_order_relaxed);

	if (nap > 0)
		usleep((useconds_t)nap);
	if (lo >= hi || (c->grain && hi - lo > c->grain))
		atomic_fetch_add(&c->bad, 1);
	atomic_fetch_add(&c->calls, 1);
	for (size_t i = lo; i < hi; i++)
		atomic_fetch_add_explicit(&c->hit[i - c->begin], 1,
		    memory_order_relaxed);
}

static int
check_cover(crew_pool *p, size_t begin, size_t n, size_t grain)
{
	struct cover c = { calloc(n ? n : 1, 1), begin, 0, 0, grain };

	T_CHECK(c.hit, "oom");
	T_CHECK(crew_for(p, begin, begin + n, grain, cover_fn, &c) == 0, "for");
	T_CHECK(atomic_load(&c.bad) == 0, "n=%zu: a call got an empty or "
	    "oversized range", n);
	for (size_t i = 0; i < n; i++)
		T_CHECK(c.hit[i] == 1, "n=%zu grain=%zu: index %zu covered %u "
		    "times", n, grain, begin + i, c.hit[i]);
	T_CHECK(n > 0 || atomic_load(&c.calls) == 0, "empty range called fn");
	free((void *)c.hit);
	return 0;
}

int
t_for_sizes(void)
{
	const size_t g = 100;
	size_t sizes[] = { 0, 1, 2, g - 1, g, g + 1, t_scaled(10000000) };
	crew_pool *p = t_pool(4);

	T_CHECK(p, "create");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		T_CHECK(check_cover(p, 7, sizes[k], g) == 0, "grain %zu", g);
		T_CHECK(check_cover(p, 0, sizes[k], 0) == 0, "auto grain");
		T_CHECK(check_cover(p, 3, sizes[k], 1) == 0, "grain 1");
	}
	T_CHECK(crew_for(p, 5, 4, 1, cover_fn, NULL) == CREW_EINVAL, "begin>end");
	T_CHECK(crew_for(p, 0, 4, 1, NULL, NULL) == CREW_EINVAL, "NULL fn");
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

/* Item i costs i * 1024 / n steps: the last items are the heavy ones. */
struct uneven {
	size_t n;
	uint32_t *out;
};

static void
uneven_fn(void *ctx, size_t lo, size_t hi)
{
	struct uneven *u = ctx;

	for (size_t i = lo; i < hi; i++) {
		uint32_t x = (uint32_t)i;
		size_t steps = i * 1024 / u->n;

		for (size_t s = 0; s < steps; s++)
			x = x * 1664525u + 1013904223u;
		u->out[i] = x;
	}
}

int
t_for_uneven(void)
{
	size_t n = t_scaled(1u << 18);
	struct uneven u = { n, calloc(n, sizeof(uint32_t)) };
	crew_pool *p = t_pool(2);

	T_CHECK(u.out && p, "setup");
	T_CHECK(crew_for(p, 0, n, 0, uneven_fn, &u) == 0, "for");
	for (size_t i = 0; i < n; i++) {
		uint32_t x = (uint32_t)i;

		for (size_t s = 0; s < i * 1024 / n; s++)
			x = x * 1664525u + 1013904223u;
		T_CHECK(u.out[i] == x, "item %zu wrong", i);
	}
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	free(u.out);
	return 0;
}

/* crew_for inside crew_for inside crew_for, all inside a task. */
#define N3 24
static atomic_uint nest_hits[N3][N3][N3];
static crew_pool *_Atomic nest_pool;

static void
nest_l3(void *ctx, size_t lo, size_t hi)
{
	size_t *ij = ctx;

	for (size_t k = lo; k < hi; k++)
		atomic_fetch_add(&nest_hits[ij[0]][ij[1]][k], 1);
}

static void
nest_l2(void *ctx, size_t lo, size_t hi)
{
	size_t i = *(size_t *)ctx;

	for (size_t j = lo; j < hi; j++) {
		size_t ij[2] = { i, j };

		crew_for(atomic_load(&nest_pool), 0, N3, 1, nest_l3, ij);
	}
}

static void
nest_l1(void *ctx, size_t lo, size_t hi)
{
	(void)ctx;
	for (size_t i = lo; i < hi; i++)
		crew_for(atomic_load(&nest_pool), 0, N3, 1, nest_l2, &i);
}

struct nest_root {
	crew_task task;
	crew_wg *wg;
};

static void
nest_root_fn(crew_task *t)
{
	struct nest_root *r = crew_container_of(t, struct nest_root, task);

	crew_for(atomic_load(&nest_pool), 0, N3, 1, nest_l1, NULL);
	crew_wg_done(r->wg);
}

int
t_for_nested3(void)
{
	unsigned sizes[] = { 1, 2, 4 };

	for (int k = 0; k < 3; k++) {
		crew_pool *p = t_pool(sizes[k]);
		crew_wg wg = CREW_WG_INIT;
		struct nest_root r = { CREW_TASK_INIT(nest_root_fn), &wg };

		T_CHECK(p, "create");
		memset(nest_hits, 0, sizeof(nest_hits));
		atomic_store(&nest_pool, p);
		crew_wg_add(&wg, 1);
		T_CHECK(crew_submit(p, &r.task) == 0, "submit");
		T_CHECK(crew_wg_wait(&wg) == 0, "wait");
		for (int i = 0; i < N3; i++)
			for (int j = 0; j < N3; j++)
				for (int l = 0; l < N3; l++)
					T_CHECK(nest_hits[i][j][l] == 1,
					    "%u workers: [%d][%d][%d] hit %u",
					    sizes[k], i, j, l, nest_hits[i][j][l]);
		T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	}
	return 0;
}

/* Four outside threads run crew_for on one pool at the same time. */
struct outside_for {
	crew_pool *pool;
	size_t n;
	int rc;
};

static void *
outside_for_thread(void *arg)
{
	struct outside_for *o = arg;

	o->rc = check_cover(o->pool, 11, o->n, 0);
	return NULL;
}

int
t_for_outside4(void)
{
	crew_pool *p = t_pool(2);
	struct outside_for o[4];
	pthread_t th[4];

	T_CHECK(p, "create");
	for (int r = 0; r < 5; r++) {
		for (int i = 0; i < 4; i++) {
			o[i] = (struct outside_for){ p, t_scaled(1000000) + (size_t)i, 0 };
			pthread_create(&th[i], NULL, outside_for_thread, &o[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			T_CHECK(o[i].rc == 0, "thread %d", i);
		}
	}
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

/* A pool that cannot start a worker still completes crew_for. */
int
t_for_no_worker(void)
{
	crew_pool *p = t_pool(2);

	T_CHECK(p, "create");
	t_fail_create(1, 1, 0);
	T_CHECK(check_cover(p, 0, 100000, 10) == 0, "no worker");
	t_fail_create(0, 0, 0);
	T_CHECK(crew_pool_shutdown(p) == 0, "shutdown");
	/* And a shut-down pool too. */
	T_CHECK(check_cover(p, 0, 1000, 1) == 0, "after shutdown");
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

static void
each_fn(void *ctx, void *item, size_t index)
{
	uint64_t *v = item;

	if (*v != index * 3)
		atomic_fetch_add((atomic_size_t *)ctx, 1);
	*v = index * 5;
}

int
t_each_items(void)
{
	size_t n = t_scaled(300000);
	uint64_t *v = malloc(n * sizeof(*v));
	atomic_size_t bad = 0;
	crew_pool *p = t_pool(3);

	T_CHECK(v && p, "setup");
	for (size_t i = 0; i < n; i++)
		v[i] = i * 3;
	T_CHECK(crew_each(p, v, n, sizeof(*v), each_fn, &bad) == 0, "each");
	T_CHECK(atomic_load(&bad) == 0, "wrong item passed");
	for (size_t i = 0; i < n; i++)
		T_CHECK(v[i] == i * 5, "item %zu not visited once", i);
	T_CHECK(crew_each(p, NULL, 3, 8, each_fn, NULL) == CREW_EINVAL, "NULL");
	T_CHECK(crew_each(p, v, 0, 8, each_fn, NULL) == 0, "empty");
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	free(v);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Fork-join: fib with a task per call and no cutoff.                  */

struct fib_task {
	crew_task task;
	unsigned n;
	uint64_t result;
	crew_wg *wg;
	crew_pool *pool;
};

static uint64_t fib_join(crew_pool *p, unsigned n);

static void
fib_run(crew_task *t)
{
	struct fib_task *f = crew_container_of(t, struct fib_task, task);
	crew_wg *wg = f->wg;

	f->result = fib_join(f->pool, f->n);
	crew_wg_done(wg);
}

static uint64_t
fib_join(crew_pool *p, unsigned n)
{
	struct fib_task child;
	crew_wg wg = CREW_WG_INIT;
	uint64_t b;

	if (n < 2)
		return n;
	child = (struct fib_task){ CREW_TASK_INIT(fib_run), n - 1, 0, &wg, p };
	crew_wg_add(&wg, 1);
	if (crew_submit(p, &child.task) != 0) {
		crew_wg_done(&wg);
		child.result = fib_join(p, n - 1);
	}
	b = fib_join(p, n - 2);
	crew_wg_wait(&wg);
	return child.result + b;
}

static int
fib25(unsigned threads)
{
	crew_pool *p = t_pool(threads);
	crew_wg wg = CREW_WG_INIT;
	struct fib_task root;
	unsigned n = t_scaled(25) >= 25 ? 25 : 18;
	uint64_t want = n == 25 ? 75025 : 2584;

	T_CHECK(p, "create");
	/* From a worker (the fast path) ... */
	root = (struct fib_task){ CREW_TASK_INIT(fib_run), n, 0, &wg, p };
	crew_wg_add(&wg, 1);
	T_CHECK(crew_submit(p, &root.task) == 0, "submit");
	crew_wg_wait(&wg);
	T_CHECK(root.result == want, "fib(%u) = %llu", n,
	    (unsigned long long)root.result);
	/* ... and joined from outside. */
	T_CHECK(fib_join(p, n) == want, "outside fib");
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

int t_fib25_w1(void) { return fib25(1); }
int t_fib25_w2(void) { return fib25(2); }
int t_fib25_w4(void) { return fib25(4); }
int t_fib25_w32(void) { return fib25(32); }

/* Binary tree of depth 20 counting its leaves, a wait group per node. */
static uint64_t tree_count(crew_pool *p, unsigned depth);

struct tree_task {
	crew_task task;
	unsigned depth;
	uint64_t leaves;
	crew_wg *wg;
	crew_pool *pool;
};

static void
tree_run(crew_task *t)
{
	struct tree_task *x = crew_container_of(t, struct tree_task, task);
	crew_wg *wg = x->wg;

	x->leaves = tree_count(x->pool, x->depth);
	crew_wg_done(wg);
}

static uint64_t
tree_count(crew_pool *p, unsigned depth)
{
	crew_wg wg = CREW_WG_INIT;
	struct tree_task kids[2];

	if (depth == 0)
		return 1;
	crew_wg_add(&wg, 2);
	for (int i = 0; i < 2; i++) {
		kids[i] = (struct tree_task){ CREW_TASK_INIT(tree_run), depth - 1,
		    0, &wg, p };
		if (crew_submit(p, &kids[i].task) != 0)
			tree_run(&kids[i].task);
	}
	crew_wg_wait(&wg);
	return kids[0].leaves + kids[1].leaves;
}

static int
wg_tree20(unsigned threads)
{
	crew_pool *p = t_pool(threads);
	unsigned depth = t_scaled(1u << 20) >= (1u << 19) ? 20 : 15;
	uint64_t got;

	T_CHECK(p, "create");
	got = tree_count(p, depth);
	T_CHECK(got == (1ull << depth), "depth %u: %llu leaves", depth,
	    (unsigned long long)got);
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

int t_wg_tree20_w1(void) { return wg_tree20(1); }
int t_wg_tree20_w2(void) { return wg_tree20(2); }
int t_wg_tree20_w4(void) { return wg_tree20(4); }
int t_wg_tree20_w32(void) { return wg_tree20(32); }

/* ------------------------------------------------------------------ */
/* Wait groups.                                                        */

struct wg_job {
	crew_task task;
	uint64_t payload;       /* plain: checked by the waiter */
	crew_wg *wg;
};

static void
wg_job_fn(crew_task *t)
{
	struct wg_job *j = crew_container_of(t, struct wg_job, task);

	j->payload = j->payload * 2 + 1;
	crew_wg_done(j->wg);
}

/* A task that waits (helping) for jobs it scheduled itself. */
struct wg_parent {
	crew_task task;
	struct wg_job jobs[100];
	int ok;
	crew_wg *done;
};

static void
wg_parent_fn(crew_task *t)
{
	struct wg_parent *pp = crew_container_of(t, struct wg_parent, task);
	crew_wg wg = CREW_WG_INIT;
	crew_pool *p = NULL;

	(void)p;
	crew_wg_add(&wg, 100);
	for (int i = 0; i < 100; i++) {
		pp->jobs[i] = (struct wg_job){ CREW_TASK_INIT(wg_job_fn),
		    (uint64_t)i, &wg };
		crew_submit(NULL, &pp->jobs[i].task) == 0 ?
		    (void)0 : wg_job_fn(&pp->jobs[i].task);
	}
	crew_wg_wait(&wg);
	pp->ok = 1;
	for (int i = 0; i < 100; i++)
		if (pp->jobs[i].payload != (uint64_t)i * 2 + 1)
			pp->ok = 0;
	crew_wg_done(pp->done);
}

int
t_wg_outside_and_worker(void)
{
	crew_wg wg = CREW_WG_INIT, done = CREW_WG_INIT;
	struct wg_job jobs[1000];
	static struct wg_parent parents[8];
	crew_pool *g = crew_global();

	T_CHECK(g, "global pool");
	/* Outside waiter: sleeps on the futex. */
	crew_wg_add(&wg, 1000);
	for (int i = 0; i < 1000; i++) {
		jobs[i] = (struct wg_job){ CREW_TASK_INIT(wg_job_fn), (uint64_t)i, &wg };
		T_CHECK(crew_submit(NULL, &jobs[i].task) == 0, "submit");
	}
	T_CHECK(crew_wg_wait(&wg) == 0, "wait");
	for (int i = 0; i < 1000; i++)
		T_CHECK(jobs[i].payload == (uint64_t)i * 2 + 1, "job %d", i);
	/* Worker waiters: help until their own jobs are done. */
	crew_wg_add(&done, 8);
	for (int i = 0; i < 8; i++) {
		parents[i].task.fn = wg_parent_fn;
		parents[i].done = &done;
		parents[i].ok = 0;
		T_CHECK(crew_submit(NULL, &parents[i].task) == 0, "submit parent");
	}
	crew_wg_wait(&done);
	for (int i = 0; i < 8; i++)
		T_CHECK(parents[i].ok, "parent %d saw unfinished jobs", i);
	T_CHECK(crew_global_shutdown() == 0, "global shutdown");
	return 0;
}

/* The waiter frees the group the moment wait returns (ASan checks that the
 * final done does not touch it afterwards). */
struct free_job {
	crew_task task;
	crew_wg *wg;
};

static void
free_job_fn(crew_task *t)
{
	struct free_job *j = crew_container_of(t, struct free_job, task);

	crew_wg_done(j->wg);
}

int
t_wg_free_after_wait(void)
{
	crew_pool *p = t_pool(2);
	size_t reps = t_scaled(20000);

	T_CHECK(p, "create");
	for (size_t r = 0; r < reps; r++) {
		crew_wg *wg = malloc(sizeof(*wg));
		struct free_job *j = malloc(2 * sizeof(*j));

		T_CHECK(wg && j, "oom");
		crew_wg_init(wg);
		crew_wg_add(wg, 2);
		for (int i = 0; i < 2; i++) {
			j[i] = (struct free_job){ CREW_TASK_INIT(free_job_fn), wg };
			T_CHECK(crew_submit(p, &j[i].task) == 0, "submit");
		}
		crew_wg_wait(wg);
		free(wg);
		free(j);
	}
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

int
t_wg_errors(void)
{
	crew_wg wg;

	T_CHECK(crew_wg_init(NULL) == CREW_EINVAL, "init NULL");
	T_CHECK(crew_wg_add(NULL, 1) == CREW_EINVAL, "add NULL");
	T_CHECK(crew_wg_done(NULL) == CREW_EINVAL, "done NULL");
	T_CHECK(crew_wg_wait(NULL) == CREW_EINVAL, "wait NULL");
	T_CHECK(crew_wg_init(&wg) == 0, "init");
	T_CHECK(crew_wg_done(&wg) == CREW_EINVAL, "done at zero");
	T_CHECK(crew_wg_wait(&wg) == 0, "wait at zero returns at once");
	T_CHECK(crew_wg_add(&wg, 0) == 0, "add 0");
	T_CHECK(crew_wg_add(&wg, 0x7fffffff) == 0, "add max");
	T_CHECK(crew_wg_add(&wg, 1) == CREW_EINVAL, "add past max");
	T_CHECK(crew_wg_add(&wg, (size_t)1 << 40) == CREW_EINVAL, "add huge");
	return 0;
}

/* ------------------------------------------------------------------ */
/* The global pool.                                                    */

static pthread_barrier_t global_bar;

static void *
global_racer(void *arg)
{
	pthread_barrier_wait(&global_bar);
	*(crew_pool **)arg = crew_global();
	return NULL;
}

int
t_global_race16(void)
{
	for (int rep = 0; rep < 20; rep++) {
		crew_pool *got[16];
		pthread_t th[16];

		pthread_barrier_init(&global_bar, NULL, 16);
		for (int i = 0; i < 16; i++)
			pthread_create(&th[i], NULL, global_racer, &got[i]);
		for (int i = 0; i < 16; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&global_bar);
		T_CHECK(got[0] != NULL, "no global pool");
		for (int i = 1; i < 16; i++)
			T_CHECK(got[i] == got[0], "two global pools");
		T_CHECK(crew_global_shutdown() == 0, "shutdown");
	}
	T_CHECK(crew_global_shutdown() == 0, "shutdown with none");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Fairness: an outside task gets in while workers feed themselves.     */

struct spinner {
	crew_task task;
	atomic_int *stop;
	atomic_size_t *runs;
	crew_pool *pool;
};

static void
spinner_fn(crew_task *t)
{
	struct spinner *s = crew_container_of(t, struct spinner, task);

	atomic_fetch_add(s->runs, 1);
	if (!atomic_load(s->stop))
		crew_submit(s->pool, &s->task); /* to my own LIFO slot */
}

static atomic_size_t outside_seen_at, *outside_runs;

/* Records how many local runs had happened when the outside task ran. */
static void
outside_fn(crew_task *t)
{
	(void)t;
	atomic_store(&outside_seen_at, atomic_load(outside_runs) + 1);
}

int
t_fairness_outside(void)
{
	const unsigned nw = 2;
	crew_pool *p = t_pool(nw);
	atomic_int stop = 0;
	atomic_size_t runs = 0;
	struct spinner s[4];
	crew_task out = CREW_TASK_INIT(outside_fn);
	size_t before, after;
	struct timespec t0, t1;
	double ms;

	T_CHECK(p, "create");
	for (unsigned i = 0; i < 2 * nw; i++) {
		s[i] = (struct spinner){ CREW_TASK_INIT(spinner_fn), &stop, &runs, p };
		T_CHECK(crew_submit(p, &s[i].task) == 0, "submit");
	}
	while (atomic_load(&runs) < 100000)
		sched_yield();
	atomic_store(&outside_seen_at, 0);
	outside_runs = &runs;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	T_CHECK(crew_submit(p, &out) == 0, "outside submit");
	/* The task is in the global queue now; if we are descheduled here,
	 * `before` only grows, which makes the check below stricter. */
	before = atomic_load(&runs);
	while (!atomic_load(&outside_seen_at))
		sched_yield();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	after = atomic_load(&outside_seen_at) - 1;
	if (after < before)
		after = before; /* it ran before we read the counter */
	atomic_store(&stop, 1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	fprintf(stderr, "fairness: outside task ran after %zu local runs, "
	    "seen by the submitter after %.3f ms\n", after - before, ms);
	/* Each worker looks at the global queue every 61 pops. */
	T_CHECK(after - before <= 4 * 61 * nw, "starved for %zu local runs",
	    after - before);
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

/*
 * The same after a refill from the global queue: one worker's ring holds
 * tasks of an outside batch while spinners of that batch feed its LIFO
 * stack.  The fairness check skips the global queue while the ring holds
 * only tasks of the last refill from it, so this checks that the skip
 * ends once the ring has drained (one task in CREW__LIFO_MAX_RUNS + 1),
 * though the stack never empties and so the ring is never refilled: the
 * rest of the batch and a later outside task must still get in.  (With
 * two workers the second would steal and serve the global queue itself.)
 */
static void
count_fn(crew_task *t)
{
	(void)t;
	atomic_fetch_add(outside_runs, 1);
}

int
t_fairness_outside_after_batch(void)
{
	const unsigned nspin = 2, nplain = 3000;
	crew_pool *p = t_pool(1);
	atomic_int stop = 0;
	atomic_size_t runs = 0, plain = 0;
	struct spinner s[2];
	crew_task *tasks = calloc(nplain, sizeof(*tasks));
	crew_task out = CREW_TASK_INIT(outside_fn);
	crew_batch b = CREW_BATCH_INIT;
	struct timespec t0, t1;
	bool ran = false;

	T_CHECK(p && tasks, "create");
	atomic_store(&outside_seen_at, 0);
	outside_runs = &plain;
	/* Spinners first, so they reach the rings and the stacks early. */
	for (unsigned i = 0; i < nspin; i++) {
		s[i] = (struct spinner){ CREW_TASK_INIT(spinner_fn), &stop, &runs, p };
		T_CHECK(crew_batch_push(&b, &s[i].task) == 0, "push");
	}
	for (unsigned i = 0; i < nplain; i++) {
		tasks[i] = (crew_task)CREW_TASK_INIT(count_fn);
		T_CHECK(crew_batch_push(&b, &tasks[i]) == 0, "push");
	}
	T_CHECK(crew_schedule(p, b) == 0, "schedule");
	while (atomic_load(&runs) < 10000)
		sched_yield();
	T_CHECK(crew_submit(p, &out) == 0, "outside submit");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if ((ran = atomic_load(&outside_seen_at) != 0))
			break;
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 10);
	atomic_store(&stop, 1);
	T_CHECK(ran, "the outside task starved for 10 s (%zu of %u batch "
	    "tasks ran, %zu spinner runs)", atomic_load(&plain), nplain,
	    atomic_load(&runs));
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	T_CHECK(atomic_load(&plain) == nplain, "%zu of %u batch tasks ran",
	    atomic_load(&plain), nplain);
	free(tasks);
	return 0;
}

/*
 * And inside a helping wait: a task waits for a wait group that only an
 * outside task completes, while the tasks it helps with (a spinner on its
 * own LIFO stack) keep feeding that stack.  The wait must still take the
 * outside task from the global queue (before, it popped its own stack in
 * a loop of its own and never ran the fairness check: a hang on one
 * worker).
 */
static atomic_int hw_started, hw_returned;

struct hw_waiter {
	crew_task task;
	struct spinner *spin;
	crew_wg *wg;
};

static void
hw_waiter_fn(crew_task *t)
{
	struct hw_waiter *h = crew_container_of(t, struct hw_waiter, task);

	crew_submit(h->spin->pool, &h->spin->task); /* onto our stack */
	atomic_store(&hw_started, 1);
	crew_wg_wait(h->wg);
	atomic_store(&hw_returned, 1);
}

struct hw_outside {
	crew_task task;
	atomic_int *stop;
	crew_wg *wg;
};

static void
hw_outside_fn(crew_task *t)
{
	struct hw_outside *o = crew_container_of(t, struct hw_outside, task);

	atomic_store(o->stop, 1);
	crew_wg_done(o->wg);
}

int
t_fairness_in_helping_wait(void)
{
	crew_pool *p = t_pool(1);
	atomic_int stop = 0;
	atomic_size_t runs = 0;
	crew_wg wg = CREW_WG_INIT;
	struct spinner spin = { CREW_TASK_INIT(spinner_fn), &stop, &runs, p };
	struct hw_waiter h = { CREW_TASK_INIT(hw_waiter_fn), &spin, &wg };
	struct hw_outside o = { CREW_TASK_INIT(hw_outside_fn), &stop, &wg };
	struct timespec t0, t1;

	T_CHECK(p, "create");
	atomic_store(&hw_started, 0);
	atomic_store(&hw_returned, 0);
	crew_wg_add(&wg, 1);
	T_CHECK(crew_submit(p, &h.task) == 0, "submit");
	while (!atomic_load(&hw_started) || atomic_load(&runs) < 1000)
		sched_yield();
	T_CHECK(crew_submit(p, &o.task) == 0, "outside submit");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (atomic_load(&hw_returned))
			break;
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 10);
	/* Stopping the spinner lets a starved wait find the task anyway. */
	atomic_store(&stop, 1);
	T_CHECK(atomic_load(&hw_returned), "the helping wait starved the "
	    "outside task for 10 s (%zu spinner runs)", atomic_load(&runs));
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

/* ------------------------------------------------------------------ */
/* A task that schedules children and then blocks (without helping)     */
/* until they ran: the others must take them from its LIFO stack.       */

struct blocker {
	crew_task task;
	crew_pool *pool;
	unsigned nkids;
	crew_task kids[16];
	atomic_uint ran;
	atomic_int ok;
	crew_wg *done;
};

static struct blocker the_blocker;

static void
blocker_kid_fn(crew_task *t)
{
	(void)t;
	atomic_fetch_add(&the_blocker.ran, 1);
}

static void
blocker_fn(crew_task *t)
{
	struct blocker *b = crew_container_of(t, struct blocker, task);
	struct timespec ts = { 0, 100000 };

	atomic_store(&b->ran, 0);
	for (unsigned i = 0; i < b->nkids; i++) {
		b->kids[i] = (crew_task)CREW_TASK_INIT(blocker_kid_fn);
		crew_submit(b->pool, &b->kids[i]);
	}
	/* Block like user code on a foreign primitive would: no helping. */
	for (int i = 0; i < 50000 && atomic_load(&b->ran) < b->nkids; i++)
		nanosleep(&ts, NULL);
	atomic_store(&b->ok, atomic_load(&b->ran) == b->nkids);
	crew_wg_done(b->done);
}

int
t_blocked_owner(void)
{
	unsigned sizes[] = { 2, 4 };
	unsigned kids[] = { 1, 2, 3, 10 };

	for (int si = 0; si < 2; si++) {
		crew_pool *p = t_pool(sizes[si]);

		T_CHECK(p, "create");
		for (int ki = 0; ki < 4; ki++) {
			for (int rep = 0; rep < 20; rep++) {
				struct blocker *bp = &the_blocker;
				crew_wg done = CREW_WG_INIT;
				struct timespec t0, t1;

				bp->task.fn = blocker_fn;
				bp->pool = p;
				bp->nkids = kids[ki];
				bp->done = &done;
				atomic_store(&bp->ok, 0);
				crew_wg_add(&done, 1);
				clock_gettime(CLOCK_MONOTONIC, &t0);
				T_CHECK(crew_submit(p, &bp->task) == 0, "submit");
				crew_wg_wait(&done);
				clock_gettime(CLOCK_MONOTONIC, &t1);
				/* The blocker gives up after 5 s; finishing
				 * that late means nobody took the children. */
				T_CHECK(atomic_load(&bp->ok) &&
				    t1.tv_sec - t0.tv_sec < 4, "%u workers, "
				    "%u kids: children stranded behind a "
				    "blocked owner", sizes[si], kids[ki]);
			}
		}
		T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* A task waits on a wait group while its child runs elsewhere, so its  */
/* worker helps in vain (searching leaves its queues marked empty in    */
/* the pool's work map); back in the task it schedules another child    */
/* and blocks without helping: the other worker must still see and take */
/* that child.  (A work map updated only by searches skipped the        */
/* worker: the child waited for the blocker's 5 s timeout.)             */

struct ah_job {
	crew_task task;
	crew_pool *pool;
	crew_task first, second;
	atomic_int first_on, second_ran;
	crew_wg first_done;
	atomic_int ok;
	crew_wg *done;
};

static void
ah_first_fn(crew_task *t)
{
	struct ah_job *j = crew_container_of(t, struct ah_job, first);
	struct timespec ts = { 0, 20 * 1000000 };

	atomic_store(&j->first_on, 1);
	nanosleep(&ts, NULL); /* long enough for the waiter to help in vain */
	crew_wg_done(&j->first_done);
}

static void
ah_second_fn(crew_task *t)
{
	struct ah_job *j = crew_container_of(t, struct ah_job, second);

	atomic_store(&j->second_ran, 1);
}

static void
ah_job_fn(crew_task *t)
{
	struct ah_job *j = crew_container_of(t, struct ah_job, task);
	struct timespec ts = { 0, 100000 };
	int ok = 1, i;

	crew_wg_add(&j->first_done, 1);
	j->first = (crew_task)CREW_TASK_INIT(ah_first_fn);
	if (crew_submit(j->pool, &j->first) != 0)
		ok = 0;
	/* Only the other worker can start it while we spin here. */
	for (i = 0; ok && i < 50000 && !atomic_load(&j->first_on); i++)
		nanosleep(&ts, NULL);
	ok = ok && atomic_load(&j->first_on);
	crew_wg_wait(&j->first_done);
	j->second = (crew_task)CREW_TASK_INIT(ah_second_fn);
	if (crew_submit(j->pool, &j->second) != 0)
		ok = 0;
	/* Block like user code on a foreign primitive would: no helping. */
	for (i = 0; ok && i < 50000 && !atomic_load(&j->second_ran); i++)
		nanosleep(&ts, NULL);
	atomic_store(&j->ok, ok && atomic_load(&j->second_ran));
	crew_wg_done(j->done);
}

int
t_blocked_after_helping(void)
{
	static struct ah_job job;
	crew_pool *p = t_pool(2);
	size_t reps = t_scaled(20) < 5 ? 5 : t_scaled(20);

	T_CHECK(p, "create");
	for (size_t rep = 0; rep < reps; rep++) {
		crew_wg done = CREW_WG_INIT;

		memset(&job, 0, sizeof(job));
		job.task = (crew_task)CREW_TASK_INIT(ah_job_fn);
		job.pool = p;
		job.first_done = (crew_wg)CREW_WG_INIT;
		job.done = &done;
		crew_wg_add(&done, 1);
		T_CHECK(crew_submit(p, &job.task) == 0, "submit");
		crew_wg_wait(&done);
		T_CHECK(atomic_load(&job.ok), "rep %zu: the second child was "
		    "not run by the other worker while its submitter blocked "
		    "(first child started: %d)", rep, atomic_load(&job.first_on));
	}
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

/* ------------------------------------------------------------------ */
/* A worker that keeps feeding its own stack and ring still runs the   */
/* tasks it spilled into its overflow queue (zio #718 class).          */

#define SELF_FEED_N 4096

struct self_feed {
	crew_task task;
	atomic_int inflight;
	atomic_uint runs;
};

static struct self_feed sf_tasks[SELF_FEED_N];
static crew_pool *sf_pool;
static atomic_int sf_gen;
static atomic_size_t sf_seen, sf_bad;

static void
sf_submit(struct self_feed *s)
{
	atomic_store(&s->inflight, 1);
	if (crew_submit(sf_pool, &s->task) != 0)
		atomic_fetch_add(&sf_bad, 1);
}

static void
sf_fn(crew_task *t)
{
	struct self_feed *s = crew_container_of(t, struct self_feed, task);

	if (atomic_exchange(&s->inflight, 0) != 1)
		atomic_fetch_add(&sf_bad, 1);
	if (atomic_fetch_add(&s->runs, 1) == 0)
		atomic_fetch_add(&sf_seen, 1);
	if (atomic_load(&sf_gen))
		sf_submit(s);
}

static void
sf_root(crew_task *t)
{
	(void)t;
	for (int i = 0; i < SELF_FEED_N; i++)
		sf_submit(&sf_tasks[i]);
}

int
t_overflow_self_feeding(void)
{
	unsigned sizes[] = { 1, 2 };

	for (int si = 0; si < 2; si++) {
		crew_task root = CREW_TASK_INIT(sf_root);
		crew_stats st;

		sf_pool = t_pool(sizes[si]);
		T_CHECK(sf_pool, "create");
		for (int i = 0; i < SELF_FEED_N; i++) {
			sf_tasks[i].task = (crew_task)CREW_TASK_INIT(sf_fn);
			atomic_store(&sf_tasks[i].inflight, 0);
			atomic_store(&sf_tasks[i].runs, 0);
		}
		atomic_store(&sf_gen, 1);
		atomic_store(&sf_seen, 0);
		atomic_store(&sf_bad, 0);
		T_CHECK(crew_submit(sf_pool, &root) == 0, "submit");
		/* Every task must get a turn while the generators go on: a
		 * starved overflow queue ends in the case's watchdog. */
		while (atomic_load(&sf_seen) < SELF_FEED_N)
			usleep(100);
		crew_pool_stats(sf_pool, &st);
		atomic_store(&sf_gen, 0);
		T_CHECK(crew_pool_destroy(sf_pool) == 0, "destroy");
		T_CHECK(st.overflow_migrations > 0, "%u workers: the rings "
		    "never overflowed, the case tests nothing", sizes[si]);
		T_CHECK(atomic_load(&sf_bad) == 0, "%u workers: %zu tasks ran "
		    "without a submission or failed to resubmit", sizes[si],
		    atomic_load(&sf_bad));
		for (int i = 0; i < SELF_FEED_N; i++)
			T_CHECK(atomic_load(&sf_tasks[i].inflight) == 0,
			    "task %d submitted but never ran", i);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* An oversubscribed pool wakes its first CPU-count workers first.     */

#define PREFER_WORKERS 4
#define PREFER_ROUNDS 40

static _Atomic pid_t prefer_tid[PREFER_WORKERS];
static crew_pool *prefer_pool;
static atomic_int prefer_ran_on;

static void
prefer_on_start(void *ctx, unsigned index)
{
	(void)ctx;
	if (index < PREFER_WORKERS)
		atomic_store(&prefer_tid[index], (pid_t)gettid());
}

static void
prefer_record(crew_task *t)
{
	(void)t;
	atomic_store(&prefer_ran_on, crew_worker_index(prefer_pool));
}

/* Keeps a worker busy until hold_want workers have started one, so that
 * a pool spawns them all (hold_start); hold_release lets stragglers go. */
static atomic_int hold_busy, hold_want;

static void
hold_fn(crew_task *t)
{
	(void)t;
	atomic_fetch_add(&hold_busy, 1);
	while (atomic_load(&hold_busy) < atomic_load(&hold_want))
		usleep(100);
}

/* Submits n hold tasks (hold[0..n)) to p; 0, or -1 if a submit failed. */
static int
hold_start(crew_pool *p, crew_task *hold, int n)
{
	int rc = 0;

	atomic_store(&hold_busy, 0);
	atomic_store(&hold_want, n);
	for (int i = 0; i < n; i++) {
		hold[i] = (crew_task)CREW_TASK_INIT(hold_fn);
		if (crew_submit(p, &hold[i]) != 0)
			rc = -1;
	}
	return rc;
}

static void
hold_release(void)
{
	atomic_store(&hold_want, 0);
}

/* Until the n workers of p (thread ids tid[]) are idle in the sync word
 * and asleep in the kernel. */
static int
wait_parked(crew_pool *p, _Atomic pid_t *tid, int n)
{
	for (int spins = 0; spins < 20000; spins++) {
		crew_stats st;
		bool all = true;

		crew_pool_stats(p, &st);
		if (st.threads_idle != (uint64_t)n)
			all = false;
		for (int i = 0; all && i < n; i++)
			all = t_in_futex(atomic_load(&tid[i]));
		if (all)
			return 0;
		usleep(100);
	}
	return -1;
}

/*
 * The pool may use 1 CPU (the process's affinity, set before create) and
 * has 4 workers, all parked.  A task submitted from outside must then be
 * run by worker 0 every time: notify asks the kernel for a sleeper of the
 * "hot" class (index below the CPU count) before any other.  With one
 * futex queue in FIFO order the wake-ups rotated through all 4 workers.
 */
int
t_oversub_wakes_first_workers(void)
{
	cpu_set_t saved, one;
	crew_config cfg;
	crew_task hold[PREFER_WORKERS], rec;
	int cpu = -1, rc = 0, result = 1;

	T_CHECK(sched_getaffinity(0, sizeof(saved), &saved) == 0, "affinity");
	for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
		if (CPU_ISSET(c, &saved))
			cpu = c;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	T_CHECK(sched_setaffinity(0, sizeof(one), &one) == 0, "affinity");
	crew_config_init(&cfg);
	cfg.max_threads = PREFER_WORKERS;
	cfg.on_thread_start = prefer_on_start;
	if (crew_pool_create(&prefer_pool, &cfg) != 0) {
		sched_setaffinity(0, sizeof(saved), &saved);
		T_CHECK(0, "create");
	}
	t_watch_pool(prefer_pool);
	/* Start every worker: each task holds one until all four run. */
	rc = hold_start(prefer_pool, hold, PREFER_WORKERS);
	/* Later spawns (none expected) and the main thread: back to all. */
	sched_setaffinity(0, sizeof(saved), &saved);
	T_CHECK_OR(out, rc == 0, "submit");
	for (int r = 0; r < PREFER_ROUNDS; r++) {
		T_CHECK_OR(out, wait_parked(prefer_pool, prefer_tid,
		    PREFER_WORKERS) == 0, "round %d: the workers "
		    "did not all park within 2 s", r);
		atomic_store(&prefer_ran_on, -1);
		rec = (crew_task)CREW_TASK_INIT(prefer_record);
		T_CHECK_OR(out, crew_submit(prefer_pool, &rec) == 0, "submit");
		while (atomic_load(&prefer_ran_on) < 0)
			usleep(50);
		T_CHECK_OR(out, atomic_load(&prefer_ran_on) == 0, "round %d: the "
		    "task ran on worker %d, not on worker 0 (the pool's only "
		    "worker within its CPU count)", r,
		    atomic_load(&prefer_ran_on));
	}
	result = 0;
out:
	/* Releases hold tasks still waiting (a failed submit) before the
	 * pool, which runs them all, goes. */
	hold_release();
	T_CHECK(crew_pool_destroy(prefer_pool) == 0, "destroy");
	return result;
}

/* ------------------------------------------------------------------ */
/* A worker woken by a busy worker does not stay on that worker's CPU.  */

#define SPREAD_ROUNDS 30

static _Atomic pid_t spread_tid[2];
static crew_pool *spread_pool;
static atomic_int spread_cpu_a, spread_cpu_b, spread_child_started;

static void
spread_on_start(void *ctx, unsigned index)
{
	(void)ctx;
	if (index < 2)
		atomic_store(&spread_tid[index], (pid_t)gettid());
}

static void
spread_child(crew_task *t)
{
	(void)t;
	atomic_store(&spread_cpu_b, sched_getcpu());
	atomic_store(&spread_child_started, 1);
}

struct spread_root_task {
	crew_task task;
	crew_wg *wg;
};

/* Pushes the child (which wakes the other, parked worker) and stays busy
 * on its CPU until the child has started elsewhere, for 2 s at most. */
static void
spread_root(crew_task *t)
{
	static crew_task child;
	crew_wg *wg = crew_container_of(t, struct spread_root_task, task)->wg;
	struct timespec t0, t1;

	int before;

	child = (crew_task)CREW_TASK_INIT(spread_child);
	before = sched_getcpu();
	crew_submit(spread_pool, &child);
	/* A round counts only if we stayed on one CPU from before the wake-up
	 * until the child started (-1: we moved). */
	atomic_store(&spread_cpu_a, sched_getcpu() == before ? before : -1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (!atomic_load(&spread_child_started) &&
	    t1.tv_sec - t0.tv_sec < 2);
	if (sched_getcpu() != before)
		atomic_store(&spread_cpu_a, -1);
	crew_wg_done(wg);
	/* (If the child did not start, we run it in our next search.) */
}

/*
 * An unpinned pool of 2 workers on 2 or more CPUs: worker A pushes a task,
 * which wakes the parked worker B, and keeps its CPU busy.  B must start
 * the task on another CPU than A's: Linux may place the wakee on its
 * waker's CPU, where it waits behind A (on this 2-vCPU guest, in 26 of 30
 * rounds with the step off), and a woken worker that finds itself there
 * steps off (pool.c, spread_from).  At most 3 rounds of 30 may still find
 * B there: another test running beside this one (Criterion's jobs) can
 * load the other CPU, and the kernel may then move B back before it starts
 * the task.  Run with CREW_SPREAD=1, with it unset (the automatic default,
 * when this process may use every online CPU) and with CREW_SPREAD=0, which
 * must never step (spread_steps stays 0; where B starts is then up to the
 * kernel).
 */
unsigned crew__default_threads(void);

static int
spread_rounds(const char *env)
{
	crew_config cfg;
	struct spread_root_task root;
	crew_task hold[2];
	crew_wg wg;
	crew_stats st;
	int result = 1, same = 0, counted = 0, rc;

	crew_config_init(&cfg);
	cfg.max_threads = 2;
	cfg.pin = CREW_PIN_NONE;
	cfg.on_thread_start = spread_on_start;
	if (env != NULL)
		setenv("CREW_SPREAD", env, 1);
	else
		unsetenv("CREW_SPREAD");
	rc = crew_pool_create(&spread_pool, &cfg);
	unsetenv("CREW_SPREAD");
	T_CHECK(rc == 0, "create");
	t_watch_pool(spread_pool);
	/* Start both workers: each hold task waits until both run. */
	T_CHECK_OR(out, hold_start(spread_pool, hold, 2) == 0, "submit");
	for (int r = 0; r < SPREAD_ROUNDS; r++) {
		T_CHECK_OR(out, wait_parked(spread_pool, spread_tid, 2) == 0,
		    "round %d: the workers did not both park within 2 s", r);
		/* ...and the CPUs idle a while, as between real bursts (with
		 * this, Linux put the wakee on the waker's CPU in 26 of 30
		 * rounds here when crew did not move it). */
		usleep(10000);
		atomic_store(&spread_child_started, 0);
		crew_wg_init(&wg);
		crew_wg_add(&wg, 1);
		root.task = (crew_task)CREW_TASK_INIT(spread_root);
		root.wg = &wg;
		T_CHECK_OR(out, crew_submit(spread_pool, &root.task) == 0,
		    "submit");
		crew_wg_wait(&wg);
		T_CHECK_OR(out, atomic_load(&spread_child_started), "round %d: "
		    "no other worker started the task within 2 s", r);
		if (atomic_load(&spread_cpu_a) < 0)
			continue;
		counted++;
		if (atomic_load(&spread_cpu_b) == atomic_load(&spread_cpu_a))
			same++;
	}
	crew_pool_stats(spread_pool, &st);
	fprintf(stderr, "wakee_leaves_busy_wakers_cpu (CREW_SPREAD=%s): %d of "
	    "%d rounds on the waker's CPU, %llu steps\n",
	    env != NULL ? env : "unset", same, counted,
	    (unsigned long long)st.spread_steps);
	T_CHECK_OR(out, counted >= SPREAD_ROUNDS / 2, "the waking worker "
	    "changed CPU in %d of %d rounds", SPREAD_ROUNDS - counted,
	    SPREAD_ROUNDS);
	if (env != NULL && strcmp(env, "0") == 0) {
		T_CHECK_OR(out, st.spread_steps == 0, "CREW_SPREAD=0 stepped "
		    "%llu times", (unsigned long long)st.spread_steps);
	} else {
		T_CHECK_OR(out, same <= 3, "CREW_SPREAD=%s: in %d of %d rounds "
		    "the woken worker started on its busy waker's CPU",
		    env != NULL ? env : "unset", same, counted);
	}
	result = 0;
out:
	hold_release();	/* hold tasks still waiting go */
	T_CHECK(crew_pool_destroy(spread_pool) == 0, "destroy");
	return result;
}

int
t_wakee_leaves_busy_wakers_cpu(void)
{
	cpu_set_t mask;

	T_CHECK(sched_getaffinity(0, sizeof(mask), &mask) == 0, "affinity");
	/* The step needs 2 usable CPUs: affinity and the cgroup quota. */
	if (CPU_COUNT(&mask) < 2 || crew__default_threads() < 2) {
		fprintf(stderr, "wakee_leaves_busy_wakers_cpu: one usable CPU, "
		    "nothing to check\n");
		return 0;
	}
	if (spread_rounds("1") != 0)
		return 1;
	/* automatic: only where this process may use every online CPU */
	if (CPU_COUNT(&mask) == (int)sysconf(_SC_NPROCESSORS_ONLN) &&
	    spread_rounds(NULL) != 0)
		return 1;
	return spread_rounds("0");
}

/*
 * Fan-out (pool.c, crew__pool_fan_out): a crew_for started while every
 * worker is parked kicks extra sleepers beside the one its first notify
 * wakes, and they take part without the waking role.  CREW_FANOUT=1 lifts
 * the cap from the CPU count to max_threads, so the path runs on 2 CPUs.
 * Each round waits until all 8 workers are parked: the caller's first
 * split then always finds sleepers to kick, so fan_outs counts at least
 * one per round; every permit taken is one posted (fan_out_taken <=
 * fan_outs), and some are taken.  A worker on a permit runs a task or
 * polls (CREW_FAN_POLL_US, worker_wait) before it parks again, so once
 * all are parked fan_out_taken <= fan_out_hits + spins (spin_us is 0
 * here: every poll is one after a permit); with CREW_FAN_POLL_US=0 none
 * polls.  Every index is covered exactly once.  With CREW_FANOUT=0
 * nothing fans out.
 */
/* Waits until all 8 workers of p are parked. */
static int
fan_parked(crew_pool *p, crew_stats *st, const char *env, unsigned r)
{
	for (int spin = 0;; spin++) {
		crew_pool_stats(p, st);
		if (st->threads_live == 8 && st->threads_idle == 8)
			return 0;
		T_CHECK(spin < 20000, "CREW_FANOUT=%s round %u: %llu of %llu "
		    "workers parked after 2 s", env, r,
		    (unsigned long long)st->threads_idle,
		    (unsigned long long)st->threads_live);
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
}

/* poll: CREW_FAN_POLL_US, NULL for the default */
static int
fan_rounds(const char *env, const char *poll, int nap_us,
    unsigned *rounds_out, crew_stats *st)
{
	/* Sleeping calls: go on until a permit has found work, for at most
	 * 1000 rounds (before the poll after a permit, a busy host made
	 * that rare: the token's wakee took the split that set it off). */
	const unsigned rounds = nap_us > 0 ? 1000 : 20;
	size_t n = nap_us > 0 ? 256 : t_scaled(1u << 18);
	size_t grain = nap_us > 0 ? 1 : 64;
	crew_task hold[8];
	crew_config cfg;
	crew_pool *p;
	int rc;

	*rounds_out = 0;
	crew_config_init(&cfg);
	cfg.max_threads = 8;
	cfg.spin_us = 0;	/* every poll is one after a permit */
	setenv("CREW_FANOUT", env, 1);
	if (poll != NULL)
		setenv("CREW_FAN_POLL_US", poll, 1);
	else
		unsetenv("CREW_FAN_POLL_US");
	rc = crew_pool_create(&p, &cfg);
	unsetenv("CREW_FANOUT");
	unsetenv("CREW_FAN_POLL_US");
	T_CHECK(rc == 0, "create");
	t_watch_pool(p);
	/* Start all 8: each hold task returns once all 8 run. */
	T_CHECK(hold_start(p, hold, 8) == 0, "submit");
	for (unsigned r = 0; r < rounds; r++) {
		if (fan_parked(p, st, env, r) != 0)
			return 1;
		if (nap_us > 0 && r >= 20 && st->fan_out_hits > 0)
			break;
		atomic_store(&cover_nap_us, nap_us);
		rc = check_cover(p, 0, n, grain);
		atomic_store(&cover_nap_us, 0);
		T_CHECK(rc == 0, "CREW_FANOUT=%s round %u", env, r);
		*rounds_out = r + 1;
	}
	/* Parked: every permit taken has ended in a task or a poll (the
	 * counters are a relaxed snapshot; a parked worker's are final). */
	for (int spin = 0;; spin++) {
		if (fan_parked(p, st, env, *rounds_out) != 0)
			return 1;
		if (poll != NULL && strcmp(poll, "0") == 0)
			break;
		if (st->fan_out_taken <= st->fan_out_hits + st->spins)
			break;
		T_CHECK(spin < 20000, "CREW_FANOUT=%s: %llu permits taken, "
		    "%llu ran a task, %llu polls", env,
		    (unsigned long long)st->fan_out_taken,
		    (unsigned long long)st->fan_out_hits,
		    (unsigned long long)st->spins);
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

static void
fan_print(const char *what, unsigned rounds, const crew_stats *st)
{
	fprintf(stderr, "for_fans_out (%s): %u rounds, %llu fan-outs, %llu "
	    "permits taken, %llu ran a task, %llu polls, %llu wake-ups\n",
	    what, rounds, (unsigned long long)st->fan_outs,
	    (unsigned long long)st->fan_out_taken,
	    (unsigned long long)st->fan_out_hits,
	    (unsigned long long)st->spins,
	    (unsigned long long)st->wakeups);
}

int
t_for_fans_out(void)
{
	crew_stats st;
	unsigned rounds;

	T_CHECK(fan_rounds("1", NULL, 0, &rounds, &st) == 0, "CREW_FANOUT=1");
	fan_print("loops", rounds, &st);
	T_CHECK(st.fan_outs >= rounds, "%llu fan-outs in %u rounds",
	    (unsigned long long)st.fan_outs, rounds);
	T_CHECK(st.fan_out_taken > 0, "no worker took a fan-out permit");
	T_CHECK(st.fan_out_taken <= st.fan_outs, "%llu permits taken "
	    "for %llu fan-outs", (unsigned long long)st.fan_out_taken,
	    (unsigned long long)st.fan_outs);
	T_CHECK(st.fan_out_hits <= st.fan_out_taken, "%llu hits for %llu "
	    "permits taken", (unsigned long long)st.fan_out_hits,
	    (unsigned long long)st.fan_out_taken);
	/*
	 * Calls that sleep 200 us leave the 2 CPUs here free, so workers
	 * that left idle on a permit find splits and run them.
	 */
	T_CHECK(fan_rounds("1", NULL, 200, &rounds, &st) == 0,
	    "CREW_FANOUT=1, sleeping calls");
	fan_print("sleeping calls", rounds, &st);
	T_CHECK(st.fan_out_hits > 0, "sleeping calls: no worker that took "
	    "a fan-out permit found work (%llu taken)",
	    (unsigned long long)st.fan_out_taken);
	/* CREW_FAN_POLL_US=0: a permit that finds nothing parks at once */
	T_CHECK(fan_rounds("1", "0", 0, &rounds, &st) == 0,
	    "CREW_FANOUT=1 CREW_FAN_POLL_US=0");
	fan_print("CREW_FAN_POLL_US=0", rounds, &st);
	T_CHECK(st.fan_out_taken > 0, "CREW_FAN_POLL_US=0: no permit taken");
	T_CHECK(st.spins == 0, "CREW_FAN_POLL_US=0: %llu polls",
	    (unsigned long long)st.spins);
	T_CHECK(fan_rounds("0", NULL, 0, &rounds, &st) == 0, "CREW_FANOUT=0");
	T_CHECK(st.fan_outs == 0 && st.fan_out_taken == 0,
	    "CREW_FANOUT=0: %llu fan-outs, %llu permits taken",
	    (unsigned long long)st.fan_outs,
	    (unsigned long long)st.fan_out_taken);
	return 0;
}

/*
 * A chain of tasks, each of which submits one child and waits for it (a
 * wait group on its stack), 1 and 2 workers with 64 KiB stacks: the child
 * is on top of the waiter's LIFO stack at every wait, so a wait that
 * helped with that stack alone nested the whole chain on one stack and
 * overflowed it (100,000 deep on 8 MiB stacks, 300 deep on 64 KiB).  Past
 * three quarters of its stack a wait now goes on on a relay.
 */
struct chain_link {
	crew_task task;
	struct chain_link *next; /* the child, NULL at the end */
	crew_pool *pool;
	crew_wg *wg;             /* the parent's */
	atomic_uint ran;
};

static void
chain_link_fn(crew_task *t)
{
	struct chain_link *c = crew_container_of(t, struct chain_link, task);
	crew_wg *up = c->wg, wg = CREW_WG_INIT;

	atomic_fetch_add(&c->ran, 1);
	if (c->next != NULL) {
		c->next->wg = &wg;
		crew_wg_add(&wg, 1);
		if (crew_submit(c->pool, &c->next->task) != 0)
			chain_link_fn(&c->next->task);
		crew_wg_wait(&wg);
	}
	crew_wg_done(up);
}

int
t_wg_chain_deep(void)
{
	size_t n = t_scaled(20000);
	struct chain_link *links = calloc(n, sizeof(*links));

	T_CHECK(links != NULL, "oom");
	for (unsigned workers = 1; workers <= 2; workers++) {
		crew_config cfg;
		crew_pool *p;
		crew_wg wg = CREW_WG_INIT;
		crew_stats st;

		crew_config_init(&cfg);
		cfg.max_threads = workers;
		cfg.stack_size = 65536;
		p = t_pool_cfg(&cfg);
		T_CHECK(p != NULL, "create");
		for (size_t i = 0; i < n; i++) {
			links[i].task = (crew_task)CREW_TASK_INIT(chain_link_fn);
			links[i].next = i + 1 < n ? &links[i + 1] : NULL;
			links[i].pool = p;
			atomic_store(&links[i].ran, 0);
		}
		links[0].wg = &wg;
		crew_wg_add(&wg, 1);
		T_CHECK(crew_submit(p, &links[0].task) == 0, "submit");
		T_CHECK(crew_wg_wait(&wg) == 0, "wait");
		for (size_t i = 0; i < n; i++)
			T_CHECK(atomic_load(&links[i].ran) == 1,
			    "%u workers: link %zu ran %u times", workers, i,
			    atomic_load(&links[i].ran));
		crew_pool_stats(p, &st);
		fprintf(stderr, "wg_chain_deep: %u workers, %zu links, %llu "
		    "relayed waits, %llu relay stacks\n", workers, n,
		    (unsigned long long)st.relays,
		    (unsigned long long)st.relay_stacks);
		T_CHECK(st.relays > 0, "%zu nested waits on 64 KiB stacks "
		    "and no relay", n);
		T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	}
	free(links);
	return 0;
}

/*
 * crew_for on pools with the smallest stacks crew_pool_create accepts
 * (PTHREAD_STACK_MIN) and a few sizes above, automatic and fine grains:
 * every index exactly once, no overflow.  A waiting frame ran its own
 * splits nested, 3 KiB of split descriptors a level, and overflowed
 * stacks up to 64 KiB.
 */
static atomic_uchar *small_hits;

static void
small_fn(void *ctx, size_t lo, size_t hi)
{
	(void)ctx;
	for (size_t i = lo; i < hi; i++)
		atomic_fetch_add(&small_hits[i], 1);
}

static crew_pool *small_pool;

static void
small_outer_fn(void *ctx, size_t lo, size_t hi)
{
	(void)ctx;
	for (size_t i = lo; i < hi; i++)
		(void)crew_for(small_pool, i * 256, (i + 1) * 256, 1, small_fn,
		    NULL);
}

int
t_for_small_stacks(void)
{
	size_t n = (size_t)1 << 16, stacks[4], grains[3] = { 0, 1, 64 };
	long min = sysconf(_SC_THREAD_STACK_MIN);

	stacks[0] = min > 0 ? (size_t)min : 16384;
	stacks[1] = 24576;
	stacks[2] = 32768;
	stacks[3] = 65536;
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer makes every frame, this test's and crew's, about
	 * three times larger (redzones): on 16 KiB it overflowed in the
	 * test's own nested calls before crew's next look at the stack. */
	for (int s = 0; s < 4; s++)
		stacks[s] *= 4;
#endif
	small_hits = calloc(n, 1);
	T_CHECK(small_hits != NULL, "oom");
	for (int s = 0; s < 4; s++) {
		crew_config cfg;
		crew_pool *p;
		crew_stats st;

		crew_config_init(&cfg);
		cfg.max_threads = 2;
		cfg.stack_size = stacks[s];
		p = t_pool_cfg(&cfg);
		T_CHECK(p != NULL, "create, stack %zu", stacks[s]);
		for (int g = 0; g < 3; g++)
			for (int rep = 0; rep < 10; rep++) {
				memset((void *)small_hits, 0, n);
				T_CHECK(crew_for(p, 0, n, grains[g], small_fn,
				    NULL) == 0, "crew_for");
				for (size_t i = 0; i < n; i++)
					T_CHECK(small_hits[i] == 1, "stack %zu, "
					    "grain %zu: index %zu hit %u times",
					    stacks[s], grains[g], i,
					    small_hits[i]);
			}
		crew_pool_stats(p, &st);
		fprintf(stderr, "for_small_stacks: stack %zu, %llu relayed "
		    "waits\n", stacks[s], (unsigned long long)st.relays);
		T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	}
	/* Nested: crew_for from inside crew_for's calls, 3 workers, the
	 * smallest stack (waits there relay). */
	for (unsigned workers = 2; workers <= 3; workers++) {
		crew_config cfg;
		crew_stats st;

		crew_config_init(&cfg);
		cfg.max_threads = workers;
		cfg.stack_size = stacks[0];
		small_pool = t_pool_cfg(&cfg);
		T_CHECK(small_pool != NULL, "create");
		for (int rep = 0; rep < 10; rep++) {
			memset((void *)small_hits, 0, n);
			T_CHECK(crew_for(small_pool, 0, n / 256, 1,
			    small_outer_fn, NULL) == 0, "crew_for");
			for (size_t i = 0; i < n; i++)
				T_CHECK(small_hits[i] == 1, "nested, %u "
				    "workers: index %zu hit %u times", workers,
				    i, small_hits[i]);
		}
		crew_pool_stats(small_pool, &st);
		fprintf(stderr, "for_small_stacks: nested, %u workers, stack "
		    "%zu, %llu relayed waits\n", workers, stacks[0],
		    (unsigned long long)st.relays);
		T_CHECK(crew_pool_destroy(small_pool) == 0, "destroy");
	}
	free((void *)small_hits);
	return 0;
}

/*
 * A poller (a task that reschedules itself until a flag is set) beside
 * the task that sets the flag, on one worker, so no thief can help: the
 * poller must not starve it.  Each case gives up after POLL_LIMIT polls,
 * which fails the check instead of hanging.
 *   below: A submits C, then the poller, and returns (C is older on the
 *          LIFO stack, under the poller);
 *   below_in_wait: the same, and A waits for the poller (helping);
 *   ring_in_wait: C waits in the ring (a batch [C, A] from outside, the
 *          refill runs A), A submits the poller and waits for it.
 */
#define POLL_LIMIT 1000000L
enum { POLL_BELOW, POLL_BELOW_IN_WAIT, POLL_RING_IN_WAIT, POLL_CASES };
static const char *const poll_case_name[POLL_CASES] = { "below",
	"below_in_wait", "ring_in_wait" };
static crew_pool *poll_pool;
static int poll_case;
static atomic_int poll_flag;
static atomic_long poll_count;
static crew_wg poll_done, poll_wg;

static void
poll_c_fn(crew_task *t)
{
	(void)t;
	atomic_store(&poll_flag, 1);
}

static void
poll_p_fn(crew_task *t)
{
	if (!atomic_load(&poll_flag) &&
	    atomic_fetch_add(&poll_count, 1) < POLL_LIMIT &&
	    crew_submit(poll_pool, t) == 0)
		return;
	crew_wg_done(poll_case == POLL_BELOW ? &poll_done : &poll_wg);
}

static crew_task poll_c = CREW_TASK_INIT(poll_c_fn);
static crew_task poll_p = CREW_TASK_INIT(poll_p_fn);

static void
poll_a_fn(crew_task *t)
{
	(void)t;
	if (poll_case != POLL_RING_IN_WAIT)
		(void)crew_submit(poll_pool, &poll_c);
	if (poll_case != POLL_BELOW)
		crew_wg_add(&poll_wg, 1);
	(void)crew_submit(poll_pool, &poll_p);
	if (poll_case != POLL_BELOW) {
		crew_wg_wait(&poll_wg);
		crew_wg_done(&poll_done);
	}
}

static crew_task poll_a = CREW_TASK_INIT(poll_a_fn);

int
t_poller_beside_awaited(void)
{
	for (poll_case = 0; poll_case < POLL_CASES; poll_case++) {
		crew_batch b = CREW_BATCH_INIT;

		poll_pool = t_pool(1);
		T_CHECK(poll_pool != NULL, "create");
		atomic_store(&poll_flag, 0);
		atomic_store(&poll_count, 0);
		crew_wg_init(&poll_done);
		crew_wg_init(&poll_wg);
		crew_wg_add(&poll_done, 1);
		if (poll_case == POLL_RING_IN_WAIT) {
			T_CHECK(crew_batch_push(&b, &poll_c) == 0 &&
			    crew_batch_push(&b, &poll_a) == 0, "batch");
			T_CHECK(crew_schedule(poll_pool, b) == 0, "schedule");
		} else {
			T_CHECK(crew_submit(poll_pool, &poll_a) == 0,
			    "submit");
		}
		T_CHECK(crew_wg_wait(&poll_done) == 0, "wait");
		fprintf(stderr, "poller_beside_awaited: %s: %ld polls\n",
		    poll_case_name[poll_case], atomic_load(&poll_count));
		T_CHECK(atomic_load(&poll_flag) == 1 &&
		    atomic_load(&poll_count) < POLL_LIMIT, "%s: the poller "
		    "starved the task it polled for (%ld polls)",
		    poll_case_name[poll_case], atomic_load(&poll_count));
		T_CHECK(crew_pool_destroy(poll_pool) == 0, "destroy");
	}
	return 0;
}

/*
 * Fork-join trees whose nodes submit all their children and wait (k = 2
 * and 4), on one worker: tasks nest on the worker's stack as deep as the
 * tree, no deeper.  When the LIFO stack's run limit counted the pops of
 * every wait of the nest together, every 256th pop ran the stack's oldest
 * task (the largest pending subtree) nested, and nesting grew with the
 * number of tasks: 30,000 deep for 2^21 tasks.
 */
static _Thread_local unsigned tree_nest;
static atomic_uint tree_max_nest;
static atomic_ulong tree_nodes;
static crew_pool *tree_pool;
static unsigned tree_k;

struct tree_node {
	crew_task task;
	unsigned depth;
	crew_wg *wg;
};

static void
tree_node_fn(crew_task *t)
{
	struct tree_node *nd = crew_container_of(t, struct tree_node, task);
	crew_wg *up = nd->wg;
	unsigned m = atomic_load(&tree_max_nest);

	tree_nest++;
	while (tree_nest > m &&
	    !atomic_compare_exchange_weak(&tree_max_nest, &m, tree_nest))
		;
	atomic_fetch_add_explicit(&tree_nodes, 1, memory_order_relaxed);
	if (nd->depth > 0) {
		struct tree_node ch[4];
		crew_wg wg = CREW_WG_INIT;

		crew_wg_add(&wg, tree_k);
		for (unsigned i = 0; i < tree_k; i++) {
			ch[i] = (struct tree_node){ CREW_TASK_INIT(tree_node_fn),
			    nd->depth - 1, &wg };
			if (crew_submit(tree_pool, &ch[i].task) != 0)
				tree_node_fn(&ch[i].task);
		}
		crew_wg_wait(&wg);
	}
	tree_nest--;
	if (up != NULL)
		crew_wg_done(up);
}

int
t_fork_tree_nesting(void)
{
	static const unsigned ks[2] = { 2, 4 }, depths[2] = { 18, 9 };

	for (int c = 0; c < 2; c++) {
		crew_wg wg = CREW_WG_INIT;
		struct tree_node root = { CREW_TASK_INIT(tree_node_fn), depths[c],
		    &wg };
		unsigned long want = 0, level = 1;

		for (unsigned d = 0; d <= depths[c]; d++, level *= ks[c])
			want += level;
		tree_pool = t_pool(1);
		T_CHECK(tree_pool != NULL, "create");
		tree_k = ks[c];
		atomic_store(&tree_max_nest, 0);
		atomic_store(&tree_nodes, 0);
		crew_wg_add(&wg, 1);
		T_CHECK(crew_submit(tree_pool, &root.task) == 0, "submit");
		T_CHECK(crew_wg_wait(&wg) == 0, "wait");
		fprintf(stderr, "fork_tree_nesting: k=%u depth %u: %lu nodes, "
		    "nested %u deep\n", ks[c], depths[c],
		    atomic_load(&tree_nodes), atomic_load(&tree_max_nest));
		T_CHECK(atomic_load(&tree_nodes) == want, "%lu nodes ran, "
		    "want %lu", atomic_load(&tree_nodes), want);
		T_CHECK(atomic_load(&tree_max_nest) <= depths[c] + 1,
		    "k=%u depth %u: tasks nested %u deep", ks[c], depths[c],
		    atomic_load(&tree_max_nest));
		T_CHECK(crew_pool_destroy(tree_pool) == 0, "destroy");
	}
	return 0;
}

/*
 * A chain of waits (conc/wg_chain_deep's links) that goes past half of a
 * 4 MiB stack with no relay stack to be had, while the pool's other worker
 * is blocked in a task: the chain's waits run their children on this
 * stack (nothing else would), and the chain completes.  It stops growing
 * at 80% of the stack, whatever the build's frame sizes.  A run limit that
 * made a deep wait report "nothing" to make it relay left such a wait
 * napping forever.
 */
static atomic_int nr_release, nr_done, nr_blocking, nr_moved;
static unsigned nr_fan;         /* children of the last link */
static atomic_uint nr_fan_ran;
static pthread_t nr_thread;
static uintptr_t nr_limit;

static void
nr_nap_ms(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

static uintptr_t nr_top;
static size_t nr_stack;
static atomic_ulong nr_links;
static crew_task *nr_root;

struct nr_link {
	crew_task task;
	crew_pool *pool;
	crew_wg *wg;
};

static crew_wg *nr_kid_wg;

static void
nr_kid_fn(crew_task *t)
{
	(void)t;
	atomic_fetch_add(&nr_fan_ran, 1);
	crew_wg_done(nr_kid_wg);
}

static void
nr_link_fn(crew_task *t)
{
	struct nr_link *c = crew_container_of(t, struct nr_link, task);
	crew_wg *up = c->wg, wg = CREW_WG_INIT;
	struct nr_link child;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);

	if (nr_top == 0) {
		pthread_attr_t attr;
		void *lo;
		size_t size;

		/* 80% of what is left below the first link (the top of a
		 * thread's stack mapping may hold its TLS: 790 KB under
		 * ThreadSanitizer) */
		nr_top = here;
		nr_thread = pthread_self();
		nr_limit = 0;
		if (pthread_getattr_np(pthread_self(), &attr) == 0) {
			if (pthread_attr_getstack(&attr, &lo, &size) == 0 &&
			    (uintptr_t)lo < here)
				nr_limit = (here - (uintptr_t)lo) / 10 * 8;
			pthread_attr_destroy(&attr);
		}
	}
	if (!pthread_equal(pthread_self(), nr_thread))
		atomic_store(&nr_moved, 1); /* stop: the setup failed */
	atomic_fetch_add(&nr_links, 1);
	if (!atomic_load(&nr_moved) && nr_top - here < nr_limit) {
		child = (struct nr_link){ CREW_TASK_INIT(nr_link_fn), c->pool,
		    &wg };
		crew_wg_add(&wg, 1);
		if (crew_submit(c->pool, &child.task) != 0)
			nr_link_fn(&child.task);
		crew_wg_wait(&wg);
	} else if (nr_fan > 0) {
		/* More than the LIFO stack holds: the rest go to the ring. */
		crew_task *kids = calloc(nr_fan, sizeof(*kids));

		if (kids != NULL) {
			crew_wg_add(&wg, nr_fan);
			for (unsigned i = 0; i < nr_fan; i++) {
				kids[i] = (crew_task)CREW_TASK_INIT(nr_kid_fn);
				nr_kid_wg = &wg;
				if (crew_submit(c->pool, &kids[i]) != 0)
					nr_kid_fn(&kids[i]);
			}
			crew_wg_wait(&wg);
			free(kids);
		}
	}
	if (t == nr_root)
		atomic_store(&nr_done, 1);
	crew_wg_done(up);
}

static void
nr_blocker_fn(crew_task *t)
{
	(void)t;
	atomic_store(&nr_blocking, 1);
	while (!atomic_load(&nr_release))
		nr_nap_ms();
}

static void
nr_nothing_fn(crew_task *t)
{
	(void)t;
}

/* A pool of 2 workers with 4 MiB stacks for a chain from *root, its
 * last link waiting for `fan` children; every nr_ setting reset. */
static crew_pool *
nr_setup(struct nr_link *root, crew_wg *wg, unsigned fan)
{
	crew_config cfg;
	crew_pool *p;

	crew_config_init(&cfg);
	cfg.max_threads = 2;
	cfg.stack_size = nr_stack = (size_t)4 << 20;
	if ((p = t_pool_cfg(&cfg)) == NULL)
		return NULL;
	atomic_store(&nr_release, 0);
	atomic_store(&nr_done, 0);
	atomic_store(&nr_blocking, 0);
	atomic_store(&nr_moved, 0);
	atomic_store(&nr_links, 0);
	atomic_store(&nr_fan_ran, 0);
	nr_fan = fan;
	nr_top = 0;
	*root = (struct nr_link){ CREW_TASK_INIT(nr_link_fn), p, wg };
	nr_root = &root->task;
	return p;
}

/* Whether the chain completes within 30 s. */
static int
nr_completes(void)
{
	for (int i = 0; i < 30000; i++) {
		if (atomic_load(&nr_done))
			return 1;
		nr_nap_ms();
	}
	return atomic_load(&nr_done);
}

int
t_wg_chain_without_relays(void)
{
	crew_pool *p;
	crew_wg wg = CREW_WG_INIT;
	crew_task blocker = CREW_TASK_INIT(nr_blocker_fn);
	crew_task nothing = CREW_TASK_INIT(nr_nothing_fn);
	struct nr_link root;
	crew_stats st;
	int done;

	p = nr_setup(&root, &wg, 0);
	T_CHECK(p != NULL, "create");
	/* One worker blocked, the other up and idle (thread stacks are
	 * MAP_STACK mappings too: no new thread once they fail). */
	T_CHECK(crew_submit(p, &blocker) == 0, "submit");
	for (int tries = 0; tries < 5000; tries++) {
		crew_pool_stats(p, &st);
		if (st.threads_spawned == 2 && st.tasks_run == 1 &&
		    st.threads_idle == 1 && atomic_load(&nr_blocking))
			break;
		if (tries % 100 == 0 && st.tasks_run == 0)
			(void)crew_submit(p, &nothing);
		nr_nap_ms();
	}
	if (!(st.threads_spawned == 2 && st.threads_idle == 1 &&
	    atomic_load(&nr_blocking))) {
		atomic_store(&nr_release, 1);
		T_CHECK(0, "setup: workers %llu, idle %llu, blocker %s",
		    (unsigned long long)st.threads_spawned,
		    (unsigned long long)st.threads_idle,
		    atomic_load(&nr_blocking) ? "running" : "not running");
	}
	t_fail_stacks(1);
	crew_wg_add(&wg, 1);
	if (crew_submit(p, &root.task) != 0) {
		t_fail_stacks(0);
		atomic_store(&nr_release, 1);
		T_CHECK(0, "submit");
	}
	/* No T_CHECK return until the blocker is released. */
	done = nr_completes();
	t_fail_stacks(0);
	atomic_store(&nr_release, 1);
	T_CHECK(crew_wg_wait(&wg) == 0, "wait");
	crew_pool_stats(p, &st);
	fprintf(stderr, "wg_chain_without_relays: %lu links, %llu relayed "
	    "waits, %llu deep waits\n", atomic_load(&nr_links),
	    (unsigned long long)st.relays, (unsigned long long)st.deep_waits);
	T_CHECK(done, "the chain did not complete in 30 s beside a blocked "
	    "worker (%lu links)", atomic_load(&nr_links));
	T_CHECK(!atomic_load(&nr_moved), "a link ran on the other worker, "
	    "which should have been blocked");
	T_CHECK(st.relays == 0, "%llu relays with relay stacks failing",
	    (unsigned long long)st.relays);
	T_CHECK(st.deep_waits > 0, "the chain never went past half the "
	    "stack (%lu links)", atomic_load(&nr_links));
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	return 0;
}

/*
 * The same chain on a pool of 2 workers of which only one could start
 * (thread creation failing), with no relay stack to be had, its last
 * link waiting for 100 children (64 on its LIFO stack, the rest in its
 * ring): with nobody else to run them, the wait helps with everything.
 * It looked at max_threads and took only its LIFO stack: a hang.
 */
int
t_wg_chain_one_worker_up(void)
{
	crew_pool *p;
	crew_wg wg = CREW_WG_INIT;
	crew_task nothing = CREW_TASK_INIT(nr_nothing_fn);
	struct nr_link root;
	crew_stats st;
	int done;

	p = nr_setup(&root, &wg, 100);
	T_CHECK(p != NULL, "create");
	t_fail_create(2, 1, 0); /* every thread creation after the first */
	if (crew_submit(p, &nothing) != 0) {
		t_fail_create(0, 0, 0);
		T_CHECK(0, "submit");
	}
	for (int tries = 0; tries < 5000; tries++) {
		crew_pool_stats(p, &st);
		if (st.threads_spawned == 1 && st.threads_idle == 1)
			break;
		nr_nap_ms();
	}
	if (!(st.threads_spawned == 1 && st.threads_idle == 1)) {
		t_fail_create(0, 0, 0);
		T_CHECK(0, "workers %llu, idle %llu",
		    (unsigned long long)st.threads_spawned,
		    (unsigned long long)st.threads_idle);
	}
	t_fail_stacks(1);
	crew_wg_add(&wg, 1);
	if (crew_submit(p, &root.task) != 0) {
		t_fail_stacks(0);
		t_fail_create(0, 0, 0);
		T_CHECK(0, "submit");
	}
	/* No T_CHECK return until creation and stacks work again. */
	done = nr_completes();
	t_fail_stacks(0);
	t_fail_create(0, 0, 0);
	T_CHECK(crew_wg_wait(&wg) == 0, "wait");
	crew_pool_stats(p, &st);
	fprintf(stderr, "wg_chain_one_worker_up: %lu links, %u of %u "
	    "children, %llu deep waits, %llu workers\n",
	    atomic_load(&nr_links), atomic_load(&nr_fan_ran), nr_fan,
	    (unsigned long long)st.deep_waits,
	    (unsigned long long)st.threads_spawned);
	T_CHECK(done, "the chain did not complete in 30 s on the one worker "
	    "up (%u of %u children ran)", atomic_load(&nr_fan_ran), nr_fan);
	T_CHECK(st.deep_waits > 0, "the chain never went past half the "
	    "stack (%lu links)", atomic_load(&nr_links));
	T_CHECK(crew_pool_destroy(p) == 0, "destroy");
	nr_fan = 0;
	return 0;
}

/*
 * Unpinned workers run on their pool's CPUs whichever thread started
 * them: a worker of a pinned pool (CREW_PIN_PUS, one CPU each) makes the
 * first submit to an unpinned pool, whose workers it thus spawns, and
 * creates another pool from its task.  Both pools' workers must see the
 * process's CPUs, and the created pool's default size must count them.
 * A thread inherits its creator's mask: before, both pools ran on that
 * one CPU (and the created one had one worker).
 */
static crew_pool *ui_unpinned;
static atomic_int ui_min_cpus;
static atomic_uint ui_ran;
static crew_wg ui_wg;

static void
ui_probe_fn(crew_task *t)
{
	cpu_set_t now;
	int n = 0, m = atomic_load(&ui_min_cpus);

	(void)t;
	if (sched_getaffinity(0, sizeof(now), &now) == 0)
		n = CPU_COUNT(&now);
	while (n < m && !atomic_compare_exchange_weak(&ui_min_cpus, &m, n))
		;
	atomic_fetch_add(&ui_ran, 1);
	crew_wg_done(&ui_wg);
}

static crew_task ui_probes[8];
static crew_task ui_created_probes[8];
static crew_pool *ui_created;
static unsigned ui_created_threads;

static void
ui_pinned_fn(crew_task *t)
{
	crew_stats st;

	(void)t;
	for (int i = 0; i < 8; i++) {
		ui_probes[i] = (crew_task)CREW_TASK_INIT(ui_probe_fn);
		if (crew_submit(ui_unpinned, &ui_probes[i]) != 0)
			ui_probe_fn(&ui_probes[i]);
	}
	if (crew_pool_create(&ui_created, NULL) == 0) {
		crew_pool_stats(ui_created, &st);
		ui_created_threads = (unsigned)st.max_threads;
		for (int i = 0; i < 8; i++) {
			ui_created_probes[i] =
			    (crew_task)CREW_TASK_INIT(ui_probe_fn);
			if (crew_submit(ui_created, &ui_created_probes[i]) != 0)
				ui_probe_fn(&ui_created_probes[i]);
		}
	} else {
		for (int i = 0; i < 8; i++)
			crew_wg_done(&ui_wg);
	}
	crew_wg_done(&ui_wg); /* the pools may go once this task is done */
}

int
t_unpinned_ignores_spawner(void)
{
	cpu_set_t mask;
	crew_config cfg;
	crew_pool *pinned;
	crew_stats st;
	crew_task root = CREW_TASK_INIT(ui_pinned_fn);
	int want;

	T_CHECK(sched_getaffinity(0, sizeof(mask), &mask) == 0, "affinity");
	want = CPU_COUNT(&mask);
	if (want < 2) {
		fprintf(stderr, "unpinned_ignores_spawner: one usable CPU, "
		    "nothing to check\n");
		return 0;
	}
	crew_config_init(&cfg);
	cfg.max_threads = 2;
	cfg.pin = CREW_PIN_PUS;
	pinned = t_pool_cfg(&cfg);
	T_CHECK(pinned != NULL, "create pinned");
	crew_config_init(&cfg);
	cfg.max_threads = 2;
	cfg.pin = CREW_PIN_NONE;
	ui_unpinned = t_pool_cfg(&cfg);
	T_CHECK(ui_unpinned != NULL, "create unpinned");
	t_watch_pool(pinned);
	atomic_store(&ui_min_cpus, INT_MAX);
	atomic_store(&ui_ran, 0);
	ui_created = NULL;
	crew_wg_init(&ui_wg);
	crew_wg_add(&ui_wg, 17);
	T_CHECK(crew_submit(pinned, &root) == 0, "submit");
	T_CHECK(crew_wg_wait(&ui_wg) == 0, "wait");
	crew_pool_stats(pinned, &st);
	fprintf(stderr, "unpinned_ignores_spawner: %llu of the pinned pool's "
	    "workers pinned; the other pools' workers saw at least %d of %d "
	    "CPUs; the pool created in a task has %u workers\n",
	    (unsigned long long)st.pinned_workers, atomic_load(&ui_min_cpus),
	    want, ui_created_threads);
	if (st.pinned_workers > 0) {
		T_CHECK(atomic_load(&ui_min_cpus) == want, "an unpinned worker "
		    "started by a pinned one ran on %d of %d CPUs",
		    atomic_load(&ui_min_cpus), want);
		T_CHECK(ui_created == NULL || ui_created_threads ==
		    (unsigned)crew__default_threads(), "a pool created by a "
		    "pinned worker got %u workers by default, not %u",
		    ui_created_threads, crew__default_threads());
	}
	T_CHECK(ui_created != NULL, "create from a task");
	T_CHECK(crew_pool_destroy(ui_created) == 0, "destroy created");
	T_CHECK(crew_pool_destroy(ui_unpinned) == 0, "destroy unpinned");
	T_CHECK(crew_pool_destroy(pinned) == 0, "destroy pinned");
	return 0;
}
