/* SPDX-License-Identifier: MIT */
/*
 * Parking: a single-token futex event that can be shut down.
 *
 * state: EMPTY, WAITING (someone may sleep on the futex), NOTIFIED (one
 * token), SHUTDOWN (permanently signalled).  notify posts one token and
 * wakes one sleeper if any may be asleep; shutdown wakes every sleeper,
 * always issuing the futex wake whatever the old state (bun #32494).
 *
 * A thread that has slept and then takes a token leaves the state at
 * WAITING, not EMPTY: other sleepers may still be parked, and the next
 * notify must see WAITING to issue a futex wake (zap's `acquire_with`).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

CREW__HOT void
crew__futex_wait(_Atomic uint32_t *addr, uint32_t expect)
{
	/* The kernel compares *addr with expect atomically against wakers;
	 * EINTR, EAGAIN and spurious returns are handled by the callers'
	 * loops, which re-read the word. */
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expect, NULL,
	    NULL, 0);
}

CREW__HOT void
crew__futex_wake(_Atomic uint32_t *addr, int count)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, count, NULL,
	    NULL, 0);
}

CREW__HOT void
crew__event_wait(struct crew__event *ev)
{
	uint32_t take_to = CREW__EV_EMPTY;
	/* relaxed: the CASes below decide */
	uint32_t st = atomic_load_explicit(&ev->state, memory_order_relaxed);

	for (;;) {
		if (st == CREW__EV_SHUTDOWN) {
			/* acquire: pairs with the release swap in shutdown */
			(void)atomic_load_explicit(&ev->state,
			    memory_order_acquire);
			return;
		}
		if (st == CREW__EV_NOTIFIED) {
			/* acquire: takes the token; pairs with notify's swap */
			if (atomic_compare_exchange_weak_explicit(&ev->state,
			    &st, take_to, memory_order_acquire,
			    memory_order_relaxed))
				return;
			continue;
		}
		/* relaxed: arming WAITING publishes nothing */
		if (st != CREW__EV_WAITING &&
		    !atomic_compare_exchange_weak_explicit(&ev->state, &st,
		    CREW__EV_WAITING, memory_order_relaxed, memory_order_relaxed))
			continue;
		CREW__CHAOS();
		crew__futex_wait(&ev->state, CREW__EV_WAITING);
		/* relaxed: re-examined by the loop */
		st = atomic_load_explicit(&ev->state, memory_order_relaxed);
		take_to = CREW__EV_WAITING;
	}
}

CREW__HOT void
crew__event_notify(struct crew__event *ev)
{
	/* release: pairs with the token-taking acquire CAS in event_wait */
	uint32_t old = atomic_exchange_explicit(&ev->state, CREW__EV_NOTIFIED,
	    memory_order_release);

	if (old == CREW__EV_SHUTDOWN) {
		/* Never downgrade a shutdown; restore it and wake everyone. */
		/* release: as in crew__event_shutdown */
		atomic_store_explicit(&ev->state, CREW__EV_SHUTDOWN,
		    memory_order_release);
		crew__futex_wake(&ev->state, INT_MAX);
		return;
	}
	if (old == CREW__EV_WAITING)
		crew__futex_wake(&ev->state, 1);
}

void
crew__event_shutdown(struct crew__event *ev)
{
	/* release: pairs with the acquire load on the SHUTDOWN path */
	atomic_exchange_explicit(&ev->state, CREW__EV_SHUTDOWN,
	    memory_order_release);
	/* Always wake: a sleeper may be parked while the state is briefly
	 * EMPTY or NOTIFIED (bun #32494). */
	crew__futex_wake(&ev->state, INT_MAX);
}
