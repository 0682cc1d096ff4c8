/* SPDX-License-Identifier: MIT */
/*
 * Tests of the packed sync word (src/sync.h) as pure functions:
 *   - the bit layout and the accessors, including the 16383 maxima;
 *   - hand-written rows (exact hex words) for notify and wait;
 *   - every combination of state x notified x closing x idle x spawned x
 *     max_threads x is_waking checked against an independent model of the
 *     rules in reference-design.md §2.7/§2.8 and the comments in sync.h;
 *   - spawn_failed, shutdown and quiescent over the same grid;
 *   - a scripted walk through a pool's life (spawn, wake, hand-over, idle,
 *     drain, shutdown).
 * Exact equality of whole words also proves that no field carries into its
 * neighbour and that CLOSING survives every transition.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdint.h>

#include "internal.h"
#include "sync.h"

TestSuite(sync, .timeout = 60);

/* ------------------------------------------------------------------ */
/* An independent model of the word.                                   */

enum { PENDING = 0, SIGNALED = 1, WAKING = 2, SHUTDOWN = 3 };

#define FIELD_MAX 16383u

struct fields {
	unsigned idle, spawned;
	bool closing, notified;
	unsigned state;
};

/* Layout as documented: idle 0..13, spawned 14..27, closing 28,
 * notified 29, state 30..31.  Written out with literal shifts on purpose. */
static uint32_t
pack(struct fields f)
{
	cr_assert(f.idle <= FIELD_MAX && f.spawned <= FIELD_MAX && f.state <= 3,
	    "model built an out-of-range field");
	return (uint32_t)f.idle | ((uint32_t)f.spawned << 14) |
	    ((uint32_t)f.closing << 28) | ((uint32_t)f.notified << 29) |
	    ((uint32_t)f.state << 30);
}

static struct fields
unpack(uint32_t s)
{
	struct fields f = {
		.idle = s & 0x3fffu,
		.spawned = (s >> 14) & 0x3fffu,
		.closing = (s >> 28) & 1u,
		.notified = (s >> 29) & 1u,
		.state = s >> 30,
	};

	return f;
}

static const char *const state_name[] = { "PENDING", "SIGNALED", "WAKING",
	"SHUTDOWN" };

#define DESCR_FMT "{state=%s notified=%d closing=%d idle=%u spawned=%u}"
#define DESCR(f) state_name[(f).state], (f).notified, (f).closing, (f).idle, \
	(f).spawned

/* Model of crew__sync_notify (design §2.7, notify_slow's CAS step). */
static int
model_notify(struct fields f, bool is_waking, unsigned max, struct fields *n)
{
	bool can_wake = is_waking || f.state == PENDING;

	*n = f;
	if (f.state == SHUTDOWN)
		return CREW__N_DONE;
	n->notified = true;
	if (can_wake && f.idle > 0) {
		n->state = SIGNALED;
		return CREW__N_WAKE;
	}
	if (can_wake && f.spawned < max) {
		n->state = SIGNALED;
		n->spawned = f.spawned + 1;
		return CREW__N_SPAWN;
	}
	if (is_waking) {
		n->state = PENDING;
		return CREW__N_MARK;
	}
	if (f.notified)
		return CREW__N_DONE;
	return CREW__N_MARK;
}

/* Model of crew__sync_wait (design §2.8, one step). */
static int
model_wait(struct fields f, bool idle, bool is_waking, struct fields *n)
{
	*n = f;
	if (f.state == SHUTDOWN)
		return CREW__W_SHUTDOWN;
	if (f.notified) {
		n->notified = false;
		if (idle)
			n->idle = f.idle - 1;
		if (f.state == SIGNALED)
			n->state = WAKING;
		return CREW__W_CONSUME;
	}
	if (!idle) {
		n->idle = f.idle + 1;
		if (is_waking)
			n->state = PENDING;
		return CREW__W_IDLE;
	}
	return CREW__W_SLEEP;
}

/* ------------------------------------------------------------------ */
/* Layout.                                                             */

Test(sync, layout_and_accessors, .timeout = 60)
{
	const uint32_t all[] = { CREW__SYNC_IDLE_MASK, CREW__SYNC_SPAWNED_MASK,
		CREW__SYNC_CLOSING, CREW__SYNC_NOTIFIED,
		3u << CREW__SYNC_STATE_SHIFT };
	uint32_t seen = 0;

	cr_assert_eq(CREW__SYNC_IDLE_MASK, 0x00003fffu);
	cr_assert_eq(CREW__SYNC_SPAWNED_SHIFT, 14);
	cr_assert_eq(CREW__SYNC_SPAWNED_ONE, 0x00004000u);
	cr_assert_eq(CREW__SYNC_SPAWNED_MASK, 0x0fffc000u);
	cr_assert_eq(CREW__SYNC_CLOSING, 0x10000000u);
	cr_assert_eq(CREW__SYNC_NOTIFIED, 0x20000000u);
	cr_assert_eq(CREW__SYNC_STATE_SHIFT, 30);
	cr_assert_eq(CREW__PENDING, PENDING);
	cr_assert_eq(CREW__SIGNALED, SIGNALED);
	cr_assert_eq(CREW__WAKING, WAKING);
	cr_assert_eq(CREW__SHUTDOWN, SHUTDOWN);
	/* The fields are disjoint and cover the word. */
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		cr_assert_eq(seen & all[i], 0, "field %zu overlaps", i);
		seen |= all[i];
	}
	cr_assert_eq(seen, 0xffffffffu);
	/* The counters hold exactly the thread limit. */
	cr_assert_eq(CREW_MAX_THREADS, FIELD_MAX);
	cr_assert_eq(CREW_MAX_THREADS, CREW__SYNC_IDLE_MASK);
	cr_assert_eq(CREW_MAX_THREADS,
	    CREW__SYNC_SPAWNED_MASK >> CREW__SYNC_SPAWNED_SHIFT);
}

Test(sync, accessors_roundtrip_at_extremes, .timeout = 60)
{
	const unsigned vals[] = { 0, 1, 2, 8191, 8192, FIELD_MAX - 1, FIELD_MAX };

	for (unsigned st = 0; st < 4; st++)
		for (size_t a = 0; a < 7; a++)
			for (size_t b = 0; b < 7; b++)
				for (unsigned bits = 0; bits < 4; bits++) {
					struct fields f = { vals[a], vals[b],
						bits & 1, (bits >> 1) & 1, st };
					uint32_t s = pack(f);
					struct fields u = unpack(s);

					cr_assert(u.idle == f.idle &&
					    u.spawned == f.spawned &&
					    u.closing == f.closing &&
					    u.notified == f.notified &&
					    u.state == f.state, "model roundtrip");
					cr_assert_eq(crew__sync_idle(s), f.idle);
					cr_assert_eq(crew__sync_spawned(s), f.spawned);
					cr_assert_eq(crew__sync_state(s), st);
					cr_assert_eq(!!(s & CREW__SYNC_CLOSING), f.closing);
					cr_assert_eq(!!(s & CREW__SYNC_NOTIFIED), f.notified);
					for (unsigned to = 0; to < 4; to++) {
						struct fields g = f;

						g.state = to;
						cr_assert_eq(crew__sync_with_state(s, to),
						    pack(g), "with_state touched "
						    "another field");
					}
				}
}

/* ------------------------------------------------------------------ */
/* Hand-written rows: the exact words, independent of the model.       */

#define ST(x) ((uint32_t)(x) << 30)
#define NOT 0x20000000u
#define CLO 0x10000000u
#define SP(x) ((uint32_t)(x) << 14)

struct notify_row {
	uint32_t s;
	bool waking;
	unsigned max;
	int act;
	uint32_t next; /* ignored for DONE */
};

static const struct notify_row notify_rows[] = {
	/* PENDING: wake an idle thread, else spawn, else just mark. */
	{ ST(PENDING), false, 4, CREW__N_SPAWN, ST(SIGNALED) | NOT | SP(1) },
	{ ST(PENDING) | SP(3) | 2, false, 4, CREW__N_WAKE,
	    ST(SIGNALED) | NOT | SP(3) | 2 },
	{ ST(PENDING) | SP(4), false, 4, CREW__N_MARK, NOT | SP(4) },
	{ ST(PENDING) | NOT | SP(4), false, 4, CREW__N_DONE, 0 },
	{ ST(PENDING) | NOT | SP(1), false, 4, CREW__N_SPAWN,
	    ST(SIGNALED) | NOT | SP(2) },
	{ ST(PENDING) | NOT | SP(1) | 1, false, 4, CREW__N_WAKE,
	    ST(SIGNALED) | NOT | SP(1) | 1 },
	/* SIGNALED / WAKING, not the waking thread: throttled. */
	{ ST(SIGNALED) | SP(2) | 1, false, 4, CREW__N_MARK,
	    ST(SIGNALED) | NOT | SP(2) | 1 },
	{ ST(SIGNALED) | NOT | SP(2) | 1, false, 4, CREW__N_DONE, 0 },
	{ ST(SIGNALED) | SP(0), false, 4, CREW__N_MARK, ST(SIGNALED) | NOT },
	{ ST(WAKING) | SP(2) | 1, false, 4, CREW__N_MARK,
	    ST(WAKING) | NOT | SP(2) | 1 },
	{ ST(WAKING) | NOT | SP(1), false, 4, CREW__N_DONE, 0 },
	/* The waking thread hands its role on or gives it back. */
	{ ST(WAKING) | SP(2) | 1, true, 4, CREW__N_WAKE,
	    ST(SIGNALED) | NOT | SP(2) | 1 },
	{ ST(WAKING) | SP(2), true, 4, CREW__N_SPAWN,
	    ST(SIGNALED) | NOT | SP(3) },
	{ ST(WAKING) | SP(4), true, 4, CREW__N_MARK, ST(PENDING) | NOT | SP(4) },
	{ ST(WAKING) | NOT | SP(4), true, 4, CREW__N_MARK,
	    ST(PENDING) | NOT | SP(4) },
	/* SHUTDOWN: nothing, ever. */
	{ ST(SHUTDOWN), false, 4, CREW__N_DONE, 0 },
	{ ST(SHUTDOWN) | SP(2), true, 4, CREW__N_DONE, 0 },
	{ ST(SHUTDOWN) | NOT | CLO | SP(1), false, 4, CREW__N_DONE, 0 },
	/* CLOSING rides along. */
	{ ST(PENDING) | CLO, false, 1, CREW__N_SPAWN,
	    ST(SIGNALED) | CLO | NOT | SP(1) },
	{ ST(PENDING) | CLO | SP(1) | 1, false, 1, CREW__N_WAKE,
	    ST(SIGNALED) | CLO | NOT | SP(1) | 1 },
	{ ST(WAKING) | CLO | SP(1), true, 1, CREW__N_MARK,
	    ST(PENDING) | CLO | NOT | SP(1) },
	/* The maxima: no carry out of spawned or idle. */
	{ ST(PENDING) | SP(FIELD_MAX - 1), false, FIELD_MAX, CREW__N_SPAWN,
	    0x6fffc000u },
	{ ST(PENDING) | SP(FIELD_MAX), false, FIELD_MAX, CREW__N_MARK,
	    0x2fffc000u },
	{ ST(PENDING) | SP(FIELD_MAX) | FIELD_MAX, false, FIELD_MAX,
	    CREW__N_WAKE, 0x6fffffffu },
	{ ST(WAKING) | CLO | SP(FIELD_MAX), true, FIELD_MAX, CREW__N_MARK,
	    0x3fffc000u },
	{ ST(WAKING) | CLO | SP(FIELD_MAX - 1) | (FIELD_MAX - 1), true,
	    FIELD_MAX, CREW__N_WAKE, 0x7fffbffeu },
};

Test(sync, notify_rows, .timeout = 60)
{
	for (size_t i = 0; i < sizeof(notify_rows) / sizeof(notify_rows[0]); i++) {
		const struct notify_row *r = &notify_rows[i];
		uint32_t next = 0xa5a5a5a5u;
		int act = crew__sync_notify(r->s, r->waking, r->max, &next);

		cr_assert_eq(act, r->act, "row %zu (s=%#x): act %d want %d", i,
		    r->s, act, r->act);
		if (r->act == CREW__N_DONE)
			cr_assert_eq(next, 0xa5a5a5a5u, "row %zu: DONE wrote next",
			    i);
		else
			cr_assert_eq(next, r->next, "row %zu (s=%#x): next %#x "
			    "want %#x", i, r->s, next, r->next);
	}
}

struct wait_row {
	uint32_t s;
	bool idle, waking;
	int act;
	uint32_t next; /* for CONSUME and IDLE */
};

static const struct wait_row wait_rows[] = {
	{ ST(SHUTDOWN) | NOT | SP(2), false, false, CREW__W_SHUTDOWN, 0 },
	{ ST(SHUTDOWN) | SP(2) | 1, true, false, CREW__W_SHUTDOWN, 0 },
	{ ST(SHUTDOWN) | SP(1), false, true, CREW__W_SHUTDOWN, 0 },
	/* Consume: SIGNALED makes the consumer the waking thread. */
	{ ST(SIGNALED) | NOT | SP(1), false, false, CREW__W_CONSUME,
	    ST(WAKING) | SP(1) },
	{ ST(SIGNALED) | NOT | SP(3) | 2, true, false, CREW__W_CONSUME,
	    ST(WAKING) | SP(3) | 1 },
	{ ST(PENDING) | NOT | SP(1) | 1, true, false, CREW__W_CONSUME, SP(1) },
	{ ST(PENDING) | NOT | SP(2), false, false, CREW__W_CONSUME, SP(2) },
	{ ST(WAKING) | NOT | SP(2), false, true, CREW__W_CONSUME,
	    ST(WAKING) | SP(2) },
	{ ST(WAKING) | NOT | SP(2) | 1, true, false, CREW__W_CONSUME,
	    ST(WAKING) | SP(2) },
	{ ST(SIGNALED) | CLO | NOT | SP(2) | 1, true, false, CREW__W_CONSUME,
	    ST(WAKING) | CLO | SP(2) },
	/* Commit to sleep; the waking thread gives its role back. */
	{ ST(PENDING) | SP(1), false, false, CREW__W_IDLE, SP(1) | 1 },
	{ ST(WAKING) | SP(1), false, true, CREW__W_IDLE, ST(PENDING) | SP(1) | 1 },
	{ ST(SIGNALED) | SP(2), false, false, CREW__W_IDLE,
	    ST(SIGNALED) | SP(2) | 1 },
	{ ST(WAKING) | SP(2), false, false, CREW__W_IDLE, ST(WAKING) | SP(2) | 1 },
	{ ST(PENDING) | CLO | SP(3) | 2, false, false, CREW__W_IDLE,
	    CLO | SP(3) | 3 },
	/* Already idle and nothing to take. */
	{ ST(PENDING) | SP(1) | 1, true, false, CREW__W_SLEEP, 0 },
	{ ST(SIGNALED) | CLO | SP(2) | 2, true, false, CREW__W_SLEEP, 0 },
	/* The maxima. */
	{ ST(PENDING) | SP(FIELD_MAX) | (FIELD_MAX - 1), false, false,
	    CREW__W_IDLE, 0x0fffffffu },
	{ ST(WAKING) | CLO | SP(FIELD_MAX) | (FIELD_MAX - 1), false, true,
	    CREW__W_IDLE, 0x1fffffffu },
	{ ST(SIGNALED) | NOT | SP(FIELD_MAX) | FIELD_MAX, true, false,
	    CREW__W_CONSUME, 0x8ffffffeu },
	{ ST(PENDING) | NOT | SP(FIELD_MAX) | 1, true, false, CREW__W_CONSUME,
	    0x0fffc000u },
};

Test(sync, wait_rows, .timeout = 60)
{
	for (size_t i = 0; i < sizeof(wait_rows) / sizeof(wait_rows[0]); i++) {
		const struct wait_row *r = &wait_rows[i];
		uint32_t next = 0xa5a5a5a5u;
		int act = crew__sync_wait(r->s, r->idle, r->waking, &next);

		cr_assert_eq(act, r->act, "row %zu (s=%#x): act %d want %d", i,
		    r->s, act, r->act);
		if (r->act == CREW__W_CONSUME || r->act == CREW__W_IDLE)
			cr_assert_eq(next, r->next, "row %zu (s=%#x): next %#x "
			    "want %#x", i, r->s, next, r->next);
		else
			cr_assert_eq(next, 0xa5a5a5a5u, "row %zu wrote next", i);
	}
}

/* ------------------------------------------------------------------ */
/* The whole grid against the model.                                   */

static const unsigned counts[] = { 0, 1, 2, 3, 4, 5, FIELD_MAX - 1,
	FIELD_MAX };
static const unsigned maxes[] = { 1, 2, 4, 5, FIELD_MAX };
#define NCOUNTS (sizeof(counts) / sizeof(counts[0]))
#define NMAXES (sizeof(maxes) / sizeof(maxes[0]))

/* Calls fn for every word with idle <= spawned; fields only. */
#define FOR_EACH_WORD(f)                                                      \
	for (unsigned st_ = 0; st_ < 4; st_++)                                \
	for (unsigned bits_ = 0; bits_ < 4; bits_++)                          \
	for (size_t i_ = 0; i_ < NCOUNTS; i_++)                               \
	for (size_t s_ = 0; s_ < NCOUNTS; s_++)                               \
	if (counts[i_] <= counts[s_] &&                                       \
	    ((f) = (struct fields){ counts[i_], counts[s_], bits_ & 1,        \
		(bits_ >> 1) & 1, st_ }, 1))

Test(sync, notify_grid, .timeout = 60)
{
	struct fields f;
	size_t cases = 0, by_act[4] = { 0 };

	FOR_EACH_WORD(f)
	for (size_t m = 0; m < NMAXES; m++)
	for (unsigned wk = 0; wk < 2; wk++) {
		unsigned max = maxes[m];
		bool waking = wk;
		struct fields want;
		uint32_t s, next = 0xa5a5a5a5u;
		int act, wact;

		if (f.spawned > max)
			continue; /* reservations never exceed max */
		s = pack(f);
		wact = model_notify(f, waking, max, &want);
		act = crew__sync_notify(s, waking, max, &next);
		cr_assert_eq(act, wact, DESCR_FMT " waking=%d max=%u: act %d "
		    "want %d", DESCR(f), waking, max, act, wact);
		if (act == CREW__N_DONE) {
			cr_assert_eq(next, 0xa5a5a5a5u);
		} else {
			cr_assert_eq(next, pack(want), DESCR_FMT " waking=%d "
			    "max=%u: next %#x want %#x", DESCR(f), waking, max,
			    next, pack(want));
			/* Invariants of any notify that changes the word. */
			cr_assert(next & CREW__SYNC_NOTIFIED);
			cr_assert_eq(next & CREW__SYNC_CLOSING,
			    s & CREW__SYNC_CLOSING, "CLOSING changed");
			cr_assert_eq(crew__sync_idle(next), f.idle);
			cr_assert(crew__sync_spawned(next) <= max);
			if (waking)
				cr_assert_neq(crew__sync_state(next), WAKING,
				    "a waking notify left the state WAKING");
		}
		by_act[act]++;
		cases++;
	}
	cr_assert(by_act[CREW__N_DONE] && by_act[CREW__N_MARK] &&
	    by_act[CREW__N_WAKE] && by_act[CREW__N_SPAWN]);
	cr_log_info("notify: %zu cases", cases);
}

Test(sync, wait_grid, .timeout = 60)
{
	struct fields f;
	size_t cases = 0, by_act[4] = { 0 };

	FOR_EACH_WORD(f)
	for (unsigned id = 0; id < 2; id++)
	for (unsigned wk = 0; wk < 2; wk++) {
		bool idle = id, waking = wk;
		struct fields want;
		uint32_t s, next = 0xa5a5a5a5u;
		int act, wact;

		/* A caller counted as idle means idle >= 1; an uncounted
		 * caller is a live worker, so idle < spawned. */
		if (idle ? f.idle == 0 : f.idle >= f.spawned)
			continue;
		/* Only a thread that has not gone idle holds the role. */
		if (idle && waking)
			continue;
		s = pack(f);
		wact = model_wait(f, idle, waking, &want);
		act = crew__sync_wait(s, idle, waking, &next);
		cr_assert_eq(act, wact, DESCR_FMT " idle=%d waking=%d: act %d "
		    "want %d", DESCR(f), idle, waking, act, wact);
		if (act == CREW__W_CONSUME || act == CREW__W_IDLE) {
			cr_assert_eq(next, pack(want), DESCR_FMT " idle=%d "
			    "waking=%d: next %#x want %#x", DESCR(f), idle,
			    waking, next, pack(want));
			cr_assert_eq(next & CREW__SYNC_CLOSING,
			    s & CREW__SYNC_CLOSING, "CLOSING changed");
			cr_assert_eq(crew__sync_spawned(next), f.spawned);
			cr_assert(crew__sync_idle(next) <= crew__sync_spawned(next));
			cr_assert_neq(crew__sync_state(next), SHUTDOWN);
		} else {
			cr_assert_eq(next, 0xa5a5a5a5u);
		}
		by_act[act]++;
		cases++;
	}
	for (int a = 0; a < 4; a++)
		cr_assert(by_act[a] > 0, "wait action %d never produced", a);
	cr_log_info("wait: %zu cases", cases);
}

Test(sync, spawn_failed_grid, .timeout = 60)
{
	struct fields f;
	uint32_t n;

	FOR_EACH_WORD(f) {
		struct fields want = f;
		uint32_t s;

		/* A reservation to give back; it is not an idle thread. */
		if (f.spawned == 0 || f.idle >= f.spawned)
			continue;
		bool wake, want_wake = false;

		s = pack(f);
		want.spawned = f.spawned - 1;
		if (f.state != SHUTDOWN && f.idle > 0 && f.state != WAKING) {
			/* A worker went idle meanwhile: wake it instead. */
			want.state = SIGNALED;
			want.notified = true;
			want_wake = true;
		} else if (f.state == SIGNALED) {
			want.state = PENDING;
		}
		/* Otherwise `notified` stays as it was. */
		wake = crew__sync_spawn_failed(s, &n);
		cr_assert_eq(n, pack(want), DESCR_FMT ": %#x want %#x", DESCR(f),
		    n, pack(want));
		cr_assert_eq(wake, want_wake, DESCR_FMT ": wake %d", DESCR(f),
		    wake);
	}
	/* From the maximum (idle workers: the failure becomes a wake-up). */
	cr_assert(crew__sync_spawn_failed(ST(SIGNALED) | NOT | CLO |
	    SP(FIELD_MAX) | (FIELD_MAX - 1), &n));
	cr_assert_eq(n, ST(SIGNALED) | NOT | CLO | SP(FIELD_MAX - 1) |
	    (FIELD_MAX - 1));
	cr_assert(!crew__sync_spawn_failed(ST(SIGNALED) | NOT | SP(1), &n));
	cr_assert_eq(n, NOT);
	cr_assert(!crew__sync_spawn_failed(ST(WAKING) | NOT | SP(2), &n));
	cr_assert_eq(n, ST(WAKING) | NOT | SP(1));
	cr_assert(!crew__sync_spawn_failed(ST(SHUTDOWN) | NOT | SP(2) | 1, &n));
	cr_assert_eq(n, ST(SHUTDOWN) | NOT | SP(1) | 1);
}

/* The waking thread gives its role back without a wake-up only while it
 * holds the role and nothing was notified since it took it. */
Test(sync, release_waking_grid, .timeout = 60)
{
	struct fields f;

	FOR_EACH_WORD(f) {
		uint32_t s = pack(f), n = 0xdeadbeef;
		bool ok = crew__sync_release_waking(s, &n);
		struct fields want = f;

		if (f.state == WAKING && !f.notified) {
			want.state = PENDING;
			cr_assert(ok, DESCR_FMT ": refused", DESCR(f));
			cr_assert_eq(n, pack(want), DESCR_FMT ": %#x want %#x",
			    DESCR(f), n, pack(want));
		} else {
			cr_assert(!ok, DESCR_FMT ": released", DESCR(f));
			cr_assert_eq(n, 0xdeadbeef, "next written on refusal");
		}
	}
}

Test(sync, shutdown_grid, .timeout = 60)
{
	struct fields f;

	FOR_EACH_WORD(f) {
		struct fields want = f;
		uint32_t s = pack(f), n = crew__sync_shutdown(s);

		want.idle = 0;
		want.state = SHUTDOWN;
		want.notified = true;
		cr_assert_eq(n, pack(want), DESCR_FMT ": %#x want %#x", DESCR(f),
		    n, pack(want));
	}
	cr_assert_eq(crew__sync_shutdown(CLO | SP(FIELD_MAX) | FIELD_MAX),
	    0xffffc000u);
	cr_assert_eq(crew__sync_shutdown(CLO), ST(SHUTDOWN) | CLO | NOT);
}

Test(sync, quiescent_grid, .timeout = 60)
{
	struct fields f;

	FOR_EACH_WORD(f) {
		bool want = !f.notified && f.idle == f.spawned;

		cr_assert_eq(crew__sync_quiescent(pack(f)), want, DESCR_FMT,
		    DESCR(f));
	}
	cr_assert(crew__sync_quiescent(0));
	cr_assert(crew__sync_quiescent(CLO | SP(FIELD_MAX) | FIELD_MAX));
	cr_assert_not(crew__sync_quiescent(CLO | NOT | SP(3) | 3));
	cr_assert_not(crew__sync_quiescent(CLO | SP(3) | 2));
}

/* ------------------------------------------------------------------ */
/* A scripted life of a 2-thread pool.                                 */

static uint32_t
do_notify(uint32_t s, bool waking, int want_act)
{
	uint32_t n = s;
	int act = crew__sync_notify(s, waking, 2, &n);

	cr_assert_eq(act, want_act, "notify(%#x, %d): %d want %d", s, waking,
	    act, want_act);
	return n;
}

static uint32_t
do_wait(uint32_t s, bool idle, bool waking, int want_act)
{
	uint32_t n = s;
	int act = crew__sync_wait(s, idle, waking, &n);

	cr_assert_eq(act, want_act, "wait(%#x, %d, %d): %d want %d", s, idle,
	    waking, act, want_act);
	return n;
}

Test(sync, scripted_pool_life, .timeout = 60)
{
	uint32_t s = 0;

	/* A submit from outside spawns worker A. */
	s = do_notify(s, false, CREW__N_SPAWN);
	cr_assert_eq(s, ST(SIGNALED) | NOT | SP(1));
	/* A second submit is throttled (state SIGNALED, notified set). */
	s = do_notify(s, false, CREW__N_DONE);
	/* A starts, consumes the notification and becomes the waker. */
	s = do_wait(s, false, false, CREW__W_CONSUME);
	cr_assert_eq(s, ST(WAKING) | SP(1));
	/* A finds work and hands the role on: spawns worker B. */
	s = do_notify(s, true, CREW__N_SPAWN);
	cr_assert_eq(s, ST(SIGNALED) | NOT | SP(2));
	/* B consumes and becomes the waker; A keeps running tasks. */
	s = do_wait(s, false, false, CREW__W_CONSUME);
	cr_assert_eq(s, ST(WAKING) | SP(2));
	/* B finds nothing and goes idle, giving the role back. */
	s = do_wait(s, false, true, CREW__W_IDLE);
	cr_assert_eq(s, ST(PENDING) | SP(2) | 1);
	s = do_wait(s, true, false, CREW__W_SLEEP);
	/* A submit wakes B (idle > 0, PENDING). */
	s = do_notify(s, false, CREW__N_WAKE);
	cr_assert_eq(s, ST(SIGNALED) | NOT | SP(2) | 1);
	s = do_wait(s, true, false, CREW__W_CONSUME);
	cr_assert_eq(s, ST(WAKING) | SP(2));
	/* At max threads with nobody idle the waker just marks. */
	s = do_notify(s, true, CREW__N_MARK);
	cr_assert_eq(s, ST(PENDING) | NOT | SP(2));
	/* Shutdown starts draining. */
	s |= CREW__SYNC_CLOSING;
	/* A consumes the mark, then both go idle. */
	s = do_wait(s, false, false, CREW__W_CONSUME);
	cr_assert_eq(s, CLO | SP(2));
	s = do_wait(s, false, false, CREW__W_IDLE);
	cr_assert_not(crew__sync_quiescent(s));
	s = do_wait(s, false, false, CREW__W_IDLE);
	cr_assert_eq(s, CLO | SP(2) | 2);
	cr_assert(crew__sync_quiescent(s));
	s = crew__sync_shutdown(s);
	cr_assert_eq(s, ST(SHUTDOWN) | CLO | NOT | SP(2));
	s = do_wait(s, true, false, CREW__W_SHUTDOWN);
	s = do_notify(s, false, CREW__N_DONE);
	/* Each worker leaves by dropping its spawned count. */
	s -= CREW__SYNC_SPAWNED_ONE;
	s -= CREW__SYNC_SPAWNED_ONE;
	cr_assert_eq(s, ST(SHUTDOWN) | CLO | NOT);
}

Test(sync, failed_spawn_reopens_pool, .timeout = 60)
{
	uint32_t s = 0;

	s = do_notify(s, false, CREW__N_SPAWN);
	cr_assert(!crew__sync_spawn_failed(s, &s));
	/* Back to PENDING with the mark kept, so the next notify may try
	 * again (bun #37738). */
	cr_assert_eq(s, ST(PENDING) | NOT);
	s = do_notify(s, false, CREW__N_SPAWN);
	cr_assert_eq(s, ST(SIGNALED) | NOT | SP(1));
}
