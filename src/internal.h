/* SPDX-License-Identifier: MIT */
/*
 * Internal declarations shared by the .c files of src/.  Hot paths (ring and queue
 * operations) are static inline in ring.h and queue.h.
 *
 * Field legend used on shared structs:
 *   O: owner thread only      S: shared, accessed atomically
 *   I: set before publication, read-only after
 *   L: protected by pool->spawn_lock
 */
#ifndef CREW_INTERNAL_H
#define CREW_INTERNAL_H

#include "crew.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CREW__CACHELINE 64

#if defined(__SANITIZE_THREAD__)
#define CREW__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CREW__TSAN 1
#endif
#endif

#define CREW__LIKELY(x) __builtin_expect(!!(x), 1)
#define CREW__UNLIKELY(x) __builtin_expect(!!(x), 0)
/*
 * The functions a wake-up runs through (submit, notify, park, the worker's
 * search): GCC and Clang put them together in .text.hot, so that after a
 * long idle their code is two pages, not four scattered ones (a cold iTLB
 * miss costs a nested page walk in a VM; the 2-core KVM wake p50 went from
 * 21.2 and 20.5 to 19.8 us in two 600-sample interleaved A/Bs).
 */
#define CREW__HOT __attribute__((hot))
/* Blocks the wake-up path reads (the pool's, each worker's) are
 * page-aligned and rounded to whole pages: a worker's ring, queues and
 * counters (3 KB) then take one TLB entry instead of straddling two. */
#define CREW__PAGE 4096u
#define CREW__PAGE_ROUND(n) (((n) + CREW__PAGE - 1) / CREW__PAGE * CREW__PAGE)
#define CREW__HIDDEN __attribute__((visibility("hidden")))

/* Test-build knobs: ring capacity (power of two) and first ring index. */
#ifndef CREW_RING_CAP
#define CREW_RING_CAP 256u
#endif
#ifndef CREW_RING_INDEX_START
#define CREW_RING_INDEX_START 0u
#endif
_Static_assert((CREW_RING_CAP & (CREW_RING_CAP - 1)) == 0 && CREW_RING_CAP >= 2,
    "CREW_RING_CAP must be a power of two >= 2");

/* Chaos build: yields at racy points so rare interleavings happen often. */
#ifdef CREW_CHAOS
void crew__chaos_point(void);
#define CREW__CHAOS() crew__chaos_point()
#else
#define CREW__CHAOS() ((void)0)
#endif

static inline void
crew__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* ------------------------------------------------------------------ */
/* Per-worker statistics: written by the owner only, summed on read.   */

struct crew__stats {
	_Atomic uint64_t tasks_run;
	_Atomic uint64_t local_pushes;
	_Atomic uint64_t overflow_migrations;
	_Atomic uint64_t steal_attempts;
	_Atomic uint64_t tasks_stolen;
	_Atomic uint64_t parks;
	_Atomic uint64_t wakeups;
	_Atomic uint64_t spins;
	_Atomic uint64_t spin_hits;
	_Atomic uint64_t deep_waits;
	_Atomic uint64_t spread_steps;
	_Atomic uint64_t relays;
	_Atomic uint64_t fan_out_taken;
	_Atomic uint64_t fan_out_hits;
};

/* crew_pool.spread (spread_from in pool.c) */
#define CREW__SPREAD_OFF 0
#define CREW__SPREAD_ON 1   /* CREW_SPREAD=1: restore the start mask */
#define CREW__SPREAD_AUTO 2 /* default: unrestricted workers, full mask */

/*
 * Owner-only increment: one writer, so a relaxed load and store suffice and
 * compile to a plain add; readers on other threads use relaxed loads.
 */
#define CREW__STAT_ADD(w, field, n)                                           \
	atomic_store_explicit(&(w)->stats.field,                              \
	    atomic_load_explicit(&(w)->stats.field, memory_order_relaxed) +   \
		(n), /* relaxed: single writer, statistic only */              \
	    memory_order_relaxed)

/* ------------------------------------------------------------------ */
/* Intrusive multi-producer queue with a try-lock consumer (queue.h).  */

#define CREW__Q_CACHED ((uintptr_t)1)  /* cache holds a private chain */
#define CREW__Q_LOCKED ((uintptr_t)2)  /* a consumer holds the queue */
#define CREW__Q_CLOSED ((uintptr_t)4)  /* producers are refused */
#define CREW__Q_FLAGS ((uintptr_t)7)
#define CREW__Q_PTR (~CREW__Q_FLAGS)

struct crew__queue {
	_Atomic uintptr_t word; /* S: pushed stack top | CLOSED | LOCKED | CACHED */
	crew_task *cache;       /* LOCKED holder only */
};

/* ------------------------------------------------------------------ */
/* The owner-LIFO stack in front of the ring (lifo.h).                 */

#define CREW__LIFO_CAP 64u

struct crew__lifo {
	_Atomic uint32_t lock;          /* S: try-lock bit */
	_Atomic uint32_t n;             /* lock holder writes; others probe */
	crew_task *stk[CREW__LIFO_CAP]; /* lock holder; [0] is the oldest */
};

/* ------------------------------------------------------------------ */
/* The sync word (sync.h).                                             */

#define CREW__SYNC_IDLE_MASK 0x3fffu
#define CREW__SYNC_SPAWNED_SHIFT 14
#define CREW__SYNC_SPAWNED_ONE (1u << CREW__SYNC_SPAWNED_SHIFT)
#define CREW__SYNC_SPAWNED_MASK (0x3fffu << CREW__SYNC_SPAWNED_SHIFT)
#define CREW__SYNC_CLOSING (1u << 28) /* shutdown is draining */
#define CREW__SYNC_NOTIFIED (1u << 29)
#define CREW__SYNC_STATE_SHIFT 30

enum crew__state {
	CREW__PENDING = 0,  /* a notifier may wake or spawn one thread */
	CREW__SIGNALED = 1, /* a wake/spawn was issued, not yet consumed */
	CREW__WAKING = 2,   /* one thread holds the waking role */
	CREW__SHUTDOWN = 3  /* terminal */
};

/* ------------------------------------------------------------------ */
/* Single-token futex event that can be shut down (park.c).            */

enum { CREW__EV_EMPTY, CREW__EV_WAITING, CREW__EV_NOTIFIED, CREW__EV_SHUTDOWN };

struct crew__event {
	_Atomic uint32_t state; /* S */
	/* S: fan-out permits (crew__event_fan_out): a sleeper that takes
	 * one returns from crew__event_wait without a token */
	_Atomic uint32_t fan_out;
};

/*
 * Sleeper classes (futex bitsets): a sleeper waits with one class bit, and
 * notify may ask the kernel for a sleeper of some classes first (any one
 * when none of those sleeps).  Which thread the kernel kicks never decides
 * who takes the token: that stays the CAS on `state`.
 */
#define CREW__EV_HOT 1u      /* worker index below the pool's CPU count */
#define CREW__EV_COLD 2u     /* a worker beyond it (oversubscribed pool) */
#define CREW__EV_ANY 0xffffffffu

bool crew__event_wait(struct crew__event *ev, uint32_t cls);
void crew__event_notify(struct crew__event *ev, uint32_t prefer);
bool crew__event_fan_out(struct crew__event *ev, uint32_t prefer);
void crew__event_shutdown(struct crew__event *ev);
void crew__futex_wait(_Atomic uint32_t *addr, uint32_t expect);
void crew__futex_wake(_Atomic uint32_t *addr, int count);

/* ------------------------------------------------------------------ */
/* Worker and pool.                                                    */

/*
 * A worker.  Allocated by the spawner before the thread starts, freed by
 * crew_pool_destroy() after the join, so thieves may dereference any
 * published worker at any time.  Thief-visible ring indices, owner-written
 * state and the slot array sit on separate cache lines.
 */
struct crew__relay; /* relay.c */

struct crew__worker {
	alignas(CREW__CACHELINE) _Atomic uint32_t head; /* S: CAS by owner and thieves */
	alignas(CREW__CACHELINE) _Atomic uint32_t tail; /* S: stored by owner only */
	alignas(CREW__CACHELINE) _Atomic(crew_task *) slot[CREW_RING_CAP]; /* S: written by owner */
	alignas(CREW__CACHELINE) struct crew__queue ovf; /* S: overflow queue */
	alignas(CREW__CACHELINE) struct crew__lifo lifo; /* S: owner LIFO stack */
	alignas(CREW__CACHELINE) struct crew_pool *pool; /* I */
	unsigned index;             /* I */
	unsigned lifo_runs;         /* O: consecutive tasks taken from lifo */
	unsigned helping;           /* O: nesting of crew_wg_wait helping */
	/* O: a helping wait whose frame is below this address (half the
	 * stack it runs on used: the thread's, or a relay's; never below
	 * stack_end) goes on on a relay's stack (relay.c); 0: never (the
	 * stack unknown). */
	uintptr_t stack_half;
	/* O: three quarters of that stack used: past it, even a wait that
	 * could not have a relay takes only its LIFO stack (crew__wg_help) */
	uintptr_t stack_low;
	/* O: RELAY_MARGIN bytes (or an eighth) from the end of that stack:
	 * past it a wait goes on on a relay at once (crew__wg_help) */
	uintptr_t stack_end;
	struct crew__relay *relays; /* O: spare relay stacks (relay.c) */
	unsigned fair_left;         /* O: searches until the fairness check */
	uint32_t global_tail;       /* O: our tail after our last refill
	                               from the global queue */
	unsigned fair_look_wait;    /* O: checks that skip the victim look */
	unsigned fair_look_skip;    /* O: of which are left */
	uint64_t fair_look_tick;    /* O: the coarse clock the skips run in */
	uint64_t fair_look_ns;      /* O: when it last looked at a victim */
	unsigned fair_rot;          /* O: which source that check tries first */
	unsigned fair_victim;       /* O: the victim it watches (victims[]) */
	bool fair_armed;            /* O: fair_seen holds that victim's count */
	uint64_t fair_seen;         /* O: its tasks_run when last looked at */
	/* Steal order over the nvictims_of first workers: the worker's
	 * topology victim order (topo.c) with later workers left out,
	 * rebuilt when more workers have been published.  The array
	 * (max_threads - 1 entries) follows this struct in its block. */
	uint16_t *victims;          /* I: the array; O: its contents */
	unsigned nvictims;          /* O: entries in use */
	unsigned nvictims_of;       /* O: the nworkers they were built for */
	bool listed;                /* O: our bit in pool->work_map is set */
	bool mem_bound;             /* I: block bound to the worker's node */
	/* I: created by a thread that changed its time slice, which the
	 * worker inherited (crew__tls_sliced) */
	bool slice_inherited;
	size_t block_size;          /* I: bytes of the block (struct + array) */
	pthread_t thread;           /* L: valid once started */
	bool spread_off;            /* O: spread_from does not apply */
	cpu_set_t spread_mask;      /* O: our affinity at start */
	struct crew__stats stats;   /* O writes, anyone reads */
};

_Static_assert(CREW_MAX_THREADS <= UINT16_MAX,
    "worker indices must fit the uint16_t victim arrays");

struct crew_pool {
	/* The global queue and its push counter share a line: producers own it. */
	alignas(CREW__CACHELINE) struct crew__queue global;   /* S */
	_Atomic uint64_t global_pushes;                       /* S */
	alignas(CREW__CACHELINE) _Atomic uint32_t sync;       /* S: packed sync word */
	_Atomic int waker_cpu;  /* S: CPU of the last worker that woke one
	                           (spread_from), or -1 */
	/* S: workers polling before they park (worker_spin); a wake-up is
	 * left to them while one polls (notify_slow).  On the sync word's
	 * line: notify_slow reads both. */
	_Atomic uint32_t spinning;
	alignas(CREW__CACHELINE) struct crew__event idle_event; /* S */
	_Atomic uint32_t drain_epoch;   /* S: bumped when the pool drains */
	_Atomic uint32_t nworkers;      /* S: published prefix of workers[] */
	_Atomic uint64_t spawn_failures;/* S */
	_Atomic uint32_t spawn_retry;   /* S: a failed spawn awaits a retry */
	_Atomic uint64_t retry_after_ns;/* S: not before this (backoff) */
	_Atomic uint64_t retry_backoff_ns; /* S: doubles per failure */
	_Atomic uint64_t pinned_workers;/* S: statistic */
	_Atomic uint64_t pin_failures;  /* S: statistic */
	alignas(CREW__CACHELINE) struct crew__worker **workers; /* I: array, L: entries */
	struct crew__plan *plan;        /* I: where workers run (topo.c) */
	/* Per worker index, CREW__PIN_*: kept outside the workers because a
	 * worker runs tasks before it is published in nworkers. */
	_Atomic uint8_t *pin_state;     /* I: array, S: entries */
	/* One bit per worker index: clear only while that worker's ring, LIFO
	 * stack and overflow queue are empty (see find_work_slow), so thieves
	 * skip it without touching its lines.  Written by each worker for its
	 * own bit, on the transitions between searching and busy. */
	_Atomic uint64_t *work_map;     /* I: array after the struct, S: words */
	unsigned max_threads;           /* I */
	/* Workers [0, hot) are woken before the others (crew__event_notify):
	 * min(max_threads, the CPUs of `cpus` within the cgroup quota). */
	unsigned hot;                   /* I */
	/* The pool's CPUs: the creating thread's affinity mask at create, or,
	 * created from a worker, that worker's pool's (not the worker's own,
	 * which may be pinned to one CPU).  Unpinned workers run on them,
	 * whichever thread spawned them (pin_self). */
	cpu_set_t cpus;                 /* I */
	bool cpus_known;                /* I: sched_getaffinity worked */
	/* A worker woken onto its waking worker's CPU steps off it
	 * (spread_from): unpinned, max_threads <= hot, max_threads > 1;
	 * CREW_SPREAD picks off, on or automatic (the default). */
	int spread;                     /* I: CREW__SPREAD_* */
	/* crew__pool_fan_out: at most this many workers awake or being
	 * woken, the one kicked included, when a crew_for split kicks a
	 * sleeper; 0: never */
	unsigned fan_cap;               /* I */
	_Atomic uint64_t fan_outs;      /* S: statistic */
	uint64_t spin_ns;               /* I: cfg.spin_us in ns */
	uint64_t fan_poll_ns;           /* I: worker_wait's poll after a
					   fan-out permit; 0 with fan_cap 0 */
	/* I: the slice each worker asks for at start (cfg.slice_us with
	 * CREW_SLICE_US_AUTO resolved), in ns; 0: none */
	uint64_t slice_ns;
	_Atomic uint64_t slice_workers; /* S: statistic (worker_main) */
	size_t stack_size;              /* I */
	char name_prefix[16];           /* I */
	crew_config cfg;                /* I */
	pthread_mutex_t spawn_lock;     /* guards spawning and nthreads */
	unsigned nthreads;              /* L: threads created (== nworkers) */
	pthread_mutex_t life_lock;      /* serialises shutdown */
	bool shut_down;                 /* life_lock */
	_Atomic uint64_t relay_stacks;  /* S: statistic (relay.c) */
};

#define CREW__PIN_BOUND 1u     /* the thread is bound to its place */
#define CREW__PIN_MEM_BOUND 2u /* its block is bound to its node */

/* The worker the calling thread is, or NULL. */
extern _Thread_local struct crew__worker *crew__tls_worker;
/* The pool whose on_thread_start/on_thread_stop hook the calling thread
 * runs, or NULL: shutting that pool down from there would join the
 * thread itself (CREW_EDEADLK). */
extern _Thread_local struct crew_pool *crew__tls_hook_pool;
/* Whether the calling thread must not shut p down: a worker of p, or in
 * one of p's thread hooks. */
static inline bool
crew__in_pool(const struct crew_pool *p)
{
	return (crew__tls_worker != NULL && crew__tls_worker->pool == p) ||
	    crew__tls_hook_pool == p;
}

unsigned crew__default_threads(void);
/* The same count for the CPU set `set` (NULL: the calling thread's). */
unsigned crew__set_threads(const cpu_set_t *set);
/* The CPUs the cgroup v2 quotas allow (cpu.c), 0 if unlimited: the
 * process's cgroup listed in proc_cgroup, under the cgroup2 mount root. */
unsigned crew__cgroup_cpus_at(const char *proc_cgroup, const char *root);
/* Parses a crew_pin name (none, cores, pus, numa; any case); false: none
 * of those (*out untouched). */
bool crew__pin_parse(const char *s, enum crew_pin *out);
const char *crew__pin_name(enum crew_pin mode);
/* Parses CREW_SPIN_US (decimal, at most CREW_SPIN_US_MAX); false: not
 * that (*out untouched). */
bool crew__spin_parse(const char *s, unsigned *out);
/* Parses CREW_SLICE_US: auto, keep, or decimal microseconds in
 * CREW_SLICE_US_MIN..CREW_SLICE_US_MAX; false: none of those (*out
 * untouched). */
bool crew__slice_parse(const char *s, unsigned *out);
/* The calling thread asks the kernel for a time slice of ns, 0: its
 * default (cpu.c); true if the kernel reports that slice now, or took a
 * request for the default. */
bool crew__slice_set(uint64_t ns);
/* Whether the calling thread changed its slice (crew__slice_set), which
 * threads it creates inherit. */
extern _Thread_local bool crew__tls_sliced;
/* Where crew__help_one may look (crew__wg_help picks): everywhere; only
 * the worker's LIFO stack, a relay to follow; with no relay to be had,
 * only its LIFO stack, or its LIFO stack and ring. */
enum { CREW__HELP_ALL, CREW__HELP_LIFO, CREW__HELP_LIFO_STUCK,
	CREW__HELP_OWN };
/* Runs one task of w's pool if one can be found where `where` allows;
 * false if none. */
bool crew__help_one(struct crew__worker *w, int where);

/* Whether a helping wait at this frame is past half the stack it runs on
 * (w->stack_half: the thread's, or a relay's). */
static inline __attribute__((always_inline)) bool
crew__stack_deep(const struct crew__worker *w)
{
	return (uintptr_t)__builtin_frame_address(0) < w->stack_half;
}

/* At thread start: half-way between the calling thread's stack bottom
 * and its current frame (stacks grow down); 0 if unknown.  *low: three
 * quarters of the way; *end: where a wait relays at once, near the bottom
 * (relay.c); both 0 if unknown. */
uintptr_t crew__stack_half(uintptr_t *low, uintptr_t *end);
/* The rest of a helping wait on wait-group word wg, on a relay stack of
 * the calling thread, w's (relay.c): returns 0 once the count is zero,
 * CREW_EAGAIN if no relay could be had. */
int crew__relay_wait(struct crew__worker *w, _Atomic uint32_t *wg);
/* Binds the relay path's libc calls once per process (relay.c). */
void crew__relay_warm(const struct crew__worker *w);
/* Unmaps the workers' relay stacks; after the workers are joined. */
void crew__relay_shutdown(struct crew_pool *p);
/* crew_wg_wait's helping loop for worker me (wg.c). */
void crew__wg_help(_Atomic uint32_t *wg, struct crew__worker *me);
/* Whether some worker of p is parked (a hint: relaxed). */
bool crew__pool_has_idle(struct crew_pool *p);
/* Wakes one more sleeper for work that can feed many (pool.c). */
void crew__pool_fan_out(struct crew_pool *p);
unsigned crew__pool_max_threads(struct crew_pool *p);

/* Outside helping waits, the owner runs at most this many tasks in a row
 * from its LIFO stack before it takes one from its ring (or, the ring
 * empty, the oldest task of the stack), so neither starves behind a task
 * that keeps rescheduling itself.  Inside them, where the newest task is
 * most often the child awaited, at most CREW__LIFO_MAX_HELP_RUNS. */
#define CREW__LIFO_MAX_RUNS 16u
#define CREW__LIFO_MAX_HELP_RUNS 256u
/* A search that failed only on a busy try-lock is retried this often
 * before the worker parks. */
#define CREW__BUSY_RETRIES 64u
/* A worker that left idle on a fan-out permit and found nothing polls
 * this long in all before it parks again (worker_wait); CREW_FAN_POLL_US
 * sets it, 0 parks at once. */
#define CREW__FAN_POLL_US 50u
/* A polling worker (worker_spin) reads the sync word at most this many
 * pauses apart. */
#define CREW__SPIN_PAUSES 16u
/* A worker looks at the global queue first every this many pops (Go). */
#define CREW__FAIR_TICK 61u
/* It looks at another worker's progress at most this often (victim_due). */
#define CREW__FAIR_NS 10000u
int crew__debug_dump(crew_pool *p, char *buf, size_t size);
void crew__worker_init(struct crew__worker *w, struct crew_pool *pool,
    unsigned index);

/* ------------------------------------------------------------------ */
/* Topology and pin plan (topo.c, the only file that includes hwloc).  */

/* A pool's plan: where each worker index runs and whom it steals from.
 * Immutable once built; any thread may read it. */
struct crew__plan;

/* One worker's place, in plain numbers (see crew_pin_place). */
struct crew__place {
	bool pinned;    /* the plan binds this worker */
	int cpu;        /* lowest OS CPU of the place; -1: none */
	int ncpus;      /* CPUs in the place; 0: none */
	int core, l2, l3; /* logical indices of the objects holding it; -1 */
	int numa;       /* OS index of the NUMA node holding it; -1 */
};

/* Victim classes, nearest first. */
enum { CREW__V_L2, CREW__V_L3, CREW__V_NUMA, CREW__V_REST };

/*
 * Builds the plan of a pool of nthreads workers on this machine, within
 * the CPUs of `cpus` (NULL: those the calling thread may use).  Never
 * fails for want of a topology (the plan then has no places and `failed`
 * is set when mode asked for pinning): only CREW_ENOMEM.
 */
int crew__topo_plan(struct crew__plan **out, enum crew_pin mode,
    unsigned nthreads, const cpu_set_t *cpus);
/*
 * Test and tool hook: the plan on a synthetic hwloc topology (desc as in
 * hwloc_topology_set_synthetic, e.g. "pack:2 numa:2 l3:2 core:4 pu:2"),
 * limited to the CPU list `usable` ("0-3,8"; NULL: all).  Such a plan
 * never binds.  CREW_EINVAL for a description or list hwloc rejects.
 */
int crew__topo_plan_synthetic(struct crew__plan **out, const char *desc,
    const char *usable, enum crew_pin mode, unsigned nthreads);
void crew__topo_plan_free(struct crew__plan *plan);
/* The mode in effect (CREW_PIN_NONE when the plan failed). */
enum crew_pin crew__topo_mode(const struct crew__plan *plan);
/* Pinning was asked for but no topology could be read. */
bool crew__topo_failed(const struct crew__plan *plan);
/* Places: the distinct places workers cycle through (0: none). */
unsigned crew__topo_nplaces(const struct crew__plan *plan);
void crew__topo_place(const struct crew__plan *plan, unsigned worker,
    struct crew__place *out);
/* The CREW__V_* class of victim `other` as seen from worker `self`. */
int crew__topo_class(const struct crew__plan *plan, unsigned self,
    unsigned other);
/*
 * Writes worker self's victim order among workers [0, n) (self left out)
 * to out and returns its length: class by class, nearest first, each in
 * round-robin order starting after self.
 */
unsigned crew__topo_victims(const struct crew__plan *plan, unsigned self,
    unsigned n, uint16_t *out);
/* The same order as unsigned, storing only the first `limit` entries. */
unsigned crew__topo_victims_u(const struct crew__plan *plan, unsigned self,
    unsigned n, unsigned *out, size_t limit);
/*
 * Binds the calling thread to worker's place.  1: bound; 0: the plan does
 * not bind it; -1: it should be bound but cannot be.  On 0 and -1 the
 * caller runs the worker on the pool's CPUs (pool.c, pin_self).
 */
int crew__topo_bind(const struct crew__plan *plan, unsigned worker);
/*
 * Allocates a CREW__CACHELINE-aligned block of size bytes (a multiple of
 * it) for worker: on its NUMA node when the plan binds it there
 * (*mem_bound = true), else from the heap.  NULL when out of memory.
 */
void *crew__topo_alloc(const struct crew__plan *plan, unsigned worker,
    size_t size, bool *mem_bound);
void crew__topo_free(const struct crew__plan *plan, void *block,
    size_t size, bool mem_bound);
/*
 * Writes the topology as the plan sees it (packages, NUMA nodes, L3, L2,
 * cores, PUs, with their CPUs) into buf, snprintf-style: returns the
 * length the whole text needs.
 */
int crew__topo_format(const struct crew__plan *plan, char *buf, size_t size);

#endif /* CREW_INTERNAL_H */
