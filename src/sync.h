/* SPDX-License-Identifier: MIT */
/*
 * The packed 32-bit sync word and its transitions, as pure functions so the
 * tests can drive every transition without threads.
 *
 *   bits  0..13  idle      threads committed to sleeping
 *   bits 14..27  spawned   live workers plus spawn reservations in flight
 *   bit   28     closing   shutdown is draining the pool
 *   bit   29     notified  a notification nobody has consumed yet
 *   bits 30..31  state     PENDING, SIGNALED, WAKING, SHUTDOWN
 *
 * Throttling: while the state is SIGNALED or WAKING, a notify only sets
 * `notified`; exactly one thread (the waking thread) searches on behalf of
 * the pool, and hands the role on when it finds work (notify(is_waking))
 * or gives it back when it goes idle.  Every change of the word is a CAS or
 * RMW, so all threads agree on one modification order; that is what makes
 * the push-then-notify / idle-then-recheck pair free of lost wake-ups on
 * any CPU (no store-buffering window: both sides are RMWs on one word).
 */
#ifndef CREW_SYNC_H
#define CREW_SYNC_H

#include "internal.h"

static inline unsigned
crew__sync_idle(uint32_t s)
{
	return s & CREW__SYNC_IDLE_MASK;
}

static inline unsigned
crew__sync_spawned(uint32_t s)
{
	return (s & CREW__SYNC_SPAWNED_MASK) >> CREW__SYNC_SPAWNED_SHIFT;
}

static inline unsigned
crew__sync_state(uint32_t s)
{
	return s >> CREW__SYNC_STATE_SHIFT;
}

static inline uint32_t
crew__sync_with_state(uint32_t s, unsigned state)
{
	return (s & ~(3u << CREW__SYNC_STATE_SHIFT)) |
	    ((uint32_t)state << CREW__SYNC_STATE_SHIFT);
}

/* All workers idle, nothing pending: with CLOSING set, drained. */
static inline bool
crew__sync_quiescent(uint32_t s)
{
	return !(s & CREW__SYNC_NOTIFIED) &&
	    crew__sync_idle(s) == crew__sync_spawned(s);
}

enum crew__notify_act {
	CREW__N_DONE,  /* nothing to change */
	CREW__N_MARK,  /* CAS in *next; nobody to wake or spawn */
	CREW__N_WAKE,  /* CAS in *next, then post a token to the idle event */
	CREW__N_SPAWN  /* CAS in *next (spawned reserved), then start a thread */
};

/*
 * notify(is_waking) from word s.  A waking caller always moves the state out
 * of WAKING: to SIGNALED (role handed on) or PENDING (nobody to hand to).
 */
static inline int
crew__sync_notify(uint32_t s, bool is_waking, unsigned max_threads,
    uint32_t *next)
{
	unsigned state = crew__sync_state(s);
	bool can_wake = is_waking || state == CREW__PENDING;
	uint32_t n = s | CREW__SYNC_NOTIFIED;

	if (state == CREW__SHUTDOWN)
		return CREW__N_DONE;
	if (can_wake && crew__sync_idle(s) > 0) {
		*next = crew__sync_with_state(n, CREW__SIGNALED);
		return CREW__N_WAKE;
	}
	if (can_wake && crew__sync_spawned(s) < max_threads) {
		*next = crew__sync_with_state(n, CREW__SIGNALED) +
		    CREW__SYNC_SPAWNED_ONE;
		return CREW__N_SPAWN;
	}
	if (is_waking) {
		*next = crew__sync_with_state(n, CREW__PENDING);
		return CREW__N_MARK;
	}
	if (s & CREW__SYNC_NOTIFIED)
		return CREW__N_DONE;
	*next = n;
	return CREW__N_MARK;
}

enum crew__wait_act {
	CREW__W_SHUTDOWN, /* leave */
	CREW__W_CONSUME,  /* CAS in *next: took the notification */
	CREW__W_IDLE,     /* CAS in *next: committed to sleep (idle + 1) */
	CREW__W_SLEEP     /* already idle, nothing to take: park */
};

/* One step of wait() from word s; `idle` says whether we are counted. */
static inline int
crew__sync_wait(uint32_t s, bool idle, bool is_waking, uint32_t *next)
{
	uint32_t n;

	if (crew__sync_state(s) == CREW__SHUTDOWN)
		return CREW__W_SHUTDOWN;
	if (s & CREW__SYNC_NOTIFIED) {
		n = s & ~CREW__SYNC_NOTIFIED;
		if (idle)
			n -= 1;
		if (crew__sync_state(s) == CREW__SIGNALED)
			n = crew__sync_with_state(n, CREW__WAKING);
		*next = n;
		return CREW__W_CONSUME;
	}
	if (!idle) {
		n = s + 1;
		if (is_waking)
			n = crew__sync_with_state(n, CREW__PENDING);
		*next = n;
		return CREW__W_IDLE;
	}
	return CREW__W_SLEEP;
}

/*
 * The waking thread found one task and left nothing behind.  If nothing was
 * notified since it took the role, it may give the role back (PENDING)
 * without waking anyone: there is nothing for another thread to find, and
 * any later push sees PENDING and wakes a thread itself.  Returns false when
 * a notification is pending: then it must hand the role on (notify).
 */
static inline bool
crew__sync_release_waking(uint32_t s, uint32_t *next)
{
	if ((s & CREW__SYNC_NOTIFIED) || crew__sync_state(s) != CREW__WAKING)
		return false;
	*next = crew__sync_with_state(s, CREW__PENDING);
	return true;
}

/*
 * Gives back a spawn reservation whose thread could not be started.
 * Returns true when the caller must post a token to the idle event.
 *
 * `notified` stays set: a worker between a search that missed the new work
 * and its idle commit must still see it.  If a worker is idle by now, the
 * failure becomes a wake-up of that worker (SIGNALED).  Otherwise the
 * state reopens (PENDING); the pool then retries the spawn from a later
 * notify through its retry flag, since a set `notified` makes notifies
 * return early (bun #37738).
 */
static inline bool
crew__sync_spawn_failed(uint32_t s, uint32_t *next)
{
	uint32_t n = s - CREW__SYNC_SPAWNED_ONE;
	unsigned state = crew__sync_state(s);

	if (state == CREW__SHUTDOWN) {
		*next = n;
		return false;
	}
	if (crew__sync_idle(s) > 0 && state != CREW__WAKING) {
		*next = crew__sync_with_state(n, CREW__SIGNALED) |
		    CREW__SYNC_NOTIFIED;
		return true;
	}
	if (state == CREW__SIGNALED)
		n = crew__sync_with_state(n, CREW__PENDING);
	*next = n;
	return false;
}

/* The shutdown transition from a quiescent word. */
static inline uint32_t
crew__sync_shutdown(uint32_t s)
{
	return crew__sync_with_state(s & ~CREW__SYNC_IDLE_MASK,
	    CREW__SHUTDOWN) | CREW__SYNC_NOTIFIED;
}

#endif /* CREW_SYNC_H */
