/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the intrusive queue (src/queue.h), single-threaded:
 * pushes of lists, try-lock / pop / unlock sequences, close, checked step by
 * step against a model: a stack of pushed lists (LIFO between pushes, FIFO
 * within one) plus the consumer's private cache, which is drained before
 * anything pushed later.  Every task comes out exactly once.
 */
#include "internal.h"
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXT 4096

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_queue: %s failed at line %d\n", \
			    #c, __LINE__);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

static crew_task tasks[MAXT];
static unsigned char state[MAXT];   /* 0 unused, 1 queued, 2 taken */

/* Model: `pushed` is the sequence of ids in the order a consumer that takes
 * the whole stack will pop them; new lists go in front.  `cache` is the
 * consumer's private remainder. */
static uint32_t pushed[MAXT], npushed, cache[MAXT], ncache, cachepos;

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct crew__queue q;
	crew_task *chain = NULL;
	uint32_t next = 0;
	bool locked = false, closed = false;

	crew__queue_init(&q);
	memset(state, 0, sizeof(state));
	npushed = ncache = cachepos = 0;
	for (size_t i = 0; i < n && next < MAXT - 40; i++) {
		uint8_t op = d[i] & 3, arg = d[i] >> 2;

		if (op == 0 || (op == 3 && (arg & 1))) { /* push 1..32 */
			uint32_t k = 1 + (arg & 31);
			bool ok;

			for (uint32_t j = 0; j < k; j++)
				tasks[next + j].next = &tasks[next + j + 1];
			ok = crew__queue_push(&q, &tasks[next], &tasks[next + k - 1]);
			CHECK(ok == !closed);
			if (ok) {
				memmove(pushed + k, pushed, npushed * 4);
				for (uint32_t j = 0; j < k; j++) {
					pushed[j] = next + j;
					state[next + j] = 1;
				}
				npushed += k;
				next += k;
			}
		} else if (op == 1) {              /* try-lock */
			int rc = crew__queue_trylock(&q, &chain);

			if (locked) {
				CHECK(rc == CREW__Q_BUSY);
			} else if (cachepos == ncache && npushed == 0) {
				CHECK(rc == CREW__Q_EMPTY);
			} else {
				CHECK(rc == CREW__Q_OK);
				locked = true;
				if (cachepos == ncache) { /* takes the stack now */
					memcpy(cache, pushed, npushed * 4);
					ncache = npushed;
					cachepos = 0;
					npushed = 0;
				}
			}
		} else if (op == 2 && locked) {    /* pop up to arg+1 */
			for (uint32_t j = 0; j <= (arg & 15u); j++) {
				crew_task *t = crew__queue_pop_locked(&q, &chain);

				if (cachepos == ncache && npushed > 0) {
					memcpy(cache, pushed, npushed * 4);
					ncache = npushed;
					cachepos = 0;
					npushed = 0;
				}
				if (cachepos == ncache) {
					CHECK(t == NULL);
					break;
				}
				CHECK(t != NULL);
				CHECK((uint32_t)(t - tasks) == cache[cachepos]);
				CHECK(state[cache[cachepos]] == 1);
				state[cache[cachepos]] = 2;
				cachepos++;
			}
		} else if (op == 3 && locked) {    /* unlock */
			crew__queue_unlock(&q, chain);
			locked = false;
		} else if (op == 3 && !closed && arg == 0x3e) {
			CHECK(crew__queue_close(&q));
			closed = true;
		}
		/* CACHED is set exactly while the model has a remainder. */
		if (!locked)
			CHECK(!!(atomic_load(&q.word) & CREW__Q_CACHED) ==
			    (cachepos != ncache));
	}
	if (locked)
		crew__queue_unlock(&q, chain);
	/* Drain: everything comes out exactly once. */
	while (crew__queue_trylock(&q, &chain) == CREW__Q_OK) {
		crew_task *t;

		while ((t = crew__queue_pop_locked(&q, &chain)) != NULL) {
			CHECK(state[t - tasks] == 1);
			state[t - tasks] = 2;
		}
		crew__queue_unlock(&q, chain);
	}
	for (uint32_t j = 0; j < next; j++)
		CHECK(state[j] == 2);
	return 0;
}
