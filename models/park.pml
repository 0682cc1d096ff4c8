/*
 * park.pml: crew's park/notify protocol with single-waking-thread
 * throttling.  Property: no lost wake-up -- whenever every thread is
 * blocked, every task has run and no task is left in any queue.
 *
 * What it abstracts from the C code (see crew.inc for the transcription
 * rules):
 *   src/sync.h  crew__sync_notify / _wait / _release_waking: states
 *               PENDING/SIGNALED/WAKING, the `notified` bit, idle/spawned.
 *   src/park.c  crew__event_wait / _notify: the single-token event with
 *               WAITING/NOTIFIED and take_to = WAITING after a sleep.
 *               Which sleeper a futex wake kicks is left to the model's
 *               nondeterminism, so the C code's preference for the first
 *               CPU-count workers (futex bitsets) is one of the behaviours
 *               explored, not a different protocol.
 *   src/pool.c  notify (release-RMW fast path), notify_slow (wake or lazy
 *               spawn), handoff_waking, worker_wait, worker_main (search
 *               loop, hand the role on before running), find_work (own
 *               lifo, own ring, global queue refill, then every other
 *               worker's ring and lifo, one atomic step per queue),
 *               push_global (ensure_worker, push, notify), crew_submit
 *               from a worker (lifo push; notify only when it was empty).
 *
 * Scenario (default): max_threads = 2; the producer's ensure_worker
 * starts the first worker, a notify starts the second lazily.  An outside
 * producer submits T0 (trivial) and then T1.  T1, running on a worker,
 * submits T2 onto its own lifo and then *blocks* until T2 has run (a task
 * that needs a second worker at the same time, test plan 4.3 item 14):
 * T2 must be stolen, so the notify after a worker's push and the hand-off
 * chain are on the critical path.  Tasks only ever block on each other, so
 * a wake-up that goes missing shows as a state where everybody is blocked
 * and a task is still queued: the monitor's `timeout` then fails.
 *
 * Scenario -DFORK2 (run with -DMAXT=3): the producer submits only T1; T1
 * forks T0 and T2 onto its lifo (the second push finds the stack
 * non-empty, CREW__LIFO_MORE, and sends no notify of its own) and waits
 * for both, and T0 waits for T2: three workers must run at once, so the
 * thief that takes T0 and leaves T2 in the lifo must notify for it
 * (pool.c: "every thief that leaves work behind notifies again").
 *
 * Scenario -DBURST (run with -DMAXT=3): the producer submits T0, T1 and
 * T2 one by one from outside (three pushes, three notifies), and each of
 * them, when it runs, waits until all three have started (a 3-way
 * barrier, stress `burst`): three workers, spawned lazily meanwhile, must
 * run at once.  One `notified` bit stands for every push since it was
 * last taken, so the worker that consumed it may find another task than
 * the one that set it; the first task a woken worker finds counts as
 * leaving work behind when any queue still holds work (worker_main's
 * probe of queues_empty), and the role is handed on.
 *
 * Scenario -DTWO_PRODUCERS (run with -DMAXT=1): two outside threads
 * submit, one T0, the other T1 and then T2; the tasks are trivial.  A
 * submitter can stall between its notify's load and its CAS while the
 * other's notify wakes the worker, which runs the tasks and parks again:
 * the word then holds the same value as at the stalled load (ABA).
 *
 * Option -DSPIN (with any scenario): workers poll before parking
 * (crew_config.spin_us > 0; crew.inc says how worker_spin and
 * notify_slow's `spinning` check are modelled), the first HOT (default
 * MAXT, i.e. all) of them.  A notify_slow WAKE that sees a poller posts no
 * token and leaves the notification to it, so a poller that goes to sleep
 * without it is a lost wake-up, which the monitor catches as above.
 *
 * Option -DFANOUT (with any scenario; src/park.c take_fan_out,
 * crew__event_fan_out, src/pool.c crew__pool_fan_out and worker_wait's
 * fanned return): the event gets a permit counter (`permits`,
 * ev->fan_out).  The model posts permits where the first form of the C
 * code did (4342bb1: worker_main, after the hand-off, when the first
 * task a woken worker found left work behind); the code now posts them
 * from crew_for's first split of a range, by a worker mid-task or by an
 * outside caller, right after that split's push and notify.  The model's
 * call site stands in for both: what a post does (a permit, a kick, the
 * event's state untouched; crew.inc says how) does not depend on who
 * posts, and here it comes at a point where work was just left behind,
 * as in C.  Posts by a thread that is not a worker, at arbitrary times,
 * were checked in review with a separate poster process, 0 errors:
 * exhaustively in the default, SPIN and TWO_PRODUCERS scenarios, by a
 * partial (bitstate) search in BURST and in the shutdown model; that
 * variant is not in this file.  Its guard reads hints, so by default
 * the model fans out or not, freely, at every such call (a superset of
 * what the C guard allows; -DFANCAP=n evaluates the guard with cap n).
 * A sleeper takes a permit after arming WAITING (the token, SHUTDOWN
 * first after each futex return) and then, in worker_wait, un-idles
 * (idle - 1 CAS) and searches without the role unless the word is
 * SHUTDOWN or `notified` is set.  A worker woken that way counts as
 * woken (woke = 1): it may fan out in turn.  Permits nobody takes stay
 * posted, and the next worker to park takes one itself.  If its search
 * finds nothing, it polls like a -DSPIN worker (whatever its index, with
 * HOT 0 unless -DSPIN) until it runs a task, times out or parks
 * (crew.inc, FAN_POLL; -DNO_FAN_POLL: parks at once, the code before
 * 0.5.3 and CREW_FAN_POLL_US=0).  The property
 * is the same; crew.inc asserts that idle never borrows (idle > 0
 * before any idle - 1) nor exceeds `spawned`.  The scenarios' sizes,
 * with the poll: default 4.9 M states (1.2 M with -DNO_FAN_POLL), SPIN
 * 5.7 M, TWO_PRODUCERS 697 k (with SPIN 733 k), FORK2 22.4 M (with SPIN
 * 32.8 M), BURST 278 M (these three with MAXT=3, in --full; BURST with
 * pan -DCOLLAPSE: 13.2 GB); the default scenario with -DMAXT=3 outgrew
 * 190 M states and 23 GB before the poll (not run).
 *
 * Not covered: weak memory (spin is sequentially consistent; the
 * store-buffering form of the lost wake-up is only *emulated*, by BUGGY 1
 * below; the real memory orders are GenMC's and TSan's job), contention
 * on the queues' and the lifo's try-locks (ovfq.pml covers the queue),
 * ring overflow, spawn failure and shutdown (shutdown.pml), the fairness
 * tick and lifo run limit of find_work, crew_wg's helping join (the
 * blocking join here is the stricter case), more than 3 tasks.
 *
 * Found by this model and, independently, by a review (fixed in
 * 31eeb2d): notify_slow read `spinning` between its load of the word and
 * its CAS, and the CAS compares values: producer A loads {idle 1,
 * PENDING} (WAKE) and stalls; B's notify wakes the worker, which takes
 * and runs the tasks, releases the role and polls; A reads `spinning` = 1;
 * the worker times out, leaves `spinning` and commits idle, which makes
 * the word {idle 1, PENDING} again; A's CAS succeeds, A posts no token,
 * and the worker sleeps with SIGNALED|notified set.  Every later push
 * sees `notified` on notify's fast path and wakes nobody (here T2 stays
 * queued; in shutdown.pml the drain never sees a quiescent word).  Now
 * `spinning` is read after a successful CAS (acq_rel); BUGGY 7 restores
 * the old order and -DTWO_PRODUCERS -DMAXT=1 finds it again.
 *
 * Seeded bugs (-DBUGGY=n, -DBUGGY means 1):
 *   1  notify's fast path is a plain (relaxed) load of `notified` that can
 *      be satisfied before the push is visible (zap, bun before #28907):
 *      modelled as load, push, then skip the notify if the load saw 1.
 *   2  the event takes its token down to EMPTY even after a sleep (zap's
 *      acquire_with pitfall, reference-design P4): a second sleeper stays
 *      parked while a later notify sees EMPTY and issues no futex wake.
 *   3  (with -DBURST) no probe after a wake-up: a woken worker that finds
 *      one task gives the waking role back without a wake-up although
 *      other tasks are queued (issue 5's bug 8, found by stress `burst`).
 *   4  the work map without work_list: a worker's bit, once cleared by a
 *      search in vain, stays clear when the worker later finds T1 and T1
 *      pushes T2, so the other worker skips the lifo that holds T2.
 *   5  (implies -DSPIN) a poller leaves `spinning` after its idle commit
 *      instead of before: a notify whose load already shows the commit
 *      still counts the poller, posts no token, and the poller sleeps.
 *   6  (implies -DSPIN) notify_slow reads `spinning` before loading the
 *      word: the poller it counted may time out and commit idle in
 *      between, and the notify then takes it for a sleeper that a poller
 *      will spare the wake-up.
 *   7  (implies -DSPIN) notify_slow reads `spinning` between its load and
 *      its CAS (the code before 31eeb2d): see "Found by this model" above.
 *   8  (implies -DFANOUT) a fanned worker ignores `notified`: it
 *      un-idles and searches without the role although a notification
 *      is pending.  If it was the only idle worker, the word stays
 *      SIGNALED|notified with idle 0, so later notifies neither wake
 *      nor spawn; with -DBURST -DMAXT=3: W1 idle arms WAITING; W0's
 *      hand-off (T1 left) WAKEs (SIGNALED, token posted, W1 not yet
 *      asleep) and W0 fans out; W1 takes the permit, un-idles and runs
 *      T1; T2's push sees `notified` and nobody spawns the third worker.
 *      Caught only with the superset: with -DFANCAP=3 the guard (idle >=
 *      permits + SIGNALED + 1) forbids that fan-out and the run passes
 *      (47.8 M states).  The CI run searches processes in reverse order
 *      (pan -DP_REVERSE): 3 M states instead of 41 M.  Not caught in the
 *      default, TWO_PRODUCERS or FORK2 scenarios: there the fanned worker
 *      either consumes the notification at its next idle commit or the
 *      token it left in the event wakes the other worker.
 *   9  (shutdown.pml; benign, see crew.inc)
 *  10  (implies -DFANOUT) a fanned worker searches without the idle - 1
 *      CAS (caught by crew.inc's idle <= spawned assertion).
 *  11  (implies -DFANOUT) check, then fetch_sub: see crew.inc; caught in
 *      shutdown.pml, not here (park.pml has no drain, and a notify in
 *      the gap is BUGGY 8's case, which needs -DBURST).
 * (Bugs 5, 6, 7, 8, 9, 10 and 11 live in crew.inc.  A poller that ignores notifications
 * and only times out is not a bug here: the crew__sync_wait step after
 * the poll takes `notified` either way; it only costs latency.)
 *
 * The work map (pool.c, work_list / work_unlist): wmap[w] is worker w's
 * bit, written by w only.  find_work clears it before the victim sweep
 * when w's own queues are empty (one step: only w adds to them), the
 * sweep skips victims whose bit is clear, and w sets it before each push
 * onto its lifo and when find_work returns a task.  Here pushes only come
 * from a task that find_work returned, so either set alone passes (a
 * review tried each); BUGGY=4 drops both and fails.  The push_local set is
 * needed for a task that pushes after a helping wait found nothing, which
 * the model leaves out (no wait groups): tests/conc_par.c
 * blocked_after_helping covers it, and without the set on return TSan runs
 * of conc/burst_after_idle, burst_lazy_spawn and batch_large_w70 fail.
 */
#ifndef BUGGY
#define BUGGY 0
#endif
#define PARK_MODEL
#if (BUGGY == 5 || BUGGY == 6 || BUGGY == 7) && !defined(SPIN)
#define SPIN
#endif
#if BUGGY >= 8 && !defined(FANOUT)
#define FANOUT
#endif

#ifndef MAXT
#define MAXT 2
#endif
#define BUSY_RETRIES 64

#include "crew.inc"
#include "tasks.inc"

byte gq;              /* p->global (its try-lock is ovfq.pml's subject) */
bit wmap[3] = 1;      /* p->work_map: every bit set at pool creation */

/* spawn_locked: start worker number nthreads (never fails here) */
inline spawn_start(rc) {
	atomic {
		assert(nthreads < MAXT);
		run worker(nthreads);
		nthreads++;
		rc = 0
	}
}

/* crew_submit from a worker: crew__lifo_push, notify if it was empty */
inline lifo_push(me, task) {
#if BUGGY != 4
	wmap[me] = 1;                           /* push_local: work_list */
#endif
	atomic { first = (lifo[me] == 0); lifo[me] = lifo[me] | task };
	if
	:: first -> first = 0; notify(0)
	:: else -> skip
	fi
}

inline find_work(me) {
	t = 0; pushed = 0; busy = 0;
	/* crew__lifo_pop, crew__ring_pop: own queues, pushed = false */
	atomic {
		if
		:: lifo[me] != 0 -> take_any(lifo[me], t)
		:: else -> skip
		fi
	};
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
	/* crew__ring_refill(global): trylock, pop everything, unlock; run one,
	 * the rest goes to our ring; pushed = got > 1 */
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
	/* work_unlist: our queues are empty, clear our bit (only we add) */
	if
	:: t == 0 ->
		d_step {
			if
			:: ring[me] == 0 && lifo[me] == 0 -> wmap[me] = 0
			:: else -> skip
			fi
		}
	:: else -> skip
	fi;
	/* every other worker whose bit is set: ring, then lifo (C: ovf,
	 * ring, lifo) */
	v = 0; nv = nthreads;                   /* nworkers, read once */
	do
	:: t == 0 && v < nv ->
		if
		:: v != me && wmap[v] ->
			steal_from(ring[v], me);
			if
			:: t != 0 -> pushed = (k > 1 || ring[v] != 0); k = 0
			:: else ->
				steal_from(lifo[v], me);
				if
				:: t != 0 -> pushed = (k > 1 || lifo[v] != 0); k = 0
				:: else -> skip
				fi
			fi
		:: else -> skip
		fi;
		v++
	:: else -> v = 0; nv = 0; break
	od;
#if BUGGY != 4
	/* work_list before returning a task (leftovers may be in our ring) */
	if
	:: t != 0 -> wmap[me] = 1
	:: else -> skip
	fi
#endif
}

#ifdef TWO_PRODUCERS
inline run_task(me, t) {
	d_step { assert((done & t) == 0); done = done | t }
}
#elif defined(BURST)
byte started;         /* tasks that have begun (the barrier) */

inline run_task(me, t) {
	started = started | t;
	(started == (T0 | T1 | T2));            /* the 3-way barrier */
	d_step { assert((done & t) == 0); done = done | t }
}
#elif !defined(FORK2)
inline run_task(me, t) {
	if
	:: t == T1 ->
		/* crew_submit(T2) from a worker: crew__lifo_push; notify only
		 * when the stack was empty (CREW__LIFO_FIRST) */
		lifo_push(me, T2);
		/* then block until T2 has run */
		(done & T2) != 0
	:: else -> skip
	fi;
	d_step { assert((done & t) == 0); done = done | t }
}
#else
/* T1 forks T0 and T2 onto its lifo (the second push finds the stack
 * non-empty: CREW__LIFO_MORE, no notify of its own) and waits for both;
 * T0 waits for T2.  Three workers must run at once, so the thief that
 * takes T0 and leaves T2 behind must notify for it. */
inline run_task(me, t) {
	if
	:: t == T1 ->
		lifo_push(me, T0);
		lifo_push(me, T2);
		(done & (T0 | T2)) == (T0 | T2)
	:: t == T0 -> (done & T2) != 0
	:: else -> skip
	fi;
	d_step { assert((done & t) == 0); done = done | t }
}
#endif

proctype worker(byte me) {
	CREW_LOCALS; WORKER_LOCALS; STEAL_LOCALS; bit first; bit woke; bit qe;

	do
	:: worker_wait(me, waking, wr);
	   if
	   :: wr == 2 -> break
	   :: else -> waking = wr
	   fi;
	   woke = 1;
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
#if !defined(BURST) || BUGGY != 3
		/* the first task after a wake-up: anything still queued
		 * counts as left behind (queues_empty, one queue a step) */
		if
		:: woke && !pushed ->
			qe = (gq == 0);
			v = 0;
			do
			:: qe && v < nthreads ->
				d_step { qe = (ring[v] == 0 && lifo[v] == 0); v++ }
			:: else -> v = 0; break
			od;
			pushed = !qe; qe = 0
		:: else -> skip
		fi;
#endif
#ifdef FANOUT
		fan = woke && pushed; FANPOLL_RAN
#endif
		woke = 0;
		/* hand the waking role on before running the task */
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
		:: fan -> fan = 0; fan_out()    /* kick one more sleeper */
		:: else -> skip
		fi;
#endif
		waking = 0; pushed = 0;
		run_task(me, t);
		t = 0
	      fi
	   od
	od;
	s_spawned--
}

/* push_global: crew__queue_push to the global queue, then notify */
inline push_global(task) {
#if BUGGY == 1
	nb = s_notified;              /* the stale load: before the push lands */
	gq = gq | task;
	if
	:: nb -> skip
	:: else -> notify_slow(0)
	fi
#else
	gq = gq | task;
	notify(0)
#endif
}

active proctype producer() {
	CREW_LOCALS;

	/* ensure_worker: the first worker exists before the first push */
	lock_spawn();
	if
	:: nthreads == 0 -> s_spawned++; spawn_start(rc)
	:: else -> skip
	fi;
	unlock_spawn();
#ifdef TWO_PRODUCERS
	push_global(T0)
#elif defined(BURST)
	push_global(T0);
	push_global(T1);
	push_global(T2)
#else
#ifndef FORK2
	push_global(T0);
#endif
	push_global(T1)
#endif
}

#ifdef TWO_PRODUCERS
active proctype producer2() {
	CREW_LOCALS;

	lock_spawn();                           /* ensure_worker */
	if
	:: nthreads == 0 -> s_spawned++; spawn_start(rc)
	:: else -> skip
	fi;
	unlock_spawn();
	push_global(T1);
	push_global(T2)
}
#endif

/* When nothing can move any more, nothing may be left to do. */
active proctype monitor() {
	timeout ->
	assert(done == (T0 | T1 | T2) && gq == 0 &&
	    ring[0] == 0 && ring[1] == 0 && ring[2] == 0 &&
	    lifo[0] == 0 && lifo[1] == 0 && lifo[2] == 0)
}
