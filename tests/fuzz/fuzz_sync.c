/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the sync word's transitions (src/sync.h).  It plays
 * a pool of virtual workers through notify / wait / hand-off / spawn
 * failure / shutdown steps chosen by the input, applying crew's pure
 * transition functions, and checks each result against an independent
 * model kept as separate fields, plus the invariants: idle <= spawned <=
 * max, no field carries into its neighbour, CLOSING is never lost, at most
 * one thread holds the waking role, and a wake is never issued with nobody
 * idle.
 */
#include "internal.h"
#include "sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_sync: %s failed at line %d\n",  \
			    #c, __LINE__);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

struct fields {
	unsigned idle, spawned, state;
	bool notified, closing;
};

static uint32_t
pack(struct fields f)
{
	return f.idle | (f.spawned << 14) | ((uint32_t)f.closing << 28) |
	    ((uint32_t)f.notified << 29) | (f.state << 30);
}

static void
same(uint32_t s, struct fields f)
{
	CHECK(crew__sync_idle(s) == f.idle);
	CHECK(crew__sync_spawned(s) == f.spawned);
	CHECK(crew__sync_state(s) == f.state);
	CHECK(!!(s & CREW__SYNC_NOTIFIED) == f.notified);
	CHECK(!!(s & CREW__SYNC_CLOSING) == f.closing);
	CHECK(s == pack(f));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	/* per virtual worker: 0 running, 1 counted idle; waker = index or -1 */
	unsigned char idle[64] = { 0 };
	int waker = -1;
	unsigned max = n > 0 ? 1 + d[0] % 63 : 4, live = 0;
	struct fields f = { 0, 0, CREW__PENDING, false, false };
	uint32_t s = 0, nx;

	for (size_t i = 1; i < n; i++) {
		uint8_t op = d[i] % 6;
		unsigned wk = (unsigned)(d[i] >> 3) % (live ? live : 1);
		bool is_waking = live && (int)wk == waker;
		int act;

		if (f.state == CREW__SHUTDOWN)
			break;
		switch (op) {
		case 0: /* notify from a push (not the waking thread) */
		case 1: /* notify(is_waking) by worker wk */
			if (op == 1 && !is_waking)
				break;
			act = crew__sync_notify(s, op == 1, max, &nx);
			if (op == 0 && f.notified && f.state != CREW__PENDING) {
				CHECK(act == CREW__N_DONE);
				break;
			}
			if ((op == 1 || f.state == CREW__PENDING) && f.idle > 0) {
				CHECK(act == CREW__N_WAKE);
				f.state = CREW__SIGNALED;
			} else if ((op == 1 || f.state == CREW__PENDING) &&
			    f.spawned < max) {
				CHECK(act == CREW__N_SPAWN);
				f.state = CREW__SIGNALED;
				f.spawned++;
				if (d[i] & 0x80) {      /* the spawn fails */
					f.notified = true;
					same(nx, f);
					s = nx;
					if (crew__sync_spawn_failed(s, &nx)) {
						CHECK(f.idle > 0);
						f.state = CREW__SIGNALED;
					} else if (f.state == CREW__SIGNALED) {
						f.state = CREW__PENDING;
					}
					f.spawned--;
					same(nx, f);
					s = nx;
					if (op == 1)
						waker = -1;
					break;
				}
				idle[live++] = 0;
			} else if (op == 1) {
				CHECK(act == CREW__N_MARK);
				f.state = CREW__PENDING;
			} else if (f.notified) {
				CHECK(act == CREW__N_DONE);
				break;
			} else {
				CHECK(act == CREW__N_MARK);
			}
			if (op == 1)
				waker = -1;
			f.notified = true;
			same(nx, f);
			s = nx;
			break;
		case 2: /* one wait() step of worker wk */
			if (!live)
				break;
			act = crew__sync_wait(s, idle[wk], is_waking, &nx);
			if (f.notified) {
				CHECK(act == CREW__W_CONSUME);
				f.notified = false;
				if (idle[wk])
					f.idle--;
				idle[wk] = 0;
				if (f.state == CREW__SIGNALED) {
					CHECK(waker < 0);
					f.state = CREW__WAKING;
					waker = (int)wk;
				}
			} else if (!idle[wk]) {
				CHECK(act == CREW__W_IDLE);
				f.idle++;
				idle[wk] = 1;
				if (is_waking) {
					f.state = CREW__PENDING;
					waker = -1;
				}
			} else {
				CHECK(act == CREW__W_SLEEP);
				break;
			}
			same(nx, f);
			s = nx;
			break;
		case 3: /* the waking thread left nothing behind */
			if (!is_waking || idle[wk])
				break;
			if (crew__sync_release_waking(s, &nx)) {
				CHECK(!f.notified && f.state == CREW__WAKING);
				f.state = CREW__PENDING;
				waker = -1;
				same(nx, f);
				s = nx;
			} else {
				CHECK(f.notified);
			}
			break;
		case 4: /* shutdown begins draining */
			f.closing = true;
			s |= CREW__SYNC_CLOSING;
			same(s, f);
			break;
		case 5: /* drained: flip to SHUTDOWN when quiescent */
			if (crew__sync_quiescent(s)) {
				CHECK(!f.notified && f.idle == f.spawned);
				s = crew__sync_shutdown(s);
				f.state = CREW__SHUTDOWN;
				f.idle = 0;
				f.notified = true;
				same(s, f);
			} else {
				CHECK(f.notified || f.idle != f.spawned);
			}
			break;
		}
		CHECK(f.idle <= f.spawned && f.spawned <= max);
		CHECK(f.spawned == live);
		CHECK((waker >= 0) == (f.state == CREW__WAKING));
	}
	return 0;
}
