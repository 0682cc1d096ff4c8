/* SPDX-License-Identifier: MIT */
/*
 * Parking: a single-token futex event that can be shut down; sleepers
 * wait in a class (a futex bitset) that lets notify prefer some of them.
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

/*
 * futex(addr, op, val, NULL, NULL, val3): returns the syscall's result
 * (woken count for the wakes; the waits' results are not used: callers
 * re-read the word).  On x86-64 the syscall instruction is issued here
 * rather than through libc's syscall(), whose code is one more page to
 * fault into the iTLB on the first wake-up after a long idle (wake p50 on
 * the 2-core KVM machine: 20.2 -> 19.4 and 19.2 -> 18.5 us in two
 * 600-sample interleaved A/Bs).
 */
static inline long
futex4(_Atomic uint32_t *addr, int op, uint32_t val, uint32_t val3)
{
#if defined(__x86_64__)
	long ret;
	register long r10 __asm__("r10") = 0; /* timeout: none */
	register long r8 __asm__("r8") = 0;   /* uaddr2: unused */
	register long r9 __asm__("r9") = (long)val3;

	/* "memory": the kernel reads *addr; no access moves across */
	__asm__ volatile("syscall"
	    : "=a"(ret)
	    : "0"((long)SYS_futex), "D"(addr), "S"((long)op), "d"((long)val),
	      "r"(r10), "r"(r8), "r"(r9)
	    : "rcx", "r11", "memory");
	return ret;
#else
	return syscall(SYS_futex, (uint32_t *)addr, op, val, NULL, NULL, val3);
#endif
}

CREW__HOT void
crew__futex_wait(_Atomic uint32_t *addr, uint32_t expect)
{
	/* The kernel compares *addr with expect atomically against wakers;
	 * EINTR, EAGAIN and spurious returns are handled by the callers'
	 * loops, which re-read the word. */
	(void)futex4(addr, FUTEX_WAIT_PRIVATE, expect, 0);
}

CREW__HOT void
crew__futex_wake(_Atomic uint32_t *addr, int count)
{
	(void)futex4(addr, FUTEX_WAKE_PRIVATE, (uint32_t)count, 0);
}

/* Takes a fan-out permit if one is posted. */
static inline bool
take_fan_out(struct crew__event *ev)
{
	/* relaxed: a starting guess; the CAS decides */
	uint32_t f = atomic_load_explicit(&ev->fan_out, memory_order_relaxed);

	while (f > 0) {
		/* relaxed: a permit orders nothing.  The taker's next RMW of
		 * the pool's sync word (pool.c, worker_wait) acquires what
		 * the notifies published; an edge from the poster here would
		 * only hide a missing one from TSan. */
		if (atomic_compare_exchange_weak_explicit(&ev->fan_out, &f,
		    f - 1, memory_order_relaxed, memory_order_relaxed))
			return true;
	}
	return false;
}

/* Returns true when it took a fan-out permit instead of a token. */
CREW__HOT bool
crew__event_wait(struct crew__event *ev, uint32_t cls)
{
	uint32_t take_to = CREW__EV_EMPTY;
	/* relaxed: the CASes below decide */
	uint32_t st = atomic_load_explicit(&ev->state, memory_order_relaxed);

	for (;;) {
		if (st == CREW__EV_SHUTDOWN) {
			/* acquire: pairs with the release swap in shutdown */
			(void)atomic_load_explicit(&ev->state,
			    memory_order_acquire);
			return false;
		}
		if (st == CREW__EV_NOTIFIED) {
			/* acquire: takes the token; pairs with notify's swap */
			if (atomic_compare_exchange_weak_explicit(&ev->state,
			    &st, take_to, memory_order_acquire,
			    memory_order_relaxed))
				return false;
			continue;
		}
		/* relaxed: arming WAITING publishes nothing */
		if (st != CREW__EV_WAITING &&
		    !atomic_compare_exchange_weak_explicit(&ev->state, &st,
		    CREW__EV_WAITING, memory_order_relaxed, memory_order_relaxed))
			continue;
		/* After arming: a permit posted before this is seen here, one
		 * posted after it kicks the futex below (or finds us back
		 * here), except in the window just before the futex call,
		 * where it waits for the next sleeper to pass by.  Fan-outs
		 * are extra wake-ups; none is needed for correctness. */
		if (take_fan_out(ev))
			return true;
		CREW__CHAOS();
		/* in class cls: see crew__event_notify */
		(void)futex4(&ev->state, FUTEX_WAIT_BITSET_PRIVATE,
		    CREW__EV_WAITING, cls);
		/* relaxed: re-examined by the loop */
		st = atomic_load_explicit(&ev->state, memory_order_relaxed);
		take_to = CREW__EV_WAITING;
	}
}

/*
 * Posts the token and, if someone may sleep, kicks one sleeper: first one
 * of the classes in `prefer` (the pool's first CPU-count workers), any
 * other only when none of those sleeps.  So an oversubscribed pool keeps
 * reusing the same few workers, whose CPUs and caches are warm, and the
 * futex queue's FIFO order does not rotate every wake-up through workers
 * parked longest (on 16 cores with 128 workers, runs whose wake-ups went
 * to such workers ramped up slower: 11-13 workers took part instead of
 * 16).  Correctness does not depend on who is kicked: whoever sees
 * NOTIFIED first takes the token, a kicked thread that finds none sleeps
 * again, and a sleeper about to block sees NOTIFIED in the futex compare.
 */
CREW__HOT void
crew__event_notify(struct crew__event *ev, uint32_t prefer)
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
	if (old == CREW__EV_WAITING &&
	    (prefer == CREW__EV_ANY ||
	    futex4(&ev->state, FUTEX_WAKE_BITSET_PRIVATE, 1, prefer) <= 0))
		crew__futex_wake(&ev->state, 1);
}

/*
 * Posts a fan-out permit and kicks one sleeper (first of the classes in
 * `prefer`), which returns from crew__event_wait without a token unless it
 * finds one first; any worker arming to sleep may take the permit instead.
 * An extra searcher beside the one the token wakes, for work that can feed
 * more threads than the single waking thread hands on to one at a time
 * (see crew__pool_fan_out in pool.c).  False at shutdown.
 */
bool
crew__event_fan_out(struct crew__event *ev, uint32_t prefer)
{
	/* relaxed: shutdown wakes everyone anyway; nothing to order */
	if (atomic_load_explicit(&ev->state, memory_order_relaxed) ==
	    CREW__EV_SHUTDOWN)
		return false;
	/* relaxed: a permit orders nothing (see take_fan_out) */
	atomic_fetch_add_explicit(&ev->fan_out, 1, memory_order_relaxed);
	if (prefer == CREW__EV_ANY ||
	    futex4(&ev->state, FUTEX_WAKE_BITSET_PRIVATE, 1, prefer) <= 0)
		crew__futex_wake(&ev->state, 1);
	return true;
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
