/* SPDX-License-Identifier: MIT */
/*
 * Parallel for with lazy binary splitting (Tzannes et al., PPoPP 2010; the
 * adaptive idea behind rayon's join): a thread owning [lo, hi) runs it in
 * grain-sized pieces, and before each piece, if somebody could take work
 * now, it splits off the upper half as a task.  On a worker "somebody"
 * means its own slot and ring are empty (thieves took what it offered) and
 * another thread exists or may start; on an outside thread it means a
 * worker is idle or may be spawned.  So a balanced loop splits about
 * log2(threads) times per thread, and an uneven one keeps splitting where
 * the work is.
 *
 * Split descriptors live in the splitting frame (at most FOR_SPLITS: each
 * split halves the range), counted by a wait group in the same frame,
 * which the frame waits for (helping) before it returns.  Nothing is
 * allocated.  A worker that finishes its part first takes back its newest
 * splits that no thief took, from the top of its LIFO stack, and runs
 * their ranges in the same frame: run as tasks by its wait, each was a
 * frame nested in the one before (3 KiB each with 64 descriptors), so a
 * loop on a pool with small stacks (crew_config.stack_size 16-64 KiB)
 * overflowed them (found by an adversarial review; test
 * conc/for_small_stacks).
 */
#include "internal.h"
#include "lifo.h"
#include "ring.h"

#include <string.h>

/* Splits one frame may have out at once: after 32 halvings it keeps
 * 2^-32 of its range, and each split splits again on its own. */
#define FOR_SPLITS 32

struct for_ctx {
	crew_pool *pool;
	void (*fn)(void *ctx, size_t lo, size_t hi);
	void *ctx;
	size_t grain;		/* range per call while everyone is busy */
	size_t fine;		/* per call near a range's end (automatic
				   grain); <= grain */
};

struct for_split {
	crew_task task;
	struct for_ctx *fc;
	size_t lo, hi;
	crew_wg *wg;
};

static void for_range(struct for_ctx *fc, size_t lo, size_t hi);

static void
for_split_run(crew_task *t)
{
	struct for_split *s = crew_container_of(t, struct for_split, task);
	crew_wg *wg = s->wg;

	for_range(s->fc, s->lo, s->hi);
	crew_wg_done(wg); /* last access to *s and *wg */
}

/* Whether a split now would likely be taken by another thread. */
static bool
want_split(struct crew_pool *p)
{
	struct crew__worker *w = crew__tls_worker;

	if (w != NULL && w->pool == p)
		/* hints: the owner is the only one adding work */
		return crew__lifo_size(&w->lifo) == 0 &&
		    crew__ring_size(w) == 0 &&
		    crew__pool_max_threads(p) > 1;
	return crew__pool_has_idle(p);
}

static void
for_range(struct for_ctx *fc, size_t lo, size_t hi)
{
	struct for_split split[FOR_SPLITS];
	struct crew__worker *w = crew__tls_worker;
	crew_wg wg;
	unsigned nsplit = 0;
	size_t step, mid;
	bool serial = false, first = true;

	if (w != NULL && w->pool != fc->pool)
		w = NULL; /* our splits go to the other pool's global queue */
	crew_wg_init(&wg);
	for (;;) {
		while (lo < hi) {
			size_t g = fc->grain;

			/* Near the end of the range, go on in finer calls,
			 * each followed by a look for a thief: else the others
			 * may wait out a whole grain at the end of every loop
			 * (pfor_mem, 2 workers: speedup 1.983 -> 1.993,
			 * medians of 10 processes). */
			if (fc->fine < g && hi - lo <= 2 * g)
				g = fc->fine;
			if (!serial && hi - lo > g && nsplit < FOR_SPLITS &&
			    want_split(fc->pool)) {
				struct for_split *s = &split[nsplit];

				mid = lo + (hi - lo) / 2;
				s->task.fn = for_split_run;
				s->fc = fc;
				s->lo = mid;
				s->hi = hi;
				s->wg = &wg;
				crew_wg_add(&wg, 1);
				if (crew_submit(fc->pool, &s->task) == 0) {
					/* This range's first split, into halves
					 * that split again: wake one more sleeper
					 * than the notify may
					 * (crew__pool_fan_out), so that the
					 * workers join in a tree, not a chain. */
					if (first && hi - mid >= 2 * fc->grain)
						crew__pool_fan_out(fc->pool);
					first = false;
					nsplit++;
					hi = mid;
					continue;
				}
				/* Refused (no worker, or shutting down): go
				 * serial. */
				crew_wg_done(&wg);
				serial = true;
			}
			step = hi - lo < g ? hi - lo : g;
			fc->fn(fc->ctx, lo, lo + step);
			lo += step;
		}
		/* Our newest split, if still on top of our stack: its range
		 * goes on here, as a range of its own (it may fan out). */
		if (nsplit == 0 || w == NULL ||
		    !crew__lifo_pop_if(&w->lifo, &split[nsplit - 1].task))
			break;
		nsplit--;
		lo = split[nsplit].lo;
		hi = split[nsplit].hi;
		first = true;
		crew_wg_done(&wg);
	}
	crew_wg_wait(&wg);
}

static size_t
auto_grain(crew_pool *p, size_t n)
{
	size_t pieces = (size_t)crew__pool_max_threads(p) * 256;
	size_t g = n / pieces;

	return g ? g : 1;
}

CREW_API int
crew_for(crew_pool *pool, size_t begin, size_t end, size_t grain,
    void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx)
{
	struct for_ctx fc;

	if (fn == NULL || begin > end)
		return CREW_EINVAL;
	if (begin == end)
		return 0;
	if (pool == NULL && (pool = crew_global()) == NULL) {
		/* No pool at all: the caller does it, grain by grain. */
		for (size_t lo = begin, step; lo < end; lo += step) {
			step = grain && end - lo > grain ? grain : end - lo;
			fn(ctx, lo, lo + step);
		}
		return 0;
	}
	fc.pool = pool;
	fc.fn = fn;
	fc.ctx = ctx;
	fc.grain = grain ? grain : auto_grain(pool, end - begin);
	/* An explicit grain is the smallest call the caller wants. */
	fc.fine = grain ? grain : (fc.grain + 15) / 16;
	for_range(&fc, begin, end);
	return 0;
}

struct each_ctx {
	char *items;
	size_t size;
	void (*fn)(void *ctx, void *item, size_t index);
	void *ctx;
};

static void
each_range(void *arg, size_t lo, size_t hi)
{
	struct each_ctx *e = arg;

	for (size_t i = lo; i < hi; i++)
		e->fn(e->ctx, e->items + i * e->size, i);
}

CREW_API int
crew_each(crew_pool *pool, void *items, size_t count, size_t item_size,
    void (*fn)(void *ctx, void *item, size_t index), void *ctx)
{
	struct each_ctx e = { items, item_size, fn, ctx };

	if (fn == NULL || (items == NULL && count > 0) ||
	    (item_size != 0 && count > SIZE_MAX / item_size))
		return CREW_EINVAL;
	return crew_for(pool, 0, count, 0, each_range, &e);
}
