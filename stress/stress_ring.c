/* SPDX-License-Identifier: MIT */
/*
 * crew white-box stress -- not a benchmark.  Built at a small ring
 * capacity (CREW_RING_CAP=8) so overflow, migration and wrap happen
 * constantly.
 *
 *   stress_ring MODE [THREADS] [ITEMS] [ITERATIONS] [SEED]
 *
 *   steal    one owner pushes (single tasks and batches, overflowing into
 *            its overflow queue) and pops ITEMS ids while THREADS-1 thieves
 *            steal half of its ring and refill from its overflow queue into
 *            their own rings and drain them: every id exactly once
 *   global   THREADS/2 producers push lists onto one intrusive queue while
 *            THREADS/2 consumers take it with the try-lock: every id exactly
 *            once, in FIFO order within each pushed list
 *
 * The seed is printed first and replays the same sizes and choices.  Exit 0
 * and a closing "N passed, N failed" line.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "queue.h"
#include "ring.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static crew_task *items;
static atomic_uchar *hit;
static size_t nitems;
static atomic_size_t taken, bad;
static atomic_int stop;

static void
consume(crew_task *t)
{
	size_t id = (size_t)(t - items);

	if (id >= nitems || atomic_fetch_add(&hit[id], 1) != 0)
		atomic_fetch_add(&bad, 1);
	atomic_fetch_add(&taken, 1);
}

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* ------------------------------------------------------------ steal */

static struct crew__worker *owner;

struct thief {
	struct crew__worker *w;
	uint64_t seed;
};

static void *
thief_main(void *arg)
{
	struct thief *th = arg;
	uint32_t got;
	crew_task *t;

	while (!atomic_load(&stop) || crew__ring_size(owner) ||
	    crew__queue_maybe_nonempty(&owner->ovf)) {
		if ((t = crew__ring_refill(th->w, &owner->ovf, &got)) == NULL)
			t = crew__ring_steal(th->w, owner, &got);
		if (t == NULL) {
			if (rnd(&th->seed) % 8 == 0)
				sched_yield();
			continue;
		}
		consume(t);
		while ((t = crew__ring_pop(th->w)) != NULL)
			consume(t);
	}
	return NULL;
}

static int
mode_steal(unsigned threads, size_t n, uint64_t *seed)
{
	struct thief th[64];
	pthread_t tid[64];
	unsigned nthieves = threads > 1 ? threads - 1 : 1;
	size_t i = 0;

	if (nthieves > 64)
		nthieves = 64;
	owner = aligned_alloc(64, sizeof(*owner));
	crew__worker_init(owner, NULL, 0);
	for (unsigned k = 0; k < nthieves; k++) {
		th[k].w = aligned_alloc(64, sizeof(*th[k].w));
		crew__worker_init(th[k].w, NULL, k + 1);
		th[k].seed = rnd(seed) | 1;
		pthread_create(&tid[k], NULL, thief_main, &th[k]);
	}
	while (i < n) {
		size_t k = 1 + rnd(seed) % 20, len;
		crew_task *head, *tail;

		if (k > n - i)
			k = n - i;
		for (size_t j = 0; j < k; j++)
			items[i + j].next = &items[i + j + 1];
		head = &items[i];
		tail = &items[i + k - 1];
		len = k;
		if (crew__ring_push(owner, &head, &tail, &len))
			(void)crew__queue_push(&owner->ovf, head, tail);
		i += k;
		for (size_t p = rnd(seed) % 12; p > 0; p--) {
			crew_task *t = crew__ring_pop(owner);

			if (t == NULL)
				break;
			consume(t);
		}
	}
	atomic_store(&stop, 1);
	for (unsigned k = 0; k < nthieves; k++)
		pthread_join(tid[k], NULL);
	for (crew_task *t; (t = crew__ring_pop(owner)) != NULL;)
		consume(t);
	for (unsigned k = 0; k < nthieves; k++)
		free(th[k].w);
	free(owner);
	return 0;
}

/* ----------------------------------------------------------- global */

static struct crew__queue gq;
static atomic_uint producers_left;

struct prod {
	size_t lo, hi;
	uint64_t seed;
};

static void *
gprod(void *arg)
{
	struct prod *p = arg;

	for (size_t i = p->lo; i < p->hi;) {
		size_t k = 1 + rnd(&p->seed) % 16;

		if (k > p->hi - i)
			k = p->hi - i;
		for (size_t j = 0; j < k; j++)
			items[i + j].next = &items[i + j + 1];
		(void)crew__queue_push(&gq, &items[i], &items[i + k - 1]);
		i += k;
	}
	atomic_fetch_sub(&producers_left, 1);
	return NULL;
}

static void *
gcons(void *arg)
{
	crew_task *chain, *t;

	(void)arg;
	for (;;) {
		if (crew__queue_trylock(&gq, &chain) != CREW__Q_OK) {
			if (atomic_load(&producers_left) == 0 &&
			    !crew__queue_maybe_nonempty(&gq))
				return NULL;
			sched_yield();
			continue;
		}
		for (int j = 0; j < 64 && (t = crew__queue_pop_locked(&gq,
		    &chain)) != NULL; j++)
			consume(t);
		crew__queue_unlock(&gq, chain);
	}
}

static int
mode_global(unsigned threads, size_t n, uint64_t *seed)
{
	unsigned np = threads / 2 ? threads / 2 : 1, nc = np;
	struct prod p[32];
	pthread_t tid[64];

	if (np > 32)
		np = nc = 32;
	crew__queue_init(&gq);
	atomic_store(&producers_left, np);
	for (unsigned k = 0; k < np; k++) {
		p[k] = (struct prod){ n * k / np, n * (k + 1) / np, rnd(seed) | 1 };
		pthread_create(&tid[k], NULL, gprod, &p[k]);
	}
	for (unsigned k = 0; k < nc; k++)
		pthread_create(&tid[np + k], NULL, gcons, NULL);
	for (unsigned k = 0; k < np + nc; k++)
		pthread_join(tid[k], NULL);
	return 0;
}

static void
on_alarm(int sig)
{
	static const char m[] = "stress_ring: watchdog fired: hang\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0)
		_exit(3);
	_exit(2);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "steal";
	unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
	size_t n = argc > 3 ? strtoull(argv[3], NULL, 0) : 1000000;
	size_t iters = argc > 4 ? strtoull(argv[4], NULL, 0) : 3;
	uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 0) :
	    ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
	unsigned passed = 0, failed = 0;

	if (seed == 0)
		seed = 1;
	printf("stress_ring %s threads=%u items=%zu iterations=%zu seed=%#llx "
	    "ring=%u\n", mode, threads, n, iters, (unsigned long long)seed,
	    CREW_RING_CAP);
	fflush(stdout);
	signal(SIGALRM, on_alarm);
	items = calloc(n + 1, sizeof(*items));
	hit = calloc(n + 1, 1);
	if (!items || !hit)
		return 1;
	nitems = n;
	for (size_t it = 0; it < iters; it++) {
		memset((void *)hit, 0, n);
		atomic_store(&taken, 0);
		atomic_store(&bad, 0);
		atomic_store(&stop, 0);
		alarm(120);
		if (strcmp(mode, "steal") == 0)
			mode_steal(threads, n, &seed);
		else if (strcmp(mode, "global") == 0)
			mode_global(threads, n, &seed);
		else {
			fprintf(stderr, "stress_ring: unknown mode %s\n", mode);
			return 2;
		}
		alarm(0);
		if (atomic_load(&taken) == n && atomic_load(&bad) == 0) {
			printf("%s: %zu items exactly once\n", mode, n);
			passed++;
		} else {
			fprintf(stderr, "stress_ring: FAIL: %s: %zu of %zu taken, "
			    "%zu duplicates\n", mode, atomic_load(&taken), n,
			    atomic_load(&bad));
			failed++;
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed != 0;
}
