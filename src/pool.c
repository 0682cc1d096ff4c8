/* SPDX-License-Identifier: MIT */
/*
 * The pool: lifecycle, lazy spawning, notify/wait, the worker loop,
 * scheduling and the draining shutdown.  The algorithm is kprotty's zap
 * pool as used in Bun (see shared/design/reference-design.md), with these
 * changes:
 *
 *  - workers live in a fixed array owned by the pool (allocated by the
 *    spawner, freed after pthread_join), not on their own stacks, so
 *    thieves can reach every worker until destroy and shutdown can join;
 *  - a spawn that fails gives its reservation back and reopens the pool to
 *    later notifies (bun #37738); the pool's first worker is started before
 *    any task is queued, so a pool that cannot start one refuses the task
 *    with CREW_EAGAIN instead of stranding it;
 *  - a new worker starts only once its spawner has published it (it
 *    passes through spawn_lock), so no work it pushes is hidden from the
 *    thieves its notifications wake;
 *  - shutdown drains: it closes the global queue (an atomic bit in the
 *    queue word, so every push is either accepted before the close or
 *    refused), sets CLOSING in the sync word, and waits until all workers
 *    are idle with no notification pending and every queue empty; only
 *    then does the state become SHUTDOWN and are the threads joined.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "queue.h"
#include "lifo.h"
#include "ring.h"
#include "sync.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

_Thread_local struct crew__worker *crew__tls_worker;
_Thread_local struct crew_pool *crew__tls_hook_pool;

static void notify_slow(struct crew_pool *p, bool is_waking);
static int submit_slow(crew_pool *p, crew_task *t);
static void spawn_retry(struct crew_pool *p);
static void spawn(struct crew_pool *p);

/* The sleepers a wake-up asks for first: the hot class, unless every
 * worker is in it. */
static inline uint32_t
wake_prefer(const struct crew_pool *p)
{
	return p->hot < p->max_threads ? CREW__EV_HOT : CREW__EV_ANY;
}

/* Every push that leaves work behind is followed by this. */
static inline void
notify(struct crew_pool *p, bool is_waking)
{
	uint32_t s;

	if (!is_waking) {
		/* release RMW, not a load (bun #28907): it reads the newest
		 * word, and if that says `notified`, the worker that clears
		 * the bit with its acquire CAS in wait() reads from this
		 * RMW's release sequence and so sees our push. */
		s = atomic_fetch_or_explicit(&p->sync, 0, memory_order_release);
		if (s & CREW__SYNC_NOTIFIED) {
			/* relaxed: a hint; spawn_retry re-checks with a swap */
			if (CREW__UNLIKELY(atomic_load_explicit(&p->spawn_retry,
			    memory_order_relaxed)))
				spawn_retry(p);
			return;
		}
	}
	notify_slow(p, is_waking);
}

/* ------------------------------------------------------------------ */
/* Spawning.                                                           */

static void *worker_main(void *arg);

void
crew__worker_init(struct crew__worker *w, struct crew_pool *pool,
    unsigned index)
{
	memset(w, 0, sizeof(*w));
	crew__ring_init(w);
	crew__queue_init(&w->ovf);
	atomic_init(&w->lifo.lock, 0);
	atomic_init(&w->lifo.n, 0);
	w->pool = pool;
	w->index = index;
	w->fair_left = CREW__FAIR_TICK;
	w->listed = true; /* work_map starts with every bit set */
}

/* Bytes of a worker's block: the struct, then its victim array. */
static size_t
worker_block_size(unsigned max_threads)
{
	size_t v = (size_t)(max_threads > 1 ? max_threads - 1 : 1) *
	    sizeof(uint16_t);

	return sizeof(struct crew__worker) +
	    (v + CREW__CACHELINE - 1) / CREW__CACHELINE * CREW__CACHELINE;
}

/*
 * glibc takes a thread's static TLS and descriptor out of the stack size
 * asked for: 4.7 KiB of a 16 KiB stack here, and with 9 KiB of a
 * program's TLS, nothing was left for the worker's own frames.  A pool's
 * stack_size is the room its tasks get, so we add what glibc takes: its
 * __pthread_get_minstack (the least stack for attr: PTHREAD_STACK_MIN, a
 * page and the static TLS, the same lookup as Rust's std and the JDK)
 * less PTHREAD_STACK_MIN and the page.  Without it (a static link,
 * another libc: musl maps TLS above the size asked for) nothing is added.
 * Looked up at pool creation (minstack_init), not first under
 * spawn_lock: dlsym takes the loader's lock, which a constructor
 * submitting to the pool from dlopen would hold in the other order.
 */
typedef size_t (*minstack_fn)(const pthread_attr_t *);
static minstack_fn minstack;
static pthread_once_t minstack_once = PTHREAD_ONCE_INIT;

static void
minstack_lookup(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "__pthread_get_minstack");

	memcpy(&minstack, &sym, sizeof(minstack));
}

static void
minstack_init(void)
{
	(void)pthread_once(&minstack_once, minstack_lookup);
}

static size_t
stack_with_tls(const pthread_attr_t *attr, size_t size)
{
	size_t least, base;

	/* minstack was set by crew_pool_create's minstack_init, ordered
	 * before us by whatever handed us the pool */
	if (minstack == NULL)
		return size;
	least = minstack(attr);
	base = (size_t)PTHREAD_STACK_MIN + (size_t)sysconf(_SC_PAGESIZE);
	if (least > base && size <= SIZE_MAX - (least - base))
		size += least - base;
	return size;
}

/* With spawn_lock held and a `spawned` reservation made: start a worker. */
static int
spawn_locked(struct crew_pool *p)
{
	unsigned idx = p->nthreads;
	size_t size = worker_block_size(p->max_threads);
	struct crew__worker *w;
	pthread_attr_t attr;
	bool mem_bound;
	int rc;

	if (idx >= p->max_threads)
		return CREW_EAGAIN;
	/* On the worker's NUMA node when it is pinned to one. */
	w = crew__topo_alloc(p->plan, idx, size, &mem_bound);
	if (w == NULL)
		return CREW_ENOMEM;
	crew__worker_init(w, p, idx);
	w->victims = (uint16_t *)(void *)(w + 1);
	w->mem_bound = mem_bound;
	w->block_size = size;
	/* We create the thread, so it inherits our slice. */
	w->slice_inherited = crew__tls_sliced;
	/* relaxed: pthread_create orders it before the worker's own
	 * update and its tasks; a failed start clears it below */
	atomic_store_explicit(&p->pin_state[idx],
	    mem_bound ? CREW__PIN_MEM_BOUND : 0, memory_order_relaxed);
	rc = pthread_attr_init(&attr) != 0 ? CREW_ENOMEM : 0;
	if (rc == 0) {
		if (p->stack_size)
			(void)pthread_attr_setstacksize(&attr,
			    stack_with_tls(&attr, p->stack_size));
		if (pthread_create(&w->thread, &attr, worker_main, w) != 0)
			rc = CREW_EAGAIN;
		pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		/* relaxed: no thread has this index */
		atomic_store_explicit(&p->pin_state[idx], 0,
		    memory_order_relaxed);
		crew__topo_free(p->plan, w, size, mem_bound);
		return rc;
	}
	p->workers[idx] = w;
	p->nthreads = idx + 1;
	/* release: publishes workers[idx] to thieves' acquire load */
	atomic_store_explicit(&p->nworkers, idx + 1, memory_order_release);
	return 0;
}

static void
signal_drained(struct crew_pool *p)
{
	/* release: the shutdown thread's acquire load of the epoch then
	 * sees the sync word that made us quiescent */
	atomic_fetch_add_explicit(&p->drain_epoch, 1, memory_order_release);
	crew__futex_wake(&p->drain_epoch, INT_MAX);
}

static uint64_t
clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Gives back a reservation whose thread did not start. */
static void
spawn_rollback(struct crew_pool *p)
{
	uint32_t s, n;
	uint64_t backoff;
	bool wake;

	/* relaxed: statistic */
	atomic_fetch_add_explicit(&p->spawn_failures, 1, memory_order_relaxed);
	/* relaxed: backoff bookkeeping; only timing depends on it */
	backoff = atomic_load_explicit(&p->retry_backoff_ns,
	    memory_order_relaxed);
	backoff = backoff == 0 ? 1000000u : backoff * 2;
	if (backoff > 200000000u)
		backoff = 200000000u;
	/* relaxed: as above */
	atomic_store_explicit(&p->retry_backoff_ns, backoff,
	    memory_order_relaxed);
	/* relaxed: as above */
	atomic_store_explicit(&p->retry_after_ns,
	    clock_ns(CLOCK_MONOTONIC_COARSE) + backoff, memory_order_relaxed);
	/* relaxed: starting guess for the CAS */
	s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	do
		wake = crew__sync_spawn_failed(s, &n);
	/* release: when the failure turns into a wake-up, it publishes the
	 * pushes it covers, like notify_slow's CAS */
	while (!atomic_compare_exchange_weak_explicit(&p->sync, &s, n,
	    memory_order_release, memory_order_relaxed));
	if (wake)
		crew__event_notify(&p->idle_event, wake_prefer(p));
	else
		/* relaxed: a hint read by notify's fast path */
		atomic_store_explicit(&p->spawn_retry, 1, memory_order_relaxed);
	if ((n & CREW__SYNC_CLOSING) && crew__sync_quiescent(n))
		signal_drained(p);
}

/*
 * A notify found `notified` set after a failed spawn: try once more to add
 * a worker (with backoff), so a pool whose workers are all busy or blocked
 * does not stay short of threads.
 */
static __attribute__((noinline)) void
spawn_retry(struct crew_pool *p)
{
	uint32_t s, n;

	/* relaxed: backoff bookkeeping */
	if (clock_ns(CLOCK_MONOTONIC_COARSE) <
	    atomic_load_explicit(&p->retry_after_ns, memory_order_relaxed))
		return;
	/* relaxed: one retrier at a time; the sync CAS below decides */
	if (!atomic_exchange_explicit(&p->spawn_retry, 0, memory_order_relaxed))
		return;
	/* relaxed: starting guess for the CAS */
	s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	do {
		if (crew__sync_state(s) == CREW__SHUTDOWN ||
		    crew__sync_spawned(s) >= p->max_threads ||
		    crew__sync_idle(s) > 0)
			return;
		n = s + CREW__SYNC_SPAWNED_ONE;
	/* relaxed: a reservation publishes nothing; the new worker finds
	 * `notified` set and searches */
	} while (!atomic_compare_exchange_weak_explicit(&p->sync, &s, n,
	    memory_order_relaxed, memory_order_relaxed));
	spawn(p);
}

static void
spawn(struct crew_pool *p)
{
	int rc;

	pthread_mutex_lock(&p->spawn_lock);
	rc = spawn_locked(p);
	pthread_mutex_unlock(&p->spawn_lock);
	if (rc != 0)
		spawn_rollback(p);
	else
		/* relaxed: backoff bookkeeping */
		atomic_store_explicit(&p->retry_backoff_ns, 0,
		    memory_order_relaxed);
}

/*
 * Before the first task is queued, make sure one worker exists.  Workers
 * never exit before SHUTDOWN, so afterwards every queued task has a thread
 * that will see its notification.
 *
 * The reservation is a CAS that refuses a word with CLOSING set: drain()
 * sets CLOSING before it looks for quiescence, on the same word, so either
 * our reservation comes first and drain waits for our worker to go idle,
 * or we see CLOSING and hand the task back.  A plain check of the global
 * queue's CLOSED flag followed by an add let a submitter that was
 * preempted between the two reserve on a word already SHUTDOWN, and start
 * a worker after drain: crew_pool_shutdown then joined it while holding
 * spawn_lock, which the worker's start gate takes (a hang), or the
 * worker's start hook had a task accepted onto its own stack and exited
 * without running it (found by an adversarial review; test
 * conc/first_submit_races_shutdown).
 */
static int
ensure_worker(struct crew_pool *p)
{
	uint32_t s;
	int rc = 0;

	pthread_mutex_lock(&p->spawn_lock);
	/* relaxed: under spawn_lock, which orders nthreads */
	if (p->nthreads == 0) {
		CREW__CHAOS();
		/* relaxed: starting guess for the CAS */
		s = atomic_load_explicit(&p->sync, memory_order_relaxed);
		do {
			/* (a shut-down word keeps CLOSING: drain sets it
			 * first, crew__sync_shutdown keeps it) */
			if (s & CREW__SYNC_CLOSING) {
				rc = CREW_ESHUTDOWN;
				break;
			}
		/* relaxed: a reservation publishes nothing; its place in
		 * the word's modification order against drain's CLOSING is
		 * what counts.  No notify can spawn while nthreads == 0
		 * (nothing is queued). */
		} while (!atomic_compare_exchange_weak_explicit(&p->sync, &s,
		    s + CREW__SYNC_SPAWNED_ONE, memory_order_relaxed,
		    memory_order_relaxed));
		if (rc == 0)
			rc = spawn_locked(p);
	}
	pthread_mutex_unlock(&p->spawn_lock);
	if (rc == CREW_EAGAIN || rc == CREW_ENOMEM) {
		spawn_rollback(p);
		rc = CREW_EAGAIN;
	}
	return rc;
}

static CREW__HOT void
notify_slow(struct crew_pool *p, bool is_waking)
{
	/* relaxed: starting guess for the CAS */
	uint32_t s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	uint32_t n;
	int act;
	bool spinner = false;

	for (;;) {
		act = crew__sync_notify(s, is_waking, p->max_threads, &n);
		if (act == CREW__N_DONE)
			return;
		/* release: publishes our push to whoever consumes the
		 * notification with the acquire CAS in worker_wait();
		 * acquire: see `spinner` below */
		if (atomic_compare_exchange_weak_explicit(&p->sync, &s, n,
		    memory_order_acq_rel, memory_order_relaxed))
			break;
	}
	CREW__CHAOS();
	/*
	 * A worker polling in worker_spin takes the notification without a
	 * futex wake-up: the word is the same (SIGNALED, notified), only the
	 * token is not posted.  Read after our CAS, not before it: the word
	 * can leave and come back to the value we compared (a poller commits
	 * idle, another worker cycles WAKING to PENDING), so a count read
	 * before could be of a poller now asleep (found in review).  Every
	 * poller leaves `spinning` before its next RMW of the word (consume
	 * or idle commit, both release), so one whose RMW precedes our CAS
	 * is seen gone here (our CAS reads from that release sequence:
	 * relaxed is enough after it); one still counted makes its RMW after
	 * our CAS, finds `notified` and consumes it (or someone else did).
	 */
	if (act == CREW__N_WAKE && (p->spin_ns | p->fan_poll_ns) != 0)
		/* relaxed: ordered after our acq_rel CAS (see above) */
		spinner = atomic_load_explicit(&p->spinning,
		    memory_order_relaxed) > 0;
	CREW__CHAOS();
	if (act == CREW__N_WAKE && !spinner) {
		if (p->spread != CREW__SPREAD_OFF)
			/* relaxed: a placement hint for the wakee
			 * (spread_from), nothing to order */
			atomic_store_explicit(&p->waker_cpu,
			    crew__tls_worker != NULL ? sched_getcpu() : -1,
			    memory_order_relaxed);
		crew__event_notify(&p->idle_event, wake_prefer(p));
	} else if (act == CREW__N_SPAWN) {
		spawn(p);
	}
}

/*
 * The waking thread found a task: hand the role on before running it, or,
 * when no other work is visible (`pushed` false: see worker_main) and
 * nothing was notified meanwhile, give the role back without a wake-up
 * (which would only find nothing).
 */
static CREW__HOT void
handoff_waking(struct crew_pool *p, bool pushed)
{
	/* relaxed: starting guess for the CAS */
	uint32_t s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	uint32_t n;

	if (!pushed) {
		while (crew__sync_release_waking(s, &n)) {
			/* relaxed: publishes nothing; a push after this in
			 * modification order sees PENDING and wakes */
			if (atomic_compare_exchange_weak_explicit(&p->sync, &s,
			    n, memory_order_relaxed, memory_order_relaxed))
				return;
		}
	}
	notify(p, true);
}

/* ------------------------------------------------------------------ */
/* The worker.                                                         */

/* An on/off environment switch: "0" gives off, "1" on, anything else
 * (unset included) automatic. */
static int
env_switch(const char *name, int off, int on, int automatic)
{
	const char *v = getenv(name);

	if (v != NULL && strcmp(v, "0") == 0)
		return off;
	if (v != NULL && strcmp(v, "1") == 0)
		return on;
	return automatic;
}

/* CREW_SPREAD (spread_from) */
static int
spread_wanted(void)
{
	return env_switch("CREW_SPREAD", CREW__SPREAD_OFF, CREW__SPREAD_ON,
	    CREW__SPREAD_AUTO);
}

/*
 * An unpinned worker just woken by another worker, and running on that
 * worker's CPU, steps off it: it narrows its own affinity to the other
 * CPUs it may use, which moves it now, and restores it at once.  Linux
 * often places a futex wakee on its waker's CPU, and in a KVM guest whose
 * other vCPU is halted it could leave both workers there for a whole run:
 * on 2 vCPUs, half of the 2-worker fib runs took twice as long, with each
 * worker runnable-but-waiting for the other's run time (schedstat); a
 * worker that wakes another keeps running, since it woke it for work left
 * over.
 *
 * The restore must leave the thread as if nothing happened.  Since Linux
 * 6.2 any sched_setaffinity() also records the mask as the thread's own
 * request, so restoring the mask the worker started with would stop a
 * later growth of the cgroup's cpuset from reaching it.  So by default
 * (CREW_SPREAD unset: automatic) only a worker that started free to run
 * on every online CPU steps off, and it restores a mask of all CPUs, which
 * is what an unrestricted thread's request amounts to: the kernel keeps
 * intersecting it with the cpuset.  A worker started on fewer CPUs (a
 * taskset, a cpuset, on_thread_start) never steps off unless CREW_SPREAD=1
 * asks for it, which restores the mask it started with.  CREW_SPREAD=0
 * turns it off.  The mask is compared with the one the worker started with
 * (after pinning and on_thread_start) before each step, and the step is
 * skipped for good once it differs; an affinity set by another thread
 * between that check and our restore is still lost.  Only for pools not
 * pinned (CREW_PIN_NONE) that have no more workers than usable CPUs
 * (p->spread); a wake-up by a thread that is not a worker (an outside
 * submitter, which then usually sleeps) is left to the kernel: running
 * there is the fastest start.
 */
static __attribute__((noinline)) void
spread_from(struct crew_pool *p, struct crew__worker *w)
{
	/* relaxed: a hint (see notify_slow); taken, so that it serves one
	 * wake-up only */
	int wc = atomic_exchange_explicit(&p->waker_cpu, -1,
	    memory_order_relaxed);
	int cpu;
	cpu_set_t now, others;

	if (wc < 0 || w->spread_off || (cpu = sched_getcpu()) != wc)
		return;
	if (sched_getaffinity(0, sizeof(now), &now) != 0 ||
	    !CPU_EQUAL(&now, &w->spread_mask) || CPU_COUNT(&now) < 2 ||
	    !CPU_ISSET(cpu, &now)) {
		w->spread_off = true;	/* someone else set it: leave it be */
		return;
	}
	others = now;
	CPU_CLR(cpu, &others);
	if (sched_setaffinity(0, sizeof(others), &others) != 0)
		return;
	CREW__STAT_ADD(w, spread_steps, 1);
	if (p->spread == CREW__SPREAD_AUTO)
		memset(&now, 0xff, sizeof(now)); /* every CPU: see above */
	if (sched_setaffinity(0, sizeof(now), &now) != 0 &&
	    sched_setaffinity(0, sizeof(now), &now) != 0)
		w->spread_off = true;	/* left narrowed: never again */
}

/* At worker start: whether this worker takes part (spread_from). */
static void
spread_init(struct crew_pool *p, struct crew__worker *w)
{
	w->spread_off = p->spread == CREW__SPREAD_OFF ||
	    sched_getaffinity(0, sizeof(w->spread_mask), &w->spread_mask) != 0;
	/* automatic: only a worker free to run on every online CPU */
	if (!w->spread_off && p->spread == CREW__SPREAD_AUTO)
		w->spread_off = CPU_COUNT(&w->spread_mask) !=
		    (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/*
 * Before committing to sleep, one of the first CPU-count workers polls the
 * sync word for up to spin_ns (cfg.spin_us): work pushed meanwhile sets
 * `notified`, which it then consumes like a woken worker, with no futex
 * wake-up on either side (notify_slow leaves the wake-up to pollers).
 *
 * It leaves a notification alone while another thread holds the waking
 * role: that one searches on the pool's behalf and takes it, as it would
 * with every other worker parked, so polling workers do not all rush at
 * each push.  Reads back off to CREW__SPIN_PAUSES pauses apart, so that
 * pollers do not keep the line away from pushers, then yield every fourth
 * read to a thread sharing the CPU.  Even so, one outside thread feeding
 * 16 polling workers single tasks ran 2.8 times slower than with parked
 * workers (6.0 against 2.15 Mtask/s), as before these two measures: each
 * poller takes tasks one at a time where a woken worker takes a batch.
 * That is why spin_us is off by default.  It stops early for a shutdown
 * or a drain.  Returns the word last read, and clears *again unless it
 * stopped on a notification: a poller that then loses the race for it
 * (another worker consumed it first) polls on until *until, the deadline
 * of its first poll (0: not set yet; ns from then), instead of parking at
 * once (found in review).  Sets *polled unless that deadline had passed.
 * Also the poll after a fan-out permit (worker_wait), whatever the
 * worker's index and spin_us.
 */
static __attribute__((noinline)) uint32_t
worker_spin(struct crew_pool *p, struct crew__worker *w, uint32_t s,
    bool is_waking, uint64_t ns, uint64_t *until, bool *again, bool *polled)
{
	unsigned reads = 0, pauses = 1;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);

	if (*until == 0) {
		*until = now + ns;
	} else if (now >= *until) {
		*again = false;
		return s;
	}
	*polled = true;
	CREW__STAT_ADD(w, spins, 1);
	/* relaxed: a hint for notify_slow; see its comment for the order */
	atomic_fetch_add_explicit(&p->spinning, 1, memory_order_relaxed);
	for (;;) {
		if ((s & CREW__SYNC_CLOSING) ||
		    crew__sync_state(s) == CREW__SHUTDOWN) {
			*again = false;
			break;
		}
		if ((s & CREW__SYNC_NOTIFIED) &&
		    (is_waking || crew__sync_state(s) != CREW__WAKING))
			break;
		reads++;
		if (pauses == CREW__SPIN_PAUSES && (reads & 3) == 0) {
			/* let a thread that shares our CPU run: the
			 * producer we wait for may be one */
			sched_yield();
		} else {
			for (unsigned i = 0; i < pauses; i++)
				crew__cpu_relax();
			if (pauses < CREW__SPIN_PAUSES)
				pauses *= 2;
		}
		if ((reads & 7) == 0 &&
		    clock_ns(CLOCK_MONOTONIC) >= *until) {
			*again = false;
			break;
		}
		/* relaxed: polled; the consume CAS acquires */
		s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	}
	/* relaxed: ordered before our next RMW of the word (consume or idle
	 * commit) by that CAS's release; see notify_slow */
	atomic_fetch_sub_explicit(&p->spinning, 1, memory_order_relaxed);
	return s;
}

/* A worker that took a fan-out permit (worker_wait), until it runs a task
 * or parks again. */
struct fan_state {
	bool on;
	uint64_t until;		/* end of its poll; 0: not started */
};

/*
 * Returns -1 at shutdown, 1 if we now hold the waking role, else 0.
 * fan->on comes back set when we left idle on a fan-out permit; while it
 * stays set (worker_main clears it when we run a task), a search that
 * found nothing polls up to fan_poll_ns in all before we commit idle.
 */
static CREW__HOT int
worker_wait(struct crew_pool *p, struct crew__worker *w, bool is_waking,
    struct fan_state *fan)
{
	bool idle = false;
	bool poll = p->spin_ns != 0 && w->index < p->hot, polled = false;
	bool fan_poll = fan->on && p->fan_poll_ns != 0;
	uint64_t poll_until = 0;
	/* relaxed: starting guess for the CASes */
	uint32_t s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	uint32_t n;

	for (;;) {
		switch (crew__sync_wait(s, idle, is_waking, &n)) {
		case CREW__W_SHUTDOWN:
			return -1;
		case CREW__W_CONSUME:
			/* acquire: pairs with the release of the notify that
			 * set the bit, so the pushed tasks are visible;
			 * release: orders worker_spin's leaving `spinning`
			 * before this, for notify_slow's read after its CAS */
			if (atomic_compare_exchange_weak_explicit(&p->sync, &s,
			    n, memory_order_acq_rel, memory_order_relaxed)) {
				if (polled)
					CREW__STAT_ADD(w, spin_hits, 1);
				return is_waking ||
				    crew__sync_state(s) == CREW__SIGNALED;
			}
			continue;
		case CREW__W_IDLE:
			/*
			 * Left idle on a fan-out permit and found nothing: the
			 * split that set it off went to the token's wakee, or
			 * is still to come (the ranges split again as they are
			 * taken).  Poll for the next notification rather than
			 * park at once, so the permit's wake-up is not spent
			 * for nothing.  crew__pool_fan_out counts us awake, so
			 * fan-outs stop once fan_cap (the CPUs by default) are
			 * awake or coming: pollers seldom take a CPU from a
			 * busy worker (the cap reads hints, and token wake-ups
			 * are not capped).
			 */
			if (fan_poll) {
				s = worker_spin(p, w, s, is_waking,
				    p->fan_poll_ns, &fan->until, &fan_poll,
				    &polled);
				continue;
			}
			if (poll) {
				s = worker_spin(p, w, s, is_waking, p->spin_ns,
				    &poll_until, &poll, &polled);
				continue;
			}
			/* release: orders worker_spin's leaving `spinning`
			 * before this, for notify_slow's read after its CAS.
			 * A notify after this in modification order sees idle
			 * > 0 and posts a token. */
			if (!atomic_compare_exchange_weak_explicit(&p->sync, &s,
			    n, memory_order_release, memory_order_relaxed))
				continue;
			is_waking = false;
			idle = true;
			if ((n & CREW__SYNC_CLOSING) && crew__sync_quiescent(n))
				signal_drained(p);
			break; /* to sleep, without re-reading the word */
		case CREW__W_SLEEP:
			/*
			 * Idle, nothing notified.  Right after a permit (the
			 * only way here with fan->on: a call entered with it
			 * commits idle and sleeps without this step), whose
			 * taker found `notified` set and went to consume it:
			 * another worker consumed it first.  Leave idle on
			 * the permit after all, as below, rather than park
			 * with it unused (found in review).
			 */
			if (fan->on) {
				/* acquire: as below */
				if (atomic_compare_exchange_weak_explicit(
				    &p->sync, &s, s - 1, memory_order_acquire,
				    memory_order_relaxed))
					return 0;
				continue;
			}
			break;
		}
		CREW__CHAOS();
		CREW__STAT_ADD(w, parks, 1);
		fan->on = crew__event_wait(&p->idle_event,
		    w->index < p->hot ? CREW__EV_HOT : CREW__EV_COLD);
		fan->until = 0;
		fan_poll = fan->on && p->fan_poll_ns != 0;
		/* relaxed: re-examined by the loop */
		s = atomic_load_explicit(&p->sync, memory_order_relaxed);
		if (!fan->on) {
			CREW__STAT_ADD(w, wakeups, 1);
			/* not after a fan-out permit: the hint is for the
			 * wakee of the token (a fan-out sets none) */
			if (p->spread != CREW__SPREAD_OFF)
				spread_from(p, w);
			continue;
		}
		/*
		 * A fan-out permit: leave idle and search beside the waking
		 * thread, without the role (W_SLEEP above: the CAS to idle -
		 * 1, acquire: it reads from the release sequence of the
		 * notifies before it, so their pushes are visible).  A
		 * notification pending now is consumed the usual way instead
		 * (a shut-down word has `notified` set: crew__sync_shutdown,
		 * and the loop top leaves).  Like a worker back from a task,
		 * we commit idle again, after a poll (W_IDLE), if we find
		 * nothing.  The permit may have been meant for another
		 * sleeper (the kick woke one that took a token, or none yet)
		 * and we may not have slept at all: we then search and poll
		 * before parking, for the work that set it off.
		 */
		CREW__STAT_ADD(w, fan_out_taken, 1);
	}
}

/*
 * Fan-out: work that can feed more CPUs than are awake was just pushed (a
 * parallel loop's range split off in halves that split again, crew_for):
 * kick one more sleeper (crew__event_fan_out) beside the one the notify
 * may wake.  The single waking thread hands its role on one wake-up at a
 * time, so a loop that can feed every CPU reaches them in a chain of
 * wake-ups, each a futex wake plus the time the kernel (and, in a VM, the
 * host) takes to run the sleeper: 15 in a row on a 16-core KVM guest,
 * where one took 45-75 us, at the start of every loop.  Each range that
 * starts splitting also fanning out makes that chain a tree.  The sleeper
 * kicked may find nothing (the work was taken meanwhile): it then commits
 * idle and parks again, the cost of one wake-up.  Not for every push with
 * leftovers: on 16 cores, fanning out from every woken worker whose first
 * task left work behind also woke workers for fork-join trees that had
 * nothing for them yet (qsort 173.5 -> 186.7 ms, 5 interleaved rounds).
 * p->fan_cap bounds the workers awake or being woken: the CPUs
 * (automatic), max_threads (CREW_FANOUT=1, which the tests use to run the
 * path on 2 CPUs) or 0 (CREW_FANOUT=0: off).
 */
void
crew__pool_fan_out(struct crew_pool *p)
{
	uint32_t s, f;
	unsigned idle, awake, coming;

	if (p->fan_cap == 0)
		return;
	/* relaxed: hints; a wrong guess costs one wake-up, or misses one */
	s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	/* relaxed: as above */
	f = atomic_load_explicit(&p->idle_event.fan_out, memory_order_relaxed);
	idle = crew__sync_idle(s);
	awake = crew__sync_spawned(s) - idle;
	/* permits not yet taken, and a token posted and not yet taken: the
	 * sleepers already on their way */
	coming = f + (crew__sync_state(s) == CREW__SIGNALED);
	/* (a shut-down word counts no one idle: crew__sync_shutdown) */
	if ((s & CREW__SYNC_CLOSING) || idle < coming + 1 ||
	    awake + coming + 1 > p->fan_cap)
		return;
	if (crew__event_fan_out(&p->idle_event, wake_prefer(p)))
		/* relaxed: a statistic */
		atomic_fetch_add_explicit(&p->fan_outs, 1,
		    memory_order_relaxed);
}

/* Takes one task from q without refilling the ring (fairness check). */
static crew_task *
queue_take_one(struct crew__queue *q, bool *more)
{
	crew_task *chain, *t;

	if (crew__queue_trylock(q, &chain) != CREW__Q_OK)
		return NULL;
	t = crew__queue_pop_locked(q, &chain);
	crew__queue_unlock(q, chain);
	*more = chain != NULL || crew__queue_maybe_nonempty(q);
	return t;
}

/*
 * The workers published so far changed: recompute w's victim order over
 * them (the plan's topology order, later workers left out).  Runs once
 * per spawn per worker, never on a path that finds work locally.
 */
static __attribute__((noinline)) void
victims_rebuild(struct crew_pool *p, struct crew__worker *w, uint32_t n)
{
	w->nvictims = crew__topo_victims(p->plan, w->index, n, w->victims);
	w->nvictims_of = n;
}

/* Brings w's victim order up to date with the published workers. */
static inline void
victims_refresh(struct crew_pool *p, struct crew__worker *w)
{
	/* acquire: pairs with the release in spawn_locked; makes the
	 * published workers[] entries readable */
	uint32_t n = atomic_load_explicit(&p->nworkers, memory_order_acquire);

	if (CREW__UNLIKELY(w->nvictims_of != n))
		victims_rebuild(p, w, n);
}

/*
 * Fairness check, other workers: w watches its victims one at a time.  A
 * victim that has not finished a task since w last looked (blocked, or in
 * one long task) gives up one task, oldest first (overflow queue, ring,
 * LIFO stack); one that has moves w on to the next victim.  So a worker
 * that keeps itself busy takes nothing from workers that make progress
 * (their queues stay theirs, and so does the locality of fork-join work),
 * but reaches the queued tasks of a stuck one within two looks.  *more
 * tells whether that victim still holds work.
 */
static crew_task *
victim_take_one(struct crew_pool *p, struct crew__worker *w, bool *more)
{
	struct crew__worker *v;
	crew_task *t, *last;
	uint64_t runs;
	uint32_t got;

	victims_refresh(p, w);
	if (w->nvictims == 0)
		return NULL;
	v = p->workers[w->victims[w->fair_victim % w->nvictims]];
	/* relaxed: a progress hint (the owner's statistic) */
	runs = atomic_load_explicit(&v->stats.tasks_run, memory_order_relaxed);
	if (!w->fair_armed || runs != w->fair_seen) {
		if (w->fair_armed)      /* it moved on: watch the next one */
			w->fair_victim++;
		w->fair_armed = !w->fair_armed;
		w->fair_seen = runs;
		return NULL;
	}
	w->fair_armed = false;
	w->fair_victim++;
	if ((t = queue_take_one(&v->ovf, more)) == NULL &&
	    (t = crew__ring_steal_one(v)) == NULL &&
	    (t = crew__lifo_steal(&v->lifo, false, &last, &got)) == NULL)
		return NULL;
	CREW__STAT_ADD(w, tasks_stolen, 1);
	*more = crew__queue_maybe_nonempty(&v->ovf) || crew__ring_size(v) > 0 ||
	    crew__lifo_size(&v->lifo) > 0;
	return t;
}

/*
 * Whether the fairness check may look at another worker now: not sooner
 * than CREW__FAIR_NS after its last look.  With tasks of a few ns, 61
 * searches take under a microsecond, and each look reads a line that the
 * other worker writes with every task it runs, which costs both of them a
 * miss (submit_batch, 2 workers: 0.3 ms of a 6 ms run).  The clock read
 * costs too (~20 ns a check): after a check that was not due, the next
 * 1, 2, 4 ... 32 checks skip it (and the look), but only while the coarse
 * clock (~5 ns to read, 1-4 ms a tick) stays on the same tick, so that
 * longer tasks after a run of short ones are not left that many checks
 * without a look.
 */
static bool
victim_due(struct crew__worker *w)
{
	uint64_t now;

	if (w->fair_look_skip > 0) {
		now = clock_ns(CLOCK_MONOTONIC_COARSE);
		if (now == w->fair_look_tick) {
			w->fair_look_skip--;
			return false;
		}
		w->fair_look_skip = 0;
		w->fair_look_wait = 0;
	}
	now = clock_ns(CLOCK_MONOTONIC);
	if (now - w->fair_look_ns < CREW__FAIR_NS) {
		w->fair_look_wait = w->fair_look_wait == 0 ? 1 :
		    w->fair_look_wait < 32 ? 2 * w->fair_look_wait : 32;
		w->fair_look_skip = w->fair_look_wait;
		w->fair_look_tick = clock_ns(CLOCK_MONOTONIC_COARSE);
		return false;
	}
	w->fair_look_wait = 0;
	w->fair_look_ns = now;
	return true;
}

/*
 * Whether our ring holds tasks of our last refill from the global queue and
 * nothing else, outside helping waits: every other fill of the ring (a
 * push, a steal, a refill from an overflow queue) moves its tail on from
 * where that refill left it.
 */
static inline bool
ring_from_global(struct crew__worker *w)
{
	/* relaxed: only this thread stores tail */
	return w->helping == 0 && atomic_load_explicit(&w->tail,
	    memory_order_relaxed) == w->global_tail && crew__ring_size(w) > 0;
}

/*
 * Every CREW__FAIR_TICK searches: one task from the global queue, from our
 * own overflow queue, or from another worker (victim_take_one), each tried
 * first on every third check, the others after it.  A worker whose tasks
 * keep feeding its stack and ring never finds them empty and never steals,
 * and would otherwise starve, for as long as it keeps busy: outside
 * submissions and its own spilled tasks (zio #718; found by `stress
 * overflow`), and the queued tasks of a worker that is stuck in a task
 * (blocked on a primitive of its own, waiting for one of them: a hang;
 * test conc/blocked_child_beside_feeder).
 *
 * The global queue is skipped while our ring holds tasks of our last
 * refill from it and nothing else, outside helping waits
 * (ring_from_global): we serve that queue already (in its order, at
 * least one task in CREW__LIFO_MAX_RUNS + 1 pops), and taking one more
 * costs two read-modify-writes of the line that its every consumer and
 * producer writes (submit_batch, 2 workers: 0.3 ms of a 6 ms run).  Test conc/fairness_outside_after_batch.  Another
 * worker is looked at no sooner than CREW__FAIR_NS after the last look
 * (victim_due).
 */
static crew_task *
fair_take(struct crew_pool *p, struct crew__worker *w, bool *more)
{
	crew_task *t = NULL;
	unsigned r = w->fair_rot = (w->fair_rot + 1) % 3;

	for (unsigned i = 0; i < 3 && t == NULL; i++) {
		switch ((r + i) % 3) {
		case 0:
			if (!ring_from_global(w))
				t = queue_take_one(&p->global, more);
			break;
		case 1:
			t = queue_take_one(&w->ovf, more);
			break;
		default:
			if (victim_due(w))
				t = victim_take_one(p, w, more);
			break;
		}
	}
	return t;
}

/*
 * Thief: takes the oldest half of victim's LIFO stack; runs the newest of
 * those and keeps the rest in w's (empty) ring.  *got is the count.
 */
static crew_task *
lifo_steal(struct crew__worker *w, struct crew__worker *v, uint32_t *got)
{
	crew_task *first, *last, *t, *prev = NULL;
	size_t len;

	if ((first = crew__lifo_steal(&v->lifo, true, &last, got)) == NULL)
		return NULL;
	if (*got == 1)
		return first;
	/* Run the newest stolen one; the older ones go to our ring. */
	for (t = first; t != last; t = t->next)
		prev = t;
	prev->next = NULL;
	len = *got - 1;
	if (crew__ring_push(w, &first, &prev, &len))
		(void)crew__queue_push(&w->ovf, first, prev);
	return last;
}

/*
 * The work map.  Worker i's bit is clear only while its ring, LIFO stack
 * and overflow queue are empty, so a thief may skip a worker whose bit it
 * reads clear.  Only worker i writes bit i, and only the owner adds to
 * its own queues (tasks it pushes, tasks it steals or refills into its
 * ring): so once the owner has found its queues empty and cleared the bit,
 * they stay empty until it sets the bit again, which it does before every
 * push (push_local: a task that waited in crew_wg_wait, helping in vain,
 * pushes again) and before returning any task it found (find_work_slow),
 * so before it notifies about leftovers it keeps in its ring.
 *
 * Why a thief that reads a stale clear bit loses nothing: the owner's
 * set comes before, in program order, the notify that announces its
 * leftovers (or its pushes), and every notify is a release RMW on the sync
 * word, which only ever changes by RMWs.  A searcher that took that
 * notification (acquire CAS in worker_wait, or a later one in the same
 * release sequence) therefore reads the bit as set, or as cleared later by
 * the owner with its queues empty again.  One that did not take it parks
 * through the sync word, whose single modification order makes it either
 * see `notified` and search again, or be counted idle before the notify,
 * which then wakes a thread or leaves the work to the waking thread: the
 * thread that searches next has taken the notification.  The bit RMWs
 * themselves publish nothing, hence relaxed.
 *
 * The words are written on the transitions between searching and busy
 * only (listed mirrors our bit), not per push.
 */
_Static_assert(sizeof(struct crew_pool) % CREW__CACHELINE == 0,
    "the work map that follows the pool struct starts on a line");

static size_t
work_map_size(unsigned max_threads)
{
	size_t words = (max_threads + 63u) / 64u;

	return (words * sizeof(uint64_t) + CREW__CACHELINE - 1) /
	    CREW__CACHELINE * CREW__CACHELINE;
}

static inline bool
work_listed(struct crew_pool *p, unsigned i)
{
	/* relaxed: see the comment above */
	return (atomic_load_explicit(&p->work_map[i / 64u],
	    memory_order_relaxed) >> (i % 64u)) & 1u;
}

/* Owner, before each push onto its queues and before it returns a task it
 * found: set our bit if clear. */
static inline void
work_list(struct crew_pool *p, struct crew__worker *w)
{
	if (CREW__UNLIKELY(!w->listed)) {
		w->listed = true;
		/* relaxed: ordered before our next notify by its release */
		atomic_fetch_or_explicit(&p->work_map[w->index / 64u],
		    (uint64_t)1 << (w->index % 64u), memory_order_relaxed);
	}
}

/* Owner, about to search other workers: clear our bit if our queues are
 * empty (a maybe-nonempty overflow queue, e.g. one a thief holds, keeps
 * it). */
static inline void
work_unlist(struct crew_pool *p, struct crew__worker *w)
{
	if (w->listed && w->nvictims > 0 && crew__ring_size(w) == 0 &&
	    crew__lifo_size(&w->lifo) == 0 &&
	    !crew__queue_maybe_nonempty(&w->ovf)) {
		w->listed = false;
		/* relaxed: our queues stay empty until we set it again */
		atomic_fetch_and_explicit(&p->work_map[w->index / 64u],
		    ~((uint64_t)1 << (w->index % 64u)), memory_order_relaxed);
	}
}

/*
 * Whether the owner may take its LIFO stack's newest task: not after
 * CREW__LIFO_MAX_RUNS in a row outside helping waits, or
 * CREW__LIFO_MAX_HELP_RUNS inside them.  A task that reschedules itself
 * (a poller) goes back on top every time; with no thief (one worker, or
 * the others busy or blocked), a ring task or an older task of the stack
 * that it waited for never ran: a hang, and inside a helping wait there
 * was no limit at all (found by an adversarial review; test
 * conc/poller_beside_awaited).  The price: on one worker, K waiting tasks
 * that each poll more than CREW__LIFO_MAX_HELP_RUNS times nest K deep, each
 * wait running the oldest pending sibling once its poller has had its
 * turns (bounded by relays like any nest).
 */
static inline __attribute__((always_inline)) bool
lifo_newest_ok(const struct crew__worker *w)
{
	return w->lifo_runs < CREW__LIFO_MAX_RUNS ||
	    (w->helping && w->lifo_runs < CREW__LIFO_MAX_HELP_RUNS);
}

/* The owner's LIFO stack's oldest task, taken as a thief would. */
static crew_task *
lifo_oldest(struct crew__worker *w)
{
	crew_task *last;
	uint32_t got;

	return crew__lifo_steal(&w->lifo, false, &last, &got);
}

/* The owner's LIFO stack: its newest task, or once lifo_newest_ok says no,
 * its oldest (the caller has found the ring empty). */
static crew_task *
lifo_take(struct crew__worker *w)
{
	return lifo_newest_ok(w) ? crew__lifo_pop(&w->lifo) : lifo_oldest(w);
}

/*
 * Where a worker looks for work, in order: once every CREW__FAIR_TICK
 * searches one task from the global queue, its own overflow queue or
 * another worker (so that nothing starves behind a worker that feeds
 * itself, see fair_take), its LIFO slot (unless it ran
 * CREW__LIFO_MAX_RUNS slot tasks in a row), its ring, its overflow queue,
 * the global queue, then every other worker in its victim order (nearest
 * in the topology first, see topo.c) whose work-map bit is set: overflow
 * queue, ring, slot.
 */
/* find_work's *busy: a queue we could not lock holds work (its holder
 * notifies about what it leaves), or a LIFO stack does (its owner may
 * not: see worker_main). */
enum { BUSY_QUEUE = 1u, BUSY_LIFO = 2u };

static CREW__HOT __attribute__((noinline)) crew_task *
find_work_slow(struct crew_pool *p, struct crew__worker *w, bool *pushed,
    unsigned *busy)
{
	struct crew__worker *v;
	crew_task *t;
	uint32_t got;

	if (w->fair_left == 0) {
		w->fair_left = CREW__FAIR_TICK;
		if ((t = fair_take(p, w, pushed)) != NULL)
			goto other;
		/* The fast path (find_work) did not look: do it now. */
		if (lifo_newest_ok(w) &&
		    (t = crew__lifo_pop(&w->lifo)) != NULL) {
			w->lifo_runs++;
			return t;
		}
	}
	if ((t = crew__ring_pop(w)) != NULL || (t = lifo_take(w)) != NULL)
		goto other;
	if ((t = crew__ring_refill(w, &w->ovf, &got)) != NULL)
		goto refilled;
	if (crew__queue_maybe_nonempty(&w->ovf))
		*busy |= BUSY_QUEUE;
	if ((t = crew__ring_refill(w, &p->global, &got)) != NULL) {
		/* relaxed: only this thread stores tail */
		w->global_tail = atomic_load_explicit(&w->tail,
		    memory_order_relaxed);
		/* Producers may have pushed while we held the lock: their
		 * notify saw a searcher busy and may have been absorbed, so
		 * leftovers get a notify of their own (found by the spin model
		 * models/ovfq.pml, variant BUGGY=3). */
		*pushed = got > 1 || crew__queue_maybe_nonempty(&p->global);
		goto other;
	}
	if (crew__queue_maybe_nonempty(&p->global))
		*busy |= BUSY_QUEUE;
	victims_refresh(p, w);
	work_unlist(p, w);
	for (uint32_t i = 0; i < w->nvictims; i++) {
		if (!work_listed(p, w->victims[i]))
			continue;
		v = p->workers[w->victims[i]];
		CREW__STAT_ADD(w, steal_attempts, 1);
		/* The victim drains its overflow queue last: take it first. */
		if ((t = crew__ring_refill(w, &v->ovf, &got)) != NULL) {
			CREW__STAT_ADD(w, tasks_stolen, got);
			*pushed = got > 1 || crew__queue_maybe_nonempty(&v->ovf);
			goto other;
		}
		if (crew__queue_maybe_nonempty(&v->ovf))
			*busy |= BUSY_QUEUE;
		if ((t = crew__ring_steal(w, v, &got)) != NULL) {
			CREW__STAT_ADD(w, tasks_stolen, got);
			/* Work left with the victim also gets a notify, in
			 * case the victim is blocked in a long task. */
			*pushed = got > 1 || crew__ring_size(v) > 0;
			goto other;
		}
		if ((t = lifo_steal(w, v, &got)) != NULL) {
			CREW__STAT_ADD(w, tasks_stolen, got);
			/* Leaving work in the victim's stack also needs a
			 * notify: the owner's later pushes onto a non-empty
			 * stack do not send one. */
			*pushed = got > 1 || crew__lifo_size(&v->lifo) > 0;
			goto other;
		}
		if (crew__lifo_size(&v->lifo) > 0)
			*busy |= BUSY_LIFO;
	}
	return NULL;
refilled:
	*pushed = got > 1;
other:
	w->lifo_runs = 0;
	work_list(p, w);
	return t;
}

/*
 * The fast path, inlined into the worker loop and crew__help_one: the LIFO
 * stack and the ring, unless the fairness check is due (find_work_slow
 * does it, and everything else in the order above).
 */
static inline __attribute__((always_inline)) crew_task *
find_work(struct crew_pool *p, struct crew__worker *w, bool *pushed,
    unsigned *busy)
{
	crew_task *t;

	*pushed = false;
	*busy = 0;
	if (CREW__LIKELY(--w->fair_left != 0)) {
		if (lifo_newest_ok(w) &&
		    (t = crew__lifo_pop(&w->lifo)) != NULL) {
			w->lifo_runs++;
			return t;
		}
		if ((t = crew__ring_pop(w)) != NULL) {
			w->lifo_runs = 0;
			return t;
		}
	}
	return find_work_slow(p, w, pushed, busy);
}

/*
 * A helping wait runs whatever the worker's search finds, and a task it
 * runs may wait and help in turn, so waits nest: tasks unrelated to the one
 * awaited (from the global queue, stolen) each add a level, without bound.
 * On 2 workers, tree20 under ASan nested ~2700 levels and overflowed an 8
 * MiB stack.  So past half the thread's stack, crew__wg_help has a wait
 * help only with its own LIFO stack (CREW__HELP_LIFO: the children its own
 * nest pushed, most often the one awaited) and, when that finds nothing,
 * hand the rest of the wait to a relay with a fresh stack (relay.c).  If
 * no relay can be had, it also takes its own ring (CREW__HELP_OWN) while
 * less than three quarters of the stack is used, as TBB stops stealing
 * near the end of its stack, and only its LIFO stack beyond
 * (CREW__HELP_LIFO_STUCK).  Not the ring otherwise: a ring just refilled
 * from the global queue holds up to CREW_RING_CAP unrelated tasks that may
 * each wait, and under TSan (bigger frames, a quarter of a 256 KiB stack left)
 * nesting them overflowed (test conc/deep_waits_for_outside_replies).
 */
bool
crew__help_one(struct crew__worker *w, int where)
{
	bool pushed = false;
	unsigned busy;
	crew_task *t;

	w->helping++;
	if (CREW__UNLIKELY(where != CREW__HELP_ALL)) {
		CREW__STAT_ADD(w, deep_waits, 1);
		/* Past the limit in a row: with a relay to follow, report
		 * nothing found here, and the wait goes on on the relay, whose
		 * search takes the ring or the stack's oldest task
		 * (lifo_take); with none, take them here. */
		t = NULL;
		if (lifo_newest_ok(w) &&
		    (t = crew__lifo_pop(&w->lifo)) != NULL)
			w->lifo_runs++;
		else if (where == CREW__HELP_OWN &&
		    (t = crew__ring_pop(w)) != NULL)
			w->lifo_runs = 0;
		else if (where != CREW__HELP_LIFO && !lifo_newest_ok(w) &&
		    (t = lifo_oldest(w)) != NULL)
			w->lifo_runs = 0;
	} else {
		t = find_work(w->pool, w, &pushed, &busy);
	}
	w->helping--;
	if (t == NULL)
		return false;
	if (pushed)
		notify(w->pool, false);
	t->fn(t);
	CREW__STAT_ADD(w, tasks_run, 1);
	return true;
}

bool
crew__pool_has_idle(struct crew_pool *p)
{
	/* relaxed: a splitting hint, never a correctness decision */
	uint32_t s = atomic_load_explicit(&p->sync, memory_order_relaxed);

	/* relaxed: as above */
	return crew__sync_idle(s) > 0 ||
	    atomic_load_explicit(&p->spinning, memory_order_relaxed) > 0 ||
	    crew__sync_spawned(s) < p->max_threads;
}

unsigned
crew__pool_max_threads(struct crew_pool *p)
{
	return p->max_threads;
}

static void
name_thread(struct crew_pool *p, unsigned index)
{
	char name[32];

	snprintf(name, sizeof(name), "%s%u", p->name_prefix, index);
	name[15] = '\0'; /* the kernel's limit */
	(void)pthread_setname_np(pthread_self(), name);
}

/* Binds the new worker to its planned place, before its first task. */
static void
pin_self(struct crew_pool *p, struct crew__worker *w)
{
	int r = crew__topo_bind(p->plan, w->index);

	if (r > 0) {
		/* relaxed: read by crew_pool_pin_plan, whose callers order it
		 * through the tasks this worker runs afterwards; only this
		 * thread writes the entry now */
		atomic_fetch_or_explicit(&p->pin_state[w->index],
		    CREW__PIN_BOUND, memory_order_relaxed);
		/* relaxed: statistic */
		atomic_fetch_add_explicit(&p->pinned_workers, 1,
		    memory_order_relaxed);
		return;
	}
	if (r < 0)
		/* relaxed: statistic */
		atomic_fetch_add_explicit(&p->pin_failures, 1,
		    memory_order_relaxed);
	/*
	 * Not bound: run on the pool's CPUs.  A thread inherits its
	 * creator's mask, and workers are started by whichever thread
	 * notifies: a worker of a pinned pool submitting to this one (or
	 * creating it) left all of its workers on its one CPU, and so did a
	 * worker of ours spawning while CREW_SPREAD had narrowed it (found
	 * by an adversarial review; test conc/unpinned_ignores_spawner).
	 */
	if (p->cpus_known) {
		cpu_set_t now;

		if (sched_getaffinity(0, sizeof(now), &now) == 0 &&
		    !CPU_EQUAL(&now, &p->cpus))
			(void)sched_setaffinity(0, sizeof(p->cpus), &p->cpus);
	}
}

/*
 * Asks for the pool's time slice, before the first task (and before the
 * start hook, which may change it again).  A pool on automatic that asks
 * for none gives a worker that inherited a slice crew asked for (from a
 * worker that asked for one, or that inherited one and kept it, spawning
 * ours from a task or a notification) the kernel's default back;
 * CREW_SLICE_US_KEEP keeps it, and passes the mark on to the workers this
 * one spawns.  A slice the creating thread had of its own is kept.
 */
static void
slice_self(struct crew_pool *p, struct crew__worker *w)
{
	if (p->slice_ns != 0) {
		if (crew__slice_set(p->slice_ns))
			/* relaxed: statistic */
			atomic_fetch_add_explicit(&p->slice_workers, 1,
			    memory_order_relaxed);
	} else if (p->cfg.slice_us == CREW_SLICE_US_AUTO &&
	    w->slice_inherited) {
		(void)crew__slice_set(0);
	} else {
		crew__tls_sliced = w->slice_inherited;
	}
}

/*
 * Whether every queue of the pool looks empty: the global queue and each
 * published worker's ring, overflow queue and LIFO stack.  Probes only;
 * callers get the visibility they need from an acquire on the sync word
 * (drain: the quiescent word; a worker: the CAS that consumed `notified`).
 */
static CREW__HOT bool
queues_empty(struct crew_pool *p, bool listed_only)
{
	/* acquire: pairs with spawn_locked's release */
	uint32_t n = atomic_load_explicit(&p->nworkers, memory_order_acquire);

	if (crew__queue_maybe_nonempty(&p->global))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		struct crew__worker *w;

		if (listed_only && !work_listed(p, i))
			continue;
		w = p->workers[i];
		if (crew__ring_size(w) != 0 || crew__queue_maybe_nonempty(&w->ovf) ||
		    crew__lifo_size(&w->lifo) != 0)
			return false;
	}
	return true;
}

static CREW__HOT void *
worker_main(void *arg)
{
	struct crew__worker *w = arg;
	struct crew_pool *p = w->pool;
	bool waking = false, woke, pushed;
	struct fan_state fan = { false, 0 };
	unsigned retries, busy;
	crew_task *t;
	int r;

	/*
	 * Wait until the spawner has published us: it holds spawn_lock from
	 * before pthread_create until after its release store of nworkers.
	 * Work we pushed before that would be invisible to thieves, so the
	 * worker that consumed our notify could search, miss it and park
	 * while we sit in a long task: a lost wake-up (seen as a 10 s stall
	 * of conc/burst_after_idle under TSan after a create-heavy test).
	 */
	pthread_mutex_lock(&p->spawn_lock);
	pthread_mutex_unlock(&p->spawn_lock);
	crew__tls_worker = w;
	/* Before the start hook, whose helping waits count as deep too. */
	w->stack_half = crew__stack_half(&w->stack_low, &w->stack_end);
	crew__relay_warm(w);
	pin_self(p, w);
	slice_self(p, w);
	name_thread(p, w->index);
	if (p->cfg.on_thread_start) {
		crew__tls_hook_pool = p;
		p->cfg.on_thread_start(p->cfg.hook_ctx, w->index);
		crew__tls_hook_pool = NULL;
	}
	spread_init(p, w);
	while ((r = worker_wait(p, w, waking, &fan)) >= 0) {
		waking = r == 1;
		woke = true;
		retries = 0;
		for (;;) {
			t = find_work(p, w, &pushed, &busy);
			if (t == NULL) {
				/*
				 * A queue we could not lock holds work: its
				 * holder is mid-operation, look again soon
				 * rather than sleep beside it.  A queue's
				 * holder notifies about what it leaves, so
				 * a few tries do.  A LIFO stack's owner does
				 * not: its pushes onto a non-empty stack send
				 * no notify (lifo.h), so a thief that gave
				 * up on its lock and parked, having taken the
				 * notification the stack's first push sent,
				 * stranded the stack behind an owner that
				 * then blocked (conc/blocked_owner, about 1
				 * run in 200 under load: the owner was
				 * preempted holding its lock).  The lock is
				 * only held inside lifo.h's few steps, so we
				 * retry until we get it or the stack empties.
				 */
				if (busy && (++retries < CREW__BUSY_RETRIES ||
				    (busy & BUSY_LIFO))) {
					if (retries % 8 == 0)
						sched_yield();
					else
						crew__cpu_relax();
					continue;
				}
				break;
			}
			retries = 0;
			/*
			 * Hand the waking role on before running the task.
			 * The notification we consumed in worker_wait() may
			 * have announced other work than the task we found
			 * (one bit stands for every push since it was last
			 * taken): if anything is still there, pass it on, or
			 * it waits behind busy workers while others park
			 * (found by `stress burst`).  Every push before our
			 * acquire consume is visible to these probes; pushes
			 * after it mark `notified` again on their own.
			 */
			/* Right after our acquire consume, the work map is as
			 * good as the queues (see work_list). */
			if (woke) {
				if (!pushed)
					pushed = !queues_empty(p, true);
				if (CREW__UNLIKELY(fan.on)) {
					/* the permit paid: park at once
					 * next time */
					CREW__STAT_ADD(w, fan_out_hits, 1);
					fan.on = false;
				}
				woke = false;
			}
			if (waking)
				handoff_waking(p, pushed);
			else if (pushed)
				notify(p, false);
			waking = false;
			t->fn(t);
			CREW__STAT_ADD(w, tasks_run, 1);
		}
	}
	/* No longer a worker: a task the stop hook submits goes to the
	 * global queue, closed by now, and is refused (CREW_ESHUTDOWN)
	 * instead of landing on a stack nobody will pop. */
	crew__tls_worker = NULL;
	if (p->cfg.on_thread_stop) {
		/* A shutdown of p from the hook would wait to join us. */
		crew__tls_hook_pool = p;
		p->cfg.on_thread_stop(p->cfg.hook_ctx, w->index);
		crew__tls_hook_pool = NULL;
	}
	/* release: our last accesses happen before the count drops */
	atomic_fetch_sub_explicit(&p->sync, CREW__SYNC_SPAWNED_ONE,
	    memory_order_release);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Scheduling.                                                         */

/* The ring part of push_local: a batch, the spilled half of a full LIFO
 * stack, or one task whose stack a thief held; a full ring overflows into
 * the worker's overflow queue. */
static CREW__HOT __attribute__((noinline)) void
push_ring(struct crew__worker *w, crew_task *head, crew_task *tail,
    size_t len)
{
	if (crew__ring_push(w, &head, &tail, &len)) {
		CREW__STAT_ADD(w, overflow_migrations, 1);
		CREW__CHAOS();
		(void)crew__queue_push(&w->ovf, head, tail); /* never closed */
	}
	notify(w->pool, false);
}

/* A worker schedules onto its own queues: one task onto its LIFO stack
 * (inline: crew_submit's fast path), anything else onto its ring. */
static inline __attribute__((always_inline)) void
push_local(struct crew__worker *w, crew_task *head, crew_task *tail,
    size_t len)
{
	CREW__STAT_ADD(w, local_pushes, len);
	/* Our bit may be clear if we searched in vain inside a helping wait
	 * and are back in the task that waited. */
	work_list(w->pool, w);
	if (len == 1) {
		switch (crew__lifo_push(&w->lifo, head, &head, &tail)) {
		case CREW__LIFO_MORE:
			return;
		case CREW__LIFO_FIRST:
			notify(w->pool, false);
			return;
		case CREW__LIFO_SPILL:
			len = CREW__LIFO_CAP / 2;
			break;
		}
	}
	push_ring(w, head, tail, len);
}

static CREW__HOT int
push_global(struct crew_pool *p, crew_task *head, crew_task *tail,
    size_t len)
{
	int rc;

	/* relaxed: nworkers only grows; 0 sends us to the locked slow path */
	if (CREW__UNLIKELY(atomic_load_explicit(&p->nworkers,
	    memory_order_relaxed) == 0) && (rc = ensure_worker(p)) != 0)
		return rc;
	if (!crew__queue_push(&p->global, head, tail))
		return CREW_ESHUTDOWN;
	/* relaxed: statistic; same cache line as the queue word */
	atomic_fetch_add_explicit(&p->global_pushes, len, memory_order_relaxed);
	CREW__CHAOS();
	notify(p, false);
	return 0;
}

static CREW__HOT int
schedule(struct crew_pool *p, crew_task *head, crew_task *tail, size_t len)
{
	struct crew__worker *w = crew__tls_worker;

	if (w != NULL && w->pool == p) {
		push_local(w, head, tail, len);
		return 0;
	}
	return push_global(p, head, tail, len);
}

/*
 * A batch is well formed when its chain has exactly `len` tasks, ends at
 * `tail` with a NULL link, and every task has a function.  Checked in full
 * (one pass over tasks the workers are about to touch anyway) because a bad
 * link or a NULL fn found later would crash a worker.
 *
 * The walk runs at memory speed rather than at one load latency per task
 * when the tasks sit at a constant stride (an array of tasks, or of
 * structs that hold one): while each link is `stride` past its task, the
 * next address is computed instead of loaded, and each loaded link is
 * only compared with it, so the loads do not wait for one another (as in
 * crew__ring_fill, ring.h; GCC 12 and Clang keep it so).
 */
static bool
batch_ok(const crew_batch *b)
{
	uintptr_t t = (uintptr_t)b->head, prev = 0, stride;
	size_t n = b->len;

	if (n == 0)
		return b->head == NULL && b->tail == NULL;
	if (b->head == NULL || b->tail == NULL || b->tail->next != NULL)
		return false;
	/*
	 * No per-task check against `tail` is needed: `tail` ends the chain
	 * (its link is NULL), so if it came early the walk would stop short
	 * of `len`; and the task at `len` must be it.
	 */
	while (n > 0) {
		const crew_task *c = (const crew_task *)t;

		if (t == 0 || c->fn == NULL)
			return false;
		prev = t;
		n--;
		stride = (uintptr_t)c->next - t;
		t = (uintptr_t)c->next;
		/* The run at this stride: a loop exit, not a select, ends it,
		 * so t never waits for a load. */
		while (n > 0 && t != 0 && (c = (const crew_task *)t)->fn != NULL &&
		    (uintptr_t)c->next - t == stride) {
			prev = t;
			n--;
			t += stride;
		}
	}
	return t == 0 && prev == (uintptr_t)b->tail;
}

CREW__HOT CREW_API int
crew_schedule(crew_pool *p, crew_batch b)
{
	if (!batch_ok(&b))
		return CREW_EINVAL;
	if (b.len == 0)
		return 0;
	if (p == NULL && (p = crew_global()) == NULL)
		return CREW_EAGAIN;
	return schedule(p, b.head, b.tail, b.len);
}

CREW__HOT CREW_API int
crew_submit(crew_pool *p, crew_task *t)
{
	struct crew__worker *w = crew__tls_worker;

	if (CREW__UNLIKELY(t == NULL || t->fn == NULL))
		return CREW_EINVAL;
	/* Fast path: a worker of this pool puts the task on its own LIFO
	 * stack; only a push onto an empty stack needs a notify. */
	if (CREW__LIKELY(w != NULL && w->pool == p)) {
		push_local(w, t, t, 1);
		return 0;
	}
	return submit_slow(p, t);
}

static CREW__HOT int
submit_slow(crew_pool *p, crew_task *t)
{
	if (p == NULL && (p = crew_global()) == NULL)
		return CREW_EAGAIN;
	t->next = NULL;
	return schedule(p, t, t, 1);
}

/* ------------------------------------------------------------------ */
/* Lifecycle.                                                          */

CREW_API int
crew_pool_create(crew_pool **out, const crew_config *cfg)
{
	crew_config def;
	struct crew_pool *p;
	unsigned max, ncpu, fan_poll_us;
	cpu_set_t cpus;
	bool cpus_known;

	if (out == NULL)
		return CREW_EINVAL;
	*out = NULL;
	if (cfg == NULL) {
		crew_config_init(&def);
		cfg = &def;
	}
	if ((unsigned)cfg->pin > CREW_PIN_NUMA ||
	    cfg->spin_us > CREW_SPIN_US_MAX ||
	    (cfg->slice_us != CREW_SLICE_US_AUTO &&
	    cfg->slice_us != CREW_SLICE_US_KEEP &&
	    (cfg->slice_us < CREW_SLICE_US_MIN ||
	    cfg->slice_us > CREW_SLICE_US_MAX)) ||
	    (cfg->stack_size != 0 &&
	    cfg->stack_size < (size_t)PTHREAD_STACK_MIN))
		return CREW_EINVAL;
	/* The pool's CPUs (struct crew_pool, cpus); the creating worker's
	 * pool's are set before its workers start. */
	if (crew__tls_worker != NULL && crew__tls_worker->pool->cpus_known) {
		cpus = crew__tls_worker->pool->cpus;
		cpus_known = true;
	} else {
		cpus_known = sched_getaffinity(0, sizeof(cpus), &cpus) == 0;
	}
	ncpu = crew__set_threads(cpus_known ? &cpus : NULL);
	max = cfg->max_threads ? cfg->max_threads : ncpu;
	if (max > CREW_MAX_THREADS)
		max = CREW_MAX_THREADS;
	/* The work map follows the struct in its block (sizeof is a
	 * multiple of the line: the struct has line-aligned members). */
	p = aligned_alloc(CREW__PAGE,
	    CREW__PAGE_ROUND(sizeof(*p) + work_map_size(max)));
	if (p == NULL)
		return CREW_ENOMEM;
	memset(p, 0, sizeof(*p));
	p->work_map = (_Atomic uint64_t *)(void *)(p + 1);
	for (size_t i = 0; i < work_map_size(max) / sizeof(uint64_t); i++)
		atomic_init(&p->work_map[i], ~(uint64_t)0);
	p->workers = calloc(max, sizeof(*p->workers));
	p->pin_state = calloc(max, sizeof(*p->pin_state));
	if (p->workers == NULL || p->pin_state == NULL ||
	    crew__topo_plan(&p->plan, cfg->pin, max,
	    cpus_known ? &cpus : NULL) != 0) {
		free(p->workers);
		free((void *)p->pin_state);
		free(p);
		return CREW_ENOMEM;
	}
	crew__queue_init(&p->global);
	atomic_init(&p->global_pushes, 0);
	atomic_init(&p->sync, 0);
	atomic_init(&p->idle_event.state, CREW__EV_EMPTY);
	atomic_init(&p->drain_epoch, 0);
	atomic_init(&p->nworkers, 0);
	atomic_init(&p->spawn_failures, 0);
	atomic_init(&p->spawn_retry, 0);
	atomic_init(&p->retry_after_ns, 0);
	atomic_init(&p->retry_backoff_ns, 0);
	atomic_init(&p->pinned_workers, 0);
	atomic_init(&p->pin_failures, 0);
	p->max_threads = max;
	p->cpus = cpus;
	p->cpus_known = cpus_known;
	p->hot = ncpu < max ? ncpu : max;
	p->spread = crew__topo_mode(p->plan) == CREW_PIN_NONE &&
	    max <= p->hot && max > 1 ? spread_wanted() : CREW__SPREAD_OFF;
	/* CREW_FANOUT (crew__pool_fan_out): 0 never, 1 up to max_threads,
	 * automatic up to the CPUs */
	p->fan_cap = (unsigned)env_switch("CREW_FANOUT", 0, (int)max,
	    (int)p->hot);
	atomic_init(&p->idle_event.fan_out, 0);
	atomic_init(&p->fan_outs, 0);
	atomic_init(&p->waker_cpu, -1);
	atomic_init(&p->spinning, 0);
	p->spin_ns = (uint64_t)cfg->spin_us * 1000u;
	/* CREW_FAN_POLL_US (worker_wait): CREW_SPIN_US's syntax, anything
	 * else the default */
	if (!crew__spin_parse(getenv("CREW_FAN_POLL_US"), &fan_poll_us))
		fan_poll_us = CREW__FAN_POLL_US;
	p->fan_poll_ns = p->fan_cap != 0 ? (uint64_t)fan_poll_us * 1000u : 0;
	/* Automatic: a long slice when workers may share CPUs. */
	if (cfg->slice_us == CREW_SLICE_US_AUTO)
		p->slice_ns = max > ncpu ?
		    (uint64_t)CREW_SLICE_US_OVERSUB * 1000u : 0;
	else if (cfg->slice_us != CREW_SLICE_US_KEEP)
		p->slice_ns = (uint64_t)cfg->slice_us * 1000u;
	atomic_init(&p->slice_workers, 0);
	p->stack_size = cfg->stack_size;
	if (p->stack_size != 0)
		minstack_init();
	p->cfg = *cfg;
	snprintf(p->name_prefix, sizeof(p->name_prefix), "%s",
	    cfg->name_prefix ? cfg->name_prefix : "crew-");
	p->cfg.name_prefix = p->name_prefix;
	pthread_mutex_init(&p->spawn_lock, NULL);
	pthread_mutex_init(&p->life_lock, NULL);
	atomic_init(&p->relay_stacks, 0);
	*out = p;
	return 0;
}

/* Waits until every accepted task has run, then sets SHUTDOWN. */
static void
drain(struct crew_pool *p)
{
	uint32_t s, e;

	crew__queue_close(&p->global);
	/* acq_rel: from here every worker's idle transition sees CLOSING */
	atomic_fetch_or_explicit(&p->sync, CREW__SYNC_CLOSING,
	    memory_order_acq_rel);
	for (;;) {
		/* acquire: pairs with signal_drained's release */
		e = atomic_load_explicit(&p->drain_epoch, memory_order_acquire);
		/* acquire: see what the workers did before going idle */
		s = atomic_load_explicit(&p->sync, memory_order_acquire);
		if (crew__sync_quiescent(s)) {
			if (!queues_empty(p, false)) {
				/* A task pushed before the close whose
				 * submitter has not notified yet: wake a
				 * worker ourselves. */
				notify(p, false);
				continue;
			}
			CREW__CHAOS();
			/* acq_rel: the state flips only from the exact
			 * quiescent word we checked */
			if (atomic_compare_exchange_strong_explicit(&p->sync, &s,
			    crew__sync_shutdown(s), memory_order_acq_rel,
			    memory_order_relaxed))
				break;
			continue;
		}
		crew__futex_wait(&p->drain_epoch, e);
	}
	crew__event_shutdown(&p->idle_event);
}

CREW_API int
crew_pool_shutdown(crew_pool *p)
{
	if (p == NULL)
		return CREW_EINVAL;
	if (crew__in_pool(p))
		return CREW_EDEADLK;
	pthread_mutex_lock(&p->life_lock);
	if (!p->shut_down) {
		drain(p);
		/* Late spawners finish under the lock before we join. */
		pthread_mutex_lock(&p->spawn_lock);
		for (unsigned i = 0; i < p->nthreads; i++)
			pthread_join(p->workers[i]->thread, NULL);
		pthread_mutex_unlock(&p->spawn_lock);
		crew__relay_shutdown(p);
		p->shut_down = true;
	}
	pthread_mutex_unlock(&p->life_lock);
	return 0;
}

CREW_API int
crew_pool_destroy(crew_pool *p)
{
	int rc;

	if (p == NULL)
		return CREW_EINVAL;
	if ((rc = crew_pool_shutdown(p)) != 0)
		return rc;
	for (unsigned i = 0; i < p->nthreads; i++) {
		struct crew__worker *w = p->workers[i];

		crew__topo_free(p->plan, w, w->block_size, w->mem_bound);
	}
	free(p->workers);
	free((void *)p->pin_state);
	crew__topo_plan_free(p->plan);
	pthread_mutex_destroy(&p->spawn_lock);
	pthread_mutex_destroy(&p->life_lock);
	free(p);
	return 0;
}

CREW_API void
crew_pool_stats(crew_pool *p, crew_stats *out)
{
	uint32_t n, s;

	if (p == NULL || out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	/* acquire: pairs with spawn_locked's release */
	n = atomic_load_explicit(&p->nworkers, memory_order_acquire);
	/* relaxed: a snapshot for reporting */
	s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	out->threads_spawned = n;
	out->threads_live = crew__sync_spawned(s);
	out->threads_idle = crew__sync_idle(s);
	/* relaxed: statistics */
	out->global_pushes = atomic_load_explicit(&p->global_pushes,
	    memory_order_relaxed);
	/* relaxed: statistic */
	out->spawn_failures = atomic_load_explicit(&p->spawn_failures,
	    memory_order_relaxed);
	out->max_threads = p->max_threads;
	out->pin_mode = (unsigned)crew__topo_mode(p->plan);
	/* relaxed: statistic */
	out->pinned_workers = atomic_load_explicit(&p->pinned_workers,
	    memory_order_relaxed);
	/* relaxed: statistic */
	out->pin_failures = atomic_load_explicit(&p->pin_failures,
	    memory_order_relaxed);
	out->slice_us = (unsigned)(p->slice_ns / 1000u);
	/* relaxed: statistic */
	out->slice_workers = atomic_load_explicit(&p->slice_workers,
	    memory_order_relaxed);
	/* relaxed: statistic */
	out->relay_stacks = atomic_load_explicit(&p->relay_stacks,
	    memory_order_relaxed);
	/* relaxed: statistic */
	out->fan_outs = atomic_load_explicit(&p->fan_outs,
	    memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++) {
		struct crew__stats *st = &p->workers[i]->stats;
#define CREW__SUM(f) out->f += atomic_load_explicit(&st->f, memory_order_relaxed) /* relaxed: statistic */
		CREW__SUM(tasks_run);
		CREW__SUM(local_pushes);
		CREW__SUM(overflow_migrations);
		CREW__SUM(steal_attempts);
		CREW__SUM(tasks_stolen);
		CREW__SUM(parks);
		CREW__SUM(wakeups);
		CREW__SUM(spins);
		CREW__SUM(spin_hits);
		CREW__SUM(fan_out_taken);
		CREW__SUM(fan_out_hits);
		CREW__SUM(spread_steps);
		CREW__SUM(deep_waits);
		CREW__SUM(relays);
#undef CREW__SUM
	}
}

CREW_API int
crew_pool_pin_plan(crew_pool *p, unsigned worker, crew_pin_place *place,
    unsigned *victims, size_t nvictims)
{
	struct crew__place pl;
	unsigned len, st;

	if (p == NULL || worker >= p->max_threads ||
	    (victims == NULL && nvictims > 0))
		return CREW_EINVAL;
	if (place != NULL) {
		/* relaxed: see pin_self */
		st = atomic_load_explicit(&p->pin_state[worker],
		    memory_order_relaxed);
		crew__topo_place(p->plan, worker, &pl);
		memset(place, 0, sizeof(*place));
		place->cpu = pl.pinned ? pl.cpu : -1;
		place->ncpus = pl.pinned ? pl.ncpus : 0;
		place->core = pl.core;
		place->l2 = pl.l2;
		place->l3 = pl.l3;
		place->numa_node = pl.numa;
		place->bound = (st & CREW__PIN_BOUND) != 0;
		place->mem_bound = (st & CREW__PIN_MEM_BOUND) != 0;
	}
	len = crew__topo_victims_u(p->plan, worker, p->max_threads, victims,
	    nvictims);
	return (int)len;
}

CREW_API int
crew_worker_index(const crew_pool *p)
{
	struct crew__worker *w = crew__tls_worker;

	return (w != NULL && w->pool == p) ? (int)w->index : -1;
}

/*
 * Test and watchdog aid (internal, not exported): writes the sync word,
 * every ring's head and tail and the queue states into buf.
 */
int
crew__debug_dump(crew_pool *p, char *buf, size_t size)
{
	/* relaxed: a best-effort snapshot for diagnostics */
	uint32_t s = atomic_load_explicit(&p->sync, memory_order_relaxed);
	/* acquire: pairs with spawn_locked's release */
	uint32_t n = atomic_load_explicit(&p->nworkers, memory_order_acquire);
	/* relaxed: diagnostics */
	uint32_t ev = atomic_load_explicit(&p->idle_event.state,
	    memory_order_relaxed);
	/* relaxed: diagnostics */
	uintptr_t gw = atomic_load_explicit(&p->global.word,
	    memory_order_relaxed);
	size_t off = 0;
	int k;

	k = snprintf(buf, size,
	    "sync=%#x idle=%u spawned=%u closing=%d notified=%d state=%u "
	    "event=%u global=%#lx nworkers=%u\n", s, crew__sync_idle(s),
	    crew__sync_spawned(s), !!(s & CREW__SYNC_CLOSING),
	    !!(s & CREW__SYNC_NOTIFIED), crew__sync_state(s), ev,
	    (unsigned long)gw, n);
	for (uint32_t i = 0; k > 0 && (off += (size_t)k) < size && i < n; i++) {
		struct crew__worker *w = p->workers[i];
		/* relaxed (all five): diagnostics */
		uint32_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
		uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
		uintptr_t ow = atomic_load_explicit(&w->ovf.word,
		    memory_order_relaxed);
		unsigned lifo = crew__lifo_size(&w->lifo);
		/* relaxed: diagnostics */
		uint64_t run = atomic_load_explicit(&w->stats.tasks_run,
		    memory_order_relaxed);

		k = snprintf(buf + off, size - off,
		    "  worker %u: head=%u tail=%u ovf=%#lx lifo=%u run=%lu "
		    "listed=%d\n", i, h, t, (unsigned long)ow, lifo,
		    (unsigned long)run, (int)work_listed(p, i));
	}
	return (int)off;
}
