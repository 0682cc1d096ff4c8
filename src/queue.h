/* SPDX-License-Identifier: MIT */
/*
 * Unbounded intrusive queue: many producers, one consumer at a time chosen
 * by a try-lock bit.  Used for each worker's overflow queue and for the
 * pool's global queue.
 *
 * The word holds the top of a Treiber stack of pushed lists plus three
 * flags in the low bits of the (8-aligned) task address:
 *   CACHED  the last consumer left a private chain in `cache`
 *   LOCKED  a consumer holds the queue; only it touches `cache`
 *   CLOSED  producers are refused (global queue at shutdown)
 * Producers CAS a new top in and keep the flags.  A consumer try-locks; if
 * nothing is cached it takes the whole pushed stack in the same CAS.  It
 * pops from its private chain, takes what was pushed since with one swap
 * when the chain runs dry, and on unlock stores the leftover into `cache`.
 * Nobody ever blocks: a contended try-lock reports "busy" and the caller
 * looks elsewhere; the pool's notify/wait protocol makes that safe.
 *
 * Order: LIFO between pushes, FIFO inside one pushed list.
 *
 * Who may run what at once ("-" = yes, "X" = no, serialised by LOCKED):
 *            push  trylock  pop_locked  unlock
 * push        -      -        -          -
 * pop_locked  -      -        X          X
 * Invariant: CACHED is set exactly when cache != NULL.
 */
#ifndef CREW_QUEUE_H
#define CREW_QUEUE_H

#include "internal.h"

static inline void
crew__queue_init(struct crew__queue *q)
{
	atomic_init(&q->word, 0);
	q->cache = NULL;
}

/* Any thread.  Pushes the list head..tail (tail->next is overwritten).
 * Returns false, pushing nothing, if the queue is closed, with tail->next
 * as it came (an attempt before the close may have linked it into the
 * queue): the refused chain goes back to the caller untouched. */
static inline bool
crew__queue_push(struct crew__queue *q, crew_task *head, crew_task *tail)
{
	/* relaxed: only a starting guess for the CAS below */
	uintptr_t w = atomic_load_explicit(&q->word, memory_order_relaxed);
	crew_task *link = tail->next;

	for (;;) {
		if (CREW__UNLIKELY(w & CREW__Q_CLOSED)) {
			tail->next = link;
			return false;
		}
		tail->next = (crew_task *)(w & CREW__Q_PTR);
		/* release: publishes the tasks and their links; pairs with the
		 * acquire in crew__queue_trylock() / crew__queue_pop_locked() */
		if (atomic_compare_exchange_weak_explicit(&q->word, &w,
		    (uintptr_t)head | (w & CREW__Q_FLAGS),
		    memory_order_release, memory_order_relaxed))
			return true;
	}
}

/* Any thread.  Refuses every later push; returns whether it was open. */
static inline bool
crew__queue_close(struct crew__queue *q)
{
	/* acq_rel: orders the close against pushes on both sides; pushes
	 * after it in modification order fail */
	return !(atomic_fetch_or_explicit(&q->word, CREW__Q_CLOSED,
	    memory_order_acq_rel) & CREW__Q_CLOSED);
}

/* Whether the queue may hold tasks (racy hint; relaxed). */
static inline bool
crew__queue_maybe_nonempty(struct crew__queue *q)
{
	/* relaxed: a hint only; the try-lock re-checks with acquire */
	return (atomic_load_explicit(&q->word, memory_order_relaxed) &
	    (CREW__Q_PTR | CREW__Q_CACHED)) != 0;
}

enum { CREW__Q_OK, CREW__Q_EMPTY, CREW__Q_BUSY };

/* Any thread.  On CREW__Q_OK the caller holds the queue and *chain is the
 * first chain to pop from. */
static inline int
crew__queue_trylock(struct crew__queue *q, crew_task **chain)
{
	/* relaxed: a starting guess for the CAS */
	uintptr_t w = atomic_load_explicit(&q->word, memory_order_relaxed);
	uintptr_t nw;

	for (;;) {
		if (w & CREW__Q_LOCKED)
			return CREW__Q_BUSY;
		if ((w & (CREW__Q_CACHED | CREW__Q_PTR)) == 0)
			return CREW__Q_EMPTY;
		nw = w | CREW__Q_CACHED | CREW__Q_LOCKED;
		if (!(w & CREW__Q_CACHED))
			nw &= ~CREW__Q_PTR; /* take the pushed stack now */
		/* acquire: pairs with the release in push (the tasks) and in
		 * unlock (the cache field) */
		if (atomic_compare_exchange_weak_explicit(&q->word, &w, nw,
		    memory_order_acquire, memory_order_relaxed))
			break;
	}
	*chain = (w & CREW__Q_CACHED) ? q->cache : (crew_task *)(w & CREW__Q_PTR);
	return CREW__Q_OK;
}

/* Holder of the lock only.  Pops one task, or NULL when empty. */
static inline crew_task *
crew__queue_pop_locked(struct crew__queue *q, crew_task **chain)
{
	crew_task *t = *chain;
	uintptr_t w;

	if (t == NULL) {
		/* relaxed: cheap probe before the swap */
		if ((atomic_load_explicit(&q->word, memory_order_relaxed) &
		    CREW__Q_PTR) == 0)
			return NULL;
		/* acquire: takes everything pushed since; pairs with push's
		 * release.  Keeps CLOSED, sets CACHED|LOCKED (we hold it). */
		w = atomic_fetch_and_explicit(&q->word,
		    CREW__Q_FLAGS, memory_order_acquire);
		t = (crew_task *)(w & CREW__Q_PTR);
		if (t == NULL)
			return NULL;
	}
	*chain = t->next;
	return t;
}

/* Holder of the lock only.  Leaves chain for the next consumer. */
static inline void
crew__queue_unlock(struct crew__queue *q, crew_task *chain)
{
	uintptr_t clear = CREW__Q_LOCKED | (chain == NULL ? CREW__Q_CACHED : 0);

	q->cache = chain;
	/* release: publishes cache to the next locker's acquire */
	atomic_fetch_and_explicit(&q->word, ~clear, memory_order_release);
}

#endif /* CREW_QUEUE_H */
