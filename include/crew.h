/* SPDX-License-Identifier: MIT */
/*
 * crew: a work-stealing thread pool in C11.
 *
 * One header; everything in it is the public, stable API, except the names
 * that start with CREW__ or crew__ (internal helpers).  ABI rule: the same
 * CREW_VERSION_MAJOR means ABI compatible; the soname is libcrew.so.MAJOR.
 * Before 1.0 (MAJOR 0) each MINOR may change the ABI (0.2: crew_stats grew,
 * crew_config.spin_us; 0.3: crew_stats.relay_threads became relay_stacks;
 * 0.4: crew_config.slice_us, crew_stats grew; 0.5: crew_stats grew, the
 * fan-out counters); the soname is then
 * libcrew.so.0.MINOR.
 *
 * Threads: every function may be called from any thread unless its contract
 * says otherwise.  Tasks are intrusive and caller-owned: the library never
 * allocates or frees a crew_task.
 */
#ifndef CREW_H
#define CREW_H

#define CREW_VERSION_MAJOR 0
#define CREW_VERSION_MINOR 5
#define CREW_VERSION_PATCH 3
#define CREW_VERSION_HEX                                                      \
	((CREW_VERSION_MAJOR << 16) | (CREW_VERSION_MINOR << 8) |            \
	    CREW_VERSION_PATCH)

#if defined(_WIN32)
#define CREW_API
#elif defined(__GNUC__)
#define CREW_API __attribute__((visibility("default")))
#else
#define CREW_API
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Errors: negative errno-style codes.  crew_strerror() explains each. */
#define CREW_ERRNO_MAP(X)                                                     \
	X(EINVAL, -22, "invalid argument")                                     \
	X(ENOMEM, -12, "out of memory")                                        \
	X(EAGAIN, -11, "no worker thread could be started; task not queued")   \
	X(ESHUTDOWN, -108, "pool is shut down; task not queued")               \
	X(EDEADLK, -35, "called from a worker or thread hook of the same "     \
	    "pool (would deadlock)")

enum crew_error {
	CREW_OK = 0,
#define CREW__ERRNO_ENUM(name, value, text) CREW_##name = (value),
	CREW_ERRNO_MAP(CREW__ERRNO_ENUM)
#undef CREW__ERRNO_ENUM
	CREW__ERRNO_LAST = -4096
};

typedef struct crew_pool crew_pool;

/*
 * A task.  Embed it in your own object and recover the object in fn with
 * crew_container_of().  Between crew_submit()/crew_schedule() accepting it
 * and fn being called, the pool owns `next` and the task must not be
 * scheduled again or freed.  Once fn has started, the task is the caller's
 * again: fn may reschedule it, free it, or let it go out of scope.
 *
 * The task is 8-byte aligned because the queues keep flag bits in the low
 * bits of task addresses.
 */
typedef struct crew_task crew_task;
struct crew_task {
	/* public */
	void (*fn)(crew_task *task);
	/* private: library use only */
	crew_task *next;
}
#if defined(__GNUC__)
__attribute__((aligned(8)))
#endif
;

#define CREW_TASK_INIT(f) { (f), NULL }

#define crew_container_of(ptr, type, member)                                  \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/*
 * A batch: an unordered group of tasks scheduled with one push and one
 * notify.  Build it with crew_batch_push()/crew_batch_append(); an empty
 * batch is { NULL, NULL, 0 } (CREW_BATCH_INIT).
 */
typedef struct crew_batch {
	crew_task *head;
	crew_task *tail;
	size_t len;
} crew_batch;

#define CREW_BATCH_INIT { NULL, NULL, 0 }

/* Appends task to b.  CREW_EINVAL for NULL b, task or task->fn, or a b
 * that holds tasks but no tail. */
CREW_API int crew_batch_push(crew_batch *b, crew_task *task);
/* Moves every task of src to the end of dst and empties src.  CREW_EINVAL
 * (both left as they were) for NULL, dst == src, or a batch that holds
 * tasks but lacks its head or tail. */
CREW_API int crew_batch_append(crew_batch *dst, crew_batch *src);

/* Internal: crew_batch_push's body, shared by the exported function and
 * the inline definition below (an inline function with external linkage
 * may not call a static one, hence a macro). */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define CREW__NULLPTR nullptr
#elif defined(__cplusplus)
#define CREW__NULLPTR 0
#else
#define CREW__NULLPTR NULL
#endif
#define CREW__BATCH_PUSH_BODY(b, task)                                        \
	do {                                                                  \
		if ((b) == CREW__NULLPTR || (task) == CREW__NULLPTR ||         \
		    (task)->fn == CREW__NULLPTR ||                             \
		    ((b)->len != 0 && (b)->tail == CREW__NULLPTR))             \
			return CREW_EINVAL;                                    \
		(task)->next = CREW__NULLPTR;                                  \
		if ((b)->len == 0)                                             \
			(b)->head = (task);                                    \
		else                                                           \
			(b)->tail->next = (task);                              \
		(b)->tail = (task);                                            \
		(b)->len++;                                                    \
		return 0;                                                      \
	} while (0)

/*
 * With GCC or Clang, when optimising, crew_batch_push is also defined here
 * for inlining only (gnu_inline: a call that is not inlined, and the
 * function's address, reach the exported function; redeclaring it stays
 * valid): a call per task is most of the cost of building a large batch.
 * CREW_NO_INLINE turns this off.
 */
#if defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(CREW_NO_INLINE) && \
    !defined(CREW__DEFINE_API)
extern __inline __attribute__((__gnu_inline__, __always_inline__)) int
crew_batch_push(crew_batch *b, crew_task *task)
{
	CREW__BATCH_PUSH_BODY(b, task);
}
#endif

/*
 * Where worker threads run (crew_config.pin, or CREW_PIN in the
 * environment).  crew_pool_create() reads the machine's topology with
 * hwloc (once per process, about 1 ms) and plans a place for every worker
 * index within the pool's CPUs: those the creating thread may use (its
 * affinity mask), or, for a pool created from a worker, that worker's
 * pool's.  Unbound workers run on all of them, whichever thread happened
 * to start them (a worker pinned to one CPU, say):
 *
 *   CREW_PIN_NONE   workers are not bound (the default).  In a pool of no
 *                   more workers than usable CPUs, a worker woken by a
 *                   busy worker and started by Linux on that worker's CPU
 *                   moves itself off it: it narrows its affinity to the
 *                   other CPUs and restores it at once (a KVM guest's
 *                   kernel left both on one vCPU for whole runs).  By
 *                   default only workers that started free to run on
 *                   every online CPU do it, restoring a mask of all CPUs,
 *                   which the kernel keeps intersecting with the cgroup's
 *                   cpuset, as it does for a thread nobody restricted.
 *                   The environment variable CREW_SPREAD, read when the
 *                   pool is created, overrides: 0 never, 1 also for
 *                   workers started on fewer CPUs (restoring the mask
 *                   they started with, which from Linux 6.2 no longer
 *                   widens when the cpuset grows).
 *   CREW_PIN_CORES  worker i is bound to the i-th usable physical core (all
 *                   its hardware threads); cores in topology order (package
 *                   by package, L3 by L3, L2 by L2), so neighbouring
 *                   workers share caches.
 *   CREW_PIN_PUS    worker i is bound to the i-th usable hardware thread
 *                   (PU), in topology order: SMT siblings are neighbours.
 *   CREW_PIN_NUMA   worker i is bound to all usable CPUs of NUMA node
 *                   i mod N (N: the nodes that have usable CPUs): workers
 *                   are spread round-robin over the nodes.
 *
 * More workers than places: the plan wraps around (worker i takes place
 * i mod places), so several workers share a core, PU or node.  A pinned
 * worker binds itself before its first task (and before on_thread_start),
 * and its per-worker queues are allocated on its NUMA node.  Pinning never
 * makes crew_pool_create() or a worker fail: when the topology cannot be
 * read or a binding is refused, the worker runs unpinned (on all the CPUs
 * the plan may use, when that binding works) and crew_stats.pin_failures
 * counts it.
 *
 * Whatever the mode, an idle worker steals first from workers that share
 * its core or L2 cache, then its L3 cache, then its NUMA node, then from
 * the rest, each class in round-robin order starting after itself; with
 * CREW_PIN_NONE the classes are those the workers would have under
 * CREW_PIN_CORES.  crew_pool_pin_plan() reports places and orders, and
 * build/crew-topo prints them.
 */
enum crew_pin {
	CREW_PIN_NONE = 0,
	CREW_PIN_CORES = 1,
	CREW_PIN_PUS = 2,
	CREW_PIN_NUMA = 3
};

/* Pool configuration.  Always start from crew_config_init(). */
typedef struct crew_config {
	/*
	 * Most worker threads, spawned lazily.  0 = the CPUs this process may
	 * use (sched_getaffinity and the cgroup v2 cpu.max quotas of its
	 * cgroup and its ancestors, rounded up).  Clamped to
	 * CREW_MAX_THREADS.  Above that CPU count, a wake-up goes to one of
	 * the first CPU-count workers whenever one of them sleeps: the others
	 * run when those are all busy or blocked.
	 */
	unsigned max_threads;
	/* Worker stack size in bytes; 0 = the system default.  Otherwise at
	 * least PTHREAD_STACK_MIN (else crew_pool_create: CREW_EINVAL), and
	 * the room the worker's frames get: with a dynamically linked glibc,
	 * crew adds what the thread's static TLS takes from its stack.  One too large to map
	 * makes thread creation fail (CREW_EAGAIN from the submits that need
	 * a worker). */
	size_t stack_size;
	/* Worker names are "<prefix><index>", cut to 15 bytes. */
	const char *name_prefix;
	/* Called on each worker before its first task / after its last.  In
	 * on_thread_stop the thread is no longer a worker of the pool:
	 * crew_worker_index() returns -1 and a submit to the pool is refused
	 * (CREW_ESHUTDOWN), as from any thread after shutdown. */
	void (*on_thread_start)(void *ctx, unsigned index);
	void (*on_thread_stop)(void *ctx, unsigned index);
	void *hook_ctx;
	/*
	 * Worker placement (enum crew_pin above).  crew_config_init() sets it
	 * from the environment variable CREW_PIN (none, cores, pus or numa;
	 * anything else means none); a value stored after init wins.  It
	 * takes the place of one former reserved pointer: the struct keeps
	 * its size.
	 */
	enum crew_pin pin;
	/*
	 * How long, in microseconds, a worker that found nothing to do keeps
	 * polling for new work before it parks (sleeps on a futex).  A push
	 * while a worker polls costs no system call and is picked up within
	 * a microsecond or two; a parked worker takes a futex wake-up (tens
	 * of microseconds on a VM) and a scheduler decision.  Only the first
	 * CPU-count workers poll; they yield the CPU every fourth read after
	 * the first microsecond or so, and leave a push to the worker already
	 * searching for the pool when there is one.  0 parks at once: no CPU
	 * time at all is spent after the last task.  A poll lasts this long
	 * plus a microsecond or so (the clock is read every 8th read), a
	 * poller that lost the race for a notification to another worker
	 * polling on within it; each search that found nothing starts one,
	 * so a worker woken in vain polls again.  A poller that finds nothing else to run takes a whole
	 * CPU for that time (the yields return at once).
	 *
	 * crew_config_init() sets CREW_SPIN_US_DEFAULT (0: off), or the value
	 * of the environment variable CREW_SPIN_US (decimal,
	 * 0..CREW_SPIN_US_MAX) when that is set.  Off by default because it
	 * is a trade (README, Configuration): on 16 cores 50 us made a
	 * memory-bound parallel loop 7-9% faster and one outside thread
	 * submitting single tasks 2.5-2.8 times slower (eager pollers take the
	 * tasks one at a time instead of a woken worker taking many); on 2
	 * CPUs the wake-up latency after idle rose from 18.8 to 20.9 us.
	 * crew_pool_create() refuses a value above CREW_SPIN_US_MAX
	 * (CREW_EINVAL).
	 */
	unsigned spin_us;
	/*
	 * The time slice, in microseconds, each worker asks the kernel's
	 * fair scheduler for as it starts (before on_thread_start), keeping
	 * its policy, nice value and reset-on-fork flag.  Linux 6.12 and
	 * later take it (sched_setattr's sched_runtime); earlier kernels
	 * ignore it, and workers under a policy other than SCHED_OTHER and
	 * SCHED_BATCH do not ask.  A longer slice than the kernel's default
	 * (0.7 ms, 0.75 before Linux 6.15, times 1 + log2 of the CPUs rounded
	 * down, counting at most 8) means workers that share a CPU preempt
	 * each other less often, losing less to context switches and cold
	 * caches; a woken worker then also preempts the thread running on
	 * its CPU less eagerly.
	 *
	 * CREW_SLICE_US_AUTO (0, what crew_config_init() sets) asks for
	 * CREW_SLICE_US_OVERSUB when max_threads is above the CPUs the
	 * creating thread may use (affinity mask and cgroup v2 cpu.max
	 * quotas), where workers take turns on CPUs, and for nothing
	 * otherwise; there a worker that inherited a slice crew asked for
	 * (its creating thread a worker of another pool, spawning it from a
	 * task) goes back to the kernel's default, while a slice the creating
	 * thread set for itself is kept.  CREW_SLICE_US_KEEP never asks:
	 * each worker keeps the slice of the thread that happened to create
	 * it.  CREW_SLICE_US_MIN..CREW_SLICE_US_MAX asks for that on every
	 * worker.  The environment variable CREW_SLICE_US (auto, keep or
	 * decimal microseconds) sets it in crew_config_init().  Threads and
	 * processes a task creates inherit its worker's slice (across exec
	 * too) unless reset-on-fork is set.  crew_pool_create() refuses other
	 * values (CREW_EINVAL).
	 */
	unsigned slice_us;
	/* Reserved for later options; crew_config_init() zeroes it.  With
	 * 4-byte pointers spin_us took reserved[0] and slice_us reserved[1];
	 * with 8-byte ones spin_us sits in the padding after pin and
	 * slice_us took reserved[0]: the struct keeps its size on both. */
	void *reserved[sizeof(void *) == 4 ? 1 : 2];
} crew_config;

#define CREW_MAX_THREADS 16383u
#define CREW_SPIN_US_DEFAULT 0u
#define CREW_SPIN_US_MAX 1000000u
#define CREW_SLICE_US_AUTO 0u
#define CREW_SLICE_US_KEEP 0xffffffffu
#define CREW_SLICE_US_MIN 100u
#define CREW_SLICE_US_MAX 100000u
/* The slice CREW_SLICE_US_AUTO asks for in pools with more workers than
 * CPUs (fib with 8 workers on 2 CPUs: README, Configuration). */
#define CREW_SLICE_US_OVERSUB 10000u

/*
 * Fills cfg with the defaults, pin from CREW_PIN, spin_us from
 * CREW_SPIN_US and slice_us from CREW_SLICE_US (read with getenv() on
 * every call).  CREW_EINVAL for NULL.
 */
CREW_API int crew_config_init(crew_config *cfg);

/*
 * Creates a pool.  cfg NULL means defaults (crew_config_init()).  No thread
 * starts until work is scheduled.  Returns 0 and sets *out, or CREW_EINVAL
 * (NULL out, pin not a crew_pin value, spin_us above CREW_SPIN_US_MAX,
 * slice_us none of the values it takes, stack_size below
 * PTHREAD_STACK_MIN) /
 * CREW_ENOMEM.
 */
CREW_API int crew_pool_create(crew_pool **out, const crew_config *cfg);

/*
 * Schedules every task of batch (the batch is consumed; reset it before
 * reuse).  From a worker of the same pool the tasks go to that worker's own
 * queue, from any other thread to the pool's global queue.
 *
 * Returns 0: every task will run exactly once; writes made before the call
 * happen-before each task's fn starts.  CREW_ESHUTDOWN: the pool no longer
 * accepts work.  CREW_EAGAIN: the pool has no worker and none could be
 * started.  CREW_EINVAL: malformed batch (its chain does not hold exactly
 * len tasks ending at tail) or a task with a NULL fn.  pool NULL means
 * crew_global().
 * On any error no task of the batch was queued; the caller still owns them.
 * An empty batch returns 0.
 */
CREW_API int crew_schedule(crew_pool *pool, crew_batch batch);
/* crew_schedule() of one task. */
CREW_API int crew_submit(crew_pool *pool, crew_task *task);

/*
 * Stops accepting work from outside, runs every accepted task (and every
 * task those tasks schedule) to completion, then joins every worker thread.
 * When it returns no pool code runs any more.  Calls after the first return
 * 0 at once.  CREW_EDEADLK from a worker of this pool or from one of its
 * on_thread_start/on_thread_stop hooks (either would wait to join the
 * calling thread); CREW_EINVAL for NULL.
 * The pool's memory stays valid until crew_pool_destroy().
 */
CREW_API int crew_pool_shutdown(crew_pool *pool);
/* Shuts down (if not yet done) and frees.  CREW_EDEADLK from a worker or
 * a thread hook of this pool; CREW_EINVAL for NULL. */
CREW_API int crew_pool_destroy(crew_pool *pool);

/*
 * Wait group: a counter of outstanding work, caller-owned (it may live on
 * the stack).  Counts belong to the wait group, never to the pool.
 *
 *   crew_wg wg; crew_wg_init(&wg);
 *   crew_wg_add(&wg, n);            before the work is scheduled
 *   crew_wg_done(&wg);              once per unit of work, from any thread
 *   crew_wg_wait(&wg);              returns when the count is zero
 *
 * crew_wg_wait on a worker thread helps: it runs pool tasks (its own newest
 * work first, then its queues, then steals) until the count reaches zero.
 * Helping waits nest (a task it runs may wait in turn); once half of the
 * thread's stack is used, a wait there runs only tasks from the worker's
 * own LIFO stack, then (at once in the stack's last eighth or 8 KiB,
 * which on the smallest stacks is where "deep" starts) goes on helping on
 * a relay, a fresh stack that the thread switches to
 * until the count is zero (README: Structured parallelism), so work cannot
 * pile up on one stack.
 * The tasks a wait runs need not be the ones awaited: do not hold a lock
 * across it that any task of the pool may take (README: Usage rules).
 * On any other thread it sleeps on a futex without spinning.  Everything
 * before each crew_wg_done happens-before crew_wg_wait returns.  The final
 * crew_wg_done is its last access to the wait group, so the waiter may free
 * it as soon as crew_wg_wait returns.  At most 2^31 - 1 outstanding.
 */
typedef struct crew_wg {
	uint32_t private_state; /* private: accessed atomically */
	uint32_t private_reserved;
} crew_wg;

#define CREW_WG_INIT { 0, 0 }

CREW_API int crew_wg_init(crew_wg *wg);
/* CREW_EINVAL for NULL or a count that would pass 2^31 - 1. */
CREW_API int crew_wg_add(crew_wg *wg, size_t n);
/* CREW_EINVAL for NULL or when the count is already zero. */
CREW_API int crew_wg_done(crew_wg *wg);
/* 0 once the count is zero; CREW_EINVAL for NULL. */
CREW_API int crew_wg_wait(crew_wg *wg);

/*
 * Parallel for: calls fn(ctx, lo, hi) on disjoint subranges that cover
 * [begin, end) exactly once, and returns when all have run.  No call gets
 * more than grain indices, and a range of grain or fewer is not split
 * further.  grain 0: automatic, about 256 calls per worker, and 16 times
 * finer (calls and splits) within two such calls of a range's end, so
 * that the end of a loop is shared too.  The calling thread takes part.
 * Ranges are split lazily, only when another worker can take the other
 * half, with descriptors on the callers' stacks: no heap allocation.
 * Callable from any thread and from inside a task of the same pool (nested);
 * on a pool that has no worker, is shut down, or cannot start one, it
 * completes on the caller (still no call above grain indices).  pool NULL
 * means crew_global() (and the caller alone if that cannot be created).
 * Returns 0, or CREW_EINVAL (NULL fn, begin > end).
 */
CREW_API int crew_for(crew_pool *pool, size_t begin, size_t end, size_t grain,
    void (*fn)(void *ctx, size_t lo, size_t hi), void *ctx);
/* crew_for over an array: fn(ctx, &items[i * item_size], i) for each i.
 * CREW_EINVAL also for NULL items with count > 0, or count * item_size
 * beyond SIZE_MAX. */
CREW_API int crew_each(crew_pool *pool, void *items, size_t count,
    size_t item_size, void (*fn)(void *ctx, void *item, size_t index),
    void *ctx);

/*
 * The process-wide pool, created on first use (safe under racing first
 * calls) from crew_config_init()'s defaults, so CREW_PIN, CREW_SPIN_US and
 * CREW_SLICE_US apply, with max_threads from the environment variable
 * CREW_THREADS (decimal; unset or invalid: the CPUs) and workers named
 * crew-g<index>.
 * NULL if it cannot be created.  A NULL pool argument to crew_submit,
 * crew_schedule, crew_for and crew_each means this pool.
 * crew_global_shutdown() destroys it (a later crew_global() makes a new
 * one); it must not race other uses of the global pool.  It returns
 * CREW_EDEADLK from a worker of the global pool.
 */
CREW_API crew_pool *crew_global(void);
CREW_API int crew_global_shutdown(void);

/* Counters summed over the workers; each is read without stopping them. */
typedef struct crew_stats {
	uint64_t threads_spawned;   /* worker threads ever started */
	uint64_t threads_live;      /* spawned and not yet exited */
	uint64_t threads_idle;      /* parked or about to park now */
	uint64_t tasks_run;
	uint64_t local_pushes;      /* tasks pushed by workers to their own queues */
	uint64_t global_pushes;     /* tasks pushed to the global queue */
	uint64_t overflow_migrations; /* full-ring spills into overflow queues */
	uint64_t steal_attempts;    /* victims probed (known-empty ones are skipped) */
	uint64_t tasks_stolen;
	uint64_t parks;             /* futex sleeps */
	/* futex sleeps ended by a notification (a return on a fan-out
	 * permit counts in fan_out_taken instead) */
	uint64_t wakeups;
	uint64_t spawn_failures;
	unsigned max_threads;
	/* The crew_pin mode in effect: the configured one, or CREW_PIN_NONE
	 * when the topology could not be read. */
	unsigned pin_mode;
	uint64_t pinned_workers;    /* workers bound to their planned place */
	/* Workers that were to be bound but run unpinned: the topology could
	 * not be read, or the system refused the binding. */
	uint64_t pin_failures;
	/* polls for work before parking (spin_us, and after a fan-out
	 * permit: README, CREW_FAN_POLL_US) */
	uint64_t spins;
	uint64_t spin_hits;         /* polls after which the worker took a
	                               notification instead of parking */
	uint64_t spread_steps;      /* wake-ups that stepped off the waker's CPU
	                               (README: CREW_SPREAD) */
	/* helping-wait steps past half a stack, which take only the
	 * worker's own LIFO stack (crew_wg_wait; when it is empty the rest
	 * of the wait goes on on a relay stack) */
	uint64_t deep_waits;
	/* helping waits past half a stack continued on a fresh stack of the
	 * same thread, a relay (crew_wg_wait) */
	uint64_t relays;
	uint64_t relay_stacks;      /* relay stacks mapped (kept for reuse) */
	/* Workers the kernel reports running with the slice the pool asks
	 * for (crew_config.slice_us; 0 on kernels before Linux 6.12). */
	uint64_t slice_workers;
	unsigned slice_us;          /* that slice, 0: none asked for */
	/* Fan-outs: permits posted, each with a futex kick of a sleeper,
	 * when a range of a parallel loop first split into halves that
	 * split again while workers were parked and fewer than the cap
	 * awake (README: Configuration, CREW_FANOUT); the permits that
	 * workers took (the sleeper kicked, or a worker about to park),
	 * each followed by searches and polls of CREW_FAN_POLL_US in all
	 * until the worker runs a task or parks again (one taken while a
	 * notification is pending consumes that first); and the permits
	 * after which it ran a task before parking. */
	uint64_t fan_outs;
	uint64_t fan_out_taken;
	uint64_t fan_out_hits;
} crew_stats;

CREW_API void crew_pool_stats(crew_pool *pool, crew_stats *out);

/*
 * One worker's place in a pool's pin plan (crew_pool_pin_plan()).  Core
 * and cache numbers are hwloc logical indices (lstopo's "L#"); CPUs and
 * NUMA nodes are OS numbers (as sched_getcpu() and numactl give them).
 */
typedef struct crew_pin_place {
	int cpu;        /* lowest CPU of the worker's binding; -1: unpinned */
	int ncpus;      /* CPUs in the binding; 0: unpinned */
	/*
	 * The core, L2, L3 and NUMA node that hold the whole place (-1: none
	 * does, or the topology could not be read).  The victim order follows
	 * them; under CREW_PIN_NONE they are those of the place the worker
	 * would have under CREW_PIN_CORES.
	 */
	int core;
	int l2;
	int l3;
	int numa_node;
	int bound;      /* 1: the worker thread runs bound to its place */
	int mem_bound;  /* 1: its per-worker memory is bound to numa_node */
	int reserved[4]; /* zero */
} crew_pin_place;

/*
 * Reports where worker index `worker` (0 <= worker < max_threads) of pool
 * is (to be) pinned, and its victim order: the worker indices it tries to
 * steal from, in order (see enum crew_pin), over all max_threads workers;
 * at run time it skips workers not started yet.  Fills *place unless
 * NULL, and the first min(nvictims, order length) entries of victims.
 * Callable from any thread, inside tasks too, until crew_pool_destroy(),
 * whether the worker has started or not.  `bound` is set by the worker
 * before its first task, so it reads 1 on any thread that has seen that
 * task's effects.
 *
 * Returns the length of the victim order (max_threads - 1), or CREW_EINVAL
 * for a NULL pool, worker >= max_threads, or NULL victims with
 * nvictims > 0.
 */
CREW_API int crew_pool_pin_plan(crew_pool *pool, unsigned worker,
    crew_pin_place *place, unsigned *victims, size_t nvictims);

/* The worker index of the calling thread in pool, or -1 if it is none. */
CREW_API int crew_worker_index(const crew_pool *pool);

CREW_API const char *crew_strerror(int err);
/* CREW_VERSION_HEX of the library actually linked. */
CREW_API unsigned crew_version(void);
CREW_API const char *crew_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* CREW_H */
