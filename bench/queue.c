/* SPDX-License-Identifier: MIT */
/*
 * Queue micro-benchmark: crew's own queues against Concurrency Kit's.
 * Built twice from this file: bin/queue_crew (QB_CK=0) and bin/queue_ck
 * (QB_CK=1), with the library's C flags, reading crew's internal headers
 * (src/ring.h, src/queue.h) read-only.  No pool is involved.
 *
 *   <prog> queue_spmc|queue_mpmc THREADS
 *
 *   queue_spmc  one owner + THREADS-1 thieves (at least 1) on one bounded
 *               ring of 256 slots.  The owner pushes up to 32 items one by
 *               one (fewer when the ring is full), then takes back up to 16,
 *               until all N items are pushed, then drains the ring.  Thieves
 *               take concurrently until the owner is done and the ring is
 *               empty.
 *                 crew: crew__ring_push (one item, never on a full ring, so
 *                 the overflow path is not taken) / crew__ring_pop; a thief
 *                 calls crew__ring_steal (half the victim's ring moved into
 *                 the thief's own ring, one CAS) and pops its own ring.
 *                 ck:   ck_ring_enqueue_spmc / ck_ring_dequeue_spmc for the
 *                 owner and the thieves alike (one item per CAS), ring of
 *                 256 slots (255 usable).
 *   queue_mpmc  THREADS threads (at least 2), each both producer and
 *               consumer: it pushes up to 32 of its own N/THREADS items, then
 *               takes up to 32 items from the queue, until all N items have
 *               been taken by someone.  (2 producers + 1 consumer would put
 *               three spinning threads on a 2-core machine; this shape keeps
 *               one thread per core and still has several producers and
 *               several consumers.)
 *                 crew: the intrusive queue of the pool's global and
 *                 overflow queues: crew__queue_push of a one-item list;
 *                 crew__queue_trylock (BUSY: another thread consumes, go
 *                 back to pushing), crew__queue_pop_locked, crew__queue_unlock.
 *                 ck:   ck_fifo_mpmc_enqueue / ck_fifo_mpmc_dequeue
 *                 (Michael-Scott queue with generation-tagged double-width
 *                 CAS); the entry is embedded in the item, as crew's link
 *                 is.  Items are not reused within a run, so the dequeued
 *                 "garbage" entries need no reclamation.
 *
 * Every consumer marks each item it takes in its own byte array; after each
 * run every item must have been taken exactly once in all (else abort).
 * Figure: Mops/s = N items (each pushed once and taken once) / wall time
 * from the start signal to the last thread's end, in millions per second.
 * Runs are repeated (one untimed warm-up) until 0.5 s of timed runs (0.1 s
 * with QUICK=1), at least 3 and at most 11; the median is reported.  N = 2,000,000
 * (QUICK=1: 200,000; QUEUE_N overrides).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <ck_fifo.h>
#include <ck_ring.h>

#include "internal.h"
#include "queue.h"
#include "ring.h"

#ifndef QB_CK
#define QB_CK 0
#endif
#define QB_NAME (QB_CK ? "ck" : "crew")
#define QB_BURST 32u
#define QB_MAX_THREADS 64
#define QB_MAX_REPS 11
#define QB_RING 256u

#if !defined(CK_F_FIFO_MPMC)
#error "ck_fifo_mpmc is not available on this target"
#endif
_Static_assert(CREW_RING_CAP == QB_RING, "both rings have 256 slots");

struct item {
	crew_task task;             /* crew's link */
	ck_fifo_mpmc_entry_t entry; /* ck's link */
	uint32_t id;
};

enum { QB_SPMC, QB_MPMC };

static int workload, nthreads;
static uint32_t n_items;
static struct item *items;
static unsigned char *seen[QB_MAX_THREADS]; /* per consumer */

static _Atomic int go, ready;
static _Atomic int owner_done;
static _Atomic uint64_t taken;   /* mpmc: items taken so far */

#if QB_CK
static ck_ring_t kring;
static ck_ring_buffer_t kbuf[QB_RING];
static ck_fifo_mpmc_t kfifo;
static ck_fifo_mpmc_entry_t *kstub;
#else
static struct crew__worker *rings[QB_MAX_THREADS]; /* [0]: the owner's */
static struct crew__queue cq;
#endif

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline void
mark(int self, struct item *it)
{
	seen[self][it->id]++;
}

static inline struct item *
item_of(crew_task *t)
{
	return crew_container_of(t, struct item, task);
}

/* ----------------------------------------------------------- spmc */

static void
spmc_owner(void)
{
	uint32_t pushed = 0;

	while (pushed < n_items) {
		for (unsigned b = 0; b < QB_BURST && pushed < n_items; b++) {
			struct item *it = &items[pushed];
#if QB_CK
			if (!ck_ring_enqueue_spmc(&kring, kbuf, it))
				break;
#else
			struct crew__worker *w = rings[0];
			crew_task *h = &it->task, *t = h;
			size_t len = 1;

			if (crew__ring_size(w) == CREW_RING_CAP)
				break;
			/*
			 * h->next is left alone: a push of one task never
			 * follows it.  Writing it (as this adapter did until
			 * 2026-11-26) dirtied every item's line on the owner's
			 * CPU, which the thief then had to fetch to mark it,
			 * a transfer per item that ck's side (which stores only
			 * the pointer) never paid.  When transfers between
			 * this guest's vCPUs are slow: crew 9.3-9.7 Mops/s
			 * against ck's 15.5-16.7 with the write, 15.2-16.2
			 * against 15.4-16.9 after the fix (8 alternating
			 * processes; in the fast mode 41.2-42.5 against
			 * 33.0-34.9).
			 */
			if (crew__ring_push(w, &h, &t, &len)) {
				fprintf(stderr, "queue: overflow on a ring "
				    "that was not full\n");
				abort();
			}
#endif
			pushed++;
		}
		for (unsigned b = 0; b < QB_BURST / 2; b++) {
#if QB_CK
			void *v;

			if (!ck_ring_dequeue_spmc(&kring, kbuf, &v))
				break;
			mark(0, v);
#else
			crew_task *x = crew__ring_pop(rings[0]);

			if (x == NULL)
				break;
			mark(0, item_of(x));
#endif
		}
	}
	for (;;) {
#if QB_CK
		void *v;

		if (!ck_ring_dequeue_spmc(&kring, kbuf, &v))
			break;
		mark(0, v);
#else
		crew_task *x = crew__ring_pop(rings[0]);

		if (x == NULL)
			break;
		mark(0, item_of(x));
#endif
	}
	/* release: the ring is empty for good from here on */
	atomic_store_explicit(&owner_done, 1, memory_order_release);
}

static void
spmc_thief(int self)
{
	for (;;) {
#if QB_CK
		void *v;

		if (ck_ring_dequeue_spmc(&kring, kbuf, &v)) {
			mark(self, v);
			continue;
		}
#else
		uint32_t got;
		crew_task *x = crew__ring_steal(rings[self], rings[0], &got);

		if (x != NULL) {
			mark(self, item_of(x));
			while ((x = crew__ring_pop(rings[self])) != NULL)
				mark(self, item_of(x));
			continue;
		}
#endif
		/* A failed take after the owner finished: nothing is left. */
		if (atomic_load_explicit(&owner_done, memory_order_acquire))
			return;
		crew__cpu_relax();
	}
}

/* ----------------------------------------------------------- mpmc */

static void
mpmc_thread(int self)
{
	uint32_t lo = (uint32_t)((uint64_t)n_items * (uint64_t)self / (uint64_t)nthreads);
	uint32_t hi = (uint32_t)((uint64_t)n_items * (uint64_t)(self + 1) / (uint64_t)nthreads);
	uint32_t next = lo;

	for (;;) {
		unsigned k = 0;

		for (unsigned b = 0; b < QB_BURST && next < hi; b++, next++) {
			struct item *it = &items[next];
#if QB_CK
			ck_fifo_mpmc_enqueue(&kfifo, &it->entry, it);
#else
			crew__queue_push(&cq, &it->task, &it->task);
#endif
		}
#if QB_CK
		{
			void *v;
			ck_fifo_mpmc_entry_t *garbage;

			while (k < QB_BURST &&
			    ck_fifo_mpmc_dequeue(&kfifo, &v, &garbage)) {
				mark(self, v);
				k++;
			}
		}
#else
		{
			crew_task *chain, *x;

			if (crew__queue_trylock(&cq, &chain) == CREW__Q_OK) {
				while (k < QB_BURST &&
				    (x = crew__queue_pop_locked(&cq, &chain))) {
					mark(self, item_of(x));
					k++;
				}
				crew__queue_unlock(&cq, chain);
			}
		}
#endif
		if (k > 0) {
			/* relaxed: a counter; the join orders the marks */
			if (atomic_fetch_add_explicit(&taken, k,
			    memory_order_relaxed) + k == n_items)
				return;
		} else if (next == hi) {
			/* relaxed: see above */
			if (atomic_load_explicit(&taken,
			    memory_order_relaxed) == n_items)
				return;
			crew__cpu_relax();
		}
	}
}

/* ------------------------------------------------------------ runs */

static void *
thread_main(void *arg)
{
	int self = (int)(intptr_t)arg;

	atomic_fetch_add(&ready, 1);
	while (!atomic_load_explicit(&go, memory_order_acquire))
		crew__cpu_relax();
	if (workload == QB_SPMC)
		spmc_thief(self);
	else
		mpmc_thread(self);
	return NULL;
}

static void
reset(void)
{
	for (int i = 0; i < nthreads; i++)
		memset(seen[i], 0, n_items);
	atomic_store(&go, 0);
	atomic_store(&ready, 0);
	atomic_store(&owner_done, 0);
	atomic_store(&taken, 0);
#if QB_CK
	ck_ring_init(&kring, QB_RING);
	memset(kstub, 0, sizeof(*kstub));
	ck_fifo_mpmc_init(&kfifo, kstub);
#else
	for (int i = 0; i < nthreads; i++)
		crew__ring_init(rings[i]);
	crew__queue_init(&cq);
#endif
}

/* Every item taken exactly once, or abort. */
static void
check(void)
{
	for (uint32_t i = 0; i < n_items; i++) {
		unsigned s = 0;

		for (int t = 0; t < nthreads; t++)
			s += seen[t][i];
		if (s != 1) {
			fprintf(stderr, "queue %s: item %u taken %u times\n",
			    QB_NAME, i, s);
			abort();
		}
	}
#if !QB_CK
	if (crew__queue_maybe_nonempty(&cq)) {
		fprintf(stderr, "queue crew: queue not empty at the end\n");
		abort();
	}
#endif
}

/* One run; returns its wall time in ns.  Thread 0 is the main thread. */
static double
run_once(double *stolen_pct)
{
	pthread_t th[QB_MAX_THREADS];
	double t0, t1;
	uint64_t by_others = 0;

	reset();
	for (int i = 1; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i)) {
			perror("pthread_create");
			exit(1);
		}
	while (atomic_load(&ready) < nthreads - 1)
		crew__cpu_relax();
	t0 = now_ns();
	atomic_store_explicit(&go, 1, memory_order_release);
	if (workload == QB_SPMC)
		spmc_owner();
	else
		mpmc_thread(0);
	for (int i = 1; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t1 = now_ns();
	check();
	for (int t = 1; t < nthreads; t++)
		for (uint32_t i = 0; i < n_items; i++)
			by_others += seen[t][i];
	*stolen_pct = 100.0 * (double)by_others / (double)n_items;
	return t1 - t0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	const char *q = getenv("QUICK"), *ns = getenv("QUEUE_N");
	int quick = q != NULL && *q != '\0' && strcmp(q, "0") != 0;
	double v[QB_MAX_REPS], spent = 0, pct, med;
	int threads, k;
	struct rusage ru;

	if (argc != 3) {
		fprintf(stderr, "usage: %s queue_spmc|queue_mpmc THREADS\n", argv[0]);
		return 2;
	}
	if (strcmp(argv[1], "queue_spmc") == 0)
		workload = QB_SPMC;
	else if (strcmp(argv[1], "queue_mpmc") == 0)
		workload = QB_MPMC;
	else {
		fprintf(stderr, "%s: unknown workload %s\n", argv[0], argv[1]);
		return 2;
	}
	threads = atoi(argv[2]);
	if (threads < 1 || threads > QB_MAX_THREADS) {
		fprintf(stderr, "%s: bad thread count %s\n", argv[0], argv[2]);
		return 2;
	}
	nthreads = threads < 2 ? 2 : threads;
	n_items = quick ? 200000u : 2000000u;
	if (ns != NULL && *ns != '\0')
		n_items = (uint32_t)strtoul(ns, NULL, 10);
	if (n_items == 0)
		n_items = 1;
	items = aligned_alloc(64, ((size_t)n_items * sizeof(*items) + 63) & ~(size_t)63);
	if (items == NULL) {
		perror("aligned_alloc");
		return 1;
	}
	memset(items, 0, (size_t)n_items * sizeof(*items));
	for (uint32_t i = 0; i < n_items; i++)
		items[i].id = i;
#if QB_CK
	kstub = aligned_alloc(64, 64);
	if (kstub == NULL) {
		perror("aligned_alloc");
		return 1;
	}
#endif
	for (int i = 0; i < nthreads; i++) {
		seen[i] = malloc(n_items);
		if (seen[i] == NULL) {
			perror("malloc");
			return 1;
		}
#if !QB_CK
		rings[i] = aligned_alloc(CREW__CACHELINE,
		    (sizeof(struct crew__worker) + CREW__CACHELINE - 1) &
			~(size_t)(CREW__CACHELINE - 1));
		if (rings[i] == NULL) {
			perror("aligned_alloc");
			return 1;
		}
#endif
	}

	run_once(&pct); /* warm-up: page faults, thread start-up */
	for (k = 0; k < 3 || (k < QB_MAX_REPS && spent < (quick ? 1e8 : 5e8)); k++) {
		v[k] = run_once(&pct);
		spent += v[k];
		if (getenv("BENCH_STATS"))
			fprintf(stderr, "queue %s %s: run %d %.1f ms, %.1f%% "
			    "taken by threads other than the first\n", QB_NAME,
			    argv[1], k, v[k] / 1e6, pct);
	}
	qsort(v, (size_t)k, sizeof(v[0]), cmp_double);
	med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
	printf("runtime=%s workload=%s threads=%d value=%.4g unit=Mops/s "
	    "better=higher\n", QB_NAME, argv[1], nthreads,
	    (double)n_items / med * 1e3);
	getrusage(RUSAGE_SELF, &ru);
	printf("cpu_ms=%.1f\n",
	    (double)ru.ru_utime.tv_sec * 1e3 + (double)ru.ru_utime.tv_usec / 1e3 +
	    (double)ru.ru_stime.tv_sec * 1e3 + (double)ru.ru_stime.tv_usec / 1e3);
	return 0;
}
