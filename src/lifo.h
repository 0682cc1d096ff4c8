/* SPDX-License-Identifier: MIT */
/*
 * The LIFO slot, generalised to a short stack (CREW__LIFO_CAP tasks).
 *
 * A task that a worker schedules goes on top of its own stack and runs
 * next; when the stack is full its oldest half moves to the ring.  A one-
 * task slot (Go's runnext, Tokio's lifo_slot) is not enough for helping
 * joins: a fork-join parent's child is displaced into the FIFO ring by the
 * next fork, and a waiting parent then pops the ring's *oldest* task, runs
 * that whole subtree nested inside its wait, and the stack grows with the
 * number of tasks (a depth-14 tree nested 7,000 frames deep).  With a stack
 * the owner finds its newest work first and nesting stays at tree depth.
 *
 * Thieves may take the oldest half, so nothing pushed here is ever
 * stranded behind a busy or blocked owner.  Every access is under a
 * try-lock bit: the owner never waits for it (on contention it pushes to
 * the ring or pops from the ring instead); a thief moves on to its other
 * victims, and comes back before it parks (worker_main).  `n`
 * is atomic only so that others may probe it without the lock.
 */
#ifndef CREW_LIFO_H
#define CREW_LIFO_H

#include "internal.h"

static inline bool
crew__lifo_trylock(struct crew__lifo *l)
{
	/* acquire: pairs with the release in unlock; the stack is ours */
	return atomic_exchange_explicit(&l->lock, 1, memory_order_acquire) == 0;
}

static inline void
crew__lifo_unlock(struct crew__lifo *l)
{
	/* release: publishes the stack to the next holder */
	atomic_store_explicit(&l->lock, 0, memory_order_release);
}

/* Racy size probe (relaxed): a hint, re-checked under the lock. */
static inline uint32_t
crew__lifo_size(struct crew__lifo *l)
{
	/* relaxed: hint only */
	return atomic_load_explicit(&l->n, memory_order_relaxed);
}

static inline void
crew__lifo_set_size(struct crew__lifo *l, uint32_t n)
{
	/* relaxed: written under the lock; the lock orders it */
	atomic_store_explicit(&l->n, n, memory_order_relaxed);
}

/*
 * Lock holder: removes the oldest k tasks, linked oldest first, and
 * returns the first; *last is the newest of them.
 */
static inline crew_task *
crew__lifo_take_oldest(struct crew__lifo *l, uint32_t k, crew_task **last)
{
	uint32_t n = crew__lifo_size(l);
	crew_task *first = l->stk[0];

	for (uint32_t i = 0; i + 1 < k; i++)
		l->stk[i]->next = l->stk[i + 1];
	l->stk[k - 1]->next = NULL;
	*last = l->stk[k - 1];
	for (uint32_t i = k; i < n; i++)
		l->stk[i - k] = l->stk[i];
	crew__lifo_set_size(l, n - k);
	return first;
}

/*
 * Thief: takes the oldest tasks of the stack under the try-lock, half of
 * them rounded up (half) or one; NULL if it is empty or busy.  Returns the
 * first, linked oldest first; *last is the newest taken, *got the count.
 */
static inline crew_task *
crew__lifo_steal(struct crew__lifo *l, bool half, crew_task **last,
    uint32_t *got)
{
	crew_task *first = NULL;
	uint32_t n;

	if (crew__lifo_size(l) == 0 || !crew__lifo_trylock(l))
		return NULL;
	if ((n = crew__lifo_size(l)) > 0) {
		*got = half ? n - n / 2 : 1;
		first = crew__lifo_take_oldest(l, *got, last);
	}
	crew__lifo_unlock(l);
	return first;
}

/* Owner fast path: pops the newest task, or NULL (empty or busy). */
static inline crew_task *
crew__lifo_pop(struct crew__lifo *l)
{
	crew_task *t = NULL;
	uint32_t n;

	if (crew__lifo_size(l) == 0 || !crew__lifo_trylock(l))
		return NULL;
	if ((n = crew__lifo_size(l)) > 0) {
		t = l->stk[n - 1];
		crew__lifo_set_size(l, n - 1);
	}
	crew__lifo_unlock(l);
	return t;
}

/* Owner: pops the newest task if it is t (a split of its own that no thief
 * took, for.c); false if another task is on top, t is gone, or a thief
 * holds the stack. */
static inline bool
crew__lifo_pop_if(struct crew__lifo *l, const crew_task *t)
{
	bool ok = false;
	uint32_t n;

	if (crew__lifo_size(l) == 0 || !crew__lifo_trylock(l))
		return false;
	if ((n = crew__lifo_size(l)) > 0 && l->stk[n - 1] == t) {
		crew__lifo_set_size(l, n - 1);
		ok = true;
	}
	crew__lifo_unlock(l);
	return ok;
}

/* Lock holder, stack full: takes the oldest half out (returned, linked,
 * *tail its newest) and pushes t.  Out of line: keeps the push fast path
 * small. */
static __attribute__((noinline, unused)) crew_task *
crew__lifo_spill(struct crew__lifo *l, crew_task *t, crew_task **tail)
{
	crew_task *head = crew__lifo_take_oldest(l, CREW__LIFO_CAP / 2, tail);

	l->stk[CREW__LIFO_CAP / 2] = t;
	crew__lifo_set_size(l, CREW__LIFO_CAP / 2 + 1);
	return head;
}

enum { CREW__LIFO_BUSY, CREW__LIFO_SPILL, CREW__LIFO_FIRST, CREW__LIFO_MORE };

/*
 * Owner: puts t on top of its stack.  FIRST: the stack was empty (the
 * caller notifies).  MORE: it was not; the push that made it non-empty
 * already notified, every thief that leaves work behind notifies again,
 * and a thief that finds the stack non-empty but locked retries until it
 * is not (worker_main), so this push needs no notify of its own.  SPILL: the stack was
 * full; t is on top and the oldest half (CREW__LIFO_CAP / 2 tasks, linked)
 * comes back as *head..*tail for the ring.  BUSY: a thief holds the stack;
 * t is untouched.
 */
static inline int
crew__lifo_push(struct crew__lifo *l, crew_task *t, crew_task **head,
    crew_task **tail)
{
	uint32_t n;

	if (!crew__lifo_trylock(l))
		return CREW__LIFO_BUSY;
	n = crew__lifo_size(l);
	if (CREW__UNLIKELY(n == CREW__LIFO_CAP)) {
		*head = crew__lifo_spill(l, t, tail);
		crew__lifo_unlock(l);
		return CREW__LIFO_SPILL;
	}
	l->stk[n] = t;
	crew__lifo_set_size(l, n + 1);
	/* (chaos builds: a holder preempted here made a thief give up on
	 * the stack; see worker_main) */
	CREW__CHAOS();
	crew__lifo_unlock(l);
	return n == 0 ? CREW__LIFO_FIRST : CREW__LIFO_MORE;
}

#endif /* CREW_LIFO_H */
