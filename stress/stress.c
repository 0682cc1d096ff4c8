/* SPDX-License-Identifier: MIT */
/*
 * crew stress driver -- not a benchmark.
 *
 *   stress MODE [THREADS] [TASKS] [ITERATIONS] [SEED]
 *
 * MODE:
 *   bulk       TASKS tasks from 4 outside producers (half one by one, half
 *              in random-sized batches, a quarter of those larger than a
 *              ring), a random fraction of them
 *              scheduling a child from inside the pool; every task checks a
 *              plain payload and a per-task counter (exactly once)
 *   forkjoin   fib and a binary tree with a wait group per node, from
 *              inside a worker and from outside, and crew_for over TASKS
 *              indices (each covered exactly once)
 *   pingpong   TASKS rounds of submit-one-and-wait across a park, with
 *              random pauses so workers really sleep in between
 *   lifecycle  ITERATIONS pools created, fed TASKS/100 tasks from 2
 *              outside threads racing the shutdown, destroyed; every
 *              submit is either accepted and run once or refused
 *   queued     TASKS tasks queued (one batch plus single submits) while the
 *              workers are held, then destroy: all of them run first
 *   nested     tasks of one pool create, use and destroy pools of their
 *              own; shutdown/destroy called from a task of the same pool
 *              return CREW_EDEADLK
 *   overflow   max(TASKS, 4096) tasks that resubmit themselves from inside
 *              the pool, so every ring stays full and keeps spilling into
 *              its overflow queue; every task must still run within 1 s
 *              (x STRESS_TIME_SCALE), each submission exactly once
 *   burst      TASKS bursts after idle: THREADS tasks submitted at once
 *              must all be running at the same time (a barrier), proving
 *              the throttled notify wakes every parked worker
 *   handoff    TASKS rounds: an outside task submits a child from inside
 *              the pool while the other worker is between searching and
 *              parking; the child must run, with < 3 wake-ups per task
 *   deep       TASKS outside roots on 128 KiB worker stacks, each forking
 *              two children and then waiting for a reply that an outside
 *              thread sends, in random order, once every root has
 *              started: the waits nest past half the stack and go on on
 *              relay stacks.  Every task checks that no other thread
 *              acts as its worker meanwhile (a per-index owner word,
 *              checked 200 times over each reply);
 *              every root, child and reply runs exactly once
 *
 * Each iteration uses a fresh pool of THREADS workers.  The seed is printed
 * first; the same seed replays the same sizes, batch splits and pauses (the
 * thread interleaving is the OS's).  A watchdog turns a hang into a failure
 * after dumping the pool's sync word, rings and queues.  Exit 0 and a
 * closing "N passed, N failed" line.
 */
#define _GNU_SOURCE
#include "crew.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int crew__debug_dump(crew_pool *p, char *buf, size_t size);

static crew_pool *_Atomic watched;
static unsigned watchdog_s = 120;
static double time_scale = 1.0;

/*
 * Under a sanitizer everything runs 5-20x slower: the sizes given on the
 * command line shrink by STRESS_SHRINK and deadlines stretch by it, so the
 * same suite line works in every build (and the printed sizes are the ones
 * actually run, for replay).
 */
#if defined(__SANITIZE_THREAD__)
#define STRESS_SHRINK 20
#elif defined(__SANITIZE_ADDRESS__)
#define STRESS_SHRINK 4
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_SHRINK 20
#elif __has_feature(address_sanitizer)
#define STRESS_SHRINK 4
#endif
#endif
#ifndef STRESS_SHRINK
#define STRESS_SHRINK 1
#endif

static void
on_alarm(int sig)
{
	static char buf[16384];
	crew_pool *p = atomic_load(&watched);
	int n = snprintf(buf, sizeof(buf), "stress: watchdog fired: hang\n");

	(void)sig;
	if (write(2, buf, (size_t)n) < 0)
		_exit(3);
	if (p != NULL && (n = crew__debug_dump(p, buf, sizeof(buf))) > 0 &&
	    write(2, buf, (size_t)n) < 0)
		_exit(3);
	_exit(2);
}

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static crew_pool *
new_pool(unsigned threads)
{
	crew_config cfg;
	crew_pool *p;

	crew_config_init(&cfg);
	cfg.max_threads = threads;
	if (crew_pool_create(&p, &cfg) != 0) {
		fprintf(stderr, "stress: crew_pool_create failed\n");
		exit(1);
	}
	atomic_store(&watched, p);
	return p;
}

#define FAIL(...)                                                             \
	do {                                                                  \
		fprintf(stderr, "stress: FAIL: " __VA_ARGS__);                \
		fputc('\n', stderr);                                          \
		return 1;                                                     \
	} while (0)

/* ------------------------------------------------------------- bulk */

struct btask {
	crew_task task;
	uint32_t id;
	uint32_t payload;
	int child; /* index of the child to schedule, or -1 */
};

static struct btask *bt;
static atomic_uchar *bhit;
static atomic_size_t bdone, bbad;
static crew_pool *bpool;

static void
bulk_fn(crew_task *t)
{
	struct btask *b = crew_container_of(t, struct btask, task);

	if (b->payload != b->id * 2654435761u)
		atomic_fetch_add(&bbad, 1);
	if (atomic_fetch_add(&bhit[b->id], 1) != 0)
		atomic_fetch_add(&bbad, 1);
	if (b->child >= 0) {
		struct btask *c = &bt[b->child];

		c->payload = c->id * 2654435761u;
		if (crew_submit(bpool, &c->task) != 0)
			atomic_fetch_add(&bbad, 1);
	}
	atomic_fetch_add(&bdone, 1);
}

struct prod {
	size_t lo, hi;
	uint64_t seed;
	int rc;
};

static void *
producer(void *arg)
{
	struct prod *pr = arg;
	crew_batch b = CREW_BATCH_INIT;
	size_t want = 0;

	for (size_t i = pr->lo; i < pr->hi; i++) {
		bt[i].payload = bt[i].id * 2654435761u;
		if (rnd(&pr->seed) % 2 == 0) {
			if ((pr->rc = crew_submit(bpool, &bt[i].task)) != 0)
				return NULL;
			continue;
		}
		/* Mostly small batches; one in four of 512-4095 tasks (more
		 * than a ring holds). */
		if (want == 0)
			want = rnd(&pr->seed) % 4 ? 1 + rnd(&pr->seed) % 600 :
			    512 + rnd(&pr->seed) % 3584;
		crew_batch_push(&b, &bt[i].task);
		if (b.len == want || i + 1 == pr->hi) {
			if ((pr->rc = crew_schedule(bpool, b)) != 0)
				return NULL;
			b = (crew_batch)CREW_BATCH_INIT;
			want = 0;
		}
	}
	if (b.len && (pr->rc = crew_schedule(bpool, b)) != 0)
		return NULL;
	return NULL;
}

static int
mode_bulk(unsigned threads, size_t tasks, uint64_t *seed)
{
	size_t roots = tasks, nchild = 0, total;
	struct prod pr[4];
	pthread_t th[4];

	total = 2 * roots; /* at most one child per root */
	bt = calloc(total, sizeof(*bt));
	bhit = calloc(total, 1);
	if (!bt || !bhit)
		FAIL("out of memory");
	for (size_t i = 0; i < total; i++) {
		bt[i].task.fn = bulk_fn;
		bt[i].id = (uint32_t)i;
		bt[i].child = -1;
	}
	for (size_t i = 0; i < roots; i++)
		if (rnd(seed) % 4 == 0)
			bt[i].child = (int)(roots + nchild++);
	total = roots + nchild;
	atomic_store(&bdone, 0);
	atomic_store(&bbad, 0);
	bpool = new_pool(threads);
	for (int k = 0; k < 4; k++) {
		pr[k] = (struct prod){ roots * (size_t)k / 4,
		    roots * (size_t)(k + 1) / 4, rnd(seed) | 1, 0 };
		pthread_create(&th[k], NULL, producer, &pr[k]);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(th[k], NULL);
		if (pr[k].rc != 0)
			FAIL("bulk: producer %d: %s", k, crew_strerror(pr[k].rc));
	}
	if (crew_pool_destroy(bpool) != 0)
		FAIL("bulk: destroy");
	atomic_store(&watched, NULL);
	if (atomic_load(&bdone) != total || atomic_load(&bbad) != 0)
		FAIL("bulk: ran %zu of %zu, %zu bad", atomic_load(&bdone), total,
		    atomic_load(&bbad));
	for (size_t i = 0; i < total; i++)
		if (bhit[i] != 1)
			FAIL("bulk: task %zu ran %u times", i, bhit[i]);
	free(bt);
	free((void *)bhit);
	printf("bulk: %zu tasks exactly once on %u workers\n", total, threads);
	return 0;
}

/* -------------------------------------------------------- forkjoin */

static crew_pool *fpool;

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
	struct fib_job c;
	uint64_t b;

	if (n < 2)
		return n;
	c = (struct fib_job){ CREW_TASK_INIT(fib_task), n - 1, 0, &wg };
	crew_wg_add(&wg, 1);
	if (crew_submit(fpool, &c.task) != 0)
		fib_task(&c.task);
	b = fib(n - 2);
	crew_wg_wait(&wg);
	return c.r + b;
}

static atomic_uchar *fhit;

static void
cover(void *ctx, size_t lo, size_t hi)
{
	(void)ctx;
	for (size_t i = lo; i < hi; i++)
		atomic_fetch_add_explicit(&fhit[i], 1, memory_order_relaxed);
}

static int
mode_forkjoin(unsigned threads, size_t tasks, uint64_t *seed)
{
	static const uint64_t fibs[] = { 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55,
		89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765, 10946,
		17711, 28657, 46368, 75025 };
	unsigned n = 15 + (unsigned)(rnd(seed) % 11);
	size_t grain = 1 + rnd(seed) % 1000;
	crew_stats st;

	fpool = new_pool(threads);
	if (fib(n) != fibs[n])
		FAIL("forkjoin: fib(%u) wrong", n);
	fhit = calloc(tasks ? tasks : 1, 1);
	if (!fhit)
		FAIL("out of memory");
	if (crew_for(fpool, 0, tasks, grain, cover, NULL) != 0)
		FAIL("forkjoin: crew_for");
	for (size_t i = 0; i < tasks; i++)
		if (fhit[i] != 1)
			FAIL("forkjoin: index %zu covered %u times (grain %zu)", i,
			    fhit[i], grain);
	free((void *)fhit);
	crew_pool_stats(fpool, &st);
	if (crew_pool_destroy(fpool) != 0)
		FAIL("forkjoin: destroy");
	atomic_store(&watched, NULL);
	printf("forkjoin: fib(%u) and crew_for over %zu (grain %zu) on %u "
	    "workers (%llu fan-outs)\n", n, tasks, grain, threads,
	    (unsigned long long)st.fan_outs);
	return 0;
}

/* -------------------------------------------------------- pingpong */

static atomic_size_t pp_runs;

static void
pp_fn(crew_task *t)
{
	(void)t;
	atomic_fetch_add(&pp_runs, 1);
}

static int
mode_pingpong(unsigned threads, size_t rounds, uint64_t *seed)
{
	crew_pool *p = new_pool(threads);
	crew_task t = CREW_TASK_INIT(pp_fn);

	atomic_store(&pp_runs, 0);
	for (size_t r = 0; r < rounds; r++) {
		if (crew_submit(p, &t) != 0)
			FAIL("pingpong: submit");
		while (atomic_load(&pp_runs) < r + 1)
			sched_yield();
		if (rnd(seed) % 4 == 0)
			nap_us((long)(rnd(seed) % 200));
	}
	if (crew_pool_destroy(p) != 0)
		FAIL("pingpong: destroy");
	atomic_store(&watched, NULL);
	printf("pingpong: %zu park/wake rounds on %u workers\n", rounds, threads);
	return 0;
}

/* ------------------------------------------------------- lifecycle */

struct lc_sub {
	crew_pool *p;
	crew_task *t;
	size_t n, accepted;
	int bad;
};

static atomic_size_t lc_runs;

static void
lc_fn(crew_task *t)
{
	(void)t;
	atomic_fetch_add(&lc_runs, 1);
}

static void *
lc_submitter(void *arg)
{
	struct lc_sub *s = arg;

	for (size_t i = 0; i < s->n; i++) {
		int rc = crew_submit(s->p, &s->t[i]);

		if (rc == 0)
			s->accepted++;
		else if (rc != CREW_ESHUTDOWN)
			s->bad = 1;
	}
	return NULL;
}

static int
mode_lifecycle(unsigned threads, size_t tasks, size_t iters, uint64_t *seed)
{
	size_t per = tasks / 100 + 1;
	crew_task *t = calloc(2 * per, sizeof(*t));

	if (!t)
		FAIL("out of memory");
	for (size_t it = 0; it < iters; it++) {
		crew_pool *p = new_pool(threads);
		struct lc_sub s[2];
		pthread_t th[2];

		atomic_store(&lc_runs, 0);
		for (size_t i = 0; i < 2 * per; i++)
			t[i] = (crew_task)CREW_TASK_INIT(lc_fn);
		for (int k = 0; k < 2; k++) {
			s[k] = (struct lc_sub){ p, t + (size_t)k * per, per, 0, 0 };
			pthread_create(&th[k], NULL, lc_submitter, &s[k]);
		}
		nap_us((long)(rnd(seed) % 500));
		if (crew_pool_shutdown(p) != 0)
			FAIL("lifecycle: shutdown");
		for (int k = 0; k < 2; k++)
			pthread_join(th[k], NULL);
		if (s[0].bad || s[1].bad)
			FAIL("lifecycle: unexpected error code");
		if (atomic_load(&lc_runs) != s[0].accepted + s[1].accepted)
			FAIL("lifecycle: %zu accepted, %zu ran",
			    s[0].accepted + s[1].accepted, atomic_load(&lc_runs));
		if (crew_pool_destroy(p) != 0)
			FAIL("lifecycle: destroy");
		atomic_store(&watched, NULL);
	}
	free(t);
	printf("lifecycle: %zu pools, submits racing shutdown\n", iters);
	return 0;
}

/* ---------------------------------------------------------- queued */

static atomic_int q_gate;
static atomic_size_t q_runs;

static void
q_hold(crew_task *t)
{
	(void)t;
	while (!atomic_load(&q_gate))
		nap_us(200);
}

static void
q_fn(crew_task *t)
{
	(void)t;
	atomic_fetch_add(&q_runs, 1);
}

static int
mode_queued(unsigned threads, size_t tasks)
{
	crew_pool *p = new_pool(threads);
	crew_task *t = calloc(tasks + threads, sizeof(*t));
	crew_batch b = CREW_BATCH_INIT;

	if (!t)
		FAIL("out of memory");
	atomic_store(&q_gate, 0);
	atomic_store(&q_runs, 0);
	for (unsigned i = 0; i < threads; i++) {
		t[tasks + i] = (crew_task)CREW_TASK_INIT(q_hold);
		if (crew_submit(p, &t[tasks + i]) != 0)
			FAIL("queued: submit");
	}
	for (size_t i = 0; i < tasks; i++) {
		t[i] = (crew_task)CREW_TASK_INIT(q_fn);
		if (i % 2)
			crew_batch_push(&b, &t[i]);
		else if (crew_submit(p, &t[i]) != 0)
			FAIL("queued: submit");
	}
	if (crew_schedule(p, b) != 0)
		FAIL("queued: schedule");
	atomic_store(&q_gate, 1);
	if (crew_pool_destroy(p) != 0)
		FAIL("queued: destroy");
	atomic_store(&watched, NULL);
	if (atomic_load(&q_runs) != tasks)
		FAIL("queued: %zu of %zu ran before destroy returned",
		    atomic_load(&q_runs), tasks);
	free(t);
	printf("queued: %zu queued tasks drained by destroy\n", tasks);
	return 0;
}

/* -------------------------------------------------------- overflow */

/*
 * A ring that never empties (zio #718 class): every task resubmits itself
 * from inside the pool, so each worker keeps feeding its own LIFO stack and
 * ring, and the ring keeps spilling its oldest half into the worker's
 * overflow queue.  The tasks that start in (and keep migrating to) the
 * overflow queues must still run: every object must run at least once
 * within a deadline while the generators go on.  Each submission runs
 * exactly once (an in-flight flag per object).
 */
struct otask {
	crew_task task;
	atomic_int inflight;
	atomic_uint runs;
};

static struct otask *ot;
static size_t ot_n;
static crew_pool *opool;
static atomic_int ogen;
static atomic_size_t oseen, osubmits, oruns, obad;

static void
ov_submit(struct otask *o)
{
	atomic_store(&o->inflight, 1);
	atomic_fetch_add(&osubmits, 1);
	if (crew_submit(opool, &o->task) != 0)
		atomic_fetch_add(&obad, 1);
}

static void
ov_fn(crew_task *t)
{
	struct otask *o = crew_container_of(t, struct otask, task);

	if (atomic_exchange(&o->inflight, 0) != 1)
		atomic_fetch_add(&obad, 1); /* ran without a submission */
	atomic_fetch_add(&oruns, 1);
	if (atomic_fetch_add(&o->runs, 1) == 0)
		atomic_fetch_add(&oseen, 1);
	if (atomic_load(&ogen))
		ov_submit(o);
}

/* From inside a worker: all objects go through its stack and ring, and
 * most of them on into its overflow queue. */
static void
ov_root(crew_task *t)
{
	(void)t;
	for (size_t i = 0; i < ot_n; i++)
		ov_submit(&ot[i]);
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
mode_overflow(unsigned threads, size_t tasks, double deadline_s)
{
	crew_task root = CREW_TASK_INIT(ov_root);
	crew_stats st;
	double t0, took;
	size_t seen;

	/* Enough objects to overflow every worker's stack and ring. */
	ot_n = tasks < 4096 ? 4096 : tasks;
	ot = calloc(ot_n, sizeof(*ot));
	if (!ot)
		FAIL("out of memory");
	for (size_t i = 0; i < ot_n; i++)
		ot[i].task.fn = ov_fn;
	atomic_store(&ogen, 1);
	atomic_store(&oseen, 0);
	atomic_store(&osubmits, 0);
	atomic_store(&oruns, 0);
	atomic_store(&obad, 0);
	opool = new_pool(threads);
	t0 = mono_s();
	if (crew_submit(opool, &root) != 0)
		FAIL("overflow: submit");
	while (atomic_load(&oseen) < ot_n && mono_s() - t0 < deadline_s)
		nap_us(100);
	took = mono_s() - t0;
	seen = atomic_load(&oseen);
	crew_pool_stats(opool, &st);
	atomic_store(&ogen, 0);
	if (crew_pool_destroy(opool) != 0)
		FAIL("overflow: destroy");
	atomic_store(&watched, NULL);
	if (seen < ot_n)
		FAIL("overflow: %zu of %zu tasks never ran within %.1f s while "
		    "the rings stayed busy (overflow migrations %llu)",
		    ot_n - seen, ot_n, deadline_s,
		    (unsigned long long)st.overflow_migrations);
	if (atomic_load(&obad) != 0 ||
	    atomic_load(&oruns) != atomic_load(&osubmits))
		FAIL("overflow: %zu runs for %zu submits, %zu bad",
		    atomic_load(&oruns), atomic_load(&osubmits),
		    atomic_load(&obad));
	for (size_t i = 0; i < ot_n; i++)
		if (atomic_load(&ot[i].inflight) != 0)
			FAIL("overflow: task %zu submitted but never ran", i);
	free(ot);
	printf("overflow: all %zu tasks ran within %.3f s on %u workers with "
	    "self-feeding rings (%zu runs exactly once, %llu overflow "
	    "migrations)\n", ot_n, took, threads, atomic_load(&oruns),
	    (unsigned long long)st.overflow_migrations);
	return 0;
}

/* --------------------------------------------------------- handoff */

/*
 * The last-searcher hand-off (tokio #4383): an outside submit wakes a
 * worker, whose task submits a child from inside the pool while the other
 * worker is between searching and parking; the child must run (watchdog)
 * and the pool must not storm: wake-ups stay under 3 per task.
 */
struct hjob {
	crew_task task;
	crew_task child;
	unsigned spin_ns;
};

static atomic_size_t h_done, h_pdone;
static crew_pool *hpool;

static void
spin_ns(unsigned ns)
{
	double end = mono_s() + ns * 1e-9;

	while (mono_s() < end)
		;
}

static void
h_child(crew_task *t)
{
	(void)t;
	atomic_fetch_add(&h_done, 1);
}

static void
h_parent(crew_task *t)
{
	struct hjob *j = crew_container_of(t, struct hjob, task);

	j->child = (crew_task)CREW_TASK_INIT(h_child);
	if (crew_submit(hpool, &j->child) != 0)
		abort();
	/* Stay busy a little, so the child is the other worker's to find. */
	spin_ns(j->spin_ns);
	atomic_fetch_add(&h_pdone, 1); /* last access to *j */
}

static int
mode_handoff(unsigned threads, size_t rounds, uint64_t *seed)
{
	struct hjob j;
	crew_stats st;

	hpool = new_pool(threads);
	atomic_store(&h_done, 0);
	atomic_store(&h_pdone, 0);
	for (size_t r = 0; r < rounds; r++) {
		j.task = (crew_task)CREW_TASK_INIT(h_parent);
		j.spin_ns = (unsigned)(rnd(seed) % 20000);
		if (crew_submit(hpool, &j.task) != 0)
			FAIL("handoff: submit");
		while (atomic_load(&h_done) < r + 1)
			sched_yield();
		/* The child ran; the parent may still be finishing. */
		if (rnd(seed) % 2 == 0)
			nap_us((long)(rnd(seed) % 50));
		else
			sched_yield();
		/* j is reused: wait until the parent is done with it. */
		while (atomic_load(&h_pdone) < r + 1)
			sched_yield();
	}
	crew_pool_stats(hpool, &st);
	if (crew_pool_destroy(hpool) != 0)
		FAIL("handoff: destroy");
	atomic_store(&watched, NULL);
	if (st.wakeups + st.fan_out_taken > 3 * st.tasks_run)
		FAIL("handoff: wake storm: %llu wake-ups and %llu fan-out "
		    "permits for %llu tasks", (unsigned long long)st.wakeups,
		    (unsigned long long)st.fan_out_taken,
		    (unsigned long long)st.tasks_run);
	printf("handoff: %zu rounds of a child submitted from inside beside a "
	    "searching worker on %u workers (%llu wake-ups, %llu parks for "
	    "%llu tasks)\n", rounds, threads, (unsigned long long)st.wakeups,
	    (unsigned long long)st.parks, (unsigned long long)st.tasks_run);
	return 0;
}

/* ----------------------------------------------------------- burst */

/*
 * Bursts after idle: the workers park, then THREADS tasks are submitted
 * at once from outside and each waits at a barrier for all the others.
 * They can only pass if the throttled notify really woke every worker:
 * a missing wake-up keeps the barrier short of one (the deadline, then
 * FAIL with the pool state).
 */
static atomic_uint burst_in, burst_out;
static atomic_int burst_timeout;
static double burst_deadline_s;

struct burst_task {
	crew_task task;
	unsigned want;
};

static void
burst_fn(crew_task *t)
{
	unsigned want = crew_container_of(t, struct burst_task, task)->want;
	double t0 = mono_s();

	atomic_fetch_add(&burst_in, 1);
	while (atomic_load(&burst_in) < want) {
		sched_yield();
		if (mono_s() - t0 > burst_deadline_s) {
			atomic_store(&burst_timeout, 1);
			break;
		}
	}
	atomic_fetch_add(&burst_out, 1); /* last access to the task */
}

static int
mode_burst(unsigned threads, size_t rounds, uint64_t *seed)
{
	crew_pool *p = new_pool(threads);
	struct burst_task *bt_ = calloc(threads, sizeof(*bt_));
	crew_stats st;

	if (!bt_)
		FAIL("out of memory");
	burst_deadline_s = 2.0 * time_scale;
	atomic_store(&burst_timeout, 0);
	for (size_t r = 0; r < rounds; r++) {
		/* Let every worker park (a few ms of idle). */
		nap_us(1000 + (long)(rnd(seed) % 3000));
		atomic_store(&burst_in, 0);
		atomic_store(&burst_out, 0);
		for (unsigned i = 0; i < threads; i++) {
			bt_[i].task = (crew_task)CREW_TASK_INIT(burst_fn);
			bt_[i].want = threads;
		}
		for (unsigned i = 0; i < threads; i++)
			if (crew_submit(p, &bt_[i].task) != 0)
				FAIL("burst: submit");
		while (atomic_load(&burst_in) < threads &&
		    !atomic_load(&burst_timeout))
			nap_us(50);
		if (atomic_load(&burst_timeout)) {
			char buf[8192];

			if (crew__debug_dump(p, buf, sizeof(buf)) > 0)
				fputs(buf, stderr);
			FAIL("burst: round %zu: only %u of %u workers ran at "
			    "once within %.1f s", r, atomic_load(&burst_in),
			    threads, burst_deadline_s);
		}
		/* The tasks may still be returning: wait for them. */
		while (atomic_load(&burst_out) < threads)
			sched_yield();
	}
	crew_pool_stats(p, &st);
	if (crew_pool_destroy(p) != 0)
		FAIL("burst: destroy");
	atomic_store(&watched, NULL);
	free(bt_);
	printf("burst: %zu bursts after idle, all %u workers running at once "
	    "each time (%llu parks)\n", rounds, threads,
	    (unsigned long long)st.parks);
	return 0;
}

/* ---------------------------------------------------------- nested */

struct nest {
	crew_task task;
	crew_pool *outer;
	size_t inner_tasks;
	atomic_int *bad;
	atomic_size_t *inner_runs;
};

static void
nest_inner(crew_task *t)
{
	(void)t;
}

static void
nest_fn(crew_task *t)
{
	struct nest *x = crew_container_of(t, struct nest, task);
	crew_config cfg;
	crew_pool *inner;
	crew_task *it;

	if (crew_pool_shutdown(x->outer) != CREW_EDEADLK ||
	    crew_pool_destroy(x->outer) != CREW_EDEADLK)
		atomic_store(x->bad, 1);
	crew_config_init(&cfg);
	cfg.max_threads = 2;
	if (crew_pool_create(&inner, &cfg) != 0) {
		atomic_store(x->bad, 1);
		return;
	}
	it = calloc(x->inner_tasks, sizeof(*it));
	for (size_t i = 0; it && i < x->inner_tasks; i++) {
		it[i] = (crew_task)CREW_TASK_INIT(nest_inner);
		if (crew_submit(inner, &it[i]) != 0)
			atomic_store(x->bad, 1);
	}
	if (crew_pool_destroy(inner) != 0)
		atomic_store(x->bad, 1);
	atomic_fetch_add(x->inner_runs, x->inner_tasks);
	free(it);
}

static int
mode_nested(unsigned threads, size_t tasks)
{
	crew_pool *p = new_pool(threads);
	struct nest n[8];
	atomic_int bad = 0;
	atomic_size_t inner = 0;

	for (int i = 0; i < 8; i++) {
		n[i] = (struct nest){ CREW_TASK_INIT(nest_fn), p,
		    tasks / 100 + 1, &bad, &inner };
		if (crew_submit(p, &n[i].task) != 0)
			FAIL("nested: submit");
	}
	if (crew_pool_destroy(p) != 0)
		FAIL("nested: destroy");
	atomic_store(&watched, NULL);
	if (atomic_load(&bad))
		FAIL("nested: an inner pool misbehaved or EDEADLK was missing");
	printf("nested: 8 inner pools of %zu tasks inside tasks\n",
	    tasks / 100 + 1);
	return 0;
}

/* ------------------------------------------------------------- deep */

struct droot;

struct dkid {
	crew_task task;
	struct droot *root;
};

struct droot {
	crew_task task;
	crew_wg reply;          /* done by the outside reply */
	crew_wg kids;
	atomic_uint kids_ran;
	atomic_uint ran;
	struct dkid kid[2];
};

struct dreply {
	crew_task task;
	struct droot *root;
	atomic_uint ran;
};

static crew_pool *dpool;
static _Atomic unsigned long *downer;  /* per worker index: acting thread */
static atomic_size_t dstarted, ddone, dbad;
static _Atomic unsigned long dnext_id = 1;
static _Thread_local unsigned long dself;

/* Runs f on this worker with this thread as the worker's only actor:
 * another thread acting as the same worker meanwhile (outside a relayed
 * wait, where ours is restored before we resume) is counted bad. */
static unsigned long
deep_enter(int *idx)
{
	if (dself == 0)
		dself = atomic_fetch_add(&dnext_id, 1);
	*idx = crew_worker_index(dpool);
	if (*idx < 0) {
		atomic_fetch_add(&dbad, 1);
		return 0;
	}
	return atomic_exchange(&downer[*idx], dself);
}

static void
deep_check(int idx)
{
	if (idx >= 0 && (crew_worker_index(dpool) != idx ||
	    atomic_load(&downer[idx]) != dself))
		atomic_fetch_add(&dbad, 1);
}

static void
deep_leave(int idx, unsigned long prev)
{
	deep_check(idx);
	if (idx >= 0)
		atomic_store(&downer[idx], prev);
}

static void
dkid_fn(crew_task *t)
{
	struct dkid *k = crew_container_of(t, struct dkid, task);
	struct droot *r = k->root;
	int idx;
	unsigned long prev = deep_enter(&idx);

	atomic_fetch_add(&r->kids_ran, 1);
	deep_leave(idx, prev);
	crew_wg_done(&r->kids);
}

static void
droot_fn(crew_task *t)
{
	struct droot *r = crew_container_of(t, struct droot, task);
	int idx;
	unsigned long prev = deep_enter(&idx);

	if (atomic_fetch_add(&r->ran, 1) != 0)
		atomic_fetch_add(&dbad, 1);
	atomic_fetch_add(&dstarted, 1);
	crew_wg_add(&r->kids, 2);
	for (int i = 0; i < 2; i++) {
		r->kid[i] = (struct dkid){ CREW_TASK_INIT(dkid_fn), r };
		if (crew_submit(dpool, &r->kid[i].task) != 0)
			dkid_fn(&r->kid[i].task);
	}
	crew_wg_wait(&r->kids);
	deep_check(idx);
	if (atomic_load(&r->kids_ran) != 2)
		atomic_fetch_add(&dbad, 1);
	crew_wg_wait(&r->reply); /* helps: the next roots nest here */
	deep_leave(idx, prev);
	atomic_fetch_add(&ddone, 1);
}

static void
dreply_fn(crew_task *t)
{
	struct dreply *y = crew_container_of(t, struct dreply, task);
	int idx;
	unsigned long prev = deep_enter(&idx);

	if (atomic_fetch_add(&y->ran, 1) != 0)
		atomic_fetch_add(&dbad, 1);
	/* a window for another actor of this worker to show up in */
	for (int i = 0; i < 200; i++)
		deep_check(idx);
	deep_leave(idx, prev);
	crew_wg_done(&y->root->reply);
}

static int
mode_deep(unsigned threads, size_t tasks, uint64_t *seed)
{
	size_t n = tasks < 2 ? 2 : tasks, i, *order;
	struct droot *roots = calloc(n, sizeof(*roots));
	struct dreply *replies = calloc(n, sizeof(*replies));
	crew_config cfg;
	crew_stats st;
	int rc = 0;

	downer = calloc(threads, sizeof(*downer));
	order = calloc(n, sizeof(*order));
	if (roots == NULL || replies == NULL || downer == NULL ||
	    order == NULL)
		FAIL("deep: out of memory");
	crew_config_init(&cfg);
	cfg.max_threads = threads;
	cfg.stack_size = 128 * 1024;
	if (crew_pool_create(&dpool, &cfg) != 0)
		FAIL("deep: crew_pool_create");
	atomic_store(&watched, dpool);
	atomic_store(&dstarted, 0);
	atomic_store(&ddone, 0);
	atomic_store(&dbad, 0);
	for (i = 0; i < n; i++) {
		roots[i].task = (crew_task)CREW_TASK_INIT(droot_fn);
		crew_wg_init(&roots[i].reply);
		crew_wg_add(&roots[i].reply, 1);
		crew_wg_init(&roots[i].kids);
		if (crew_submit(dpool, &roots[i].task) != 0)
			FAIL("deep: submit root");
		order[i] = i;
	}
	/* Replies once every root waits, in random order. */
	while (atomic_load(&dstarted) < n)
		nap_us(1000);
	for (i = n - 1; i > 0; i--) {
		size_t j = rnd(seed) % (i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (i = 0; i < n; i++) {
		struct dreply *y = &replies[order[i]];

		y->task = (crew_task)CREW_TASK_INIT(dreply_fn);
		y->root = &roots[order[i]];
		if (crew_submit(dpool, &y->task) != 0)
			FAIL("deep: submit reply");
		if (rnd(seed) % 1000 == 0)
			nap_us(100);
	}
	while (atomic_load(&ddone) < n)
		nap_us(1000);
	crew_pool_stats(dpool, &st);
	if (crew_pool_destroy(dpool) != 0)
		FAIL("deep: destroy");
	atomic_store(&watched, NULL);
	for (i = 0; i < n; i++)
		if (atomic_load(&roots[i].ran) != 1 ||
		    atomic_load(&replies[i].ran) != 1 ||
		    atomic_load(&roots[i].kids_ran) != 2)
			rc = 1;
	if (rc || atomic_load(&dbad) != 0)
		FAIL("deep: %zu violations (a task ran twice, or beside another "
		    "thread acting as its worker)", atomic_load(&dbad) + rc);
	printf("deep: %zu roots nested on %u workers (%llu started), %llu relayed waits, "
	    "%llu relay stacks, %llu bounded steps\n", n, threads,
	    (unsigned long long)st.threads_spawned,
	    (unsigned long long)st.relays,
	    (unsigned long long)st.relay_stacks,
	    (unsigned long long)st.deep_waits);
	free(roots);
	free(replies);
	free(order);
	free((void *)downer);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "bulk";
	unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
	size_t tasks = argc > 3 ? strtoull(argv[3], NULL, 0) : 1000000;
	size_t iters = argc > 4 ? strtoull(argv[4], NULL, 0) : 3;
	uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 0) :
	    ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
	unsigned passed = 0, failed = 0;

	if (seed == 0)
		seed = 1;
	if (getenv("STRESS_WATCHDOG"))
		watchdog_s = (unsigned)atoi(getenv("STRESS_WATCHDOG"));
	if (getenv("STRESS_TIME_SCALE"))
		time_scale = atof(getenv("STRESS_TIME_SCALE"));
	if (STRESS_SHRINK > 1) {
		tasks = tasks / STRESS_SHRINK ? tasks / STRESS_SHRINK : 1;
		time_scale *= STRESS_SHRINK;
		watchdog_s *= STRESS_SHRINK;
		printf("stress: sanitizer build: sizes shrunk %dx, deadlines "
		    "stretched %dx\n", STRESS_SHRINK, STRESS_SHRINK);
	}
	if (time_scale <= 0)
		time_scale = 1.0;
	printf("stress %s threads=%u tasks=%zu iterations=%zu seed=%#llx\n",
	    mode, threads, tasks, iters, (unsigned long long)seed);
	fflush(stdout);
	signal(SIGALRM, on_alarm);
	for (size_t it = 0; it < (strcmp(mode, "lifecycle") ? iters : 1);
	    it++) {
		int rc;

		alarm(watchdog_s);
		if (strcmp(mode, "bulk") == 0)
			rc = mode_bulk(threads, tasks, &seed);
		else if (strcmp(mode, "forkjoin") == 0)
			rc = mode_forkjoin(threads, tasks, &seed);
		else if (strcmp(mode, "pingpong") == 0)
			rc = mode_pingpong(threads, tasks, &seed);
		else if (strcmp(mode, "lifecycle") == 0)
			rc = mode_lifecycle(threads, tasks, iters, &seed);
		else if (strcmp(mode, "queued") == 0)
			rc = mode_queued(threads, tasks);
		else if (strcmp(mode, "nested") == 0)
			rc = mode_nested(threads, tasks);
		else if (strcmp(mode, "overflow") == 0)
			rc = mode_overflow(threads, tasks, 1.0 * time_scale);
		else if (strcmp(mode, "handoff") == 0)
			rc = mode_handoff(threads, tasks, &seed);
		else if (strcmp(mode, "burst") == 0)
			rc = mode_burst(threads, tasks, &seed);
		else if (strcmp(mode, "deep") == 0)
			rc = mode_deep(threads, tasks, &seed);
		else {
			fprintf(stderr, "stress: unknown mode %s\n", mode);
			return 2;
		}
		alarm(0);
		rc == 0 ? passed++ : failed++;
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
