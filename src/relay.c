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
 * hand-off (a relayed wait that is already over: 1.6-1.8 us instead of
 * 35-50 us with threads, 2 vCPUs under KVM), and
 * a task that holds a lock (a recursive mutex) across a wait still holds
 * it when its nested tasks take it again, as it does without relays.
 *
 * Each relay is a coroutine started once on its stack (relay_entry): it
 * helps through one wait, switches back, and resumes there for the next.
 * Each worker keeps the relays it mapped on a list of its own, reused
 * last-in first-out (a relay is on it only while suspended between waits,
 * never while a wait of the nest still runs on it), with the pages a wait
 * touched given back (relay_trim); they are unmapped at shutdown.  If none
 * can be mapped, the wait naps and tries again (crew__wg_help).
 *
 * swapcontext restores the signal mask and floating-point environment
 * saved with the context it resumes.  Both belong to the thread, not to a
 * stack: what the waiter had goes with it into the relay, and what the
 * wait's tasks left goes back with it, as in a plain nested wait (each
 * side sets the mask of the context it resumes and hands its FP
 * environment over in `fenv`).
 *
 * Sanitizers and Valgrind are told of every stack (AddressSanitizer and
 * ThreadSanitizer through their fiber interfaces, Valgrind through
 * VALGRIND_STACK_REGISTER), or they take a relay's frames for the
 * worker's stack and report errors that are not there.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <fenv.h>
#include <signal.h>
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
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#define RELAY_VALGRIND 1
#include <valgrind/valgrind.h>
#endif
#endif

#define RELAY_KEEP 16384  /* bytes at a stack's top that relay_trim keeps */
#define RELAY_GUARD 65536 /* bytes of guard below a stack */

struct crew__relay {
	struct crew__relay *next;       /* O: the worker's spare relays */
	void *map;                      /* I: the mapping (guard, stack) */
	uintptr_t bottom, top;          /* I: the stack, the mapping's end */
	ucontext_t ctx;                 /* the relay's, while suspended */
	ucontext_t back;                /* the waiter's, during a wait */
	struct crew__worker *w;         /* the wait: its worker */
	_Atomic uint32_t *wg;           /* and its wait group's word */
	fenv_t fenv;                    /* the FP environment handed over */
#ifdef RELAY_ASAN
	void *fake;                     /* the relay's fake stack, suspended */
	const void *back_bottom;        /* the waiter's stack */
	size_t back_size;
#endif
#ifdef RELAY_TSAN
	void *fiber, *back_fiber;
#endif
#ifdef RELAY_VALGRIND
	unsigned vg_stack;
#endif
};

/* The relay being started: makecontext passes only ints. */
static _Thread_local struct crew__relay *relay_starting;

/*
 * Half-way between the calling thread's stack bottom and the caller's
 * frame, called near the top at thread start.  Not the middle of what
 * pthread_getattr_np reports: under TSan a 256 KiB stack is reported as
 * ~900 KiB, whose middle lies above the thread's first frame, so every
 * wait looked deep and relayed at once, forever.
 */
/*
 * *end: where a wait goes on on a relay at once, RELAY_MARGIN bytes (or
 * an eighth of the stack, if more) above its bottom: room for the frames a
 * task pushed since the last look, and for the switch itself (a first
 * call through the PLT saves the vector registers on the stack, 2.5 KiB
 * and more; at three quarters of a 16 KiB stack that overflowed).  On
 * stacks under about 16 KiB that is above half, and the deep mark moves
 * down to it: every deep wait relays.
 * Only so near the end: every wait past the mark pays a relay, and a
 * fork-join tree whose deep levels lie past it waits there millions of
 * times (a 64 KiB stack with 1.5 KiB frames at three quarters: 6 million
 * relays, 12 s against 0.3 s).
 */
#define RELAY_MARGIN 8192

static inline uintptr_t
stack_marks(uintptr_t lo, uintptr_t top, uintptr_t *low, uintptr_t *end)
{
	uintptr_t margin = (top - lo) / 8, half = lo + (top - lo) / 2;

	*low = lo + (top - lo) / 4;	/* three quarters used */
	*end = lo + (margin > RELAY_MARGIN ? margin : RELAY_MARGIN);
	/* The deep mark, never below *end: wg.c relays at once only deep
	 * waits.  With the deep mark at half on a 16 KiB stack (11.6 KiB
	 * of room under glibc's TLS, half 5.8 KiB above the bottom), a wait
	 * between the two helped with everything instead of relaying, its
	 * task's next wait landed 2.5 KiB above the bottom, and that relay's
	 * first calls through the PLT (3 KiB of saved AVX-512 state) ran off
	 * the stack: conc/for_small_stacks crashed about once in 700 runs
	 * under load, CI once. */
	return half > *end ? half : *end;
}

__attribute__((noinline)) uintptr_t
crew__stack_half(uintptr_t *low, uintptr_t *end)
{
	uintptr_t top = (uintptr_t)__builtin_frame_address(0), half = 0;
	pthread_attr_t a;
	void *lo;
	size_t size;

	*low = 0;
	*end = 0;
	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return 0;
	if (pthread_attr_getstack(&a, &lo, &size) == 0 &&
	    (uintptr_t)lo < top && top - (uintptr_t)lo <= size)
		half = stack_marks((uintptr_t)lo, top, low, end);
	pthread_attr_destroy(&a);
	return half;
}

static int relay_prepare(struct crew__relay *r);

#if !defined(RELAY_ASAN) && !defined(RELAY_TSAN)
/* Switches to a context of this very frame and back (getcontext returns
 * a second time, then we leave): binds swapcontext without leaving the
 * stack.  Static contexts (one thread at a time, under warm_lock): two
 * ucontext_t on the stack were 2 KiB of a warm-up meant to save stack. */
static ucontext_t warm_here, warm_from;
/* A relay prepared on a small static stack (relay_prepare), never
 * started: binds getcontext and makecontext. */
static struct crew__relay warm_relay;
static char warm_stack[1024];

static __attribute__((noinline)) void
warm_switch(void)
{
	volatile int back = 0;

	if (getcontext(&warm_here) != 0)
		return;
	if (!back) {
		back = 1;
		(void)swapcontext(&warm_from, &warm_here);
	}
}
#endif

static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool warm_done;

/*
 * The first call of each libc function in a process goes through lazy
 * binding, whose resolver saves the vector registers on the caller's
 * stack: about 3 KiB with AVX-512.  A relay's first use took 3.7 KiB
 * below the waiting frame, and 0.6 KiB from the second use on.  The wait
 * relays once it is within the last 8 KiB of its stack, so the first
 * relay in a process took 3 KiB of the room that the tasks' frames above
 * it had.  A worker starting with its frame above its stack_end (so at
 * least those 8 KiB below it) calls the relay path's functions once for
 * the process; the others wait for it, so none relays before it is done.
 * With less room it leaves that to a later worker: the warm-up itself
 * needs the resolver's 3 KiB (on 16 KiB stacks with 5.5 KiB of a
 * program's TLS it overflowed).  Under the sanitizers only the plain
 * calls: their fiber switches are not made here.
 */
void
crew__relay_warm(const struct crew__worker *w)
{
	size_t page, size = 0;
	pthread_attr_t a;
	sigset_t set;
	fenv_t fe;
	void *volatile m;

	/* acquire: pairs with the release below; the bindings were made
	 * before it (and a binding is itself published safely) */
	if (atomic_load_explicit(&warm_done, memory_order_acquire) ||
	    w->stack_half == 0 ||
	    (uintptr_t)__builtin_frame_address(0) <= w->stack_end)
		return;
	pthread_mutex_lock(&warm_lock);
	/* relaxed: under warm_lock, which orders it */
	if (atomic_load_explicit(&warm_done, memory_order_relaxed)) {
		pthread_mutex_unlock(&warm_lock);
		return;
	}
	page = (size_t)sysconf(_SC_PAGESIZE);
	if (pthread_attr_init(&a) == 0) {
		(void)pthread_attr_getstacksize(&a, &size);
		pthread_attr_destroy(&a);
	}
	m = calloc(1, 1);	/* volatile: else both calls are elided */
	free(m);
	m = mmap(NULL, page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m != MAP_FAILED) {
		(void)mprotect(m, page, PROT_NONE);
		(void)madvise(m, page, MADV_DONTNEED);
		(void)munmap(m, page);
	}
	(void)pthread_sigmask(SIG_BLOCK, NULL, &set);
	if (fegetenv(&fe) == 0)
		(void)fesetenv(&fe);
#if !defined(RELAY_ASAN) && !defined(RELAY_TSAN)
	/* makecontext writes only the context and the top of the stack
	 * given; nothing ever switches to it */
	warm_relay.bottom = (uintptr_t)warm_stack;
	warm_relay.top = warm_relay.bottom + sizeof(warm_stack);
	(void)relay_prepare(&warm_relay);
	warm_switch();
#endif
	/* release: pairs with the acquire above */
	atomic_store_explicit(&warm_done, true, memory_order_release);
	pthread_mutex_unlock(&warm_lock);
}

/* The size of a relay's stack: the pool's stack_size, else the default
 * for new threads (RLIMIT_STACK, usually 8 MiB), in whole pages. */
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

/*
 * The relay's whole life, on its stack: each turn helps through one wait
 * until its count is zero, then switches back to the waiter and is
 * suspended until the next wait.  Started once (relay_get); never returns.
 */
static void
relay_entry(void)
{
	struct crew__relay *r = relay_starting;

#ifdef RELAY_ASAN
	__sanitizer_finish_switch_fiber(NULL, &r->back_bottom, &r->back_size);
#endif
	for (;;) {
		(void)fesetenv(&r->fenv); /* the waiter's */
		crew__wg_help(r->wg, r->w);
		/* What the wait's tasks left the thread with goes back with
		 * the waiter. */
		(void)pthread_sigmask(SIG_BLOCK, NULL, &r->back.uc_sigmask);
		(void)fegetenv(&r->fenv);
#ifdef RELAY_TSAN
		__tsan_switch_to_fiber(r->back_fiber, 0);
#endif
#ifdef RELAY_ASAN
		__sanitizer_start_switch_fiber(&r->fake, r->back_bottom,
		    r->back_size);
#endif
		CREW__CHAOS();
		/* Fails only if rt_sigprocmask does, which these arguments
		 * rule out; there would be no way back from here. */
		if (swapcontext(&r->ctx, &r->back) != 0)
			abort();
#ifdef RELAY_ASAN
		__sanitizer_finish_switch_fiber(r->fake, &r->back_bottom,
		    &r->back_size);
#endif
	}
}

/* Makes r's context start relay_entry on its stack.  Out of line:
 * getcontext returns twice in principle (never here, since makecontext
 * replaces where the context resumes), and keeping it out of its callers
 * keeps their locals out of the question. */
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

static void
relay_free(struct crew__relay *r)
{
#ifdef RELAY_TSAN
	if (r->fiber != NULL)
		__tsan_destroy_fiber(r->fiber);
#endif
#ifdef RELAY_VALGRIND
	VALGRIND_STACK_DEREGISTER(r->vg_stack);
#endif
	(void)munmap(r->map, r->top - (uintptr_t)r->map);
	free(r);
}

/* A spare relay of w, or a new one; NULL if none can be mapped. */
static struct crew__relay *
relay_get(struct crew__worker *w)
{
	struct crew_pool *p = w->pool;
	struct crew__relay *r;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), size, guard;
	void *map;

	if ((r = w->relays) != NULL) {
		w->relays = r->next;
		return r;
	}
	size = relay_stack_size(p, page);
	guard = (RELAY_GUARD + page - 1) & ~(page - 1);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	/* The guard below the stack: an overflow faults at once, even by a
	 * frame of up to RELAY_GUARD bytes built without stack probes. */
	map = mmap(NULL, size + guard, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED) {
		free(r);
		return NULL;
	}
	r->map = map;
	r->bottom = (uintptr_t)map + guard;
	r->top = r->bottom + size;
	if (mprotect(map, guard, PROT_NONE) != 0 || relay_prepare(r) != 0) {
		(void)munmap(map, size + guard);
		free(r);
		return NULL;
	}
#ifdef RELAY_VALGRIND
	r->vg_stack = VALGRIND_STACK_REGISTER(r->bottom, r->top);
#endif
#ifdef RELAY_TSAN
	r->fiber = __tsan_create_fiber(0);
#endif
	/* relaxed: statistic */
	atomic_fetch_add_explicit(&p->relay_stacks, 1, memory_order_relaxed);
	return r;
}

/*
 * After a wait: give back the stack pages it touched, but the top few,
 * which hold the suspended relay_entry and are the first the next wait
 * touches.  A relay takes over waits nested half a stack deep and may
 * itself nest that deep, so without this every spare relay kept up to
 * half a stack resident until shutdown; MADV_DONTNEED maps the pages back
 * to zero pages.
 */
static void
relay_trim(struct crew__relay *r)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t keep = (RELAY_KEEP + page - 1) & ~(page - 1);

	if (r->top - r->bottom > keep)
		(void)madvise((void *)r->bottom, r->top - r->bottom - keep,
		    MADV_DONTNEED);
}

int
crew__relay_wait(struct crew__worker *w, _Atomic uint32_t *wg)
{
	struct crew__relay *r = relay_get(w);
	uintptr_t half = w->stack_half, low = w->stack_low, end = w->stack_end;
	int rc;
#ifdef RELAY_ASAN
	void *fake = NULL;
#endif

	if (r == NULL)
		return CREW_EAGAIN;
	/* No stack for AddressSanitizer's swapcontext to clear when the
	 * relay switches back to this context. */
	r->back.uc_stack.ss_sp = NULL;
	r->back.uc_stack.ss_size = 0;
	r->w = w;
	r->wg = wg;
	w->stack_half = stack_marks(r->bottom, r->top, &w->stack_low,
	    &w->stack_end);
	/* The thread's mask and FP environment go with us (see the top). */
	(void)pthread_sigmask(SIG_BLOCK, NULL, &r->ctx.uc_sigmask);
	(void)fegetenv(&r->fenv);
	CREW__STAT_ADD(w, relays, 1);
	relay_starting = r; /* read only by a relay's first start */
#ifdef RELAY_TSAN
	r->back_fiber = __tsan_get_current_fiber();
	__tsan_switch_to_fiber(r->fiber, 0);
#endif
#ifdef RELAY_ASAN
	__sanitizer_start_switch_fiber(&fake, (void *)r->bottom,
	    r->top - r->bottom);
#endif
	CREW__CHAOS();
	rc = swapcontext(&r->back, &r->ctx);
#ifdef RELAY_ASAN
	/* (a failed swapcontext, which cannot happen here, would leave
	 * AddressSanitizer believing it is on the relay's stack) */
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	w->stack_half = half;
	w->stack_low = low;
	w->stack_end = end;
	if (rc != 0) {
#ifdef RELAY_TSAN
		__tsan_switch_to_fiber(r->back_fiber, 0);
#endif
		r->next = w->relays;
		w->relays = r;
		return CREW_EAGAIN;
	}
	(void)fesetenv(&r->fenv); /* what the wait's tasks left */
	relay_trim(r);
	r->next = w->relays;
	w->relays = r;
	return 0;
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
			relay_free(r);
		}
		w->relays = NULL;
	}
}
