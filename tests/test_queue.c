/* SPDX-License-Identifier: MIT */
/*
 * White-box tests of the intrusive multi-producer / try-lock-consumer queue
 * (src/queue.h): exact pop order (LIFO between pushes, FIFO inside one
 * pushed list) over 10^5 nodes, random operation sequences checked against
 * a model, the CACHED invariant, BUSY and EMPTY,
 * close, pushes made while locked, and a concurrent MPMC run (4 producers,
 * 2 try-lock consumers) in which every node must be popped exactly once.
 * Popped nodes are poisoned (LIVE -> DEAD) so a second pop is caught.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "queue.h"
#include "support.h"

TestSuite(queue, .timeout = 60);

#define LIVE 0x11FEu
#define DEAD 0xDEADu

struct node {
	crew_task task;
	_Atomic unsigned magic;
	size_t id;
};

static void
noop(crew_task *t)
{
	(void)t;
}

static struct node *
nodes_new(size_t n)
{
	struct node *v = calloc(n, sizeof(*v));

	cr_assert_not_null(v, "calloc failed");
	for (size_t i = 0; i < n; i++) {
		v[i].task.fn = noop;
		atomic_init(&v[i].magic, LIVE);
		v[i].id = i;
	}
	return v;
}

static struct node *
node_of(crew_task *t)
{
	return crew_container_of(t, struct node, task);
}

/* Links v[from .. from+count) into one list; returns its head. */
static crew_task *
link_nodes(struct node *v, size_t from, size_t count)
{
	for (size_t i = 0; i < count; i++)
		v[from + i].task.next =
		    i + 1 < count ? &v[from + i + 1].task : NULL;
	return &v[from].task;
}

static void
push_nodes(struct crew__queue *q, struct node *v, size_t from, size_t count)
{
	link_nodes(v, from, count);
	cr_assert(crew__queue_push(q, &v[from].task, &v[from + count - 1].task),
	    "push refused");
}

static uintptr_t
flags_of(struct crew__queue *q)
{
	return atomic_load(&q->word) & CREW__Q_FLAGS;
}

static uintptr_t
ptr_of(struct crew__queue *q)
{
	return atomic_load(&q->word) & CREW__Q_PTR;
}

/* Pops one node and checks it is v[want], alive, then poisons it. */
static void
pop_expect(struct crew__queue *q, crew_task **chain, struct node *v,
    size_t want)
{
	crew_task *t = crew__queue_pop_locked(q, chain);
	struct node *n;

	cr_assert_not_null(t, "queue ran dry; wanted node %zu", want);
	n = node_of(t);
	cr_assert_eq(n, &v[want], "popped node %zu, wanted %zu", n->id, want);
	cr_assert_eq(atomic_exchange(&n->magic, DEAD), LIVE,
	    "node %zu popped twice", n->id);
}

/* ------------------------------------------------------------------ */

Test(queue, empty_queue_reports_empty, .timeout = 60)
{
	struct crew__queue q;
	crew_task sentinel = CREW_TASK_INIT(noop), *chain = &sentinel;

	crew__queue_init(&q);
	cr_assert_eq(atomic_load(&q.word), 0);
	cr_assert_null(q.cache);
	cr_assert_not(crew__queue_maybe_nonempty(&q));
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_EMPTY);
	cr_assert_eq(chain, &sentinel, "EMPTY wrote *chain");
	cr_assert_eq(atomic_load(&q.word), 0, "EMPTY trylock changed the word");
}

Test(queue, order_lifo_between_fifo_within_1e5, .timeout = 60)
{
	const size_t n = 100000;
	struct node *v = nodes_new(n);
	size_t *start = calloc(n, sizeof(*start)), *len = calloc(n, sizeof(*len));
	size_t lists = 0, popped = 0;
	struct crew__queue q;
	crew_task *chain;

	cr_assert(start != NULL && len != NULL);
	crew__queue_init(&q);
	/* Lists of 1..13 nodes. */
	for (size_t i = 0, k = 0; i < n; i += len[lists++], k++) {
		start[lists] = i;
		len[lists] = 1 + k % 13;
		if (len[lists] > n - i)
			len[lists] = n - i;
		push_nodes(&q, v, i, len[lists]);
		cr_assert_eq(flags_of(&q), 0);
		cr_assert_eq(ptr_of(&q), (uintptr_t)&v[i].task,
		    "the newest list is not on top");
	}
	cr_assert(crew__queue_maybe_nonempty(&q));
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	/* The lock took the whole pushed stack. */
	cr_assert_eq(ptr_of(&q), 0);
	cr_assert_eq(flags_of(&q), CREW__Q_LOCKED | CREW__Q_CACHED);
	/* Newest list first; inside a list, its own order. */
	for (size_t l = lists; l-- > 0;)
		for (size_t j = 0; j < len[l]; j++) {
			pop_expect(&q, &chain, v, start[l] + j);
			popped++;
		}
	cr_assert_eq(popped, n);
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	cr_assert_null(chain);
	crew__queue_unlock(&q, chain);
	cr_assert_eq(atomic_load(&q.word), 0);
	cr_assert_null(q.cache);
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_EMPTY);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&v[i].magic), DEAD, "node %zu not popped", i);
	free(start);
	free(len);
	free(v);
}

/*
 * Random single-threaded push / trylock / pop_locked / unlock sequences
 * over 10^5 nodes, each step checked against a model of the documented
 * semantics: a private chain (the cache; FIFO) in front of a stack of
 * pushed lists (newest list first, each in its own order), taken whole by
 * trylock when nothing is cached, or by pop_locked when the chain runs dry.
 * The word's flags and q->cache are checked after every unlock.
 */
Test(queue, random_ops_match_model_1e5, .timeout = 60)
{
	const size_t n = 100000;
	struct node *v = nodes_new(n);
	size_t *chain = calloc(n, sizeof(*chain)), ch = 0, chn = 0;
	size_t *ls = calloc(n, sizeof(*ls)), *ll = calloc(n, sizeof(*ll));
	size_t nl = 0, next_id = 0, popped = 0, steps = 0;
	uint64_t rnd = t_seed();
	bool locked = false;
	struct crew__queue q;
	crew_task *c = NULL;

	cr_assert(chain != NULL && ls != NULL && ll != NULL);
	crew__queue_init(&q);
	while (popped < n) {
		unsigned r = (unsigned)(t_rand(&rnd) % 100);

		steps++;
		if (r < 30 && next_id < n) {
			size_t len = 1 + t_rand(&rnd) % 16;

			if (len > n - next_id)
				len = n - next_id;
			push_nodes(&q, v, next_id, len);
			ls[nl] = next_id;
			ll[nl++] = len;
			next_id += len;
		} else if (!locked) {
			int want = chn > 0 || nl > 0 ? CREW__Q_OK : CREW__Q_EMPTY;
			int rc = crew__queue_trylock(&q, &c);

			cr_assert_eq(rc, want, "step %zu: trylock %d want %d", steps,
			    rc, want);
			if (rc != CREW__Q_OK)
				continue;
			locked = true;
			if (chn == 0) { /* nothing cached: takes the stack */
				ch = 0;
				while (nl > 0) {
					nl--;
					for (size_t j = 0; j < ll[nl]; j++)
						chain[chn++] = ls[nl] + j;
				}
			}
			cr_assert_eq(c, &v[chain[ch]].task, "step %zu: chain", steps);
			cr_assert_eq(crew__queue_trylock(&q, &(crew_task *){ NULL }),
			    CREW__Q_BUSY);
		} else if (r < 90) {
			crew_task *t;

			if (chn == 0 && nl > 0) { /* dry chain: takes the stack */
				ch = 0;
				while (nl > 0) {
					nl--;
					for (size_t j = 0; j < ll[nl]; j++)
						chain[chn++] = ls[nl] + j;
				}
			}
			if (chn == 0) {
				t = crew__queue_pop_locked(&q, &c);
				cr_assert_null(t, "step %zu: popped from empty", steps);
				continue;
			}
			pop_expect(&q, &c, v, chain[ch]);
			ch++;
			chn--;
			popped++;
			cr_assert_eq(c, chn ? &v[chain[ch]].task : NULL,
			    "step %zu: chain after pop", steps);
		} else {
			crew__queue_unlock(&q, c);
			locked = false;
			cr_assert_eq(q.cache, chn ? &v[chain[ch]].task : NULL);
			cr_assert_eq(flags_of(&q), chn ? CREW__Q_CACHED : 0,
			    "step %zu: flags %#lx", steps,
			    (unsigned long)flags_of(&q));
			cr_assert_eq(ptr_of(&q),
			    nl ? (uintptr_t)&v[ls[nl - 1]].task : 0);
		}
	}
	if (locked)
		crew__queue_unlock(&q, c);
	cr_assert_eq(atomic_load(&q.word), 0);
	cr_assert_eq(crew__queue_trylock(&q, &c), CREW__Q_EMPTY);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&v[i].magic), DEAD, "node %zu", i);
	free(chain);
	free(ls);
	free(ll);
	free(v);
}

Test(queue, single_pushes_pop_lifo, .timeout = 60)
{
	const size_t n = 1000;
	struct node *v = nodes_new(n);
	struct crew__queue q;
	crew_task *chain;

	crew__queue_init(&q);
	for (size_t i = 0; i < n; i++)
		push_nodes(&q, v, i, 1);
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	for (size_t i = n; i-- > 0;)
		pop_expect(&q, &chain, v, i);
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	crew__queue_unlock(&q, chain);
	cr_assert_eq(atomic_load(&q.word), 0);
	free(v);
}

Test(queue, push_overwrites_stale_tail_link, .timeout = 60)
{
	struct node *v = nodes_new(4);
	struct crew__queue q;
	crew_task *chain;

	crew__queue_init(&q);
	/* A tail whose next points at a node that is not being pushed. */
	v[0].task.next = &v[3].task;
	cr_assert(crew__queue_push(&q, &v[0].task, &v[0].task));
	cr_assert_null(v[0].task.next, "push did not link the tail to the old top");
	push_nodes(&q, v, 1, 2);
	cr_assert_eq(v[2].task.next, &v[0].task);
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	pop_expect(&q, &chain, v, 1);
	pop_expect(&q, &chain, v, 2);
	pop_expect(&q, &chain, v, 0);
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	crew__queue_unlock(&q, chain);
	cr_assert_eq(atomic_load(&v[3].magic), LIVE);
	free(v);
}

Test(queue, cached_invariant, .timeout = 60)
{
	struct node *v = nodes_new(10);
	struct crew__queue q;
	crew_task *chain;

	crew__queue_init(&q);
	push_nodes(&q, v, 0, 5); /* A = 0..4 */
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	cr_assert_eq(chain, &v[0].task);
	pop_expect(&q, &chain, v, 0);
	pop_expect(&q, &chain, v, 1);
	/* Unlock with a leftover chain: it is cached, CACHED is set, the
	 * lock is free and nothing is on the pushed stack. */
	crew__queue_unlock(&q, chain);
	cr_assert_eq(q.cache, &v[2].task);
	cr_assert_eq(atomic_load(&q.word), CREW__Q_CACHED);
	cr_assert(crew__queue_maybe_nonempty(&q));
	/* New pushes keep CACHED. */
	push_nodes(&q, v, 5, 2); /* B = 5..6 */
	cr_assert_eq(flags_of(&q), CREW__Q_CACHED);
	cr_assert_eq(ptr_of(&q), (uintptr_t)&v[5].task);
	push_nodes(&q, v, 7, 1); /* C = 7 */
	/* The next locker gets the cached chain first and leaves the
	 * pushed stack where it is. */
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	cr_assert_eq(chain, &v[2].task, "trylock did not return the cache");
	cr_assert_eq(flags_of(&q), CREW__Q_CACHED | CREW__Q_LOCKED);
	cr_assert_eq(ptr_of(&q), (uintptr_t)&v[7].task);
	pop_expect(&q, &chain, v, 2);
	crew__queue_unlock(&q, chain);
	cr_assert_eq(q.cache, &v[3].task);
	cr_assert_eq(flags_of(&q), CREW__Q_CACHED);
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	cr_assert_eq(chain, &v[3].task);
	pop_expect(&q, &chain, v, 3);
	pop_expect(&q, &chain, v, 4);
	/* Cache dry: the pushed stack, newest list first. */
	cr_assert_null(chain);
	pop_expect(&q, &chain, v, 7);
	cr_assert_eq(ptr_of(&q), 0, "pop_locked did not take the pushed stack");
	cr_assert_eq(flags_of(&q), CREW__Q_CACHED | CREW__Q_LOCKED);
	pop_expect(&q, &chain, v, 5);
	/* Unlock with 6 left: cached again. */
	crew__queue_unlock(&q, chain);
	cr_assert_eq(q.cache, &v[6].task);
	cr_assert_eq(atomic_load(&q.word), CREW__Q_CACHED);
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	pop_expect(&q, &chain, v, 6);
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	/* Unlock with nothing left: CACHED clears with the cache. */
	crew__queue_unlock(&q, chain);
	cr_assert_null(q.cache);
	cr_assert_eq(atomic_load(&q.word), 0);
	cr_assert_not(crew__queue_maybe_nonempty(&q));
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_EMPTY);
	free(v);
}

Test(queue, busy_while_locked, .timeout = 60)
{
	struct node *v = nodes_new(3);
	struct crew__queue q;
	crew_task *chain, *other = NULL;

	crew__queue_init(&q);
	push_nodes(&q, v, 0, 2);
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	/* Locked with nothing pushed since: still BUSY, not EMPTY. */
	cr_assert_eq(crew__queue_trylock(&q, &other), CREW__Q_BUSY);
	cr_assert_null(other, "BUSY wrote *chain");
	push_nodes(&q, v, 2, 1);
	cr_assert_eq(crew__queue_trylock(&q, &other), CREW__Q_BUSY);
	cr_assert_null(other);
	pop_expect(&q, &chain, v, 0);
	pop_expect(&q, &chain, v, 1);
	pop_expect(&q, &chain, v, 2);
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	/* Locked and drained: BUSY too. */
	cr_assert_eq(crew__queue_trylock(&q, &other), CREW__Q_BUSY);
	crew__queue_unlock(&q, chain);
	cr_assert_eq(crew__queue_trylock(&q, &other), CREW__Q_EMPTY);
	free(v);
}

Test(queue, pushes_while_locked_are_picked_up_after_cache, .timeout = 60)
{
	struct node *v = nodes_new(9);
	struct crew__queue q;
	crew_task *chain;

	crew__queue_init(&q);
	push_nodes(&q, v, 0, 3); /* A = 0..2 */
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	pop_expect(&q, &chain, v, 0);
	push_nodes(&q, v, 3, 2); /* B = 3..4, while locked */
	push_nodes(&q, v, 5, 3); /* C = 5..7, while locked */
	cr_assert_eq(flags_of(&q), CREW__Q_CACHED | CREW__Q_LOCKED);
	/* The private chain first... */
	pop_expect(&q, &chain, v, 1);
	pop_expect(&q, &chain, v, 2);
	cr_assert_null(chain);
	/* ...then everything pushed since: C before B, each in order. */
	pop_expect(&q, &chain, v, 5);
	cr_assert_eq(ptr_of(&q), 0);
	push_nodes(&q, v, 8, 1); /* D = 8, after the swap */
	pop_expect(&q, &chain, v, 6);
	pop_expect(&q, &chain, v, 7);
	pop_expect(&q, &chain, v, 3);
	pop_expect(&q, &chain, v, 4);
	cr_assert_null(chain);
	pop_expect(&q, &chain, v, 8);
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	crew__queue_unlock(&q, chain);
	cr_assert_eq(atomic_load(&q.word), 0);
	free(v);
}

Test(queue, close_refuses_pushes_and_keeps_contents, .timeout = 60)
{
	struct node *v = nodes_new(8);
	struct crew__queue q;
	crew_task *chain;

	crew__queue_init(&q);
	push_nodes(&q, v, 0, 3);
	cr_assert(crew__queue_close(&q), "first close reports not open");
	cr_assert_not(crew__queue_close(&q), "second close reports open");
	cr_assert_eq(flags_of(&q), CREW__Q_CLOSED);
	cr_assert_eq(ptr_of(&q), (uintptr_t)&v[0].task);
	/* A refused push leaves the queue and the list untouched. */
	link_nodes(v, 3, 2);
	v[4].task.next = &v[7].task;
	cr_assert_not(crew__queue_push(&q, &v[3].task, &v[4].task));
	cr_assert_eq(v[4].task.next, &v[7].task, "a refused push wrote tail->next");
	cr_assert_eq(ptr_of(&q), (uintptr_t)&v[0].task);
	/* The contents stay poppable, and the lock keeps CLOSED. */
	cr_assert(crew__queue_maybe_nonempty(&q));
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	cr_assert_eq(flags_of(&q),
	    CREW__Q_CLOSED | CREW__Q_CACHED | CREW__Q_LOCKED);
	cr_assert_not(crew__queue_push(&q, &v[5].task, &v[5].task));
	pop_expect(&q, &chain, v, 0);
	crew__queue_unlock(&q, chain); /* leaves 1..2 cached */
	cr_assert_eq(flags_of(&q), CREW__Q_CLOSED | CREW__Q_CACHED);
	cr_assert_not(crew__queue_push(&q, &v[6].task, &v[6].task));
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	pop_expect(&q, &chain, v, 1);
	pop_expect(&q, &chain, v, 2);
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	crew__queue_unlock(&q, chain);
	cr_assert_eq(atomic_load(&q.word), CREW__Q_CLOSED);
	cr_assert_not(crew__queue_maybe_nonempty(&q));
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_EMPTY);
	for (size_t i = 3; i < 8; i++)
		cr_assert_eq(atomic_load(&v[i].magic), LIVE);
	free(v);
}

Test(queue, close_while_locked_keeps_lock_state, .timeout = 60)
{
	struct node *v = nodes_new(4);
	struct crew__queue q;
	crew_task *chain;

	crew__queue_init(&q);
	push_nodes(&q, v, 0, 2);
	cr_assert_eq(crew__queue_trylock(&q, &chain), CREW__Q_OK);
	push_nodes(&q, v, 2, 2); /* pushed while locked, before the close */
	cr_assert(crew__queue_close(&q));
	cr_assert_eq(flags_of(&q),
	    CREW__Q_CLOSED | CREW__Q_CACHED | CREW__Q_LOCKED);
	pop_expect(&q, &chain, v, 0);
	pop_expect(&q, &chain, v, 1);
	pop_expect(&q, &chain, v, 2);
	cr_assert_eq(flags_of(&q),
	    CREW__Q_CLOSED | CREW__Q_CACHED | CREW__Q_LOCKED);
	pop_expect(&q, &chain, v, 3);
	cr_assert_null(crew__queue_pop_locked(&q, &chain));
	crew__queue_unlock(&q, chain);
	cr_assert_eq(atomic_load(&q.word), CREW__Q_CLOSED);
	free(v);
}

/* ------------------------------------------------------------------ */
/* MPMC: 4 producers, 2 try-lock consumers.                            */

#define NPROD 4
#define NCONS 2

struct mpmc {
	struct crew__queue q;
	struct node *v;
	size_t per, total;
	_Atomic unsigned *count;
	atomic_size_t popped;
	atomic_ulong bad;
	atomic_int started;
};

struct worker_arg {
	struct mpmc *m;
	unsigned index;
	size_t got;
};

static void
start_line(struct mpmc *m)
{
	atomic_fetch_add(&m->started, 1);
	while (atomic_load(&m->started) < NPROD + NCONS)
		sched_yield();
}

static void *
producer(void *arg)
{
	struct worker_arg *a = arg;
	struct mpmc *m = a->m;
	size_t base = a->index * m->per;
	uint64_t rnd = 0x9E3779B97F4A7C15ull * (a->index + 1);

	start_line(m);
	for (size_t i = 0; i < m->per;) {
		size_t len = 1 + t_rand(&rnd) % 8;

		if (len > m->per - i)
			len = m->per - i;
		for (size_t j = 0; j < len; j++)
			m->v[base + i + j].task.next = j + 1 < len ?
			    &m->v[base + i + j + 1].task : NULL;
		if (!crew__queue_push(&m->q, &m->v[base + i].task,
		    &m->v[base + i + len - 1].task))
			atomic_fetch_add(&m->bad, 1);
		i += len;
	}
	return NULL;
}

static void *
consumer(void *arg)
{
	struct worker_arg *a = arg;
	struct mpmc *m = a->m;
	uint64_t rnd = 0xD1B54A32D192ED03ull * (a->index + 1);
	unsigned spins = 0;

	start_line(m);
	while (atomic_load(&m->popped) < m->total) {
		crew_task *chain, *t;
		size_t budget;
		int rc = crew__queue_trylock(&m->q, &chain);

		if (rc != CREW__Q_OK) {
			if (rc != CREW__Q_BUSY && rc != CREW__Q_EMPTY)
				atomic_fetch_add(&m->bad, 1);
			if (++spins % 16 == 0)
				sched_yield();
			continue;
		}
		/* Pop a few, then unlock with a leftover to exercise the
		 * cache hand-over between consumers. */
		budget = 1 + t_rand(&rnd) % 24;
		while (budget-- > 0 && (t = crew__queue_pop_locked(&m->q,
		    &chain)) != NULL) {
			struct node *n = node_of(t);
			uintptr_t off = (uintptr_t)n - (uintptr_t)m->v;

			if (off % sizeof(*n) != 0 ||
			    off / sizeof(*n) >= m->total) {
				atomic_fetch_add(&m->bad, 1);
				continue;
			}
			if (atomic_exchange(&n->magic, DEAD) != LIVE)
				atomic_fetch_add(&m->bad, 1);
			atomic_fetch_add(&m->count[off / sizeof(*n)], 1);
			atomic_fetch_add(&m->popped, 1);
			a->got++;
		}
		crew__queue_unlock(&m->q, chain);
	}
	return NULL;
}

Test(queue, mpmc_4x25000_exactly_once, .timeout = 60)
{
	struct mpmc m;
	struct worker_arg pa[NPROD], ca[NCONS];
	pthread_t pt[NPROD], ct[NCONS];
	crew_task *chain;
	size_t sum = 0;

	memset(&m, 0, sizeof(m));
	crew__queue_init(&m.q);
	m.per = t_scaled(25000);
	m.total = NPROD * m.per;
	m.v = nodes_new(m.total);
	m.count = calloc(m.total, sizeof(*m.count));
	cr_assert_not_null(m.count);
	for (size_t i = 0; i < m.total; i++)
		atomic_init(&m.count[i], 0);
	atomic_init(&m.popped, 0);
	atomic_init(&m.bad, 0);
	atomic_init(&m.started, 0);
	for (unsigned i = 0; i < NCONS; i++) {
		ca[i] = (struct worker_arg){ &m, i, 0 };
		cr_assert_eq(pthread_create(&ct[i], NULL, consumer, &ca[i]), 0);
	}
	for (unsigned i = 0; i < NPROD; i++) {
		pa[i] = (struct worker_arg){ &m, i, 0 };
		cr_assert_eq(pthread_create(&pt[i], NULL, producer, &pa[i]), 0);
	}
	for (unsigned i = 0; i < NPROD; i++)
		cr_assert_eq(pthread_join(pt[i], NULL), 0);
	for (unsigned i = 0; i < NCONS; i++) {
		cr_assert_eq(pthread_join(ct[i], NULL), 0);
		sum += ca[i].got;
	}
	cr_assert_eq(atomic_load(&m.bad), 0, "%lu bad pops or refused pushes",
	    atomic_load(&m.bad));
	cr_assert_eq(sum, m.total);
	cr_assert_eq(atomic_load(&m.popped), m.total);
	for (size_t i = 0; i < m.total; i++) {
		cr_assert_eq(atomic_load(&m.count[i]), 1, "node %zu popped %u times",
		    i, atomic_load(&m.count[i]));
		cr_assert_eq(atomic_load(&m.v[i].magic), DEAD);
	}
	/* Nothing left, and the queue is idle. */
	cr_assert_eq(crew__queue_trylock(&m.q, &chain), CREW__Q_EMPTY);
	cr_assert_eq(atomic_load(&m.q.word), 0);
	cr_log_info("consumer 0 popped %zu, consumer 1 popped %zu", ca[0].got,
	    ca[1].got);
	free(m.count);
	free(m.v);
}
