/* SPDX-License-Identifier: MIT */
/*
 * The per-worker bounded ring: CREW_RING_CAP (256) task pointers, one
 * producer (the owner), many consumers.  This is the Go runq / zap design:
 * the owner pushes at `tail`; the owner's pops and every thief's steals
 * take from `head` by CAS, so the ring is FIFO.  Indices are free-running
 * u32 that wrap modulo 2^32; size = tail - head, 0 <= size <= CAP, slot =
 * index & (CAP - 1).  No slot is wasted: full is size == CAP.
 *
 * Invariants:
 *   - only the owner stores `tail` and slots; `head` moves only by CAS;
 *   - a thief loads head then tail (both acquire), rejects a torn snapshot
 *     (size > CAP), copies the slots BEFORE committing, and commits with an
 *     acq_rel CAS on head: after the CAS the owner may reuse the slots;
 *   - slot accesses are atomic (relaxed): a slow thief may read a slot the
 *     owner is rewriting; it then discards the value when its CAS fails;
 *   - pushes are bounded by the batch length, never by a NULL `next`, so a
 *     stale link on a rescheduled task can never pull in foreign tasks.
 *
 * Who may run what at once:
 *            push  pop  steal-from  steal-into  refill
 * owner       -     -       -          -          -     (one thread)
 * thief       X     X       X          X          X     (any number)
 * ("X": runs concurrently with the owner's operations.)
 *
 * Deviations from zap: the full-ring migration links exactly the evicted
 * half, and a push counts down its length instead of walking to NULL.
 */
#ifndef CREW_RING_H
#define CREW_RING_H

#include "internal.h"
#include "queue.h"

#define CREW__RING_MASK (CREW_RING_CAP - 1u)

static inline void
crew__ring_init(struct crew__worker *w)
{
	atomic_init(&w->head, CREW_RING_INDEX_START);
	atomic_init(&w->tail, CREW_RING_INDEX_START);
	for (unsigned i = 0; i < CREW_RING_CAP; i++)
		atomic_init(&w->slot[i], NULL);
}

/*
 * Any thread; exact only for the owner.  A torn snapshot (the owner pushed
 * and popped more than CAP times between the two loads) is re-read, never
 * reported as empty.
 */
static inline uint32_t
crew__ring_size(struct crew__worker *w)
{
	uint32_t h, t;

	for (;;) {
		/* acquire/acquire in this order: same snapshot rule as steal */
		h = atomic_load_explicit(&w->head, memory_order_acquire);
		t = atomic_load_explicit(&w->tail, memory_order_acquire);
		if (t - h <= CREW_RING_CAP)
			return t - h;
		crew__cpu_relax();
	}
}

/*
 * Owner only.  Pushes the `*len` tasks starting at *head (linked by next;
 * `tail` is the last).  Returns true when the ring was full: the oldest
 * half was evicted and *head..*tailp (count *len) is now the list that the
 * caller must push into its overflow queue.
 */
static inline bool
crew__ring_push(struct crew__worker *w, crew_task **headp,
    crew_task **tailp, size_t *lenp)
{
	crew_task *n = *headp, *first, *prev, *cur;
	size_t len = *lenp;
	/* relaxed: a starting guess; the CAS below re-validates */
	uint32_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
	/* relaxed: only this thread stores tail */
	uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
	uint32_t used, half;

	for (;;) {
		used = t - h;
		if (used < CREW_RING_CAP) {
			while (used < CREW_RING_CAP && len > 0) {
				crew_task *next = n->next;

				/* relaxed: published by the tail store below */
				atomic_store_explicit(&w->slot[t & CREW__RING_MASK],
				    n, memory_order_relaxed);
				t++, used++, len--;
				n = next;
			}
			/* release: publishes the slots and the tasks' fields
			 * to thieves; pairs with the acquire tail load in steal */
			atomic_store_explicit(&w->tail, t, memory_order_release);
			if (len == 0)
				return false;
			CREW__CHAOS();
			crew__cpu_relax();
			/* relaxed: did thieves make room? the CAS re-validates */
			h = atomic_load_explicit(&w->head, memory_order_relaxed);
			continue;
		}
		/* Full: evict the oldest half so later pushes hit the ring. */
		half = used / 2;
		/* acquire: the links below are written after the claim */
		if (!atomic_compare_exchange_weak_explicit(&w->head, &h,
		    h + half, memory_order_acquire, memory_order_relaxed))
			continue;
		CREW__CHAOS();
		/* relaxed: we wrote these slots; [h, h+half) is now ours */
		first = prev = atomic_load_explicit(&w->slot[h & CREW__RING_MASK],
		    memory_order_relaxed);
		for (uint32_t i = 1; i < half; i++) {
			/* relaxed: our own slot */
			cur = atomic_load_explicit(
			    &w->slot[(h + i) & CREW__RING_MASK],
			    memory_order_relaxed);
			prev->next = cur;
			prev = cur;
		}
		if (len > 0)
			prev->next = n; /* then the part that did not fit */
		else
			*tailp = prev;
		*headp = first;
		*lenp = len + half;
		return true;
	}
}

/* Owner only.  Takes the oldest task, or NULL. */
static inline crew_task *
crew__ring_pop(struct crew__worker *w)
{
	/* relaxed: the CAS validates */
	uint32_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
	/* relaxed: only this thread stores tail */
	uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);

	while (h != t) {
		/* acquire: orders our use of the task after the claim;
		 * failure reloads head (thieves moved it) */
		if (atomic_compare_exchange_weak_explicit(&w->head, &h, h + 1,
		    memory_order_acquire, memory_order_relaxed))
			/* relaxed: only this thread writes slots */
			return atomic_load_explicit(
			    &w->slot[h & CREW__RING_MASK], memory_order_relaxed);
	}
	return NULL;
}

/*
 * Thief: steals ceil(size/2) of victim's ring into w's ring, which must be
 * empty (only its owner calls this).  Returns the newest stolen task to run
 * now and keeps the rest in w's ring; *got is the number stolen.
 */
static inline crew_task *
crew__ring_steal(struct crew__worker *w, struct crew__worker *victim,
    uint32_t *got)
{
	/* relaxed: w is ours, and empty: head == tail */
	uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
	uint32_t sh, st, n, k, keep;
	crew_task *x;

	for (;;) {
		/* acquire, head first: a tail read after it is never older */
		sh = atomic_load_explicit(&victim->head, memory_order_acquire);
		/* acquire: pairs with the owner's release tail store; makes
		 * the slots and task fields visible */
		st = atomic_load_explicit(&victim->tail, memory_order_acquire);
		n = st - sh;
		if (n > CREW_RING_CAP) { /* torn snapshot: head went stale */
			crew__cpu_relax();
			continue;
		}
		k = n - n / 2;
		if (k == 0)
			return NULL;
		for (uint32_t i = 0; i < k; i++) {
			/* relaxed load/store: the copy is validated by the
			 * CAS and published by our tail store */
			atomic_store_explicit(&w->slot[(t + i) & CREW__RING_MASK],
			    atomic_load_explicit(
				&victim->slot[(sh + i) & CREW__RING_MASK],
				memory_order_relaxed),
			    memory_order_relaxed);
		}
		CREW__CHAOS();
		/* acq_rel: release orders the copy before the claim (the owner
		 * may reuse the slots after it); acquire orders our use of
		 * the tasks after it */
		if (atomic_compare_exchange_strong_explicit(&victim->head, &sh,
		    sh + k, memory_order_acq_rel, memory_order_relaxed))
			break;
		crew__cpu_relax();
	}
	keep = k - 1;
	/* relaxed: our own slot, written above */
	x = atomic_load_explicit(&w->slot[(t + keep) & CREW__RING_MASK],
	    memory_order_relaxed);
	if (keep > 0)
		/* release: publishes the copied slots to our thieves */
		atomic_store_explicit(&w->tail, t + keep, memory_order_release);
	*got = k;
	return x;
}

/*
 * Thief, for the fairness check (pool.c, fair_take): takes the oldest task
 * of victim's ring, or NULL (empty, lost a race, or a torn snapshot: the
 * next check tries again).  Unlike crew__ring_steal it moves nothing into
 * our ring, which need not be empty.
 */
static inline crew_task *
crew__ring_steal_one(struct crew__worker *victim)
{
	uint32_t sh, st;
	crew_task *x;

	/* acquire, head first: a tail read after it is never older */
	sh = atomic_load_explicit(&victim->head, memory_order_acquire);
	/* acquire: pairs with the owner's release tail store; makes the slot
	 * and its task visible */
	st = atomic_load_explicit(&victim->tail, memory_order_acquire);
	if (st == sh || st - sh > CREW_RING_CAP)
		return NULL;
	/* relaxed: validated by the CAS (the owner reuses the slot only
	 * after head has moved past it) */
	x = atomic_load_explicit(&victim->slot[sh & CREW__RING_MASK],
	    memory_order_relaxed);
	CREW__CHAOS();
	/* acq_rel: release orders our read of the slot before the claim;
	 * acquire orders our use of the task after it */
	if (!atomic_compare_exchange_strong_explicit(&victim->head, &sh, sh + 1,
	    memory_order_acq_rel, memory_order_relaxed))
		return NULL;
	return x;
}

/*
 * Owner only: stores up to `max` tasks of the chain *chainp into w's slots
 * from index `at` on, advances *chainp past them and returns the count.
 * The tasks of a batch usually sit at a constant stride (an array of tasks
 * or of structs that hold one): while each link is `stride` past its task,
 * the next address is computed rather than loaded and each loaded link is
 * only compared with it, so the loads do not wait for one another (a plain
 * walk waits a full load latency, often a miss, per task).  The loop exit,
 * not a select, ends a run, and the test is a difference: written so, GCC
 * 12 and Clang keep the loaded link off the critical path (a compiler
 * that put it back would cost speed, not correctness).
 */
static inline uint32_t
crew__ring_fill(struct crew__worker *w, uint32_t at, uint32_t max,
    crew_task **chainp)
{
	uintptr_t n = (uintptr_t)*chainp, stride;
	uint32_t k = 0;

	while (k < max && n != 0) {
		/* relaxed: published by the caller's tail store */
		atomic_store_explicit(&w->slot[(at + k++) & CREW__RING_MASK],
		    (crew_task *)n, memory_order_relaxed);
		stride = (uintptr_t)((crew_task *)n)->next - n;
		n += stride;
		while (k < max && n != 0 &&
		    (uintptr_t)((crew_task *)n)->next - n == stride) {
			/* relaxed: as above */
			atomic_store_explicit(
			    &w->slot[(at + k++) & CREW__RING_MASK],
			    (crew_task *)n, memory_order_relaxed);
			n += stride;
		}
	}
	*chainp = (crew_task *)n;
	return k;
}

/*
 * Owner of w (w's ring empty): moves up to CAP tasks from q into the ring
 * and returns one more to run now, or NULL if q was empty or busy.
 * *got is the number of tasks taken from q.
 */
static inline crew_task *
crew__ring_refill(struct crew__worker *w, struct crew__queue *q,
    uint32_t *got)
{
	crew_task *chain, *n, *x = NULL;
	/* relaxed: only this thread stores tail */
	uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
	uint32_t k = 0;

	if (crew__queue_trylock(q, &chain) != CREW__Q_OK)
		return NULL;
	for (;;) {
		k += crew__ring_fill(w, t + k, CREW_RING_CAP - k, &chain);
		if (k == CREW_RING_CAP) {
			x = crew__queue_pop_locked(q, &chain);
			break;
		}
		/* The chain ran dry: take what was pushed since, if any. */
		if ((n = crew__queue_pop_locked(q, &chain)) == NULL)
			break;
		/* relaxed: published by the tail store below */
		atomic_store_explicit(&w->slot[(t + k++) & CREW__RING_MASK], n,
		    memory_order_relaxed);
	}
	if (x == NULL) {
		if (k == 0) {
			crew__queue_unlock(q, chain);
			return NULL;
		}
		k--;
		/* relaxed: our own slot */
		x = atomic_load_explicit(&w->slot[(t + k) & CREW__RING_MASK],
		    memory_order_relaxed);
	}
	if (k > 0)
		/* release: publishes the refilled slots to thieves */
		atomic_store_explicit(&w->tail, t + k, memory_order_release);
	crew__queue_unlock(q, chain);
	*got = k + 1;
	return x;
}

#endif /* CREW_RING_H */
