/* SPDX-License-Identifier: MIT */
/*
 * Relays: fresh stacks for deep helping waits.
 *
 * A worker's crew_wg_wait helps: it runs other tasks, which may wait and
 * help in turn, so waits nest on the worker's stack, without bound when
 * they wait for work that arrives later (thousands of tasks each waiting
 * for a reply from outside).  Past half its stack, a wait hands the rest
 * of its helping to a relay: a stack of its own, which the same thread
 * switches to (ucontext) and helps on until the wait's count is zero, then
 * switches back.  The frames below stay in place, as they would under
 * nested helping, so waits still return in the same order (a nested wait
 * before the ones below it); only the nest goes on in a new place.  A
 * relay that gets deep in turn relays again: the depth is bounded by
 * memory, not by one stack.
 *
 * Before relays, a deep wait either overflowed its stack or, bounded to
 * its own queues, hung once every worker was deep while the work awaited
 * sat in the global queue (test conc/deep_waits_for_outside_replies).
 * Relays were first threads that took the worker's place while its own
 * thread slept; on the same thread a relay costs no thread creation and no
 * hand-off (a relayed wait that is already over: 1.2-1.5 us instead of
 * 35-45 us with threads, 2 vCPUs under KVM), and
 * a task that holds a lock (a recursive mutex) across a wait still holds
 * it when its nested tasks take it again, as it does without relays.
 *
 * Each worker keeps the relay stacks it mapped on a list of its own,
 * reused last-in first-out, with the pages a use touched given back
 * (relay_trim); they are unmapped at shutdown.  If none can be mapped, the
 * wait naps and tries again (crew__wg_help).
 *
 * Sanitizers: AddressSanitizer and ThreadSanitizer are told of every
 * switch (their fiber interfaces), or they would take the relay's frames
 * for the worker's stack.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define RELAY_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define RELAY_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

#define RELAY_KEEP 16384 /* bytes at a stack's top that relay_trim keeps */

struct crew__relay {
	struct crew__relay *next;       /* O: the worker's spare relays */
	void *map;                      /* I: the mapping, guard page first */
	size_t map_size;                /* I */
	uintptr_t bottom, top;          /* I: the stack within it */
	ucontext_t ctx;                 /* O: the relay's context */
	ucontext_t back;                /* O: the waiting frame's */
	struct crew__worker *w;         /* O: the job */
	_Atomic uint32_t *wg;           /* O: the wait group's word */
#ifdef RELAY_ASAN
	const void *back_bottom;        /* the waiting thread's stack */
	size_t back_size;
#endif
#ifdef RELAY_TSAN
	void *fiber, *back_fiber;
#endif
};

/* The relay being entered: makecontext passes only ints. */
static _Thread_local struct crew__relay *relay_entering;

/*
 * Half-way between the calling thread's stack bottom and the caller's
 * frame, called near the top at thread start.  Not the middle of what
 * pthread_getattr_np reports: under TSan a 256 KiB stack is reported as
 * ~900 KiB, whose middle lies above the thread's first frame, so every
 * wait looked deep and relayed at once, forever.
 */
__attribute__((noinline)) uintptr_t
crew__stack_half(uintptr_t *low)
{
	uintptr_t top = (uintptr_t)__builtin_frame_address(0), half = 0;
	pthread_attr_t a;
	void *lo;
	size_t size;

	*low = 0;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return 0;
	if (pthread_attr_getstack(&a, &lo, &size) == 0 &&
	    (uintptr_t)lo < top && top - (uintptr_t)lo <= size) {
		half = (uintptr_t)lo + (top - (uintptr_t)lo) / 2;
		*low = (uintptr_t)lo + (top - (uintptr_t)lo) / 4;
	}
	pthread_attr_destroy(&a);
	return half;
}

/* The size of a relay's stack: the pool's stack_size, else the default
 * for new threads (RLIMIT_STACK, usually 8 MiB), rounded to pages. */
static size_t
relay_stack_size(struct crew_pool *p, size_t page)
{
	size_t size = p->stack_size;
	pthread_attr_t a;

	if (size == 0 && pthread_attr_init(&a) == 0) {
		if (pthread_attr_getstacksize(&a, &size) != 0)
			size = 0;
		pthread_attr_destroy(&a);
	}
	if (size < 65536)
		size = size == 0 ? 8u << 20 : 65536;
	return (size + page - 1) & ~(page - 1);
}

/* A spare relay of w, or a new one; NULL if none can be mapped. */
static struct crew__relay *
relay_get(struct crew__worker *w)
{
	struct crew_pool *p = w->pool;
	struct crew__relay *r;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), size;
	void *map;

	if ((r = w->relays) != NULL) {
		w->relays = r->next;
		return r;
	}
	size = relay_stack_size(p, page);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	/* A guard page below the stack: an overflow faults at once. */
	map = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED) {
		free(r);
		return NULL;
	}
	if (mprotect(map, page, PROT_NONE) != 0) {
		(void)munmap(map, size + page);
		free(r);
		return NULL;
	}
	r->map = map;
	r->map_size = size + page;
	r->bottom = (uintptr_t)map + page;
	r->top = r->bottom + size;
	/* relaxed: statistic */
	atomic_fetch_add_explicit(&p->relay_stacks, 1, memory_order_relaxed);
	return r;
}

/*
 * After a use: give back the stack pages it touched, but the top few that
 * the next use touches first.  A relay takes over waits nested half a
 * stack deep and may itself nest that deep, so without this every spare
 * relay kept up to half a stack resident until shutdown; MADV_DONTNEED
 * maps the pages back to zero pages.
 */
static void
relay_trim(struct crew__relay *r)
{
	if (r->top - r->bottom > RELAY_KEEP)
		(void)madvise((void *)r->bottom, r->top - r->bottom - RELAY_KEEP,
		    MADV_DONTNEED);
}

/* The relay's first frame: helps until the count is zero, switches back.
 * Never returns (uc_link is NULL); each use starts it afresh. */
static void
relay_entry(void)
{
	struct crew__relay *r = relay_entering;

#ifdef RELAY_ASAN
	__sanitizer_finish_switch_fiber(NULL, &r->back_bottom, &r->back_size);
#endif
	crew__wg_help(r->wg, r->w);
#ifdef RELAY_TSAN
	__tsan_switch_to_fiber(r->back_fiber, 0);
#endif
#ifdef RELAY_ASAN
	/* NULL: this run of the relay's stack ends here */
	__sanitizer_start_switch_fiber(NULL, r->back_bottom, r->back_size);
#endif
	CREW__CHAOS();
	(void)swapcontext(&r->ctx, &r->back);
	__builtin_unreachable();
}

/* Makes r's context start relay_entry on its stack.  Out of line:
 * getcontext returns twice in principle (never here, since makecontext
 * replaces where the context resumes), and keeping it out of
 * crew__relay_wait keeps that function's locals out of the question. */
static __attribute__((noinline)) int
relay_prepare(struct crew__relay *r)
{
	if (getcontext(&r->ctx) != 0)
		return -1;
	r->ctx.uc_stack.ss_sp = (void *)r->bottom;
	r->ctx.uc_stack.ss_size = r->top - r->bottom;
	r->ctx.uc_link = NULL;
	makecontext(&r->ctx, relay_entry, 0);
	return 0;
}

int
crew__relay_wait(struct crew__worker *w, _Atomic uint32_t *wg)
{
	struct crew__relay *r = relay_get(w);
	uintptr_t half = w->stack_half, low = w->stack_low;
	int rc;
#ifdef RELAY_ASAN
	void *fake = NULL;
#endif

	if (r == NULL)
		return CREW_EAGAIN;
	if (relay_prepare(r) != 0) {
		r->next = w->relays;
		w->relays = r;
		return CREW_EAGAIN;
	}
	/* No stack to clear for AddressSanitizer's swapcontext when it
	 * switches back to this context. */
	r->back.uc_stack.ss_sp = NULL;
	r->back.uc_stack.ss_size = 0;
	r->w = w;
	r->wg = wg;
	w->stack_half = r->bottom + (r->top - r->bottom) / 2;
	w->stack_low = r->bottom + (r->top - r->bottom) / 4;
	CREW__STAT_ADD(w, relays, 1);
	relay_entering = r;
#ifdef RELAY_TSAN
	/* A fresh fiber per use: the last one's shadow stack still holds
	 * relay_entry, which never returns. */
	r->back_fiber = __tsan_get_current_fiber();
	r->fiber = __tsan_create_fiber(0);
	__tsan_switch_to_fiber(r->fiber, 0);
#endif
#ifdef RELAY_ASAN
	__sanitizer_start_switch_fiber(&fake, (void *)r->bottom,
	    r->top - r->bottom);
#endif
	CREW__CHAOS();
	rc = swapcontext(&r->back, &r->ctx);
#ifdef RELAY_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
#ifdef RELAY_TSAN
	if (rc != 0)
		__tsan_switch_to_fiber(r->back_fiber, 0);
	__tsan_destroy_fiber(r->fiber);
	r->fiber = NULL;
#endif
	w->stack_half = half;
	w->stack_low = low;
	relay_trim(r);
	r->next = w->relays;
	w->relays = r;
	return rc == 0 ? 0 : CREW_EAGAIN;
}

void
crew__relay_shutdown(struct crew_pool *p)
{
	/* Every relay is spare: a relay is in use only inside a wait of its
	 * worker's thread, and the workers have been joined. */
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct crew__worker *w = p->workers[i];
		struct crew__relay *r, *next;

		for (r = w->relays; r != NULL; r = next) {
			next = r->next;
			(void)munmap(r->map, r->map_size);
			free(r);
		}
		w->relays = NULL;
	}
}
