/* SPDX-License-Identifier: MIT */
/*
 * Wait groups.  One 32-bit word: bits 0..30 count, bit 31 WAITERS (someone
 * sleeps on the futex).  The word is also the futex, so the final done is a
 * single RMW that drops the count to zero and clears WAITERS at once, then
 * wakes by address only: FUTEX_WAKE on a private futex never touches the
 * memory, so the waiter may already have freed the group (bun #34458,
 * zig #7462).
 *
 * A worker that waits helps instead of sleeping: it runs its pool's tasks
 * (its LIFO slot first, then its queues, then steals) until the count is
 * zero.  When there is nothing to help with it sleeps on the futex for a
 * short, growing time and looks again, because the work it waits for may
 * appear in a queue that nobody will wake it for.  Past half the stack it
 * runs on, the wait goes on on a relay, a fresh stack (relay.c).
 */
#define _GNU_SOURCE
#include "internal.h"
#include "lifo.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WG_WAITERS 0x80000000u
#define WG_COUNT 0x7fffffffu

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t) &&
    _Alignof(_Atomic uint32_t) == _Alignof(uint32_t),
    "crew_wg stores an atomic word in a uint32_t");

static inline _Atomic uint32_t *
wg_word(crew_wg *wg)
{
	return (_Atomic uint32_t *)(void *)&wg->private_state;
}

CREW_API int
crew_wg_init(crew_wg *wg)
{
	if (wg == NULL)
		return CREW_EINVAL;
	atomic_init(wg_word(wg), 0);
	wg->private_reserved = 0;
	return 0;
}

CREW_API int
crew_wg_add(crew_wg *wg, size_t n)
{
	_Atomic uint32_t *w;
	uint32_t s;

	if (wg == NULL || n > WG_COUNT)
		return CREW_EINVAL;
	w = wg_word(wg);
	/* relaxed: a starting guess for the CAS */
	s = atomic_load_explicit(w, memory_order_relaxed);
	do {
		if ((s & WG_COUNT) + n > WG_COUNT)
			return CREW_EINVAL;
	/* relaxed: the add publishes nothing; the work it counts is handed
	 * over by the schedule that follows, which releases */
	} while (!atomic_compare_exchange_weak_explicit(w, &s, s + (uint32_t)n,
	    memory_order_relaxed, memory_order_relaxed));
	return 0;
}

CREW_API int
crew_wg_done(crew_wg *wg)
{
	_Atomic uint32_t *w;
	uint32_t s, n;

	if (wg == NULL)
		return CREW_EINVAL;
	w = wg_word(wg);
	/* relaxed: a starting guess for the CAS */
	s = atomic_load_explicit(w, memory_order_relaxed);
	do {
		if ((s & WG_COUNT) == 0)
			return CREW_EINVAL;
		/* The last done clears WAITERS in the same RMW. */
		n = (s & WG_COUNT) == 1 ? 0 : s - 1;
	/* release: our work happens-before the waiter's acquire load that
	 * sees the count drop; this is our last access to *wg */
	} while (!atomic_compare_exchange_weak_explicit(w, &s, n,
	    memory_order_release, memory_order_relaxed));
	if (n == 0 && (s & WG_WAITERS))
		syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX,
		    NULL, NULL, 0);
	return 0;
}

/* Sleeps while the word is s (with WAITERS set first), at most ns if > 0. */
static void
wg_sleep(_Atomic uint32_t *w, uint32_t s, long ns)
{
	struct timespec ts = { 0, ns };

	if (!(s & WG_WAITERS)) {
		/* relaxed: the futex syscall re-reads the word; a failed CAS
		 * just means the count moved, so we look again */
		if (!atomic_compare_exchange_strong_explicit(w, &s,
		    s | WG_WAITERS, memory_order_relaxed, memory_order_relaxed))
			return;
		s |= WG_WAITERS;
	}
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, s,
	    ns > 0 ? &ts : NULL, NULL, 0);
}

CREW_API int
crew_wg_wait(crew_wg *wg)
{
	struct crew__worker *me;
	_Atomic uint32_t *w;
	crew_task *t;

	if (wg == NULL)
		return CREW_EINVAL;
	w = wg_word(wg);
	/* acquire: pairs with the release of the last done */
	if ((atomic_load_explicit(w, memory_order_acquire) & WG_COUNT) == 0)
		return 0;
	/* Fork-join fast path: the child we wait for is usually the newest
	 * task on our own LIFO stack; run it and look again.  Not past half
	 * the stack: there crew__wg_help decides what may still nest here. */
	me = crew__tls_worker;
	if (me != NULL && !crew__stack_deep(me) &&
	    (t = crew__lifo_pop(&me->lifo)) != NULL) {
		t->fn(t);
		CREW__STAT_ADD(me, tasks_run, 1);
		/* acquire: as above */
		if ((atomic_load_explicit(w, memory_order_acquire) &
		    WG_COUNT) == 0)
			return 0;
	}
	crew__wg_help(w, me);
	return 0;
}

/*
 * Also the loop a relay runs (relay.c).  Past half the stack it runs on
 * (deep) it helps only with the worker's own LIFO stack, which the awaited
 * child is most often in, and where nothing is to be found there, spins as
 * usual; only then, instead of napping, does it go on on a relay, whose
 * fresh stack helps with everything.  So a deep fork-join whose child was
 * merely stolen does not pay a relay (a few microseconds, and a fault per
 * stack page it touches) for a wait that short.  Near the end of the
 * stack (stack_end: an eighth of it or 8 KiB, relay.c) it goes on on a
 * relay at once, LIFO stack or not: a chain of tasks that each push one
 * child and wait for it finds that child on top at every wait, so helping
 * with the LIFO stack alone nested the whole chain here and overflowed
 * (100,000 deep, 8 MiB stacks; found by an adversarial review; test
 * conc/wg_chain_deep).  If no relay
 * can be had, it naps and tries again, helping meanwhile with its LIFO
 * stack and, above three quarters of the stack, its ring (crew__help_one);
 * a pool of one worker then helps with everything on this stack, since
 * nobody else would run the work awaited.
 */
__attribute__((noinline)) void
crew__wg_help(_Atomic uint32_t *w, struct crew__worker *me)
{
	uint32_t s;
	long nap = 20000;
	unsigned misses = 0, runs_before = 0;
	bool deep, relay_failed = false;
	int where;

	/* Each wait counts the tasks it takes in a row from the LIFO stack
	 * on its own (crew__help_one): a count shared by the nest let every
	 * 256th pop anywhere in a fork-join tree run the stack's oldest task
	 * nested, and nesting grew with the number of tasks, not the depth
	 * (a binary tree of 16.7M tasks nested 245,000 deep). */
	if (me != NULL) {
		runs_before = me->lifo_runs;
		me->lifo_runs = 0;
	}
	/* acquire: pairs with the release of the last done */
	while (((s = atomic_load_explicit(w, memory_order_acquire)) &
	    WG_COUNT) != 0) {
		if (me == NULL) {
			wg_sleep(w, s, 0);
			continue;
		}
		deep = CREW__UNLIKELY(crew__stack_deep(me));
		if (deep && !relay_failed &&
		    (uintptr_t)__builtin_frame_address(0) < me->stack_end) {
			/* returns once the count is zero */
			if (crew__relay_wait(me, w) == 0)
				continue;
			relay_failed = true;
		}
		where = CREW__HELP_ALL;
		if (deep && !relay_failed)
			where = CREW__HELP_LIFO;
		/* relaxed: nworkers only grows; with one worker up (its
		 * siblings not started, or failing to), nobody else would
		 * run what this wait waits for */
		else if (deep && atomic_load_explicit(&me->pool->nworkers,
		    memory_order_relaxed) > 1)
			where = (uintptr_t)__builtin_frame_address(0) >
			    me->stack_low ? CREW__HELP_OWN :
			    CREW__HELP_LIFO_STUCK;
		/* Our own newest work first (most often the very child we
		 * are waiting for), through the worker's search, whose
		 * fairness check also runs here: a wait that only popped
		 * its own stack, beside tasks that keep feeding it, never
		 * took the outside task that it waited for (test
		 * conc/fairness_in_helping_wait). */
		if (crew__help_one(me, where)) {
			misses = 0;
			nap = 20000;
			continue;
		}
		/* Nothing to help with: the work is running elsewhere. */
		if (++misses < 64) {
			crew__cpu_relax();
		} else if (misses < 80) {
			sched_yield();
		} else {
			if (deep) {
				/* returns once the count is zero */
				if (crew__relay_wait(me, w) == 0)
					continue;
				relay_failed = true;
			}
			wg_sleep(w, s, nap);
			if (nap < 2000000)
				nap *= 2;
		}
	}
	if (me != NULL)
		me->lifo_runs = runs_before;
}
