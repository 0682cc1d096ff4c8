/*
 * shutdown.pml: crew's draining shutdown together with lazy spawning and
 * spawn failure.  Properties:
 *   - every accepted task runs exactly once, before the state becomes
 *     SHUTDOWN (asserted at that transition and again after the join);
 *   - a refused task never runs;
 *   - no deadlock and no leak: when nothing can move, the shutdown has
 *     completed, every thread that was created has exited and was joined
 *     by crew_pool_shutdown, `spawned` is back to 0, and every submission
 *     was either accepted (and ran) or refused.
 *
 * What it abstracts from the C code (see crew.inc for the sync word, the
 * event and notify/wait):
 *   src/pool.c   push_global (ensure_worker when no worker was published,
 *                then crew__queue_push, which refuses once CLOSED, then
 *                notify); ensure_worker (under spawn_lock: refuse if the
 *                queue is closed, else reserve `spawned` and start worker
 *                0); spawn / spawn_locked (pthread_create may fail: a
 *                nondeterministic choice at every attempt) / spawn_rollback
 *                (crew__sync_spawn_failed: wake an idle worker if any, else
 *                reopen PENDING and set the retry flag) / spawn_retry (from
 *                notify's fast path when `notified` is set; its backoff is
 *                a nondeterministic choice); worker_main's exit (fetch_sub
 *                of `spawned`); drain (close the global queue, set CLOSING,
 *                then loop: read the epoch and the word; if quiescent and
 *                every queue is empty, CAS the exact word to SHUTDOWN, if
 *                quiescent but a queue is not empty, notify; otherwise
 *                futex-wait on the epoch); signal_drained (from the idle
 *                commit and from spawn_rollback); crew_pool_shutdown
 *                (drain, event_shutdown, then join every created thread
 *                under spawn_lock).
 *   src/queue.h  crew__queue_push / crew__queue_close: one atomic step each
 *                on the global queue (its try-lock is ovfq.pml's subject;
 *                here a refill is one atomic step).
 *
 * Scenario (default): max_threads = 2, nothing started at create (lazy
 * spawning).  One outside submitter submits T0 then T1 while another
 * thread shuts the pool down.  Up to NFAIL = 2 of the pthread_create calls
 * fail, at any attempt (ensure_worker's, a notify's, a retry's).
 *   -DCHILD           T0, when it runs, submits T2 from its worker
 *                     (crew_submit onto the worker's lifo, notify): a
 *                     worker-local push is never refused, and the drain
 *                     must wait for it too (21 M states: --full only).
 *   -DTWO_SUBMITTERS  T0 and T1 come from two threads, so two
 *                     ensure_workers race (60 M states: --full, bitstate).
 *   -DSPIN            workers poll before parking (crew.inc).  FAILS
 *                     with src/pool.c as of 119e1c4: the ABA of
 *                     notify_slow's `spinning` check (park.pml, "open
 *                     finding"), with the shutdowner's drain notify as
 *                     the second notifier; the drain then waits forever.
 *   -DFANOUT          fan-out permits (park.pml, crew.inc; the call site
 *                     is the first form's, see park.pml).  This model
 *                     has no queues_empty probe after a wake-up, so the
 *                     first task after every wake-up may fan out, or not
 *                     (a superset of C's woke && pushed and its guard,
 *                     -DFANCAP=n evaluates the guard).  A permit posted
 *                     before CLOSING (or, in the superset, after it) and
 *                     taken by the last idle worker races the drain:
 *                     its idle - 1 CAS fails against the drain's CAS to
 *                     SHUTDOWN (or makes the drain's fail), and it leaves
 *                     at SHUTDOWN.  With the poll after a permit
 *                     (crew.inc FAN_POLL): 208 M states (--full, pan
 *                     -DCOLLAPSE: 10.6 GB); -DNFAIL=0 -DFANCAP=2 38 M
 *                     (CI; 13.5 M with -DNO_FAN_POLL, also CI), with
 *                     -DSPIN 35.7 M (--full).
 *
 * Not covered: weak memory (spin is sequentially consistent), the backoff
 * time and count of spawn retries, shutdown called twice or from a worker
 * (life_lock, CREW_EDEADLK), crew_pool_destroy (a submit still running
 * when destroy frees the pool is the caller's bug: a submitter whose
 * ensure_worker spawn failed gives its reservation back after dropping
 * spawn_lock, possibly after the join), queue try-lock contention
 * (ovfq.pml), whether the pool reaches max_threads after a failure (that
 * is parallelism, not safety; spawn_retry is exercised but not required).
 *
 * Seeded bugs (-DBUGGY=n, -DBUGGY means 1):
 *   1  drain checks only quiescence, not that every queue is empty: a
 *      submitter that pushed before the close but has not notified yet
 *      (every worker idle, nothing notified) strands its task, and the
 *      pool reaches SHUTDOWN with an accepted task that never runs.
 *   2  push_global without ensure_worker: the first spawn, from a notify,
 *      fails, and the pool is left with a queued task and no worker; the
 *      drain waits forever (bun #37738's first-worker hang).
 *   3  the pre-fix rollback (zap/bun before #37738, reference-design P8):
 *      a failed spawn only gives `spawned` back; SIGNALED and `notified`
 *      stay and no retry is armed.  This one PASSES: with ensure_worker a
 *      worker always exists to consume `notified`, so in crew it only
 *      costs parallelism, which this model does not check (--full runs
 *      it and expects 0 errors).
 * With -DFANOUT (implied), crew.inc's fan-out bugs apply here too:
 *   9  the fanned worker does not check SHUTDOWN.  PASSES: the SHUTDOWN
 *      word has `notified` set, which the fanned worker checks anyway
 *      (--full runs it, -DNFAIL=0 -DFANCAP=2, and expects 0 errors).
 *  11  the fanned worker checks the word, then decrements idle with a
 *      fetch_sub: the last idle worker takes a permit, passes the check;
 *      the drain finds the word quiescent and CASes it to SHUTDOWN (idle
 *      0); the fetch_sub borrows from `spawned` (assert idle > 0).
 */
#ifndef BUGGY
#define BUGGY 0
#endif
#define SHUTDOWN_MODEL
#define SPAWN_FAIL
#if BUGGY >= 8 && !defined(FANOUT)
#define FANOUT
#endif

#ifndef MAXT
#define MAXT 2
#endif
#define BUSY_RETRIES 64
#ifndef NFAIL
#define NFAIL 2               /* pthread_create failures, at any attempts */
#endif

#include "crew.inc"
#include "tasks.inc"

#define E_AGAIN 1
#define E_SHUTDOWN 2

byte gq;              /* p->global */
bit  gclosed;         /* its CLOSED bit */
byte accepted;        /* pushes that succeeded */
byte refused;         /* submissions that returned an error */
byte exited;          /* worker threads that returned (joinable) */
byte joined;          /* threads crew_pool_shutdown joined */
bit  shut_done;       /* crew_pool_shutdown returned */
byte nfail;           /* pthread_create failures so far */

#define WORD (s_idle + 4 * s_spawned + 16 * s_notified + 32 * s_state + \
	128 * s_closing)

/* spawn_locked (spawn_lock held): may fail like pthread_create */
inline spawn_start(rc) {
	atomic {
		if
		:: nthreads >= MAXT -> rc = E_AGAIN
		:: else ->
			if
			:: true -> run worker(nthreads); nthreads++; rc = 0
			:: nfail < NFAIL ->             /* pthread_create failed */
				nfail++; rc = E_AGAIN
			fi
		fi
	}
}

inline find_work(me) {
	t = 0; pushed = 0; busy = 0;
#ifdef CHILD
	atomic {
		if
		:: lifo[me] != 0 -> take_any(lifo[me], t)
		:: else -> skip
		fi
	};
#endif
	if
	:: t == 0 ->
		atomic {
			if
			:: ring[me] != 0 -> take_any(ring[me], t)
			:: else -> skip
			fi
		}
	:: else -> skip
	fi;
	if
	:: t == 0 ->
		atomic {
			if
			:: gq != 0 ->
				take_any(gq, t);
				pushed = (gq != 0);
				ring[me] = ring[me] | gq;
				gq = 0
			:: else -> skip
			fi
		}
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
#ifdef CHILD
			:: else ->
				steal_from(lifo[v], me);
				if
				:: t != 0 -> pushed = (k > 1 || lifo[v] != 0); k = 0
				:: else -> skip
				fi
#else
			:: else -> skip
#endif
			fi
		:: else -> skip
		fi;
		v++
	:: else -> v = 0; nv = 0; break
	od
}

inline run_task(me, t) {
	d_step {
		assert((done & t) == 0);        /* exactly once */
		assert((refused & t) == 0);     /* refused tasks never run */
		assert(s_state != SHUTDOWN)
	};
#ifdef CHILD
	if
	:: t == T0 ->
		/* crew_submit(T2) from the worker: lifo push (a worker-local
		 * push is never refused), notify when it was the first */
		d_step {
			first = (lifo[me] == 0);
			lifo[me] = lifo[me] | T2; accepted = accepted | T2
		};
		if
		:: first -> first = 0; notify(0)
		:: else -> skip
		fi
	:: else -> skip
	fi;
#endif
	done = done | t
}

proctype worker(byte me) {
	CREW_LOCALS; WORKER_LOCALS; STEAL_LOCALS; bit first;
#ifdef FANOUT
	bit woke;
#endif

	do
	:: worker_wait(me, waking, wr);
	   if
	   :: wr == 2 -> break
	   :: else -> waking = wr
	   fi;
#ifdef FANOUT
	   woke = 1;
#endif
	   retries = 0;
	   do
	   :: find_work(me);
	      if
	      :: t == 0 ->
		if
		:: busy && retries + 1 < BUSY_RETRIES -> retries++
		:: else ->
			busy = 0; retries = 0;
#ifdef FANOUT
			woke = 0;
#endif
			break
		fi
	      :: else ->
		retries = 0;
#ifdef FANOUT
		/* C: woke && pushed after the queues_empty probe, which this
		 * model leaves out; any first task after a wake-up may fan
		 * out here (a superset) */
		fan = woke; woke = 0; FANPOLL_RAN
#endif
		if
		:: waking -> handoff_waking(pushed)
		:: else ->
			if
			:: pushed -> notify(0)
			:: else -> skip
			fi
		fi;
#ifdef FANOUT
		if
		:: fan -> fan = 0; fan_out()
		:: else -> skip
		fi;
#endif
		waking = 0; pushed = 0;
		run_task(me, t);
		t = 0
	      fi
	   od
	od;
	s_spawned--;                            /* fetch_sub(ONE_SPAWNED) */
	exited++                                /* the thread returns */
}

/* ensure_worker() -> rc */
inline ensure_worker() {
	lock_spawn();
	if
	:: nthreads == 0 ->
		if
		:: gclosed -> rc = E_SHUTDOWN
		:: else -> s_spawned++; spawn_start(rc)
		fi
	:: else -> rc = 0
	fi;
	unlock_spawn();
	if
	:: rc == E_AGAIN -> spawn_rollback()
	:: else -> skip
	fi
}

/* crew_submit from outside: push_global */
inline submit(task) {
#if BUGGY == 2
	rc = 0;
#else
	if
	:: nthreads == 0 -> ensure_worker()     /* nworkers == 0 */
	:: else -> rc = 0
	fi;
#endif
	if
	:: rc != 0 -> rc = 0; refused = refused | task
	:: else ->
		d_step {
			if
			:: !gclosed -> gq = gq | task; accepted = accepted | task
			:: else -> refused = refused | task
			fi
		};
		if
		:: (accepted & task) -> notify(0)
		:: else -> skip
		fi
	fi
}

#ifdef TWO_SUBMITTERS
active proctype submitter_a() {
	CREW_LOCALS;
	submit(T0)
}

active proctype submitter_b() {
	CREW_LOCALS;
	submit(T1)
}
#else
active proctype submitter() {
	CREW_LOCALS;
	submit(T0);
	submit(T1)
}
#endif

/* crew_pool_shutdown: drain, event_shutdown, join */
active proctype shutdowner() {
	CREW_LOCALS; byte e; byte snap; bit qe; bit ok; byte v;

	gclosed = 1;                            /* crew__queue_close */
	s_closing = 1;                          /* fetch_or(CLOSING) */
	do
	:: d_step {
		e = drain_epoch;                /* acquire load of the epoch, */
		snap = WORD; ok = QUIESCENT     /* then of the word */
	   };
	   if
	   :: ok ->
		ok = 0;
#if BUGGY == 1
		qe = 1;
#else
		/* queues_empty: the global queue, then each worker's ring
		 * and lifo (overflow queues are always empty here) */
		qe = (gq == 0);
		v = 0;
		do
		:: qe && v < nthreads ->
			d_step { qe = (ring[v] == 0 && lifo[v] == 0); v++ }
		:: else -> v = 0; break
		od;
#endif
		if
		:: !qe -> notify(0)
		:: else ->
			qe = 0;
			d_step {
				if
				:: WORD == snap ->
					s_idle = 0; s_state = SHUTDOWN;
					s_notified = 1; ok = 1
				:: else -> skip
				fi;
				snap = 0
			};
			if
			:: ok -> break
			:: else -> skip
			fi
		fi
	   :: else -> snap = 0; (drain_epoch != e)  /* futex_wait(&epoch, e) */
	   fi
	od;
	/* every task accepted so far has run */
	assert(done == accepted);
	event_shutdown();
	lock_spawn();
	(exited == nthreads);                   /* pthread_join each */
	joined = nthreads;
	unlock_spawn();
	/* (`spawned` may still be 1 here: a submitter whose ensure_worker
	 * spawn failed gives its reservation back after dropping
	 * spawn_lock; the monitor checks it once everyone has returned) */
	assert(done == accepted);
	shut_done = 1
}

active proctype monitor() {
	timeout ->
	assert(shut_done && ((accepted | refused) & (T0 | T1)) == (T0 | T1) &&
	    done == accepted && (done & refused) == 0 &&
	    joined == nthreads && exited == nthreads && s_spawned == 0)
}
