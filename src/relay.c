/* SPDX-License-Identifier: MIT */
/*
 * Relays: fresh stacks for deep helping waits.
 *
 * A worker's crew_wg_wait helps: it runs other tasks, which may wait and
 * help in turn, so waits nest on the worker's stack, without bound when
 * they wait for work that arrives later (thousands of tasks each waiting
 * for a reply from outside).  Past half its stack, a worker hands the rest
 * of its wait to a relay: a pool thread with a stack of its own that
 * becomes the worker (same queues, same index) and helps until the wait's
 * count is zero, then hands the worker back.  Meanwhile the worker's
 * thread sleeps with its frames in place, as they would stay under nested
 * helping, so waits still return in the same order (a nested wait before
 * the ones below it); only the nest goes on in a new place.  A relay that
 * gets deep in turn relays again: the depth is bounded by memory, not by
 * one stack.
 *
 * Before relays, a deep wait either overflowed its stack or, bounded to
 * its own queues, hung once every worker was deep while the work awaited
 * sat in the global queue (test conc/deep_waits_for_outside_replies).
 *
 * The worker changes hands by a release store that the taker reads with
 * acquire (job to the relay, `done` back), so one thread at a time runs
 * owner operations on its ring, LIFO stack and counters.  A relay takes
 * the affinity of the thread it relays for.  It does not run the pool's
 * on_thread_start/on_thread_stop hooks: those run once per worker index,
 * and state a program keeps per index must not be rebuilt and torn down
 * under a worker whose own thread only sleeps (found in review).  Relay
 * threads are created on first need, kept on an idle list after their
 * job (with the stack pages it used given back: relay_trim), and joined at
 * shutdown.  If none can be created, the wait naps and tries again
 * (crew__wg_help).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

enum { RELAY_IDLE, RELAY_JOB, RELAY_EXIT };

struct crew__relay {
	_Atomic uint32_t state;         /* S: RELAY_*; futex word */
	struct crew_pool *pool;         /* I */
	struct crew__relay *next_idle;  /* relay_lock */
	struct crew__relay *next_all;   /* relay_lock */
	pthread_t thread;               /* relay_lock */
	uintptr_t stack_half;           /* O: of the relay's own stack */
	uintptr_t stack_low;            /* O: its three-quarter mark */
	uintptr_t stack_bottom;         /* O: its bottom; 0: unknown */
	/* The job: written by the giver before its release store of
	 * RELAY_JOB, read by the relay after its acquire load. */
	struct crew__worker *w;
	_Atomic uint32_t *wg;           /* the wait group's word */
	_Atomic uint32_t *done;         /* the giver's futex word */
	bool has_mask;
	cpu_set_t mask;                 /* the giver's affinity */
};

/*
 * Half-way between the calling thread's stack bottom and the caller's
 * frame, called near the top at thread start.  Not the middle of what
 * pthread_getattr_np reports: under TSan a 256 KiB stack is reported as
 * ~900 KiB, whose middle lies above the thread's first frame, so every
 * wait looked deep and relayed at once, forever.
 */
__attribute__((noinline)) uintptr_t
crew__stack_half(uintptr_t *low, uintptr_t *bottom)
{
	uintptr_t top = (uintptr_t)__builtin_frame_address(0), half = 0;
	pthread_attr_t a;
	void *lo;
	size_t size;

	*low = 0;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return 0;
	if (pthread_attr_getstack(&a, &lo, &size) == 0 &&
	    (uintptr_t)lo < top && top - (uintptr_t)lo <= size) {
		half = (uintptr_t)lo + (top - (uintptr_t)lo) / 2;
		*low = (uintptr_t)lo + (top - (uintptr_t)lo) / 4;
		if (bottom != NULL)
			*bottom = (uintptr_t)lo;
	}
	pthread_attr_destroy(&a);
	return half;
}

static void
relay_run(struct crew__relay *r)
{
	struct crew__worker *w = r->w;
	struct crew_pool *p = w->pool;
	_Atomic uint32_t *done = r->done;

	if (r->has_mask)
		(void)pthread_setaffinity_np(pthread_self(), sizeof(r->mask),
		    &r->mask);
	crew__tls_worker = w;
	w->stack_half = r->stack_half;
	w->stack_low = r->stack_low;
	crew__wg_help(r->wg, w);
	crew__tls_worker = NULL;
	/* relaxed: the lock below orders it before the next giver's
	 * release store of RELAY_JOB */
	atomic_store_explicit(&r->state, RELAY_IDLE, memory_order_relaxed);
	pthread_mutex_lock(&p->relay_lock);
	r->next_idle = p->relay_idle;
	p->relay_idle = r;
	pthread_mutex_unlock(&p->relay_lock);
	CREW__CHAOS(); /* another giver may take us before the worker resumes */
	/* release: our owner operations on w happen before the giver's
	 * acquire load in crew__relay_wait.  Our last access to its frame:
	 * a private futex wake is by address only. */
	atomic_store_explicit(done, 1, memory_order_release);
	CREW__CHAOS();
	crew__futex_wake(done, 1);
}

/*
 * Between jobs: give back the pages of our stack that the job used.  A
 * relay takes over waits nested half a stack deep and may itself nest that
 * deep, so without this each idle relay kept up to half its stack resident
 * until shutdown.  The part below our frame (less a margin for the calls
 * we make from here) is dead; MADV_DONTNEED maps it back to zero pages.
 */
static __attribute__((noinline)) void
relay_trim(struct crew__relay *r)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (r->stack_bottom + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)__builtin_frame_address(0) - 16384) &
	    ~(page - 1);

	if (r->stack_bottom != 0 && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static void *
relay_main(void *arg)
{
	struct crew__relay *r = arg;
	uint32_t s;

	r->stack_half = crew__stack_half(&r->stack_low, &r->stack_bottom);
	for (;;) {
		/* acquire: pairs with the giver's release store of RELAY_JOB
		 * (the job and the worker's state) or shutdown's RELAY_EXIT */
		while ((s = atomic_load_explicit(&r->state,
		    memory_order_acquire)) == RELAY_IDLE)
			crew__futex_wait(&r->state, RELAY_IDLE);
		if (s == RELAY_EXIT)
			return NULL;
		relay_run(r);
		relay_trim(r);
	}
}

/* An idle relay, or a new one; NULL if none can be created. */
static struct crew__relay *
relay_get(struct crew_pool *p)
{
	struct crew__relay *r;
	pthread_attr_t attr;
	char name[32];
	int rc;

	pthread_mutex_lock(&p->relay_lock);
	if ((r = p->relay_idle) != NULL)
		p->relay_idle = r->next_idle;
	pthread_mutex_unlock(&p->relay_lock);
	if (r != NULL)
		return r;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->pool = p;
	atomic_init(&r->state, RELAY_IDLE);
	if (pthread_attr_init(&attr) != 0) {
		free(r);
		return NULL;
	}
	if (p->stack_size)
		(void)pthread_attr_setstacksize(&attr, p->stack_size);
	rc = pthread_create(&r->thread, &attr, relay_main, r);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(r);
		return NULL;
	}
	snprintf(name, sizeof(name), "%srelay", p->name_prefix);
	name[15] = '\0'; /* the kernel's limit */
	(void)pthread_setname_np(r->thread, name);
	pthread_mutex_lock(&p->relay_lock);
	r->next_all = p->relay_all;
	p->relay_all = r;
	pthread_mutex_unlock(&p->relay_lock);
	/* relaxed: statistic */
	atomic_fetch_add_explicit(&p->relay_threads, 1, memory_order_relaxed);
	return r;
}

int
crew__relay_wait(struct crew__worker *w, _Atomic uint32_t *wg)
{
	struct crew__relay *r = relay_get(w->pool);
	uintptr_t half = w->stack_half, low = w->stack_low;
	_Atomic uint32_t done;

	if (r == NULL)
		return CREW_EAGAIN;
	atomic_init(&done, 0);
	r->w = w;
	r->wg = wg;
	r->done = &done;
	r->has_mask = pthread_getaffinity_np(pthread_self(), sizeof(r->mask),
	    &r->mask) == 0;
	CREW__STAT_ADD(w, relays, 1);
	/* release: publishes the job and all we did as w's owner (ring, LIFO
	 * stack, counters) to the relay's acquire load in relay_main */
	atomic_store_explicit(&r->state, RELAY_JOB, memory_order_release);
	CREW__CHAOS();
	crew__futex_wake(&r->state, 1);
	/* acquire: pairs with relay_run's release store: the relay's work as
	 * w's owner happens before ours from here on */
	while (atomic_load_explicit(&done, memory_order_acquire) == 0)
		crew__futex_wait(&done, 0);
	w->stack_half = half;
	w->stack_low = low;
	return 0;
}

void
crew__relay_shutdown(struct crew_pool *p)
{
	struct crew__relay *r, *next;

	pthread_mutex_lock(&p->relay_lock);
	r = p->relay_all;
	p->relay_all = NULL;
	p->relay_idle = NULL;
	pthread_mutex_unlock(&p->relay_lock);
	/* Every relay is idle: each job ends before its giver, a worker,
	 * can return, and the workers have been joined. */
	for (; r != NULL; r = next) {
		next = r->next_all;
		/* relaxed: publishes nothing; after the relay's RELAY_IDLE
		 * store in modification order (see above) */
		atomic_store_explicit(&r->state, RELAY_EXIT,
		    memory_order_relaxed);
		crew__futex_wake(&r->state, 1);
		pthread_join(r->thread, NULL);
		free(r);
	}
}
