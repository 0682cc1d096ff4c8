/*
 * ovfq.pml: crew's intrusive queue (src/queue.h) -- producers CAS-push
 * keeping the flags, one consumer at a time through the CACHED/LOCKED
 * try-lock bits, leftovers cached on unlock -- inside the pool's search
 * and park protocol (src/pool.c: find_work's `busy` flag and
 * CREW__BUSY_RETRIES, every push followed by a notify).
 * Property: every pushed task runs exactly once, the CACHED bit matches
 * the cache, and when every thread is blocked no task is stranded in the
 * queue's stack, its cache or a ring.
 *
 * What it abstracts from the C code:
 *   src/queue.h  crew__queue_push (one atomic step, the CAS; it keeps the
 *                flags), crew__queue_trylock (BUSY / EMPTY / OK; takes the
 *                pushed stack when nothing is cached), crew__queue_pop_locked
 *                (private chain first, then the relaxed probe and the swap
 *                of everything pushed since), crew__queue_unlock (plain
 *                store of the leftover chain to `cache`, then the fetch_and
 *                clearing LOCKED, and CACHED when nothing is left), the
 *                invariant "CACHED iff cache != NULL" (asserted at each lock).
 *   src/ring.h   crew__ring_refill: pop up to CAP tasks into the ring, one
 *                more to run, publish the ring, unlock; got = all popped.
 *                CAP is 1 here (256 in C), so three tasks can leave a
 *                cached chain behind.
 *   src/pool.c   find_work (own ring, the global queue's refill, then the
 *                other worker's ring; a refill that fails on a queue that
 *                looks non-empty sets `busy`), worker_main (busy: search
 *                again, up to BUSY_RETRIES times, then park), push_global
 *                (ensure_worker, push, notify), and the park/notify
 *                protocol of crew.inc.
 * The queue is the pool's global queue, fed by an outside producer;
 * queue.h is the same code for every worker's overflow queue.
 *
 * FIXED = pool.c plus one line.  After a successful refill the searcher
 * re-checks the queue it just unlocked: pushed = got > 1 ||
 * crew__queue_maybe_nonempty(q), as find_work already does after a refill
 * from a victim's overflow queue.  Without it (pool.c's `refilled:` label
 * at commit ef49fe5, BUGGY 3 below) a task pushed while another worker
 * held the lock can lose its wake-up: its notification is consumed by a
 * searcher that finds the queue BUSY, retries CREW__BUSY_RETRIES times
 * and parks, and the holder, having taken one task, gives the waking role
 * back without a wake.  The task then waits for the holder's current task
 * (forever, here, since that task waits for it).  With the re-check the
 * busy retry is not needed for safety: -DBUSY_RETRIES=1 also passes.
 *
 * Scenario: max_threads = 2.  The producer submits T0, T1 and T2 one by
 * one.  T0 blocks until T1 has run, so T1 must reach the second worker
 * while the first is stuck in T0.  -DSPIN: the workers poll before
 * parking (crew.inc; --full runs it).
 *
 * Not covered: weak memory (spin is sequentially consistent), several
 * producers racing on the push CAS (one atomic step each, so one producer
 * loses only their interleavings with each other), the ABA-free pointer
 * identity of the real stack (a set of task bits stands for it), FIFO/LIFO
 * order (any order is explored), CLOSED (shutdown.pml), the fairness
 * tick's queue_take_one, BUSY_RETRIES = 64 (3 here: the count only bounds
 * the loop), more than 2 workers (-DMAXT=3 is too big to finish quickly).
 *
 * Seeded bugs (-DBUGGY=n, -DBUGGY means 1):
 *   1  unlock drops the leftover chain (clears CACHED, cache = NULL):
 *      tasks popped from the stack but not taken are lost.
 *   2  a producer whose push saw LOCKED skips its notify ("the holder
 *      will see it"), the holder does not re-check after unlocking, and a
 *      searcher treats a busy queue as empty (no retry) -- test plan 4.8
 *      item 32(b): the holder was already past its last pop.
 *   3  pool.c as it is at ef49fe5: no re-check after the refill (above).
 */
#ifndef BUGGY
#define BUGGY 0
#endif
#define OVFQ_MODEL

#ifndef MAXT
#define MAXT 2
#endif
#ifndef BUSY_RETRIES
#if BUGGY == 2
#define BUSY_RETRIES 1
#else
#define BUSY_RETRIES 3
#endif
#endif
#define RCAP 1

#include "crew.inc"
#include "tasks.inc"

#define Q_OK    0
#define Q_EMPTY 1
#define Q_BUSY  2

/* p->global: word = stack | CACHED | LOCKED; cache is a plain field */
byte q_stk;
bit  q_cached;
bit  q_locked;
byte q_cache;

byte pushed_all;      /* tasks pushed so far */

inline spawn_start(rc) {
	atomic {
		assert(nthreads < MAXT);
		run worker(nthreads);
		nthreads++;
		rc = 0
	}
}

/*
 * crew__ring_refill(w, &p->global, &got) in three steps, one per access
 * to shared state (steps that touch only the holder's private chain are
 * merged into the next shared one, which loses no interleaving):
 *   1. crew__queue_trylock's CAS, and the first pop from the taken chain;
 *   2. the second pop -- from the chain, or, when it ran dry, the relaxed
 *      probe and the swap of everything pushed since (merging the probe
 *      with the swap is exact: pushes only add) -- and the ring's tail
 *      store that publishes the first task to thieves;
 *   3. crew__queue_unlock: the plain store of the leftover chain to
 *      `cache` and the fetch_and that clears LOCKED (and CACHED when
 *      nothing is left); nobody reads `cache` before LOCKED is clear.
 * With RCAP = 1 the holder pops at most two tasks: the first goes to its
 * ring, the second is run; if there is no second, it runs the first.
 */
inline refill_global(me) {
	atomic {
		if
		:: q_locked -> tl = Q_BUSY
		:: !q_locked && !q_cached && q_stk == 0 -> tl = Q_EMPTY
		:: else ->
			assert(q_cached == (q_cache != 0));
			tl = Q_OK;
			if
			:: q_cached -> chain = q_cache
			:: else -> chain = q_stk; q_stk = 0
			fi;
			q_cached = 1; q_locked = 1;
			take_any(chain, rbuf)           /* first pop: to the ring */
		fi
	};
	if
	:: tl == Q_OK ->
		atomic {
			tl = 0;
			if
			:: chain != 0 -> take_any(chain, t)
			:: else ->
				if
				:: q_stk != 0 ->
					chain = q_stk; q_stk = 0;   /* fetch_and(FLAGS) */
					take_any(chain, t)
				:: else -> skip
				fi
			fi;
			if
			:: t == 0 -> t = rbuf; pushed = 0   /* got == 1 */
			:: else -> ring[me] = ring[me] | rbuf; pushed = 1
			fi;
			rbuf = 0
		};
#if BUGGY == 1
		d_step { q_cache = 0; q_locked = 0; q_cached = 0; chain = 0 }
#else
		d_step {
			q_cache = chain;                /* plain store */
			q_locked = 0;                   /* fetch_and(~clear) */
			if
			:: chain == 0 -> q_cached = 0
			:: else -> skip
			fi;
			chain = 0
		}
#endif
#if BUGGY != 2 && BUGGY != 3
		/* got > 1 || crew__queue_maybe_nonempty(q): a push that came
		 * while we held the lock may have had its notification consumed
		 * by a searcher that saw BUSY and then gave up */
		pushed = pushed || q_stk != 0 || q_cached
#endif
	:: else -> tl = 0
	fi
}

inline find_work(me) {
	t = 0; pushed = 0; busy = 0;
	atomic {                                        /* crew__ring_pop */
		if
		:: ring[me] != 0 -> take_any(ring[me], t)
		:: else -> skip
		fi
	};
	if
	:: t == 0 ->
		refill_global(me);
		if
		:: t == 0 ->                    /* crew__queue_maybe_nonempty */
			busy = busy || q_stk != 0 || q_cached
		:: else -> skip
		fi
	:: else -> skip
	fi;
	v = 0; nv = nthreads;                   /* nworkers, read once */
	do
	:: t == 0 && v < nv ->
		if
		:: v != me ->
			steal_from(ring[v], me);
			if
			:: t != 0 -> pushed = (k > 1 || ring[v] != 0); k = 0
			:: else -> skip
			fi
		:: else -> skip
		fi;
		v++
	:: else -> v = 0; nv = 0; break
	od
}

inline run_task(me, t) {
	if
	:: t == T0 -> (done & T1) != 0          /* blocks until T1 has run */
	:: else -> skip
	fi;
	d_step { assert((done & t) == 0); done = done | t }
}

proctype worker(byte me) {
	CREW_LOCALS; WORKER_LOCALS; STEAL_LOCALS;
	byte tl; byte chain; byte rbuf;

	do
	:: worker_wait(me, waking, wr);
	   if
	   :: wr == 2 -> break
	   :: else -> waking = wr
	   fi;
	   retries = 0;
	   do
	   :: find_work(me);
	      if
	      :: t == 0 ->
		if
		:: busy && retries + 1 < BUSY_RETRIES -> retries++
		:: else -> busy = 0; retries = 0; break
		fi
	      :: else ->
		retries = 0;
		if
		:: waking -> handoff_waking(pushed)
		:: else ->
			if
			:: pushed -> notify(0)
			:: else -> skip
			fi
		fi;
		waking = 0; pushed = 0;
		run_task(me, t);
		t = 0
	      fi
	   od
	od;
	s_spawned--
}

/* push_global: ensure_worker, crew__queue_push, notify */
inline push_global(task) {
	if
	:: nthreads == 0 ->
		lock_spawn();
		if
		:: nthreads == 0 -> s_spawned++; spawn_start(rc)
		:: else -> skip
		fi;
		unlock_spawn()
	:: else -> skip
	fi;
	d_step {
		q_stk = q_stk | task; sawlocked = q_locked;
		pushed_all = pushed_all | task
	};
#if BUGGY == 2
	if
	:: sawlocked -> skip
	:: else -> notify(0)
	fi
#else
	notify(0)
#endif
}

active proctype producer() {
	CREW_LOCALS; bit sawlocked;
	push_global(T0);
	push_global(T1);
	push_global(T2)
}

active proctype monitor() {
	timeout ->
	assert(pushed_all == (T0 | T1 | T2) && done == pushed_all &&
	    q_stk == 0 && !q_cached && q_cache == 0 && !q_locked &&
	    ring[0] == 0 && ring[1] == 0 && ring[2] == 0)
}
