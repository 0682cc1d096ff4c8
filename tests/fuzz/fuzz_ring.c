/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the per-worker ring (src/ring.h), built at
 * capacities 4, 8 and 256 (CREW_RING_CAP).  Input bytes drive owner
 * operations on two rings A and B plus an overflow queue, starting from an
 * index chosen by the input (so the 2^32 wrap is reached), and every step
 * is checked against a reference model (plain arrays).  At the end every
 * task pushed must have come out exactly once.
 */
#include "internal.h"
#include "queue.h"
#include "ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXT 4096

struct model {
	uint32_t a[MAXT + CREW_RING_CAP], an, ah; /* ring A: a[ah..an) */
	uint32_t b[MAXT + CREW_RING_CAP], bn, bh;
};

static crew_task tasks[MAXT];
static unsigned char seen[MAXT];

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_ring: %s failed at line %d\n",  \
			    #c, __LINE__);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

static uint32_t
id_of(crew_task *t)
{
	return (uint32_t)(t - tasks);
}

static void
take(crew_task *t)
{
	uint32_t id = id_of(t);

	CHECK(id < MAXT);
	CHECK(seen[id] == 1); /* pushed, not yet taken */
	seen[id] = 2;
}

static struct crew__worker *
ring_at(uint32_t start)
{
	struct crew__worker *w = aligned_alloc(64, sizeof(*w));

	CHECK(w != NULL);
	crew__worker_init(w, NULL, 0);
	atomic_store(&w->head, start);
	atomic_store(&w->tail, start);
	return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct model m;
	struct crew__worker *A, *B;
	struct crew__queue ovf;
	uint32_t start = 0, next = 0, got;
	size_t i = 0;

	if (n >= 4) {
		memcpy(&start, d, 4);
		i = 4;
	}
	/* Bias the start towards the wrap. */
	if (start & 1)
		start = UINT32_MAX - (start >> 24);
	A = ring_at(start);
	B = ring_at(start ^ 0x5a5a5a5a);
	crew__queue_init(&ovf);
	memset(&m, 0, sizeof(m));
	memset(seen, 0, sizeof(seen));
	for (; i < n && next < MAXT - 64; i++) {
		uint8_t op = d[i] & 7, arg = d[i] >> 3;

		switch (op) {
		case 0:   /* push a batch of 1..32 onto A */
		case 1: {
			size_t k = 1 + arg, len = k;
			crew_task *head = &tasks[next], *tail;

			for (size_t j = 0; j < k; j++) {
				tasks[next + j].next = j + 1 < k ?
				    &tasks[next + j + 1] : (crew_task *)&seen; /* stale link */
				seen[next + j] = 1;
			}
			tail = &tasks[next + k - 1];
			if (crew__ring_push(A, &head, &tail, &len)) {
				/* Model: fill to CAP, then the oldest half plus
				 * the rest leave as one list, in order. */
				uint32_t fit = CREW_RING_CAP - (m.an - m.ah);
				uint32_t half = CREW_RING_CAP / 2, cnt = 0;
				crew_task *t = head;

				CHECK(fit < k);
				for (uint32_t j = 0; j < fit; j++)
					m.a[m.an++] = next + j;
				for (uint32_t j = 0; j < half; j++, cnt++) {
					CHECK(t != NULL && id_of(t) == m.a[m.ah]);
					m.ah++;
					if (cnt + 1 < len)
						t = t->next;
				}
				for (uint32_t j = fit; j < k; j++, cnt++) {
					CHECK(id_of(t) == next + j);
					if (cnt + 1 < len)
						t = t->next;
				}
				CHECK(cnt == len && t == tail);
				for (t = head; ; t = t->next) {
					take(t);
					if (t == tail)
						break;
				}
			} else {
				for (uint32_t j = 0; j < k; j++)
					m.a[m.an++] = next + j;
			}
			next += (uint32_t)k;
			/* keep the model arrays from running off */
			if (m.ah > MAXT / 2) {
				memmove(m.a, m.a + m.ah, (m.an - m.ah) * 4);
				m.an -= m.ah;
				m.ah = 0;
			}
			break;
		}
		case 2:   /* pop A */
		case 3: {
			crew_task *t = crew__ring_pop(A);

			if (m.an == m.ah) {
				CHECK(t == NULL);
			} else {
				CHECK(t != NULL && id_of(t) == m.a[m.ah]);
				m.ah++;
				take(t);
			}
			break;
		}
		case 4: { /* B steals from A (B must be empty) */
			crew_task *t;
			uint32_t sz = m.an - m.ah, k = sz - sz / 2;

			if (m.bn != m.bh)
				break;
			t = crew__ring_steal(B, A, &got);
			if (k == 0) {
				CHECK(t == NULL);
				break;
			}
			CHECK(t != NULL && got == k);
			CHECK(id_of(t) == m.a[m.ah + k - 1]); /* newest stolen */
			for (uint32_t j = 0; j + 1 < k; j++)
				m.b[m.bn++] = m.a[m.ah + j];
			m.ah += k;
			take(t);
			CHECK(crew__ring_size(B) == k - 1);
			break;
		}
		case 5: { /* pop B */
			crew_task *t = crew__ring_pop(B);

			if (m.bn == m.bh) {
				CHECK(t == NULL);
			} else {
				CHECK(t != NULL && id_of(t) == m.b[m.bh]);
				m.bh++;
				take(t);
			}
			if (m.bh == m.bn)
				m.bh = m.bn = 0;
			break;
		}
		case 6: { /* push onto the overflow queue, refill empty B */
			size_t k = 1 + (arg & 7);

			for (size_t j = 0; j < k; j++) {
				tasks[next + j].next = j + 1 < k ?
				    &tasks[next + j + 1] : NULL;
				seen[next + j] = 1;
			}
			(void)crew__queue_push(&ovf, &tasks[next],
			    &tasks[next + k - 1]);
			next += (uint32_t)k;
			if (m.bn == m.bh) {
				crew_task *t = crew__ring_refill(B, &ovf, &got);

				CHECK(t != NULL && got >= 1);
				take(t);
				/* the rest went to B: drain them via pops */
				for (uint32_t j = 1; j < got; j++) {
					crew_task *u = crew__ring_pop(B);

					CHECK(u != NULL);
					take(u);
				}
				CHECK(crew__ring_size(B) == 0);
			}
			break;
		}
		case 7:   /* sizes agree */
			CHECK(crew__ring_size(A) == m.an - m.ah);
			CHECK(crew__ring_size(B) == m.bn - m.bh);
			break;
		}
	}
	/* Drain everything; every task pushed comes out exactly once. */
	for (crew_task *t; (t = crew__ring_pop(A)) != NULL;)
		take(t);
	for (crew_task *t; (t = crew__ring_pop(B)) != NULL;)
		take(t);
	for (crew_task *t; (t = crew__ring_refill(B, &ovf, &got)) != NULL;) {
		take(t);
		for (crew_task *u; (u = crew__ring_pop(B)) != NULL;)
			take(u);
	}
	for (uint32_t j = 0; j < next; j++)
		CHECK(seen[j] == 2);
	free(A);
	free(B);
	return 0;
}
